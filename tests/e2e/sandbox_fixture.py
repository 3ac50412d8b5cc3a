"""Shared helpers for end-to-end tests: the real pecbatch binary against the
local simulated PEC provider (tools/pec-sandbox) on 127.0.0.1."""
import imaplib
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SANDBOX = os.path.join(ROOT, "tools", "pec-sandbox", "pec-sandbox")
PECBATCH = os.environ.get("PECBATCH", "pecbatch")


def imap_commands(tls, bufsize=65536):
    """For scripted IMAP servers in tests: yields (tag, command) for each
    CRLF-ended line a client sends on `tls`, until it closes."""
    buffer = b""
    while True:
        while b"\r\n" not in buffer:
            chunk = tls.recv(bufsize)
            if not chunk:
                return
            buffer += chunk
        line, buffer = buffer.split(b"\r\n", 1)
        tag, _, command = line.decode().partition(" ")
        yield tag, command


class SandboxTest(unittest.TestCase):
    """Starts one sandbox for the test class; each test gets its own
    campaign (own id, so Message-IDs never collide) and a clean control
    file."""

    sandbox_config = {"clock": {"12h": 1, "24h": 2}}

    @classmethod
    def setUpClass(cls):
        cls.base = tempfile.mkdtemp(prefix="pecbatch-e2e-")
        os.chmod(cls.base, 0o755)
        cls.sandbox_dir = os.path.join(cls.base, "sandbox")
        config = os.path.join(cls.base, "sandbox-config.json")
        with open(config, "w") as f:
            json.dump(cls.sandbox_config, f)
        subprocess.run([SANDBOX, "start", "--dir", cls.sandbox_dir, "--config", config,
                        "--quiet"], check=True, timeout=60)
        with open(os.path.join(cls.sandbox_dir, "sandbox.json")) as f:
            cls.info = json.load(f)
        cls.account = cls.info["accounts"][0]

    @classmethod
    def tearDownClass(cls):
        subprocess.run([SANDBOX, "stop", "--dir", cls.sandbox_dir], timeout=60)
        shutil.rmtree(cls.base, ignore_errors=True)

    def setUp(self):
        self.set_control({})
        name = self.id().split(".")[-1].replace("_", "-")[:40]
        self.campaign_id = "t-" + name
        self.dir = tempfile.mkdtemp(prefix=name + "-", dir=self.base)

    # -- the mailbox, seen from a second client ------------------------------

    def imap(self):
        """A logged-in IMAPS client on the sandbox's Dovecot (verified TLS)."""
        conn = imaplib.IMAP4_SSL("127.0.0.1", self.info["imaps_port"], timeout=15,
                                 ssl_context=ssl.create_default_context(
                                     cafile=self.info["ca_cert"]))
        conn.login(self.account["username"], self.account["password"])
        return conn

    def search(self, *criteria):
        """UIDs in INBOX matching the UID SEARCH `criteria` (read-only)."""
        conn = self.imap()
        try:
            conn.select("INBOX", readonly=True)
            typ, data = conn.uid("SEARCH", None, *criteria)
            self.assertEqual(typ, "OK", data)
            return [int(u) for u in data[0].split()]
        finally:
            conn.logout()

    def append(self, raw, flags=None):
        """APPENDs `raw` to INBOX (with `flags`, e.g. "(\\Flagged)") and
        returns its UID."""
        conn = self.imap()
        try:
            typ, data = conn.append("INBOX", flags, None, raw)
            self.assertEqual(typ, "OK", data)
            return int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
        finally:
            conn.logout()

    def wait_for_receipts(self, message_id, count, timeout=20):
        """UIDs of at least `count` receipts naming `message_id` in INBOX,
        waiting up to `timeout` seconds for them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            uids = self.search("HEADER", "X-Riferimento-Message-ID", message_id)
            if len(uids) >= count:
                return uids
            time.sleep(0.2)
        self.fail("no %d receipts for %s" % (count, message_id))

    # -- the provider -------------------------------------------------------

    def set_control(self, control):
        path = self.info["control_file"]
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(control, f)
        os.replace(tmp, path)

    def submissions(self):
        """Submission log lines of this test's campaign."""
        out = []
        with open(self.info["submissions_log"]) as f:
            for line in f:
                record = json.loads(line)
                if (record.get("message_id") or "").startswith(
                        "<pecbatch." + self.campaign_id + "."):
                    out.append(record)
        return out

    def accepted_copies(self):
        counts = {}
        for record in self.submissions():
            if record["accepted"]:
                counts[record["message_id"]] = counts.get(record["message_id"], 0) + 1
        return counts

    # -- the campaign -------------------------------------------------------

    def make_campaign(self, rows, rate_per_minute=0, extra=""):
        """Writes a campaign for `rows` recipients (addresses may be given
        as strings) and returns its path."""
        if isinstance(rows, int):
            rows = ["dest%03d@pec.sandbox.test" % i for i in range(rows)]
        with open(os.path.join(self.dir, "contacts.csv"), "w", newline="") as f:
            f.write("pec;nome;numero\r\n")
            for i, address in enumerate(rows):
                f.write("%s;Destinatario %d;%d\r\n" % (address, i, i))
        with open(os.path.join(self.dir, "body.txt"), "w") as f:
            f.write("Gentile {{nome}},\nfattura {{numero}}.\n")
        path = os.path.join(self.dir, "campaign.toml")
        with open(path, "w") as f:
            f.write(f"""
[campaign]
id = "{self.campaign_id}"
output_dir = "out"
[account]
address = "{self.account['address']}"
username = "{self.account['username']}"
password_env = "PECBATCH_TEST_PASSWORD"
smtp_host = "127.0.0.1"
smtp_port = {self.info['smtps_port']}
imap_host = "127.0.0.1"
imap_port = {self.info['imaps_port']}
ca_file = "{self.info['ca_cert']}"
[provider]
profile = "custom"
rate_per_minute = {rate_per_minute}
[send]
retry_base_seconds = 0
retry_max_seconds = 1
timeout_seconds = 10
connect_timeout_seconds = 5
{extra}
[contacts]
file = "contacts.csv"
[message]
subject = "Fattura {{{{numero}}}}"
text_template = "body.txt"
""")
        return path

    def pecbatch(self, *args, password=None, timeout=120, **kwargs):
        env = dict(os.environ)
        env["PECBATCH_TEST_PASSWORD"] = password or self.account["password"]
        return subprocess.run([PECBATCH, *args], capture_output=True, text=True, env=env,
                              timeout=timeout, **kwargs)

    def journal_states(self):
        import sqlite3
        db = sqlite3.connect(os.path.join(self.dir, "out", "journal.sqlite"))
        try:
            return dict(db.execute("select message_id, state from rows").fetchall())
        finally:
            db.close()

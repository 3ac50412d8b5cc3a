"""Test helpers: start/stop sandboxes, send over SMTP, read over IMAPS, and
inspect receipts the way a PEC client would (independently of the sandbox's
own code: only the stdlib ``email``/``xml`` packages and the openssl CLI).

Every sandbox started here is registered and stopped by :func:`stop_all`,
which ``tests/run`` calls whatever happens.
"""

import email
import email.policy
import imaplib
import json
import os
import shutil
import smtplib
import ssl
import subprocess
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from email.message import EmailMessage

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
TOOL_DIR = os.path.dirname(TESTS_DIR)
PEC_SANDBOX = os.path.join(TOOL_DIR, "pec-sandbox")
SAMPLES_DIR = os.environ.get("PEC_SAMPLES_DIR") or os.path.normpath(
    os.path.join(TOOL_DIR, "..", "..", "..", "shared", "pec", "samples"))

# Compressed clock used by the tests: 12 h = 1 s, 24 h = 2 s.
FAST_CLOCK = {"12h": 1.0, "24h": 2.0}

EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-" + "ANTIVIRUS-TEST-FILE!$H+H*")

_registry = []
_registry_lock = threading.Lock()
_counter = [0]


def unique(prefix="m"):
    with _registry_lock:
        _counter[0] += 1
        return "%s%d.%d" % (prefix, os.getpid(), _counter[0])


class SandboxError(RuntimeError):
    pass


class Sandbox:
    """One running sandbox in its own temporary directory."""

    def __init__(self, config=None, name="sbx", run_as=None):
        self.config = config
        self.name = name
        self.run_as = run_as
        self.dir = None
        self.info = None

    # -- lifecycle -----------------------------------------------------------

    def command(self, *args, check=True):
        argv = [PEC_SANDBOX] + list(args)
        if self.run_as:
            argv = ["setpriv", "--reuid=%s" % self.run_as, "--regid=%s" % self.run_as,
                    "--clear-groups", "--"] + argv
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=60)
        if check and proc.returncode != 0:
            raise SandboxError("%s failed (%d): %s" % (" ".join(args), proc.returncode,
                                                       proc.stderr.decode()))
        return proc

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="pec-%s-" % self.name)
        os.chmod(self.dir, 0o755)
        if self.run_as:
            os.chown(self.dir, self.run_as, self.run_as)
        args = ["start", "--dir", self.dir, "--quiet"]
        if self.config is not None:
            path = os.path.join(self.dir, "test-config.json")
            with open(path, "w") as fh:
                json.dump(self.config, fh)
            args += ["--config", path]
        with _registry_lock:
            _registry.append(self)
        started = time.monotonic()
        self.command(*args)
        self.start_seconds = time.monotonic() - started
        with open(os.path.join(self.dir, "sandbox.json")) as fh:
            self.info = json.load(fh)
        return self

    def stop(self, remove=True):
        if self.dir is None:
            return
        try:
            self.command("stop", "--dir", self.dir, check=False)
        finally:
            if remove and os.environ.get("PEC_SANDBOX_KEEP") != "1":
                shutil.rmtree(self.dir, ignore_errors=True)
            with _registry_lock:
                if self in _registry:
                    _registry.remove(self)
            self.dir = None

    # -- accessors -------------------------------------------------------------

    @property
    def account(self):
        return self.info["accounts"][0]

    @property
    def sender(self):
        return self.account["address"]

    def ssl_context(self):
        return ssl.create_default_context(cafile=self.info["ca_cert"])

    # -- SMTP ------------------------------------------------------------------

    def message(self, to, subject=None, cc=None, body="Testo del messaggio.\n", sender=None,
                attachments=(), headers=None):
        msg = EmailMessage()
        msg["From"] = sender or self.sender
        msg["To"] = to
        if cc:
            msg["Cc"] = cc
        msg["Subject"] = subject or "Test %s" % unique("s")
        msg["Message-ID"] = "<%s@pecbatch.test>" % unique("id")
        msg["Date"] = email.utils.formatdate(localtime=True)
        for key, value in (headers or {}).items():
            msg[key] = value
        msg.set_content(body)
        for filename, data, ctype in attachments:
            maintype, subtype = ctype.split("/")
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
        return msg

    def smtp(self, listener="smtps", login=True, user=None, password=None):
        """A connected (and, by default, authenticated) smtplib client."""
        ctx = self.ssl_context()
        if listener == "smtps":
            conn = smtplib.SMTP_SSL("127.0.0.1", self.info["smtps_port"], context=ctx,
                                    timeout=15)
        else:
            conn = smtplib.SMTP("127.0.0.1", self.info["starttls_port"], timeout=15)
            conn.ehlo()
            conn.starttls(context=ctx)
        if login:
            conn.login(user or self.account["username"], password or self.account["password"])
        return conn

    def send(self, msg, rcpts=None, mail_from=None, listener="smtps"):
        """Send *msg*; return the smtplib refused-recipients dict."""
        with self.smtp(listener) as conn:
            return conn.send_message(msg, from_addr=mail_from, to_addrs=rcpts)

    def send_raw(self, raw, rcpts, mail_from=None):
        with self.smtp() as conn:
            return conn.sendmail(mail_from or self.sender, rcpts, raw)

    # -- control and logs ------------------------------------------------------

    def control(self, data):
        """Replace DIR/control.json atomically (None removes it)."""
        path = self.info["control_file"]
        if data is None:
            if os.path.exists(path):
                os.unlink(path)
            return
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)

    def submissions(self, message_id=None):
        path = self.info["submissions_log"]
        if not os.path.exists(path):
            return []
        with open(path) as fh:
            records = [json.loads(line) for line in fh if line.strip()]
        if message_id is not None:
            records = [r for r in records if r.get("message_id") == message_id]
        return records

    def receipts_log(self):
        path = self.info["receipts_log"]
        if not os.path.exists(path):
            return []
        with open(path) as fh:
            return [json.loads(line) for line in fh if line.strip()]

    # -- IMAP ------------------------------------------------------------------

    def imap(self, account=None):
        account = account or self.account
        conn = imaplib.IMAP4_SSL("127.0.0.1", self.info["imaps_port"],
                                 ssl_context=self.ssl_context(), timeout=15)
        conn.login(account["username"], account["password"])
        conn.select("INBOX")
        return conn

    def fetch(self, criteria=("ALL",), account=None):
        """[(uid, raw bytes)] of the messages matching an IMAP SEARCH."""
        conn = self.imap(account)
        try:
            typ, data = conn.uid("SEARCH", None, *criteria)
            assert typ == "OK", data
            out = []
            for uid in data[0].split():
                typ, parts = conn.uid("FETCH", uid, "(BODY.PEEK[])")
                assert typ == "OK", parts
                out.append((int(uid), parts[0][1]))
            return out
        finally:
            conn.logout()

    def receipts_for(self, msgid, account=None):
        """Raw receipts whose X-Riferimento-Message-ID is *msgid*, via IMAP."""
        return [raw for _, raw in self.fetch(("HEADER", "X-Riferimento-Message-ID",
                                              '"%s"' % msgid), account)]

    def wait_receipts(self, msgid, count, timeout=10.0, account=None, kinds=None):
        """Poll IMAP until at least *count* receipts (of *kinds*) refer to *msgid*."""
        deadline = time.monotonic() + timeout
        while True:
            found = [parse(raw) for raw in self.receipts_for(msgid, account)]
            if kinds:
                found = [m for m in found if m["X-Ricevuta"] in kinds]
            if len(found) >= count or time.monotonic() >= deadline:
                return found
            time.sleep(0.05)


def stop_all():
    with _registry_lock:
        pending = list(_registry)
    for sandbox in pending:
        try:
            sandbox.stop()
        except Exception as exc:  # keep stopping the others
            print("warning: could not stop sandbox %s: %s" % (sandbox.dir, exc))


# -- client-side receipt inspection ----------------------------------------------

def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def classify(msg):
    """What a PEC client decides from the top-level headers only."""
    lower = {k.lower() for k in msg.keys()}
    if "x-ricevuta" in lower:
        return "receipt"
    if "x-trasporto" in lower:
        return "envelope"
    return "ordinary"


def signed_parts(msg):
    """(signed entity, signature part) of a multipart/signed message or None."""
    if msg.get_content_type() != "multipart/signed":
        return None
    payload = msg.get_payload()
    return payload[0], payload[1]


def find_part(msg, filename):
    for part in msg.walk():
        if part.get_filename() == filename:
            return part
    return None


def daticert(msg):
    """The parsed daticert.xml of *msg* as a dict (None if absent)."""
    part = find_part(msg, "daticert.xml")
    if part is None:
        return None
    root = ET.fromstring(part.get_payload(decode=True))
    intest, dati = root.find("intestazione"), root.find("dati")
    data = dati.find("data")
    out = {
        "root": root,
        "tipo": root.get("tipo"),
        "errore": root.get("errore"),
        "mittente": intest.findtext("mittente"),
        "destinatari": [(d.text, d.get("tipo")) for d in intest.findall("destinatari")],
        "risposte": intest.findtext("risposte"),
        "oggetto": intest.findtext("oggetto"),
        "gestore": dati.findtext("gestore-emittente"),
        "zona": data.get("zona"),
        "giorno": data.findtext("giorno"),
        "ora": data.findtext("ora"),
        "identificativo": dati.findtext("identificativo"),
        "msgid": dati.findtext("msgid"),
        "ricevuta": dati.find("ricevuta").get("tipo") if dati.find("ricevuta") is not None else None,
        "consegna": dati.findtext("consegna"),
        "errore_esteso": dati.findtext("errore-esteso"),
        "intestazione_order": [c.tag for c in intest],
        "dati_order": [c.tag for c in dati],
        "raw": part.get_payload(decode=True),
    }
    return out


def structure(msg):
    """A nested description of the MIME tree: [type, name, children]."""
    name = msg.get_filename()
    if msg.is_multipart() and msg.get_content_type() != "message/rfc822":
        return [msg.get_content_type(), name, [structure(p) for p in msg.get_payload()]]
    return [msg.get_content_type(), name, []]


def openssl_verify(raw, cafile, extra=()):
    """Run ``openssl smime -verify -purpose smimesign``; return (ok, output).

    With *cafile* None no trust anchor is given (use with ``-noverify``).
    """
    with tempfile.NamedTemporaryFile(suffix=".eml") as fh:
        fh.write(raw)
        fh.flush()
        trust = ["-CAfile", cafile] if cafile else []
        proc = subprocess.run(["openssl", "smime", "-verify", "-in", fh.name] + trust +
                              ["-purpose", "smimesign", "-out", "/dev/null"] + list(extra),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    return proc.returncode == 0, proc.stdout.decode("utf-8", "replace")


def openssl_cms_print(raw):
    """``openssl cms -cmsout -print`` of the smime.p7s of a signed message."""
    msg = parse(raw)
    p7s = signed_parts(msg)[1].get_payload(decode=True)
    with tempfile.NamedTemporaryFile(suffix=".p7s") as fh:
        fh.write(p7s)
        fh.flush()
        proc = subprocess.run(["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in",
                               fh.name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=30)
    return proc.stdout.decode("utf-8", "replace")


def openssl_signer_certs(raw):
    """Subject lines of the certificates embedded in the smime.p7s."""
    msg = parse(raw)
    p7s = signed_parts(msg)[1].get_payload(decode=True)
    proc = subprocess.run(["openssl", "pkcs7", "-inform", "DER", "-print_certs", "-noout"],
                          input=p7s, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=30)
    return proc.stdout.decode("utf-8", "replace")

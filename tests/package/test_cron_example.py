#!/usr/bin/python3
"""examples/cron/pecbatch-cron.sh: shell syntax and shellcheck; its
decisions against a scripted pecbatch (which exit codes mail the operator,
the tranche size from the provider's quotas, poll after send); and real
runs of the real binary against the local sandbox provider, in tranches,
with the password in a 0600 file.

Environment: PECBATCH, the binary under test.
"""
import glob
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import textwrap
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from sandbox_fixture import SandboxTest  # noqa: E402

WRAPPER = os.path.join(ROOT, "examples", "cron", "pecbatch-cron.sh")
CRONTAB = os.path.join(ROOT, "examples", "cron", "crontab")
PECBATCH = os.environ.get("PECBATCH", "pecbatch")

# A pecbatch that records its command line and exits as told.
FAKE_PECBATCH = r"""#!/bin/sh
printf '%s\n' "$*" >>"$FAKE_DIR/calls"
case $1 in
    config) cat "$FAKE_DIR/config-show"; exit "${FAKE_CONFIG_RC:-0}" ;;
    send) echo "fake send output"; exit "${FAKE_SEND_RC:-0}" ;;
    poll) echo "fake poll output"; exit "${FAKE_POLL_RC:-0}" ;;
    status) echo "queued 3 (30%)  delivered 7 (70%)"; exit 0 ;;
esac
exit 64
"""

# `mail -s SUBJECT TO` / `sendmail -oi -t`: record arguments and message.
FAKE_MAILER = r"""#!/bin/sh
n=$(ls "$FAKE_DIR" | grep -c '^mail-' || true)
{ printf '%s\n' "$0 $*"; cat; } >"$FAKE_DIR/mail-$n"
"""

CONFIG_SHOW = """\
campaign.id                  = "fatture-2026-11"        # {campaign}:2
provider.profile             = "legalmail"              # {campaign}:6
provider.rate_per_minute     = {per_minute}             # profile legalmail
provider.rate_per_hour       = 0                        # profile legalmail
provider.rate_per_day        = {per_day}                # profile legalmail
"""


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


class Syntax(unittest.TestCase):
    def test_sh_n_and_bash_n(self):
        for shell in ("sh", "bash"):
            r = subprocess.run([shell, "-n", WRAPPER], capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_shellcheck_clean(self):
        if not shutil.which("shellcheck"):
            self.skipTest("shellcheck not installed")
        r = subprocess.run(["shellcheck", WRAPPER], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_crontab_line(self):
        with open(CRONTAB) as f:
            lines = [l for l in f.read().splitlines() if l.strip() and not l.startswith("#")]
        jobs = [l for l in lines if not re.match(r"^[A-Z_]+=", l)]
        self.assertEqual(len(jobs), 1, jobs)
        fields = jobs[0].split(None, 6)
        self.assertEqual(len(fields), 7, "cron.d lines have 5 times, a user, a command")
        self.assertEqual(fields[5], "pecbatch")
        self.assertTrue(fields[6].startswith("pecbatch-cron "))
        # '%' is a newline to cron unless escaped
        self.assertNotRegex(fields[6], r"(?<!\\)%")
        self.assertIn('MAILTO=""', lines)
        # RUNS_PER_DAY matches the schedule: every 30 minutes from 8 to 18
        runs = dict(l.split("=", 1) for l in lines if re.match(r"^[A-Z_]+=", l))
        minutes, hours = fields[0], fields[1]
        self.assertEqual((minutes, hours), ("*/30", "8-18"))
        self.assertEqual(int(runs["RUNS_PER_DAY"]), 2 * (18 - 8 + 1))


class Decisions(unittest.TestCase):
    """The wrapper against a scripted pecbatch and a scripted mailer."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="pecbatch-cron-")
        self.bin = os.path.join(self.dir, "bin")
        self.fake = os.path.join(self.dir, "fake")
        os.mkdir(self.bin)
        os.mkdir(self.fake)
        write(os.path.join(self.bin, "pecbatch"), FAKE_PECBATCH, 0o755)
        write(os.path.join(self.bin, "mail"), FAKE_MAILER, 0o755)
        write(os.path.join(self.dir, "sendmail"), FAKE_MAILER, 0o755)
        self.campaign_dir = os.path.join(self.dir, "fatture-2026-11")
        os.mkdir(self.campaign_dir)
        self.campaign = os.path.join(self.campaign_dir, "campaign.toml")
        write(self.campaign, "[campaign]\nid = \"fatture-2026-11\"\n")
        self.log_dir = os.path.join(self.dir, "log")
        self.config(6, 0)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def config(self, per_minute, per_day):
        write(os.path.join(self.fake, "config-show"),
              CONFIG_SHOW.format(campaign=self.campaign, per_minute=per_minute, per_day=per_day))

    def run_wrapper(self, campaign=None, with_mail=True, **env):
        path = (self.bin if with_mail else self.bin + "-nomail") + ":/usr/bin:/bin"
        if not with_mail:
            os.makedirs(self.bin + "-nomail", exist_ok=True)
            shutil.copy(os.path.join(self.bin, "pecbatch"), self.bin + "-nomail")
        full_env = {"PATH": path, "HOME": self.dir, "FAKE_DIR": self.fake,
                    "LOG_DIR": self.log_dir, "OPERATOR": "ufficio@example.it",
                    "SENDMAIL": os.path.join(self.dir, "sendmail")}
        full_env.update({k: str(v) for k, v in env.items()})
        return subprocess.run(["/bin/sh", WRAPPER, campaign or self.campaign],
                              capture_output=True, text=True, env=full_env, timeout=60)

    def calls(self):
        try:
            with open(os.path.join(self.fake, "calls")) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def mails(self):
        out = []
        for path in sorted(glob.glob(os.path.join(self.fake, "mail-*"))):
            with open(path) as f:
                out.append(f.read())
        return out

    def log(self):
        with open(os.path.join(self.log_dir, "fatture-2026-11.log")) as f:
            return f.read()

    def test_success_sends_a_tranche_then_polls_and_mails_nobody(self):
        r = self.run_wrapper()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout + r.stderr, "", "cron would mail any output")
        calls = self.calls()
        self.assertEqual(calls[0], "config show " + self.campaign)
        records = os.path.join(self.log_dir, "fatture-2026-11-pecbatch.log")
        self.assertEqual(calls[1], "send %s --yes --limit 150 --quiet --log-file %s" % (
            self.campaign, records))
        self.assertEqual(calls[2], "poll %s --quiet --log-file %s" % (self.campaign, records))
        self.assertEqual(len(calls), 3)
        self.assertEqual(self.mails(), [])
        log = self.log()
        self.assertIn("at most 150 rows", log)
        self.assertIn("fake send output", log)
        self.assertIn("fake poll output", log)
        self.assertRegex(log, r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} pecbatch-cron\[\d+\]: end: ok")
        mode = stat.S_IMODE(os.stat(os.path.join(self.log_dir, "fatture-2026-11.log")).st_mode)
        self.assertEqual(mode & 0o077, 0, "the log is private")

    def test_daily_quota_splits_over_the_runs_of_a_day(self):
        self.config(6, 500)
        r = self.run_wrapper(RUNS_PER_DAY=22)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("--limit 22 ", self.calls()[1])

    def test_no_quota_gives_a_default_tranche(self):
        self.config(0, 0)
        r = self.run_wrapper()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("--limit 500 ", self.calls()[1])

    def test_explicit_limit(self):
        r = self.run_wrapper(LIMIT=7)
        self.assertEqual(r.returncode, 0, r.stderr)
        calls = self.calls()
        self.assertTrue(calls[0].startswith("send ") and "--limit 7 " in calls[0], calls)

    def test_75_is_not_a_failure(self):
        r = self.run_wrapper(FAKE_SEND_RC=75, FAKE_POLL_RC=75)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.mails(), [])
        self.assertIn("send: 75 (locked by another run", self.log())
        self.assertIn("poll: receipts still to come", self.log())

    def test_failure_mails_the_operator_once(self):
        r = self.run_wrapper(FAKE_SEND_RC=69)
        self.assertEqual(r.returncode, 69)
        self.assertEqual(r.stdout + r.stderr, "")
        self.assertIn("poll " + self.campaign, "\n".join(self.calls()))
        mails = self.mails()
        self.assertEqual(len(mails), 1)
        first, body = mails[0].split("\n", 1)
        self.assertTrue(first.endswith("mail -s pecbatch: fatture-2026-11: failed (69) "
                                       "ufficio@example.it"), first)
        self.assertIn("send exited 69: some rows failed for good", body)
        self.assertIn("delivered 7 (70%)", body)       # pecbatch status
        self.assertIn("fake send output", body)        # the end of the log
        self.assertIn("ufficio@example.it mailed", self.log())

    def test_poll_failure_is_reported_too(self):
        r = self.run_wrapper(FAKE_POLL_RC=74)
        self.assertEqual(r.returncode, 74)
        self.assertIn("poll exited 74: local I/O error", self.mails()[0])

    def test_authentication_failure_does_not_poll(self):
        r = self.run_wrapper(FAKE_SEND_RC=78)
        self.assertEqual(r.returncode, 78)
        self.assertFalse([c for c in self.calls() if c.startswith("poll")], self.calls())
        self.assertIn("authentication refused", self.mails()[0])

    def test_configuration_error_before_sending(self):
        r = self.run_wrapper(FAKE_CONFIG_RC=78)
        self.assertEqual(r.returncode, 78)
        self.assertEqual([c.split()[0] for c in self.calls()], ["config"])
        self.assertIn("configuration error (78)", self.mails()[0].split("\n")[0])

    def test_missing_campaign_is_skipped_quietly(self):
        r = self.run_wrapper(campaign=os.path.join(self.dir, "fatture-2026-12", "campaign.toml"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.calls(), [])
        self.assertEqual(self.mails(), [])

    def test_sendmail_when_there_is_no_mail_command(self):
        if shutil.which("mail", path="/usr/bin:/bin"):
            self.skipTest("a real mail command is installed")
        r = self.run_wrapper(with_mail=False, FAKE_SEND_RC=65)
        self.assertEqual(r.returncode, 65)
        mails = self.mails()
        self.assertEqual(len(mails), 1)
        first, message = mails[0].split("\n", 1)
        self.assertTrue(first.endswith("sendmail -oi -t"), first)
        headers, _, body = message.partition("\n\n")
        self.assertIn("To: ufficio@example.it", headers.splitlines())
        self.assertIn("Subject: pecbatch: fatture-2026-11: failed (65)", headers.splitlines())
        self.assertIn("Content-Type: text/plain; charset=UTF-8", headers.splitlines())
        self.assertIn("bad data in the contacts", body)


class RealRuns(SandboxTest):
    """The real binary, the sandbox provider, a password in a 0600 file."""

    def setUp(self):
        super().setUp()
        self.bin = os.path.join(self.dir, "bin")
        os.mkdir(self.bin)
        write(os.path.join(self.bin, "mail"), FAKE_MAILER, 0o755)
        self.fake = os.path.join(self.dir, "fake")
        os.mkdir(self.fake)
        self.password_file = os.path.join(self.dir, "pec.password")
        write(self.password_file, self.account["password"] + "\n", 0o600)
        self.addresses = ["cliente%d@pec.sandbox.test" % i for i in range(5)]
        with open(os.path.join(self.dir, "contatti.csv"), "w") as f:
            f.write("pec;nome\r\n")
            for i, a in enumerate(self.addresses):
                f.write("%s;Cliente %d\r\n" % (a, i))
        write(os.path.join(self.dir, "messaggio.txt"), "Gentile {{nome}},\nin allegato.\n")
        # named after its id: the wrapper names its logs after the file
        self.campaign = os.path.join(self.dir, self.campaign_id + ".toml")
        write(self.campaign, textwrap.dedent(f"""\
            [campaign]
            id = "{self.campaign_id}"
            output_dir = "out"
            [account]
            address = "{self.account['address']}"
            username = "{self.account['username']}"
            password_file = "{self.password_file}"
            smtp_host = "127.0.0.1"
            smtp_port = {self.info['smtps_port']}
            imap_host = "127.0.0.1"
            imap_port = {self.info['imaps_port']}
            ca_file = "{self.info['ca_cert']}"
            [provider]
            profile = "custom"
            rate_per_minute = 0
            [contacts]
            file = "contatti.csv"
            [message]
            subject = "Fattura per {{{{nome}}}}"
            text_template = "messaggio.txt"
            """))
        self.log_dir = os.path.join(self.dir, "log")

    def run_wrapper(self, **env):
        full_env = {"PATH": self.bin + ":/usr/bin:/bin", "HOME": self.dir,
                    "FAKE_DIR": self.fake, "LOG_DIR": self.log_dir,
                    "OPERATOR": "ufficio@example.it", "PECBATCH": PECBATCH,
                    "SENDMAIL": "/nonexistent"}
        full_env.update({k: str(v) for k, v in env.items()})
        return subprocess.run(["/bin/sh", WRAPPER, self.campaign], capture_output=True,
                              text=True, env=full_env, timeout=120)

    def states(self):
        db = sqlite3.connect(os.path.join(self.dir, "out", "journal.sqlite"))
        try:
            return dict(db.execute("select address, state from rows"))
        finally:
            db.close()

    def everything_written(self):
        text = ""
        for path in glob.glob(os.path.join(self.log_dir, "*")) + \
                glob.glob(os.path.join(self.fake, "*")):
            with open(path, errors="replace") as f:
                text += f.read()
        return text

    def test_tranches_until_every_row_is_delivered(self):
        sent = []
        for run in range(6):
            r = self.run_wrapper(LIMIT=2)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr + self.everything_written())
            self.assertEqual(r.stdout + r.stderr, "")
            states = self.states()
            sent.append(sum(1 for s in states.values() if s != "queued"))
            if all(s == "delivered" for s in states.values()) and len(states) == 5:
                break
        # 2 more rows per run: never more than the limit
        self.assertEqual(sent[:3], [2, 4, 5], sent)
        self.assertEqual(self.states(), {a: "delivered" for a in self.addresses})
        self.assertEqual(sorted(self.accepted_copies().values()), [1] * 5)
        with open(os.path.join(self.log_dir, self.campaign_id + "-pecbatch.log")) as f:
            records = f.read()
        self.assertEqual(len(re.findall(r" info attempt .*outcome=accepted", records)), 5,
                         records)
        self.assertIn(" info exit command=poll code=0", records)
        self.assertEqual(glob.glob(os.path.join(self.fake, "mail-*")), [])
        self.assertNotIn(self.account["password"], self.everything_written())

    def test_unsafe_password_file_mails_the_operator(self):
        os.chmod(self.password_file, 0o644)
        r = self.run_wrapper(LIMIT=2)
        self.assertEqual(r.returncode, 78, self.everything_written())
        mails = glob.glob(os.path.join(self.fake, "mail-*"))
        self.assertEqual(len(mails), 1)
        with open(mails[0]) as f:
            mail = f.read()
        self.assertIn("failed (78)", mail.split("\n")[0])
        self.assertNotIn(self.account["password"], self.everything_written())
        self.assertEqual(self.submissions(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/python3
"""examples/ci/: test-send.sh run for real against the local sandbox
provider (it starts and stops its own), with a campaign that must pass and
one that must fail; the GitHub Actions and GitLab CI jobs parsed, their
shell checked, and every pecbatch option they use checked against
`pecbatch run --help`.

Needs `pecbatch run`: exits 77 (skipped) with a binary that has none.
Environment: PECBATCH, the binary under test.
"""
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CI = os.path.join(ROOT, "examples", "ci")
TEST_SEND = os.path.join(CI, "test-send.sh")
PECBATCH = os.environ.get("PECBATCH", "pecbatch")


def run_help():
    try:
        r = subprocess.run([PECBATCH, "run", "--help"], capture_output=True, text=True,
                           timeout=30)
    except OSError:
        return None
    return r.stdout if r.returncode == 0 and "pecbatch run" in r.stdout else None


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


class TestSend(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="pecbatch-ci-")
        os.chmod(self.dir, 0o755)
        self.campaign_dir = os.path.join(self.dir, "campagna")
        os.mkdir(self.campaign_dir)
        # The real campaign: real-looking addresses, its own output directory.
        self.write_contacts("contatti.csv", ["ufficio@pec.cliente-uno.it",
                                             "amministrazione@pec.cliente-due.it"])
        write(os.path.join(self.campaign_dir, "messaggio.txt"),
              "Gentile {{nome}},\nin allegato la fattura {{fattura}}.\n")
        write(os.path.join(self.campaign_dir, "condizioni.pdf"), "%PDF-1.4\n% prova\n")
        self.campaign = os.path.join(self.campaign_dir, "campaign.toml")
        write(self.campaign, textwrap.dedent("""\
            [campaign]
            id = "ci-prova"
            output_dir = "out"
            [account]
            address = "ufficio@pec.studio.example.it"
            password_env = "PECBATCH_PASSWORD"
            [provider]
            profile = "legalmail"
            [contacts]
            file = "contatti.csv"
            [message]
            subject = "Fattura {{fattura}}"
            text_template = "messaggio.txt"
            attachments = ["condizioni.pdf"]
            """))

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_contacts(self, name, addresses):
        path = os.path.join(self.campaign_dir, name)
        with open(path, "w", newline="") as f:
            f.write("pec;nome;fattura\r\n")
            for i, a in enumerate(addresses):
                f.write("%s;Cliente %d;2026/%d\r\n" % (a, i, 100 + i))
        return path

    def send_to_sandbox(self, *args, keep=None):
        env = {k: v for k, v in os.environ.items() if k != "PECBATCH_PASSWORD"}
        env.update({"PECBATCH": PECBATCH, "TMPDIR": self.dir})
        if keep:
            env["KEEP_DIR"] = keep
        return subprocess.run([TEST_SEND, self.campaign, *args], capture_output=True,
                              text=True, env=env, timeout=280)

    def test_every_row_delivered_passes(self):
        contacts = self.write_contacts("prova.csv", ["cliente%d@pec.sandbox.test" % i
                                                     for i in range(4)])
        keep = os.path.join(self.dir, "kept")
        r = self.send_to_sandbox("--contacts", contacts, keep=keep)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("test-send: every row delivered", r.stdout)
        self.assertIn("4 messages accepted by the provider, each once", r.stdout)
        db = sqlite3.connect(os.path.join(keep, "journal.sqlite"))
        try:
            states = dict(db.execute("select address, state from rows"))
        finally:
            db.close()
        self.assertEqual(states, {"cliente%d@pec.sandbox.test" % i: "delivered"
                                  for i in range(4)})
        self.assertTrue(os.path.getsize(os.path.join(keep, "esito.html")) > 0)
        # the campaign's own journal is never touched; nothing is left behind
        self.assertFalse(os.path.exists(os.path.join(self.campaign_dir, "out")))
        self.assertEqual(sorted(os.listdir(self.dir)), ["campagna", "kept"])

    def test_any_password_source_is_pointed_at_the_sandbox(self):
        contacts = self.write_contacts("prova.csv", ["cliente@pec.sandbox.test"])
        with open(self.campaign) as f:
            original = f.read()
        wrong = os.path.join(self.dir, "wrong.password")
        write(wrong, "not-the-sandbox-password\n", 0o600)
        for source in ('password_file = "%s"' % wrong, 'password_command = "false"'):
            with self.subTest(source=source):
                write(self.campaign, original.replace('password_env = "PECBATCH_PASSWORD"',
                                                      source))
                r = self.send_to_sandbox("--contacts", contacts)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertIn("every row delivered", r.stdout)

    def test_a_row_not_delivered_fails(self):
        contacts = self.write_contacts("prova.csv", ["cliente@pec.sandbox.test",
                                                     "pieno@pec.sandbox.test"])
        r = self.send_to_sandbox("--contacts", contacts)
        self.assertEqual(r.returncode, 69, r.stdout + r.stderr)
        self.assertIn("test-send: FAILED (exit 69)", r.stderr)

    def test_external_recipients_are_not_delivered(self):
        # The real contacts: outside the sandbox's PEC domain, so no proof of
        # delivery can come.
        r = self.send_to_sandbox()
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("FAILED", r.stderr)

    def test_usage(self):
        r = subprocess.run([TEST_SEND], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 64)
        self.assertIn("CAMPAIGN", r.stderr)


class Jobs(unittest.TestCase):
    """The GitHub Actions and GitLab CI jobs: valid YAML, valid shell, and
    only pecbatch options that exist."""

    @classmethod
    def setUpClass(cls):
        cls.run_options = set(re.findall(r"^\s+(?:-\w,)?(--[\w-]+)", run_help(), re.M))

    def load(self, name):
        try:
            import yaml
        except ImportError:
            self.skipTest("python3-yaml not installed")
        with open(os.path.join(CI, name)) as f:
            return yaml.safe_load(f)

    def check_shell(self, script, where):
        r = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, "%s: %s" % (where, r.stderr))
        sends = 0
        for command in re.findall(r'pecbatch"? run .*?(?=\n\S|\Z)', script, re.S):
            used = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", command))
            self.assertFalse(used - self.run_options, "%s: not options of pecbatch run: %s"
                             % (where, sorted(used - self.run_options)))
            if "--help" not in used:
                sends += 1
                self.assertLessEqual({"--yes", "--timeout", "--output-dir"}, used, where)
        self.assertEqual(sends, 1, "%s: one pecbatch run that sends" % where)

    def test_github_actions(self):
        workflow = self.load("github-actions.yml")
        job = workflow["jobs"]["test-send"]
        steps = job["steps"]
        names = [s.get("name", "") for s in steps]
        scripts = "\n".join(s["run"] for s in steps if "run" in s)
        self.check_shell(scripts, "github-actions.yml")
        self.assertIn("pecbatch run", scripts)
        # the sandbox is started before the send and stopped even on failure
        start = names.index("Start the sandbox")
        send = names.index("Test send")
        stop = names.index("Stop the sandbox")
        self.assertLess(start, send)
        self.assertLess(send, stop)
        self.assertEqual(steps[stop]["if"], "always()")
        self.assertIn("stop --dir", steps[stop]["run"])
        self.assertIn("GITHUB_ENV", steps[start]["run"])

    def test_gitlab_ci(self):
        config = self.load("gitlab-ci.yml")
        job = config["pec-test-send"]
        script = "\n".join(job["before_script"] + job["script"])
        self.check_shell(script, "gitlab-ci.yml")
        self.assertIn(" start --dir", "\n".join(job["before_script"]))
        self.assertIn(" stop --dir", "\n".join(job["after_script"]))
        self.assertEqual(job["artifacts"]["when"], "always")

    def test_test_send_script(self):
        with open(TEST_SEND) as f:
            self.check_shell(f.read(), "test-send.sh")
        r = subprocess.run(["sh", "-n", TEST_SEND], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        if shutil.which("shellcheck"):
            r = subprocess.run(["shellcheck", TEST_SEND], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout)


if __name__ == "__main__":
    if run_help() is None:
        print("pecbatch run is not available in %s: skipped" % PECBATCH)
        sys.exit(77)
    unittest.main(verbosity=2)

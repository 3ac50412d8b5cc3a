#!/usr/bin/python3
"""End-to-end tests of the pecbatch binary: validate, render, contacts,
config show, with the example campaign and with broken inputs.

Run by ctest with PECBATCH set to the binary. Rendered messages are parsed
with Python's own `email` package, an independent MIME implementation.
"""
import csv
import email
import email.policy
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import unittest

PECBATCH = os.environ.get("PECBATCH", "pecbatch")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def read_index(directory):
    with open(os.path.join(directory, "index.csv"), newline="") as f:
        return list(csv.DictReader(f))


def run(*args, env=None, cwd=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([PECBATCH, *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=120)


class TempDir(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="pecbatch-cli-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, data, mode="w"):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if isinstance(data, bytes):
            with open(path, "wb") as f:
                f.write(data)
        else:
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(data)
        return path

    def campaign(self, contacts, extra="", subject="Fattura {{numero}}",
                 text="Gentile {{nome}},\nfattura {{numero}}.\n"):
        self.write("contacts.csv", contacts)
        self.write("body.txt", text)
        return self.write("campaign.toml", f"""
[campaign]
id = "test-1"
[account]
address = "mittente@pec.sandbox.test"
password_env = "PECBATCH_TEST_PW"
[provider]
profile = "custom"
[contacts]
file = "contacts.csv"
[message]
subject = "{subject}"
text_template = "body.txt"
{extra}
""")


class ExampleCampaign(TempDir):
    def test_validate_example_is_ready(self):
        r = run("validate", os.path.join(EXAMPLES, "campaign.toml"))
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        self.assertIn("20 rows, 20 valid, 0 problems", r.stdout)
        self.assertIn("ready", r.stdout)
        self.assertIn("60/min", r.stdout)

    def test_render_writes_what_python_parses_back(self):
        out = os.path.join(self.dir, "out")
        r = run("render", os.path.join(EXAMPLES, "campaign.toml"), "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        index = read_index(out)
        self.assertEqual(len(index), 20)
        with open(os.path.join(EXAMPLES, "contatti.csv"), encoding="utf-8-sig", newline="") as f:
            contacts = list(csv.DictReader(f, delimiter=";"))
        shared = read_bytes(os.path.join(EXAMPLES, "allegati", "condizioni-generali.pdf"))
        ids = set()
        for entry, contact in zip(index, contacts):
            raw = read_bytes(os.path.join(out, entry["file"]))
            self.assertEqual(len(raw), int(entry["size"]))
            self.assertEqual(hashlib.sha256(raw).hexdigest(), entry["sha256"])
            self.assertNotIn(b"\n", raw.replace(b"\r\n", b""), "bare LF")
            self.assertTrue(all(len(l) <= 998 for l in raw.split(b"\r\n")))
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            self.assertEqual(msg["To"], contact["pec"])
            self.assertEqual(entry["address"], contact["pec"])
            self.assertEqual(msg["From"], "mittente@pec.sandbox.test")
            self.assertIsNone(msg["Cc"])
            self.assertIsNone(msg["Bcc"])
            self.assertEqual(len(msg.get_all("To")), 1)
            self.assertEqual(msg["Subject"],
                             f"Fattura n. {contact['fattura']} - scadenza {contact['scadenza']}")
            self.assertEqual(msg["X-TipoRicevuta"], "breve")
            self.assertEqual(msg["Message-ID"], "<" + entry["message_id"] + ">")
            self.assertTrue(entry["message_id"].endswith("@pec.sandbox.test"))
            ids.add(entry["message_id"])
            text = msg.get_body(("plain",)).get_content()
            self.assertIn(f"Gentile {contact['nome']},", text)
            html = msg.get_body(("html",)).get_content()
            escaped = contact["nome"].replace("&", "&amp;").replace('"', "&quot;")
            self.assertIn(f"<strong>{escaped}</strong>", html)
            if contact["note"]:
                self.assertIn("Nota: " + contact["note"], text)
            else:
                self.assertNotIn("Nota:", text)
            attachments = {p.get_filename(): p.get_content() for p in msg.iter_attachments()}
            invoice = read_bytes(os.path.join(EXAMPLES, "fatture", contact["allegato"]))
            self.assertEqual(attachments, {"condizioni-generali.pdf": shared,
                                           contact["allegato"]: invoice})
        self.assertEqual(len(ids), 20, "Message-IDs must be unique")

    def test_render_is_stable_for_the_same_row(self):
        a = os.path.join(self.dir, "a")
        b = os.path.join(self.dir, "b")
        self.assertEqual(run("render", os.path.join(EXAMPLES, "campaign.toml"), "--out", a,
                             "--rows", "2-3").returncode, 0)
        self.assertEqual(run("render", os.path.join(EXAMPLES, "campaign.toml"), "--out", b,
                             "--rows", "3").returncode, 0)
        ia = read_index(a)
        ib = read_index(b)
        self.assertEqual([r["row"] for r in ia], ["2", "3"])
        self.assertEqual(ib[0]["message_id"], ia[1]["message_id"])

    def test_config_show_lists_origins(self):
        r = run("config", "show", os.path.join(EXAMPLES, "campaign.toml"),
                "--set", "provider.rate_per_minute=6", "--contacts", "altro.csv")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = {l.split("=")[0].strip(): l for l in r.stdout.splitlines() if "=" in l}
        self.assertIn("# --set", lines["provider.rate_per_minute"])
        self.assertIn("= 6", lines["provider.rate_per_minute"])
        self.assertIn("# --contacts", lines["contacts.file"])
        self.assertIn("campaign.toml:10", lines["campaign.id"])
        self.assertIn("# profile custom", lines["account.smtp_port"])
        self.assertIn("# default", lines["contacts.encoding"])


class BadInput(TempDir):
    def test_bad_rows_are_all_reported_with_file_row_column(self):
        path = self.campaign(
            "nome;pec;numero\r\n"
            "Anna;anna@pec.it;1\r\n"
            "Bruno;Bruno Rossi <bruno@pec.it>;2\r\n"
            "Carla;;3\r\n"
            "Dario;ANNA@pec.it;4\r\n"
            "Elena;elena@pec.it\r\n")
        r = run("validate", path)
        self.assertEqual(r.returncode, 65, r.stderr + r.stdout)
        contacts = os.path.join(self.dir, "contacts.csv")
        err = r.stderr
        self.assertIn(f"pecbatch: error: {contacts}:3:pec: ", err)
        self.assertIn(f"pecbatch: error: {contacts}:4:pec: ", err)
        self.assertIn(f"pecbatch: error: {contacts}:5:pec: ", err)
        self.assertIn(f"pecbatch: error: {contacts}:6:", err)
        self.assertIn("NOT READY", r.stdout)

    def test_render_writes_nothing_when_a_row_is_bad(self):
        path = self.campaign("nome;pec;numero\nAnna;anna@pec.it;1\nBruno;bruno pec.it;2\n")
        out = os.path.join(self.dir, "out")
        r = run("render", path, "--out", out)
        self.assertEqual(r.returncode, 65)
        self.assertFalse(os.path.exists(out))

    def test_header_injection_in_subject_field(self):
        path = self.campaign('nome;pec;numero\nAnna;anna@pec.it;"1\r\nBcc: x@pec.it"\n')
        r = run("validate", path)
        self.assertEqual(r.returncode, 65)
        self.assertIn(":2:numero:", r.stderr)

    def test_unknown_template_field_names_template_and_line(self):
        path = self.campaign("nome;pec;numero\nAnna;anna@pec.it;1\n",
                             text="Gentile {{nome}},\n\nimporto {{importo}}\n")
        r = run("validate", path)
        self.assertEqual(r.returncode, 65)
        self.assertIn(os.path.join(self.dir, "body.txt") + ":3: field \"importo\"", r.stderr)

    def test_missing_attachment_and_escape_are_row_errors(self):
        self.write("docs/a.pdf", b"%PDF-1.4\n")
        self.write("secret.pdf", b"%PDF-1.4\n")
        path = self.campaign(
            "nome;pec;numero;file\n"
            "Anna;anna@pec.it;1;a.pdf\n"
            "Bruno;bruno@pec.it;2;../secret.pdf\n"
            "Carla;carla@pec.it;3;missing.pdf\n"
            "Dario;dario@pec.it;4;\"a.pdf; /etc/passwd\"\n",
            extra='',
        )
        with open(path) as f:
            toml = f.read()
        toml = toml.replace(
            'file = "contacts.csv"',
            'file = "contacts.csv"\nattachment_columns = ["file"]\nattachments_dir = "docs"')
        self.write("campaign.toml", toml)
        r = run("validate", path)
        self.assertEqual(r.returncode, 65, r.stderr)
        self.assertIn(":3:file: attachment \"../secret.pdf\" is outside", r.stderr)
        self.assertIn(":4:file: attachment \"missing.pdf\" not found", r.stderr)
        self.assertIn(":5:file: attachment \"/etc/passwd\" is outside", r.stderr)
        self.assertNotIn(":2:", r.stderr)

    def test_blocked_extension_is_refused(self):
        self.write("fattura.pdf.exe", b"MZ")
        path = self.campaign("nome;pec;numero\nAnna;anna@pec.it;1\n",
                             extra='attachments = ["fattura.pdf.exe"]')
        r = run("validate", path)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("fattura.pdf.exe", r.stderr)

    def test_config_errors_exit_78_with_suggestion(self):
        path = self.campaign("nome;pec;numero\nAnna;anna@pec.it;1\n",
                             extra='recipt = "breve"')
        r = run("validate", path)
        self.assertEqual(r.returncode, 78)
        self.assertRegex(r.stderr, r"campaign.toml:\d+: message.recipt: unknown key "
                                   r"\(did you mean message.receipt\?\)")

    def test_missing_files_exit_66(self):
        r = run("validate", os.path.join(self.dir, "nope.toml"))
        self.assertEqual(r.returncode, 66)
        self.assertTrue(r.stderr.startswith("pecbatch: error: "))
        path = self.campaign("nome;pec;numero\nAnna;anna@pec.it;1\n")
        r = run("validate", path, "--contacts", "does-not-exist.csv", cwd=self.dir)
        self.assertEqual(r.returncode, 66, r.stderr)
        self.assertIn("does-not-exist.csv", r.stderr)

    def test_unknown_command_suggests(self):
        r = run("valdate", "x.toml")
        self.assertEqual(r.returncode, 64)
        self.assertIn("did you mean 'validate'", r.stderr)

    def test_password_is_never_printed(self):
        path = self.campaign("nome;pec;numero\nAnna;anna@pec.it;1\n")
        with open(path) as f:
            toml = f.read().replace('password_env = "PECBATCH_TEST_PW"',
                                    'password_command = "echo hunter2-secret"')
        self.write("campaign.toml", toml)
        r = run("config", "show", path, env={"PECBATCH_TEST_PW": "hunter2-secret"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("hunter2-secret", r.stdout + r.stderr)
        self.assertIn("<arguments redacted>", r.stdout)


class ContactsCommand(TempDir):
    def test_json_shape(self):
        path = self.write("c.csv", "\ufeffNome;PEC;Città\r\nAnna;anna@pec.it;Forlì\r\n"
                                   "Bruno;bruno;\"Reggio; Emilia\"\r\n")
        r = run("contacts", path, "--json")
        self.assertEqual(r.returncode, 65, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(list(doc.keys()), ["columns", "address_column", "rows", "errors"])
        self.assertEqual(doc["columns"], ["Nome", "PEC", "Città"])
        self.assertEqual(doc["address_column"], "PEC")
        self.assertEqual(doc["rows"][0], {"row": 2, "address": "anna@pec.it",
                                          "fields": {"Nome": "Anna", "Città": "Forlì"}})
        self.assertEqual(doc["rows"][1]["fields"]["Città"], "Reggio; Emilia")
        self.assertEqual(len(doc["errors"]), 1)
        self.assertEqual(doc["errors"][0]["row"], 3)
        self.assertEqual(doc["errors"][0]["column"], "PEC")

    def test_valid_file_exits_zero_in_text_mode(self):
        path = self.write("c.csv", "email,nome\nanna@pec.it,Anna\n")
        r = run("contacts", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("email (address)", r.stdout)
        self.assertIn("1 rows, 1 valid, 0 problems", r.stdout)

    def test_windows_1252_needs_the_encoding_option(self):
        path = self.write("c.csv", b"pec;nome\r\nanna@pec.it;Citt\xe0\r\n")
        r = run("contacts", path)
        self.assertEqual(r.returncode, 65)
        self.assertIn("windows-1252", r.stderr)
        r = run("contacts", path, "--encoding", "windows-1252", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["rows"][0]["fields"]["nome"], "Città")

    def test_spreadsheets(self):
        data = os.path.join(ROOT, "tests", "data", "contacts")
        for name in ("contacts.xlsx", "contacts.xls"):
            path = os.path.join(data, name)
            if not os.path.exists(path):
                self.fail(f"fixture {name} missing")
            r = run("contacts", path, "--json")
            self.assertIn(r.returncode, (0, 65), r.stderr)
            doc = json.loads(r.stdout)
            self.assertTrue(doc["rows"], name)


if __name__ == "__main__":
    unittest.main(verbosity=2)

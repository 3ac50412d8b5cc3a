#!/usr/bin/python3
"""End-to-end tests of `pecbatch receipt inspect` on the real samples in
tests/data/receipts: the JSON Lines shape, the text output, exit codes.

Run by ctest with PECBATCH set to the binary.
"""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

PECBATCH = os.environ.get("PECBATCH", "pecbatch")
HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.normpath(os.path.join(HERE, "..", "..", "data", "receipts"))

# The documented keys, in the documented order.
KEYS = ["file", "class", "kind", "msgid", "identificativo", "consegna", "errore",
        "errore_esteso", "mittente", "destinatari", "oggetto", "gestore", "time",
        "ricevuta", "signature", "warnings"]
SIGNATURE_KEYS = ["status", "signer_email", "issuer", "signing_time"]

# file -> (class, kind, signature status)
EXPECTED = {
    "OCA__l10n-italy/ACCETTAZIONE_ IT03339130126_00009.xml.txt": ("receipt", "accettazione", "valid"),
    "OCA__l10n-italy/CONSEGNA_ IT03339130126_00009.xml.txt": ("receipt", "avvenuta-consegna", "valid"),
    "OCA__l10n-italy/message2_accettazione": ("receipt", "accettazione", "valid"),
    "OCA__l10n-italy/message2_consegna": ("receipt", "avvenuta-consegna", "valid"),
    "OCA__l10n-italy/message1": ("envelope", "posta-certificata", "valid"),
    "OCA__l10n-italy/message2": ("envelope", "posta-certificata", "valid"),
    "OCA__l10n-italy/POSTA CERTIFICATA_ Invio File 7339338.txt": ("envelope", "posta-certificata", "invalid"),
    "OCA__l10n-italy/POSTA CERTIFICATA_ Invio File 7339338 (broken XML).txt": ("envelope", "posta-certificata", "invalid"),
    "OCA__l10n-italy/POSTA CERTIFICATA_ Invio File 7339338 (base64).txt": ("envelope", "posta-certificata", "invalid"),
    "OCA__l10n-italy/POSTA CERTIFICATA_ Ricevuta di consegna 6782414.txt": ("envelope", "posta-certificata", "invalid"),
    "OCA__l10n-italy/POSTA CERTIFICATA_mancata_consegna.txt": ("envelope", "posta-certificata", "invalid"),
    "biagioT__java-pec-parser/accettazione.eml": ("receipt", "accettazione", "unsigned"),
    "biagioT__java-pec-parser/consegna.eml": ("receipt", "errore-consegna", "unsigned"),
    "danzipie__go-pec/accettazione.eml": ("receipt", "accettazione", "unsigned"),
    "danzipie__go-pec/consegna.eml": ("receipt", "errore-consegna", "unsigned"),
    "danzipie__go-pec/email_2.eml": ("receipt", "avvenuta-consegna", "unsigned"),
    "danzipie__go-pec/email_3.eml": ("envelope", "posta-certificata", "unsigned"),
    "peppelauro__php-pec/postacert_standard_html.eml": ("other", None, "unsigned"),
    "peppelauro__php-pec/postacert_standard_newline.eml": ("other", None, "unsigned"),
    "peppelauro__php-pec/postacert_standard_plain.eml": ("other", None, "unsigned"),
    "peppelauro__php-pec/postacert_standard_plain_and_html.eml": ("other", None, "unsigned"),
}


def run(*args):
    return subprocess.run([PECBATCH, *args], capture_output=True, text=True, cwd=DATA,
                          timeout=120)


def json_lines(stdout):
    return [json.loads(line) for line in stdout.splitlines()]


class Inspect(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="pecbatch-receipt-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_json_lines_one_object_per_file_with_the_documented_keys(self):
        files = sorted(EXPECTED)
        proc = run("receipt", "inspect", "--json", *files)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, "")
        objects = json_lines(proc.stdout)
        self.assertEqual([o["file"] for o in objects], files)
        for o in objects:
            self.assertEqual(list(o), KEYS, o["file"])
            self.assertEqual(list(o["signature"]), SIGNATURE_KEYS, o["file"])
            self.assertEqual((o["class"], o["kind"], o["signature"]["status"]),
                             EXPECTED[o["file"]], o["file"])
            self.assertIsInstance(o["warnings"], list)
            self.assertIsInstance(o["destinatari"], list)

    def test_json_facts_of_the_aruba_consegna(self):
        proc = run("receipt", "inspect", "--json",
                   "OCA__l10n-italy/CONSEGNA_ IT03339130126_00009.xml.txt")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        [o] = json_lines(proc.stdout)
        self.assertEqual(o, {
            "file": "OCA__l10n-italy/CONSEGNA_ IT03339130126_00009.xml.txt",
            "class": "receipt",
            "kind": "avvenuta-consegna",
            "msgid": "1542123565.921546936035156.464602125997431-openerp-8-fatturapa"
                     ".attachment.out@elbati-Vostro-3550",
            "identificativo": "opec288.20181113163926.01838.310.1.63@pec.aruba.it",
            "consegna": "l.battistini@pec.it",
            "errore": "nessuno",
            "errore_esteso": None,
            "mittente": "l.battistini@pec.it",
            "destinatari": [{"address": "l.battistini@pec.it", "tipo": "certificato"}],
            "oggetto": "IT03339130126_00009.xml",
            "gestore": "ARUBA PEC S.p.A.",
            "time": "2018-11-13T16:39:27+01:00",
            "ricevuta": "completa",
            "signature": {
                "status": "valid",
                "signer_email": "posta-certificata@pec.aruba.it",
                "issuer": "C=IT, L=Roma, O=Agenzia per l'Italia Digitale, OU=Area Soluzioni "
                          "per la Pubblica Amministrazione, CN=AgID CA1",
                "signing_time": "2018-11-13T15:39:27Z",
            },
            "warnings": [],
        })

    def test_json_of_an_unusable_daticert_is_all_null(self):
        proc = run("receipt", "inspect", "--json",
                   "OCA__l10n-italy/POSTA CERTIFICATA_mancata_consegna.txt")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        [o] = json_lines(proc.stdout)
        for key in ("identificativo", "consegna", "errore", "errore_esteso", "mittente",
                    "oggetto", "gestore", "time", "ricevuta"):
            self.assertIsNone(o[key], key)
        self.assertEqual(o["destinatari"], [])
        self.assertEqual(o["msgid"], "29868973923542086.1546634040973@pec.fatturapa.it")
        self.assertEqual(o["signature"]["status"], "invalid")
        self.assertTrue(any("digest mismatch" in w for w in o["warnings"]), o["warnings"])

    def test_text_output_has_one_block_per_file(self):
        proc = run("receipt", "inspect", "OCA__l10n-italy/message2_accettazione",
                   "biagioT__java-pec-parser/consegna.eml")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        blocks = proc.stdout.split("\n\n")
        self.assertEqual(len(blocks), 2)
        self.assertTrue(blocks[0].startswith("OCA__l10n-italy/message2_accettazione\n"))
        self.assertIn("  class          receipt (accettazione)\n", blocks[0])
        self.assertIn("  signature      valid\n", blocks[0])
        self.assertIn("  issuer         C=IT, O=DigitPA,", blocks[0])
        self.assertIn("  class          receipt (errore-consegna)\n", blocks[1])
        self.assertIn("  errore         no-dest\n", blocks[1])
        self.assertIn("  signature      unsigned: no signature part", blocks[1])
        self.assertIn("  warning        daticert.xml: stray text \"a\" in <intestazione>",
                      blocks[1])

    def test_missing_file_exits_66_and_the_others_are_still_inspected(self):
        proc = run("receipt", "inspect", "--json", "no-such-file.eml",
                   "OCA__l10n-italy/message1")
        self.assertEqual(proc.returncode, 66)
        self.assertIn("no-such-file.eml", proc.stderr)
        self.assertEqual(len(json_lines(proc.stdout)), 1)

    def test_file_that_is_not_a_message_exits_65(self):
        junk = os.path.join(self.dir, "junk.bin")
        with open(junk, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n\x00\x00")
        empty = os.path.join(self.dir, "empty.eml")
        open(empty, "wb").close()
        proc = run("receipt", "inspect", "--json", junk, empty, "OCA__l10n-italy/message1")
        self.assertEqual(proc.returncode, 65, proc.stderr)
        self.assertIn("junk.bin: not a mail message", proc.stderr)
        self.assertIn("empty.eml: empty file", proc.stderr)
        self.assertEqual(len(json_lines(proc.stdout)), 1)
        # A missing file wins over an unparsable one.
        proc = run("receipt", "inspect", junk, "absent.eml")
        self.assertEqual(proc.returncode, 66)

    def test_ca_file(self):
        # Repeatable, and it does not swallow the FILE arguments.
        actalis = "/etc/ssl/certs/Actalis_Authentication_Root_CA.pem"
        if os.path.exists(actalis):
            proc = run("receipt", "inspect", "--json", "--ca-file", actalis, "--ca-file",
                       actalis, "OCA__l10n-italy/message1", "OCA__l10n-italy/message2")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertEqual(len(json_lines(proc.stdout)), 2)
        proc = run("receipt", "inspect", "--ca-file", "absent.pem", "OCA__l10n-italy/message1")
        self.assertEqual(proc.returncode, 66)
        self.assertIn("absent.pem", proc.stderr)
        bad = os.path.join(self.dir, "bad.pem")
        with open(bad, "w") as f:
            f.write("nothing\n")
        proc = run("receipt", "inspect", "--ca-file", bad, "OCA__l10n-italy/message1")
        self.assertEqual(proc.returncode, 78)

    def test_usage_errors(self):
        self.assertEqual(run("receipt").returncode, 64)
        self.assertEqual(run("receipt", "inspect").returncode, 64)
        self.assertEqual(run("receipt", "inspekt", "x").returncode, 64)


if __name__ == "__main__":
    unittest.main(verbosity=2)

"""Unit tests of the sandbox modules (no servers)."""

import datetime
import email
import email.policy
import hashlib
import io
import json
import os
import shutil
import tempfile
import threading
import time
import unittest
import xml.etree.ElementTree as ET
import zipfile
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import sandboxlib
from pecsandbox import checks, config, daticert, faults, mimeutil, smime
from pecsandbox.ca import ensure_pki
from pecsandbox.maildir import Maildir
from pecsandbox.message import Submission, breve_copy, rewrite_original
from pecsandbox.scheduler import Scheduler

ROME = ZoneInfo("Europe/Rome")


def cfg(**overrides):
    return config.Config.from_dict(overrides)


class ConfigRulesTest(unittest.TestCase):
    """The default recipient rules documented in docs/sandbox.md."""

    @classmethod
    def setUpClass(cls):
        cls.c = cfg()

    def outcome(self, address):
        res = self.c.resolve(address)
        return res.outcome, res.tipo

    def test_sandbox_domains_are_delivered(self):
        self.assertEqual(self.outcome("dest@pec.sandbox.test"), ("delivered", "certificato"))
        self.assertEqual(self.outcome("a.b@uffici.pec.sandbox.test"), ("delivered", "certificato"))
        self.assertEqual(self.outcome("Dest@PEC.Sandbox.Test"), ("delivered", "certificato"))

    def test_local_part_conventions(self):
        table = {
            "nodest": "no-dest", "inesistente": "no-dest", "pieno": "mailbox-full",
            "full": "mailbox-full", "ritardo": "timeout", "timeout": "timeout",
            "lento": "delivered", "late": "delivered", "virusdest": "virus-delivery",
            "virus": "virus", "rifiuto": "rejected", "reject": "rejected",
        }
        for local, expected in table.items():
            for domain in ("pec.sandbox.test", "x.pec.sandbox.test"):
                with self.subTest(address="%s@%s" % (local, domain)):
                    self.assertEqual(self.c.resolve("%s@%s" % (local, domain)).outcome, expected)

    def test_receipt_modes(self):
        for mode in ("tampered", "unsigned", "untrusted", "forged", "forged-plain"):
            with self.subTest(mode=mode):
                self.assertEqual(self.c.resolve("%s@pec.sandbox.test" % mode).receipt, mode)

    def test_late_delay_is_between_12h_and_24h(self):
        res = self.c.resolve("lento@pec.sandbox.test")
        self.assertGreater(res.delay, self.c.clock.t12)
        self.assertLess(res.delay, self.c.clock.t24)

    def test_no_dominio_and_external(self):
        self.assertEqual(self.outcome("chiunque@nodominio.sandbox.test"),
                         ("no-dominio", "certificato"))
        self.assertEqual(self.outcome("someone@example.com"), ("esterno", "esterno"))
        # local-part conventions only apply to sandbox domains ...
        self.assertEqual(self.outcome("nodest@example.com"), ("esterno", "esterno"))
        # ... except the message-level virus rule
        self.assertEqual(self.outcome("virus@example.com"), ("virus", "esterno"))

    def test_domain_placeholder_follows_configured_domain(self):
        c = cfg(domain="pec.example-corp.test")
        self.assertEqual(c.resolve("nodest@pec.example-corp.test").outcome, "no-dest")
        self.assertEqual(c.resolve("dest@pec.example-corp.test").tipo, "certificato")
        self.assertEqual(c.resolve("dest@pec.sandbox.test").tipo, "esterno")
        self.assertEqual(list(c.accounts), ["mittente@pec.example-corp.test"])

    def test_user_rules_come_first(self):
        c = cfg(rules=[{"address": "ufficio@example.com", "outcome": "delivered",
                        "delay": "18h"},
                       {"domain": "*.pec.sandbox.test", "outcome": "mailbox-full"}])
        res = c.resolve("ufficio@example.com")
        self.assertEqual((res.outcome, res.tipo), ("delivered", "certificato"))
        self.assertAlmostEqual(res.delay, c.clock.hours(18))
        self.assertEqual(c.resolve("a@x.pec.sandbox.test").outcome, "mailbox-full")
        self.assertEqual(c.resolve("a@pec.sandbox.test").outcome, "delivered")

    def test_without_default_rules(self):
        c = cfg(use_default_rules=False)
        self.assertEqual(c.resolve("nodest@pec.sandbox.test").outcome, "delivered")

    def test_clock_mapping(self):
        clock = config.Clock(1.0, 2.0)
        self.assertAlmostEqual(clock.hours(6), 0.5)
        self.assertAlmostEqual(clock.hours(12), 1.0)
        self.assertAlmostEqual(clock.hours(18), 1.5)
        self.assertAlmostEqual(clock.hours(30), 2.5)
        self.assertAlmostEqual(clock.duration("3s", "x"), 3.0)
        self.assertAlmostEqual(clock.duration(0.25, "x"), 0.25)

    def test_generated_password(self):
        c1, c2 = cfg(), cfg()
        p1 = c1.accounts["mittente@pec.sandbox.test"]
        self.assertGreaterEqual(len(p1), 12)
        self.assertNotEqual(p1, c2.accounts["mittente@pec.sandbox.test"])

    def test_errors_are_explained(self):
        cases = [
            ({"colour": "red"}, "unknown key 'colour'"),
            ({"rules": [{"outcome": "lost"}]}, "rules[0].outcome 'lost'"),
            ({"rules": [{"receipt": "weird"}]}, "rules[0].receipt"),
            ({"rules": [{"delay": "soon"}]}, "rules[0].delay"),
            ({"clock": {"12h": 5, "24h": 2}}, "must be greater"),
            ({"faults": [{"at": "mail"}]}, "exactly one of"),
            ({"faults": [{"at": "mail", "reply": 250}]}, "400..599"),
            ({"faults": [{"at": "lunch", "drop": True}]}, "faults[0].at"),
            ({"faults": [{"at": "data-body", "reply": 451}]}, "only \"drop\""),
            ({"accounts": []}, "non-empty"),
            ({"accounts": [{"address": "a@b.test", "password": "x:y"}]}, "without ':'"),
            ({"signature_digest": "md5"}, "sha256"),
            ({"timezone": "Mars/Olympus"}, "timezone"),
            ({"ports": {"smtps": 70000}}, "ports.smtps"),
        ]
        for data, expected in cases:
            with self.subTest(data=data):
                with self.assertRaises(config.ConfigError) as ctx:
                    cfg(**data)
                self.assertIn(expected, str(ctx.exception))

    def test_bad_json_file(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json") as fh:
            fh.write('{"domain": "x.test",\n "rules": [}')
            fh.flush()
            with self.assertRaises(config.ConfigError) as ctx:
                config.load_config(fh.name)
        self.assertIn("line 2", str(ctx.exception))
        with self.assertRaises(config.ConfigError) as ctx:
            config.load_config("/nonexistent/pec.json")
        self.assertIn("cannot read", str(ctx.exception))


class DaticertTest(unittest.TestCase):

    def test_format_data_winter_and_summer(self):
        winter = datetime.datetime(2018, 11, 13, 16, 39, 26, tzinfo=ROME)
        summer = datetime.datetime(2024, 7, 1, 9, 5, 3, tzinfo=ROME)
        self.assertEqual(daticert.format_data(winter), ("+0100", "13/11/2018", "16:39:26"))
        self.assertEqual(daticert.format_data(summer), ("+0200", "01/07/2024", "09:05:03"))
        with self.assertRaises(ValueError):
            daticert.format_data(datetime.datetime(2024, 1, 1))

    def _sample_daticert(self, name):
        path = os.path.join(sandboxlib.SAMPLES_DIR, "OCA__l10n-italy", name)
        if not os.path.exists(path):
            self.skipTest("PEC samples not found at %s" % sandboxlib.SAMPLES_DIR)
        with open(path, "rb") as fh:
            msg = sandboxlib.parse(fh.read())
        return sandboxlib.daticert(msg)["raw"]

    def test_identical_to_real_aruba_accettazione(self):
        expected = self._sample_daticert("ACCETTAZIONE_ IT03339130126_00009.xml.txt")
        mine = daticert.Daticert(
            "accettazione", mittente="l.battistini@pec.it",
            destinatari=[("l.battistini@pec.it", "certificato")],
            risposte="l.battistini@pec.it", oggetto="IT03339130126_00009.xml",
            gestore="ARUBA PEC S.p.A.",
            when=datetime.datetime(2018, 11, 13, 16, 39, 26, tzinfo=ROME),
            identificativo="opec288.20181113163926.01838.310.1.63@pec.aruba.it",
            msgid="<1542123565.921546936035156.464602125997431-openerp-8-fatturapa."
                  "attachment.out@elbati-Vostro-3550>").to_xml()
        self.assertEqual(mine, expected)

    def test_identical_to_real_aruba_consegna(self):
        expected = self._sample_daticert("CONSEGNA_ IT03339130126_00009.xml.txt")
        mine = daticert.Daticert(
            "avvenuta-consegna", mittente="l.battistini@pec.it",
            destinatari=[("l.battistini@pec.it", "certificato")],
            risposte="l.battistini@pec.it", oggetto="IT03339130126_00009.xml",
            gestore="ARUBA PEC S.p.A.",
            when=datetime.datetime(2018, 11, 13, 16, 39, 27, tzinfo=ROME),
            identificativo="opec288.20181113163926.01838.310.1.63@pec.aruba.it",
            msgid="<1542123565.921546936035156.464602125997431-openerp-8-fatturapa."
                  "attachment.out@elbati-Vostro-3550>",
            ricevuta="completa", consegna="l.battistini@pec.it").to_xml()
        self.assertEqual(mine, expected)

    def test_escaping_order_and_unicode(self):
        xml = daticert.Daticert(
            "errore-consegna", errore="no-dest", mittente="a@pec.sandbox.test",
            destinatari=[("b@pec.sandbox.test", "certificato"), ("c@example.com", "esterno")],
            risposte="a@pec.sandbox.test", oggetto="Fattura n. 1 <urgente> & più",
            gestore="Sandbox PEC S.p.A.", when=datetime.datetime.now(ROME),
            identificativo="opec1@pec.sandbox.test", msgid="<x&y@h>",
            consegna="b@pec.sandbox.test", errore_esteso="5.1.1 - S - indirizzo non valido"
        ).to_xml()
        root = ET.fromstring(xml)
        self.assertEqual(root.get("tipo"), "errore-consegna")
        self.assertEqual(root.find("intestazione/oggetto").text, "Fattura n. 1 <urgente> & più")
        self.assertEqual(root.find("dati/msgid").text, "<x&y@h>")
        self.assertIn(b"&lt;x&amp;y@h&gt;", xml)
        self.assertEqual([c.tag for c in root.find("dati")],
                         ["gestore-emittente", "data", "identificativo", "msgid", "consegna",
                          "errore-esteso"])
        self.assertEqual([d.get("tipo") for d in root.findall("intestazione/destinatari")],
                         ["certificato", "esterno"])


def _message(attachments=(), to="dest@pec.sandbox.test", sender="mittente@pec.sandbox.test",
             extra=None, cc=None):
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = "Prova"
    msg["Message-ID"] = "<orig.1@client.test>"
    for key, value in (extra or {}).items():
        msg[key] = value
    msg.set_content("Ciao\n")
    for name, data, ctype in attachments:
        main, sub = ctype.split("/")
        msg.add_attachment(data, maintype=main, subtype=sub, filename=name)
    return mimeutil.normalize_crlf(msg.as_bytes())


class MessageRewriteTest(unittest.TestCase):

    def test_postacert_rewrites_only_message_id(self):
        raw = _message(extra={"X-Riferimento-Message-ID": "<forged@x>"})
        out = rewrite_original(raw, "opec1.2@pec.sandbox.test", "<orig.1@client.test>",
                               "from x by y; date")
        msg = email.message_from_bytes(out, policy=email.policy.compat32)
        self.assertEqual(msg["Message-ID"], "<opec1.2@pec.sandbox.test>")
        self.assertEqual(msg.get_all("X-Riferimento-Message-ID"), ["<orig.1@client.test>"])
        self.assertTrue(out.startswith(b"Received: from x by y; date\r\n"))
        # everything else byte for byte
        self.assertEqual(out.split(b"\r\n\r\n", 1)[1], raw.split(b"\r\n\r\n", 1)[1])
        lines = out.split(b"\r\n")
        self.assertEqual(lines[lines.index(b"Message-ID: <opec1.2@pec.sandbox.test>") + 1],
                         b"X-Riferimento-Message-ID: <orig.1@client.test>")

    def test_postacert_without_message_id(self):
        raw = b"From: a@b\r\nTo: c@d\r\nSubject: x\r\n\r\nbody\r\n"
        out = rewrite_original(raw, "opec9@p", "<gen@p>")
        self.assertIn(b"Message-ID: <opec9@p>\r\nX-Riferimento-Message-ID: <gen@p>\r\n", out)
        self.assertTrue(out.endswith(b"\r\n\r\nbody\r\n"))

    def test_raw_utf8_headers(self):
        sub = Submission(b"From: a@pec.sandbox.test\r\nTo: b@pec.sandbox.test\r\n"
                         b"Subject: Citt\xc3\xa0 \xff\r\n\r\nx\r\n")
        self.assertEqual(sub.subject, "Citt\u00e0 \ufffd")
        xml = daticert.Daticert("accettazione", mittente=sub.sender,
                                destinatari=[(a, "certificato") for a in sub.to_addrs],
                                risposte=sub.risposte, oggetto=sub.subject, gestore="G",
                                when=datetime.datetime.now(ROME), identificativo="i@x").to_xml()
        self.assertIn("Città".encode(), xml)

    def test_breve_hashes_named_parts(self):
        pdf = os.urandom(3000)
        raw = _message([("fattura.pdf", pdf, "application/pdf")])
        out = breve_copy(raw)
        msg = email.message_from_bytes(out, policy=email.policy.compat32)
        names = [p.get_filename() for p in msg.walk() if p.get_filename()]
        self.assertEqual(names, ["fattura.pdf.hash"])
        hash_part = sandboxlib.find_part(msg, "fattura.pdf.hash")
        self.assertEqual(hash_part.get_content_type(), "text/plain")
        digest = hash_part.get_payload(decode=True).decode()
        # SHA-1 of the part's body as transmitted (the base64 text)
        orig = email.message_from_bytes(raw, policy=email.policy.compat32)
        att = sandboxlib.find_part(orig, "fattura.pdf")
        start = raw.index(b"\r\n\r\n", raw.index(b'filename="fattura.pdf"')) + 4
        body = raw[start:raw.index(b"\r\n--", start)]
        self.assertEqual(digest, hashlib.sha1(body).hexdigest())
        self.assertRegex(digest, r"^[0-9a-f]{40}$")
        self.assertEqual(att.get_payload(decode=True), pdf)
        # the text part is untouched and the structure is the same
        self.assertEqual(sandboxlib.structure(msg)[0], "multipart/mixed")
        self.assertEqual(len(msg.get_payload()), 2)
        self.assertIn(b"Ciao", out)
        self.assertEqual(out.split(b"\r\n\r\n", 1)[0], raw.split(b"\r\n\r\n", 1)[0])

    def test_breve_hashes_attached_messages_whole(self):
        inner = EmailMessage()
        inner["Subject"] = "inoltrato"
        inner.set_content("x")
        outer = EmailMessage()
        outer["From"], outer["To"], outer["Subject"] = "a@b", "c@d", "fw"
        outer.set_content("see attached")
        outer.add_attachment(inner)
        out = breve_copy(mimeutil.normalize_crlf(outer.as_bytes()))
        self.assertNotIn(b"inoltrato", out)
        self.assertIn(b".hash", out)

    def test_breve_keeps_signed_structure_and_pkcs7_mime(self):
        signed = (b"From: a@b\r\nTo: c@d\r\nMIME-Version: 1.0\r\n"
                  b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; "
                  b"micalg=sha-256; boundary=\"SIG\"\r\n\r\n"
                  b"--SIG\r\nContent-Type: multipart/mixed; boundary=\"IN\"\r\n\r\n"
                  b"--IN\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
                  b"--IN\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\n"
                  b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--IN--\r\n"
                  b"\r\n--SIG\r\nContent-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
                  b"Content-Transfer-Encoding: base64\r\n\r\nMIIBAA==\r\n--SIG--\r\n")
        out = breve_copy(signed)
        self.assertIn(b"a.pdf.hash", out)
        self.assertNotIn(b"JVBERi0=", out)
        self.assertIn(b"name=\"smime.p7s\"\r\nContent-Transfer-Encoding: base64\r\n\r\nMIIBAA==",
                      out)
        opaque = (b"From: a@b\r\nContent-Type: application/pkcs7-mime; name=\"smime.p7m\"\r\n"
                  b"Content-Transfer-Encoding: base64\r\n\r\nMIIBAA==\r\n")
        self.assertEqual(breve_copy(opaque), opaque)


class ChecksTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.c = cfg()

    def failures(self, raw, auth="mittente@pec.sandbox.test", mail_from="mittente@pec.sandbox.test",
                 rcpts=("dest@pec.sandbox.test",), c=None):
        return [f.key for f in checks.formal_checks(Submission(raw), auth, mail_from,
                                                    list(rcpts), c or self.c)]

    def test_clean_message_passes(self):
        raw = _message([("fattura.pdf", b"%PDF-1.4", "application/pdf")])
        self.assertEqual(self.failures(raw), [])
        self.assertIsNone(checks.virus_scan(Submission(raw), self.c))

    def test_sender_checks(self):
        self.assertIn("sender-mismatch", self.failures(_message(), auth="altro@pec.sandbox.test"))
        self.assertIn("from-mismatch",
                      self.failures(_message(sender="altro@pec.sandbox.test")))

    def test_bcc_to_cc_checks(self):
        self.assertIn("bcc", self.failures(_message(extra={"Bcc": "x@pec.sandbox.test"})))
        self.assertIn("rcpt-not-in-headers",
                      self.failures(_message(), rcpts=("dest@pec.sandbox.test", "x@y.test")))
        raw = _message(cc="copia@pec.sandbox.test")
        self.assertEqual(self.failures(raw, rcpts=("dest@pec.sandbox.test",
                                                   "copia@pec.sandbox.test")), [])
        no_to = b"From: mittente@pec.sandbox.test\r\nCc: c@d.test\r\nSubject: x\r\n\r\nx\r\n"
        self.assertIn("no-to", self.failures(no_to, rcpts=("c@d.test",)))

    def test_limits(self):
        small = cfg(limits={"max_recipients": 2, "max_total_bytes": 500})
        to = ", ".join("r%d@pec.sandbox.test" % i for i in range(3))
        raw = _message(to=to)
        rcpts = ["r%d@pec.sandbox.test" % i for i in range(3)]
        keys = self.failures(raw, rcpts=rcpts, c=small)
        self.assertIn("too-many-recipients", keys)
        self.assertIn("too-big", keys)  # size x 3 recipients > 500
        self.assertNotIn("too-big", self.failures(raw, rcpts=rcpts[:1], c=small))

    def test_blocked_attachments(self):
        for name, data in [("fattura.pdf.exe", b"x"), ("script.JS", b"x"),
                           ("lettera.pdf", b"MZ" + b"\0" * 58 + b"\x40\0\0\0" + b"PE\0\0" + b"\0" * 64),
                           ("prog.pdf", b"\x7fELF\x02\x01\x01")]:
            with self.subTest(name=name):
                raw = _message([(name, data, "application/octet-stream")])
                self.assertIn("blocked-attachment", self.failures(raw))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("documenti/fattura.pdf.exe", b"x")
        raw = _message([("archivio.zip", buf.getvalue(), "application/zip")])
        self.assertIn("blocked-attachment", self.failures(raw))
        custom = cfg(limits={"blocked_extensions": ["docm"]})
        raw = _message([("macro.docm", b"x", "application/octet-stream")])
        self.assertIn("blocked-attachment", self.failures(raw, c=custom))
        raw = _message([("ok.exe.pdf", b"%PDF", "application/pdf")])
        self.assertEqual(self.failures(raw), [])

    def test_eicar(self):
        raw = _message([("test.txt", sandboxlib.EICAR.encode(), "text/plain")])
        self.assertEqual(checks.virus_scan(Submission(raw), self.c), checks.EICAR_NAME)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("eicar.com.txt", sandboxlib.EICAR)
        raw = _message([("innocuo.zip", buf.getvalue(), "application/zip")])
        self.assertEqual(checks.virus_scan(Submission(raw), self.c), checks.EICAR_NAME)


class SigningTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pec-unit-")
        cls.pki = ensure_pki(os.path.join(cls.tmp, "ca"), "pec.sandbox.test", "Sandbox PEC S.p.A.")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def _entity(self):
        return mimeutil.entity([("Content-Type", "text/plain; charset=us-ascii")],
                               b"daticert di prova\r\n")

    def test_sign_and_verify_with_openssl(self):
        for digest, micalg in (("sha256", b"sha-256"), ("sha1", b"sha1")):
            with self.subTest(digest=digest):
                signer = smime.Signer(*self.pki.load_signer(), digest=digest)
                raw = signer.wrap([("From", "posta-certificata@pec.sandbox.test")], self._entity())
                self.assertIn(b'micalg="' + micalg + b'"', raw)
                ok, out = sandboxlib.openssl_verify(raw, self.pki.root_cert)
                self.assertTrue(ok, out)

    def test_tampered_and_untrusted_fail(self):
        signer = smime.Signer(*self.pki.load_signer())
        raw = signer.wrap([], self._entity(), tamper=lambda e: e.replace(b"prova", b"PROVA"))
        ok, out = sandboxlib.openssl_verify(raw, self.pki.root_cert)
        self.assertFalse(ok)
        self.assertIn("digest failure", out)

    def test_pki_is_reused(self):
        again = ensure_pki(self.pki.directory, "pec.sandbox.test", "Sandbox PEC S.p.A.")
        with open(again.root_cert, "rb") as fh1, open(self.pki.root_cert, "rb") as fh2:
            self.assertEqual(fh1.read(), fh2.read())


class MaildirTest(unittest.TestCase):

    def test_atomic_delivery(self):
        tmp = tempfile.mkdtemp(prefix="pec-md-")
        try:
            box = Maildir(os.path.join(tmp, "a@b"))
            box.create()
            path = box.deliver(b"Subject: x\r\n\r\ny\r\n")
            self.assertEqual(os.path.dirname(path), os.path.join(tmp, "a@b", "new"))
            self.assertEqual(os.listdir(os.path.join(tmp, "a@b", "tmp")), [])
            with open(path, "rb") as fh:
                self.assertEqual(fh.read(), b"Subject: x\r\n\r\ny\r\n")
            self.assertTrue(path.endswith(",S=17"), path)
        finally:
            shutil.rmtree(tmp)


class ControlTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pec-ctl-")
        self.path = os.path.join(self.tmp, "control.json")
        self.logs = []

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def write(self, data):
        with open(self.path + ".tmp", "w") as fh:
            json.dump(data, fh)
        os.replace(self.path + ".tmp", self.path)

    def test_count_skip_probability_filters(self):
        c = cfg(faults=[{"at": "mail", "reply": 451, "count": 2, "skip": 1}])
        control = faults.Control(c, self.path, self.logs.append, seed=1)
        fired = [control.evaluate("mail").reply for _ in range(5)]
        self.assertEqual([bool(f) for f in fired], [False, True, True, False, False])
        self.assertTrue(fired[1].startswith("451 4.3.0"))
        self.assertIsNone(control.evaluate("rcpt").fault)

        self.write({"faults": [{"at": "rcpt", "reply": 452, "recipient": "*@example.com"},
                               {"at": "rcpt", "delay": 0.5},
                               {"at": "data", "drop": True, "probability": 0.0}]})
        control.refresh()
        d = control.evaluate("rcpt", recipients=["a@pec.sandbox.test"])
        self.assertIsNone(d.fault)
        self.assertEqual(d.delay, 0.5)
        self.assertEqual(control.evaluate("rcpt", recipients=["a@example.com"]).fault.code, 452)
        self.assertIsNone(control.evaluate("data").fault)

    def test_reload_resets_and_bad_file_is_ignored(self):
        control = faults.Control(cfg(), self.path, self.logs.append)
        self.write({"faults": [{"at": "mail", "reply": 421, "count": 1}]})
        control.refresh()
        self.assertEqual(control.evaluate("mail").fault.code, 421)
        self.assertIsNone(control.evaluate("mail").fault)
        self.write({"faults": [{"at": "mail", "reply": 421, "count": 1}], "comment": "again"})
        control.refresh()
        self.assertEqual(control.evaluate("mail").fault.code, 421)
        with open(self.path, "w") as fh:
            fh.write("{not json")
        control.refresh()
        self.assertTrue(any("ignored" in line for line in self.logs))
        os.unlink(self.path)
        control.refresh()
        self.assertIsNone(control.evaluate("mail").fault)

    def test_control_rules_and_receipt_faults(self):
        control = faults.Control(cfg(), self.path, self.logs.append)
        self.write({"rules": [{"address": "x@pec.sandbox.test", "outcome": "no-dest"}],
                    "receipt_faults": [{"mode": "tampered", "kind": "accettazione",
                                        "count": 1}]})
        control.refresh()
        c = control.config
        self.assertEqual(c.resolve("x@pec.sandbox.test", control.rules()).outcome, "no-dest")
        self.assertIsNone(control.receipt_mode("avvenuta-consegna", "x@pec.sandbox.test"))
        self.assertEqual(control.receipt_mode("accettazione", None), "tampered")
        self.assertIsNone(control.receipt_mode("accettazione", None))

    def test_rate_limit(self):
        control = faults.Control(cfg(rate_limit_per_minute=3), self.path)
        self.assertEqual([control.rate_limited("a@b") for _ in range(5)],
                         [False, False, False, True, True])
        self.assertFalse(control.rate_limited("other@b"))


class SchedulerTest(unittest.TestCase):

    def test_order_and_stop(self):
        events = []
        done = threading.Event()
        sched = Scheduler()
        sched.call_later(0.10, events.append, "b")
        sched.call_later(0.05, events.append, "a")
        sched.call_later(0.15, lambda: (events.append("c"), done.set()))
        sched.call_later(0.12, lambda: 1 / 0)  # failures do not stop the thread
        sched.call_later(60, events.append, "never")
        self.assertTrue(done.wait(5))
        self.assertEqual(events, ["a", "b", "c"])
        self.assertEqual(sched.stop(), 1)
        time.sleep(0.01)
        self.assertEqual(events, ["a", "b", "c"])


if __name__ == "__main__":
    unittest.main()

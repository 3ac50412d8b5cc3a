"""Integration tests against a running sandbox (SMTP in, IMAPS out via Dovecot).

Receipts are read back over IMAPS from the real Dovecot, parsed with the
stdlib ``email`` package and verified with ``openssl smime -verify``, as a
PEC client would.
"""

import datetime
import email.utils
import hashlib
import imaplib
import os
import re
import smtplib
import socket
import ssl
import subprocess
import time
import unittest
from zoneinfo import ZoneInfo

import sandboxlib
from sandboxlib import classify, daticert, find_part, openssl_verify, parse, structure

SANDBOX = None
DOMAIN = "pec.sandbox.test"
PROVIDER = "posta-certificata@pec.sandbox.test"
SYSTEM_CA = "/etc/ssl/certs/ca-certificates.crt"

EXPECTED_LAYOUT_POSTACERT = [
    "multipart/signed", None, [
        ["multipart/mixed", None, [
            ["multipart/alternative", None, [["text/plain", None, []], ["text/html", None, []]]],
            ["application/xml", "daticert.xml", []],
            ["message/rfc822", "postacert.eml", []]]],
        ["application/x-pkcs7-signature", "smime.p7s", []]]]
EXPECTED_LAYOUT_PLAIN = [
    "multipart/signed", None, [
        ["multipart/mixed", None, [
            ["multipart/alternative", None, [["text/plain", None, []], ["text/html", None, []]]],
            ["application/xml", "daticert.xml", []]]],
        ["application/x-pkcs7-signature", "smime.p7s", []]]]


def setUpModule():
    global SANDBOX
    SANDBOX = sandboxlib.Sandbox({
        "clock": sandboxlib.FAST_CLOCK,
        "accounts": [{"address": "mittente@{domain}"},
                     {"address": "ufficio@{domain}", "password": "ufficio-secret"}],
    }, name="main").start()


def tearDownModule():
    if SANDBOX is not None:
        SANDBOX.stop()


def by_kind(messages):
    out = {}
    for msg in messages:
        out.setdefault(msg["X-Ricevuta"], []).append(msg)
    return out


class Base(unittest.TestCase):

    def sb(self):
        return SANDBOX

    def send(self, to, cc=None, **kw):
        msg = SANDBOX.message(to, cc=cc, **kw)
        SANDBOX.send(msg)
        return msg

    def assert_signed_ok(self, msg_or_raw):
        raw = msg_or_raw if isinstance(msg_or_raw, bytes) else msg_or_raw.as_bytes()
        ok, out = openssl_verify(raw, SANDBOX.info["ca_cert"])
        self.assertTrue(ok, out)

    def assert_receipt_headers(self, msg, kind, prefix, msgid):
        self.assertEqual(classify(msg), "receipt")
        self.assertEqual(msg["X-Ricevuta"], kind)
        self.assertEqual(msg["X-Riferimento-Message-ID"], msgid)
        self.assertEqual(msg["From"], PROVIDER)
        self.assertEqual(msg["To"], SANDBOX.sender)
        subject = str(email.header.make_header(email.header.decode_header(msg["Subject"])))
        self.assertTrue(subject.startswith(prefix), subject)
        self.assertRegex(msg["Message-ID"], r"^<opec\d+\.\d{14}\.\d{5}\.[\d.]+@pec\.sandbox\.test>$")
        self.assertIsNotNone(email.utils.parsedate_to_datetime(msg["Date"]).tzinfo)
        ctype = msg.get_content_type()
        self.assertEqual(ctype, "multipart/signed")
        self.assertEqual(msg.get_param("protocol"), "application/x-pkcs7-signature")
        self.assertEqual(msg.get_param("micalg"), "sha-256")


class A_InfoTest(Base):

    def test_sandbox_json(self):
        info = SANDBOX.info
        for key in ("smtps_port", "starttls_port", "imaps_port", "ca_cert", "accounts", "domain",
                    "submissions_log", "maildir", "control_file", "host"):
            self.assertIn(key, info)
        self.assertEqual(info["host"], "127.0.0.1")
        self.assertEqual(info["domain"], DOMAIN)
        ports = {info["smtps_port"], info["starttls_port"], info["imaps_port"],
                 info["imap_starttls_port"]}
        self.assertEqual(len(ports), 4)
        self.assertTrue(os.path.isfile(info["ca_cert"]))
        self.assertTrue(os.path.isdir(info["maildir"]))
        self.assertEqual(info["accounts"][0]["address"], "mittente@pec.sandbox.test")
        self.assertEqual(info["accounts"][1]["password"], "ufficio-secret")
        # Start time is a benchmark figure, not a test verdict (it varies under load).
        self.assertGreater(SANDBOX.start_seconds, 0)

    def test_listeners_are_loopback_only(self):
        ports = {SANDBOX.info[k] for k in ("smtps_port", "starttls_port", "imaps_port",
                                           "imap_starttls_port")}
        listening = {}
        with open("/proc/net/tcp") as fh:
            for line in fh.readlines()[1:]:
                fields = line.split()
                local, state = fields[1], fields[3]
                if state == "0A":
                    addr, port = local.split(":")
                    listening.setdefault(int(port, 16), set()).add(addr)
        for port in ports:
            self.assertEqual(listening.get(port), {"0100007F"}, port)

    def test_tls_needs_the_sandbox_ca(self):
        bare = (ssl.create_default_context(cafile=SYSTEM_CA) if os.path.exists(SYSTEM_CA)
                else ssl.create_default_context())
        with self.assertRaises(ssl.SSLCertVerificationError):
            smtplib.SMTP_SSL("127.0.0.1", SANDBOX.info["smtps_port"], context=bare, timeout=10)
        ctx = SANDBOX.ssl_context()
        for host in ("127.0.0.1", "localhost"):
            with socket.create_connection((host, SANDBOX.info["imaps_port"]), timeout=10) as raw:
                with ctx.wrap_socket(raw, server_hostname=host) as tls:
                    self.assertTrue(tls.recv(100).startswith(b"* OK"))


    def test_imap_starttls(self):
        conn = imaplib.IMAP4("127.0.0.1", SANDBOX.info["imap_starttls_port"], timeout=10)
        try:
            self.assertIn("STARTTLS", conn.capabilities)
            conn.starttls(SANDBOX.ssl_context())
            conn.login(SANDBOX.account["username"], SANDBOX.account["password"])
            typ, _ = conn.select("INBOX", readonly=True)
            self.assertEqual(typ, "OK")
        finally:
            conn.logout()


class B_SubmissionTest(Base):

    def test_auth_plain_and_login(self):
        for mech in ("PLAIN", "LOGIN"):
            with self.subTest(mechanism=mech):
                with SANDBOX.smtp(login=False) as conn:
                    conn.ehlo()
                    self.assertIn("PLAIN", conn.esmtp_features["auth"])
                    self.assertIn("LOGIN", conn.esmtp_features["auth"])
                    conn.user, conn.password = SANDBOX.account["username"], SANDBOX.account["password"]
                    authobject = conn.auth_plain if mech == "PLAIN" else conn.auth_login
                    code, _ = conn.auth(mech, authobject, initial_response_ok=(mech == "PLAIN"))
                    self.assertEqual(code, 235)
                    msg = SANDBOX.message("dest@pec.sandbox.test")
                    conn.send_message(msg)
                got = SANDBOX.wait_receipts(msg["Message-ID"], 1, kinds=("accettazione",))
                self.assertEqual(len(got), 1)

    def test_wrong_password_is_535(self):
        with SANDBOX.smtp(login=False) as conn:
            with self.assertRaises(smtplib.SMTPAuthenticationError) as ctx:
                conn.login(SANDBOX.account["username"], "wrong")
            self.assertEqual(ctx.exception.smtp_code, 535)

    def test_mail_without_auth_is_530(self):
        with SANDBOX.smtp(login=False) as conn:
            conn.ehlo()
            code, reply = conn.mail(SANDBOX.sender)
            self.assertEqual(code, 530)

    def test_starttls_listener(self):
        with smtplib.SMTP("127.0.0.1", SANDBOX.info["starttls_port"], timeout=10) as conn:
            conn.ehlo()
            self.assertTrue(conn.has_extn("starttls"))
            self.assertFalse(conn.has_extn("auth"))
            code, _ = conn.docmd("AUTH", "PLAIN AG1pdHRlbnRlAHg=")
            self.assertEqual(code, 530)
            code, _ = conn.mail(SANDBOX.sender)
            self.assertEqual(code, 530)
            conn.starttls(context=SANDBOX.ssl_context())
            conn.ehlo()
            self.assertTrue(conn.has_extn("auth"))
            code, reply = conn.mail(SANDBOX.sender)
            self.assertEqual(code, 530)
            self.assertIn(b"5.7.0", reply)
            conn.rset()
            conn.login(SANDBOX.account["username"], SANDBOX.account["password"])
            msg = SANDBOX.message("dest@pec.sandbox.test")
            conn.send_message(msg)
        got = SANDBOX.wait_receipts(msg["Message-ID"], 2)
        self.assertEqual(sorted(m["X-Ricevuta"] for m in got), ["accettazione", "avvenuta-consegna"])
        log = SANDBOX.submissions(msg["Message-ID"])
        self.assertEqual(log[0]["listener"], "starttls")


class C_ReceiptsTest(Base):

    def test_completa(self):
        pdf = os.urandom(5000)
        msg = self.send("dest@pec.sandbox.test", subject="Fattura 42",
                        attachments=[("fattura.pdf", pdf, "application/pdf")])
        msgid = msg["Message-ID"]
        got = by_kind(SANDBOX.wait_receipts(msgid, 2))
        acc, cons = got["accettazione"][0], got["avvenuta-consegna"][0]

        self.assert_receipt_headers(acc, "accettazione", "ACCETTAZIONE: Fattura 42", msgid)
        self.assert_receipt_headers(cons, "avvenuta-consegna", "CONSEGNA: Fattura 42", msgid)
        self.assertNotEqual(acc["Message-ID"], cons["Message-ID"])
        self.assertEqual(structure(acc), EXPECTED_LAYOUT_PLAIN)
        self.assertEqual(structure(cons), EXPECTED_LAYOUT_POSTACERT)
        self.assert_signed_ok(acc)
        self.assert_signed_ok(cons)

        d1, d2 = daticert(acc), daticert(cons)
        self.assertEqual((d1["tipo"], d1["errore"]), ("accettazione", "nessuno"))
        self.assertEqual((d2["tipo"], d2["errore"]), ("avvenuta-consegna", "nessuno"))
        for d in (d1, d2):
            self.assertEqual(d["mittente"], SANDBOX.sender)
            self.assertEqual(d["destinatari"], [("dest@pec.sandbox.test", "certificato")])
            self.assertEqual(d["risposte"], SANDBOX.sender)
            self.assertEqual(d["oggetto"], "Fattura 42")
            self.assertEqual(d["gestore"], "Sandbox PEC S.p.A.")
            self.assertEqual(d["msgid"], msgid)
            self.assertRegex(d["giorno"], r"^\d\d/\d\d/\d{4}$")
            self.assertRegex(d["ora"], r"^\d\d:\d\d:\d\d$")
            self.assertEqual(d["intestazione_order"],
                             ["mittente", "destinatari", "risposte", "oggetto"])
        self.assertEqual(d1["identificativo"], d2["identificativo"])
        self.assertRegex(d1["identificativo"], r"^opec[\d.]+@pec\.sandbox\.test$")
        self.assertEqual(d1["dati_order"],
                         ["gestore-emittente", "data", "identificativo", "msgid"])
        self.assertEqual(d2["dati_order"], ["gestore-emittente", "data", "identificativo",
                                            "msgid", "ricevuta", "consegna"])
        self.assertEqual((d2["ricevuta"], d2["consegna"]), ("completa", "dest@pec.sandbox.test"))

        # zona / giorno / ora are Italian local time and agree with the Date header
        header_date = email.utils.parsedate_to_datetime(acc["Date"])
        local = header_date.astimezone(ZoneInfo("Europe/Rome"))
        self.assertEqual(d1["zona"], local.strftime("%z"))
        self.assertEqual((d1["giorno"], d1["ora"]),
                         (local.strftime("%d/%m/%Y"), local.strftime("%H:%M:%S")))

        # postacert.eml: the original, Message-ID rewritten to the PEC id
        post = find_part(cons, "postacert.eml").get_payload()[0]
        self.assertEqual(post["Message-ID"], "<%s>" % d2["identificativo"])
        self.assertEqual(post["X-Riferimento-Message-ID"], msgid)
        self.assertEqual(post["Subject"], "Fattura 42")
        self.assertEqual(find_part(post, "fattura.pdf").get_payload(decode=True), pdf)

    def test_signature_details(self):
        msg = self.send("dest@pec.sandbox.test")
        raw = SANDBOX.receipts_for(msg["Message-ID"])[0]
        cms = sandboxlib.openssl_cms_print(raw)
        self.assertIn("signingTime", cms)
        self.assertIn("messageDigest", cms)
        self.assertIn("eContent: <ABSENT>", cms)  # detached
        certs = sandboxlib.openssl_signer_certs(raw)
        self.assertIn("CN = Posta Certificata Sandbox PEC S.p.A.", certs)
        self.assertIn("issuer=C = IT, O = Sandbox Agenzia per l'Italia Digitale", certs)
        self.assertIn("CN = Sandbox AgID CA1", certs)
        self.assertNotIn("subject=C = IT, O = pec-sandbox, CN = Sandbox PEC Root CA", certs)
        # a client that trusts only the public CAs must reject it
        if os.path.exists(SYSTEM_CA):
            ok, _ = openssl_verify(raw, SYSTEM_CA)
            self.assertFalse(ok)
        # the signer's e-mail is the receipt's From
        with open(SANDBOX.info["signer_cert"], "rb") as fh:
            pem = fh.read()
        out = subprocess.run(["openssl", "x509", "-noout", "-ext",
                              "subjectAltName,keyUsage,extendedKeyUsage"],
                             input=pem, capture_output=True, check=True).stdout.decode()
        self.assertIn("email:posta-certificata@pec.sandbox.test", out)
        self.assertIn("Digital Signature", out)
        self.assertIn("E-mail Protection", out)

    def test_breve(self):
        pdf = os.urandom(4000)
        msg = self.send("dest@pec.sandbox.test", headers={"X-TipoRicevuta": "breve"},
                        attachments=[("relazione.pdf", pdf, "application/pdf")])
        cons = SANDBOX.wait_receipts(msg["Message-ID"], 1, kinds=("avvenuta-consegna",))[0]
        self.assert_signed_ok(cons)
        self.assertEqual(daticert(cons)["ricevuta"], "breve")
        post = find_part(cons, "postacert.eml").get_payload()[0]
        self.assertIsNone(find_part(post, "relazione.pdf"))
        hash_part = find_part(post, "relazione.pdf.hash")
        self.assertEqual(hash_part.get_content_type(), "text/plain")
        sent = post.as_bytes()
        self.assertNotIn(b"relazione.pdf\"", sent.replace(b"relazione.pdf.hash", b""))
        # the hash is the SHA-1 of the attachment part as it was transmitted
        raw = sandboxlib.parse(msg.as_bytes()).as_bytes().replace(b"\n", b"\r\n")
        start = raw.index(b"\r\n\r\n", raw.index(b'filename="relazione.pdf"')) + 4
        body = raw[start:raw.index(b"\r\n--", start)]
        self.assertEqual(hash_part.get_payload(decode=True).decode(), hashlib.sha1(body).hexdigest())

    def test_sintetica(self):
        msg = self.send("dest@pec.sandbox.test", headers={"X-TipoRicevuta": "sintetica"},
                        attachments=[("a.pdf", b"%PDF-1.4", "application/pdf")])
        cons = SANDBOX.wait_receipts(msg["Message-ID"], 1, kinds=("avvenuta-consegna",))[0]
        self.assertEqual(structure(cons), EXPECTED_LAYOUT_PLAIN)
        self.assertEqual(daticert(cons)["ricevuta"], "sintetica")
        self.assert_signed_ok(cons)

    def test_cc_recipient_gets_short_receipt(self):
        msg = self.send("primo@pec.sandbox.test", cc="copia@pec.sandbox.test")
        got = SANDBOX.wait_receipts(msg["Message-ID"], 3)
        acc = by_kind(got)["accettazione"][0]
        self.assertEqual(daticert(acc)["destinatari"], [("primo@pec.sandbox.test", "certificato"),
                                                      ("copia@pec.sandbox.test", "certificato")])
        cons = {daticert(m)["consegna"]: m for m in by_kind(got)["avvenuta-consegna"]}
        self.assertIsNotNone(find_part(cons["primo@pec.sandbox.test"], "postacert.eml"))
        self.assertIsNone(find_part(cons["copia@pec.sandbox.test"], "postacert.eml"))
        self.assertEqual(daticert(cons["copia@pec.sandbox.test"])["ricevuta"], "completa")

    def test_mixed_recipients(self):
        to = "uno@pec.sandbox.test, esterno@example.com, nodest@pec.sandbox.test"
        msg = SANDBOX.message(to)
        SANDBOX.send(msg)
        got = by_kind(SANDBOX.wait_receipts(msg["Message-ID"], 3))
        d = daticert(got["accettazione"][0])
        self.assertEqual(d["destinatari"], [("uno@pec.sandbox.test", "certificato"),
                                            ("esterno@example.com", "esterno"),
                                            ("nodest@pec.sandbox.test", "certificato")])
        text = got["accettazione"][0].get_payload()[0].get_payload()[0].get_payload()[0]
        plain = text.get_payload(decode=True).decode("iso-8859-1")
        self.assertIn('esterno@example.com ("posta ordinaria")', plain)
        self.assertIn('uno@pec.sandbox.test ("posta certificata")', plain)
        self.assertEqual([daticert(m)["consegna"] for m in got["avvenuta-consegna"]],
                         ["uno@pec.sandbox.test"])
        self.assertEqual([daticert(m)["consegna"] for m in got["errore-consegna"]],
                         ["nodest@pec.sandbox.test"])
        ids = {daticert(m)["identificativo"] for ms in got.values() for m in ms}
        self.assertEqual(len(ids), 1)

    def test_delivery_errors(self):
        cases = [("nodest@pec.sandbox.test", "no-dest", "5.1.1 - "),
                 ("inesistente@uffici.pec.sandbox.test", "no-dest", "5.1.1 - "),
                 ("chiunque@nodominio.sandbox.test", "no-dominio", "5.1.2 - "),
                 ("pieno@pec.sandbox.test", "altro", "5.2.2 - "),
                 ("full@pec.sandbox.test", "altro", "5.2.2 - ")]
        sent = [(self.send(addr), addr, err, code) for addr, err, code in cases]
        for msg, addr, errore, code in sent:
            with self.subTest(address=addr):
                err = SANDBOX.wait_receipts(msg["Message-ID"], 1, kinds=("errore-consegna",))[0]
                self.assert_receipt_headers(err, "errore-consegna", "AVVISO DI MANCATA CONSEGNA: ",
                                            msg["Message-ID"])
                self.assertEqual(structure(err), EXPECTED_LAYOUT_PLAIN)
                self.assert_signed_ok(err)
                d = daticert(err)
                self.assertEqual((d["tipo"], d["errore"], d["consegna"]),
                                 ("errore-consegna", errore, addr))
                self.assertTrue(d["errore_esteso"].startswith(code), d["errore_esteso"])
                self.assertIn("Sandbox PEC S.p.A.", d["errore_esteso"])
                self.assertEqual(d["dati_order"][-2:], ["consegna", "errore-esteso"])

    def test_virus_at_recipient_provider(self):
        msg = self.send("virusdest@pec.sandbox.test")
        err = SANDBOX.wait_receipts(msg["Message-ID"], 1, kinds=("errore-consegna",))[0]
        self.assertEqual(err["X-VerificaSicurezza"], "errore")
        self.assertTrue(err["Subject"].startswith("AVVISO DI MANCATA CONSEGNA PER VIRUS: "))
        self.assertEqual(daticert(err)["errore"], "virus")
        self.assert_signed_ok(err)

    def test_transport_envelope_for_sandbox_account(self):
        msg = self.send("ufficio@pec.sandbox.test", subject="Per l'ufficio")
        SANDBOX.wait_receipts(msg["Message-ID"], 2)
        office = SANDBOX.info["accounts"][1]
        envs = [parse(raw) for _, raw in SANDBOX.fetch(account=office)]
        env = [m for m in envs if m["X-Riferimento-Message-ID"] == msg["Message-ID"]][0]
        self.assertEqual(classify(env), "envelope")
        self.assertEqual(env["X-Trasporto"], "posta-certificata")
        self.assertEqual(env["Subject"], "POSTA CERTIFICATA: Per l'ufficio")
        self.assertEqual(env["From"], '"Per conto di: %s" <%s>' % (SANDBOX.sender, PROVIDER))
        d = daticert(env)
        self.assertEqual((d["tipo"], d["ricevuta"]), ("posta-certificata", "completa"))
        self.assertEqual(env["Message-ID"], "<%s>" % d["identificativo"])
        self.assertEqual(structure(env), EXPECTED_LAYOUT_POSTACERT)
        self.assert_signed_ok(env)

    def test_non_ascii_subject(self):
        subject = "Fattura n°7 – città di Forlì"
        msg = self.send("dest@pec.sandbox.test", subject=subject)
        got = SANDBOX.wait_receipts(msg["Message-ID"], 2)
        for m in got:
            decoded = str(email.header.make_header(email.header.decode_header(m["Subject"])))
            self.assertTrue(decoded.endswith(subject), decoded)
            self.assertEqual(daticert(m)["oggetto"], subject)
            self.assert_signed_ok(m)


class D_FormalChecksTest(Base):

    def expect_rejection(self, msgid, fragment, virus=False, check=None):
        got = SANDBOX.wait_receipts(msgid, 1)
        self.assertEqual(len(got), 1)
        rej = got[0]
        prefix = "AVVISO DI NON ACCETTAZIONE PER VIRUS: " if virus else "AVVISO DI NON ACCETTAZIONE: "
        self.assert_receipt_headers(rej, "non-accettazione", prefix, msgid)
        self.assertEqual(structure(rej), EXPECTED_LAYOUT_PLAIN)
        self.assert_signed_ok(rej)
        d = daticert(rej)
        self.assertEqual(d["tipo"], "non-accettazione")
        self.assertEqual(d["errore"], "virus" if virus else "altro")
        self.assertIn(fragment, d["errore_esteso"])
        plain = rej.get_payload()[0].get_payload()[0].get_payload()[0]
        self.assertIn("non è stato accettato", plain.get_payload(decode=True).decode("iso-8859-1"))
        if virus:
            self.assertEqual(rej["X-VerificaSicurezza"], "errore")
        else:
            self.assertIsNone(rej["X-VerificaSicurezza"])
        log = SANDBOX.submissions(msgid)
        self.assertEqual(len(log), 1)
        self.assertEqual(log[0]["outcome"], "virus" if virus else "rejected-formal")
        self.assertFalse(log[0]["accepted"])
        if check:
            self.assertIn(check, log[0]["failed_checks"])
        return rej

    def test_from_header_must_match(self):
        msg = SANDBOX.message("dest@pec.sandbox.test", sender="altro@pec.sandbox.test")
        refused = SANDBOX.send(msg, mail_from=SANDBOX.sender)
        self.assertEqual(refused, {})  # SMTP said 250
        self.expect_rejection(msg["Message-ID"], "campo From (altro@pec.sandbox.test)",
                              check="from-mismatch")

    def test_mail_from_must_be_authenticated_user(self):
        msg = SANDBOX.message("dest@pec.sandbox.test", sender="ufficio@pec.sandbox.test")
        SANDBOX.send(msg, mail_from="ufficio@pec.sandbox.test")
        self.expect_rejection(msg["Message-ID"], "utente autenticato", check="sender-mismatch")

    def test_bcc_is_refused(self):
        msg = SANDBOX.message("dest@pec.sandbox.test")
        msg["Bcc"] = "nascosto@pec.sandbox.test"
        SANDBOX.send_raw(msg.as_bytes(), ["dest@pec.sandbox.test", "nascosto@pec.sandbox.test"])
        self.expect_rejection(msg["Message-ID"], "Bcc", check="bcc")

    def test_rcpt_must_be_in_to_or_cc(self):
        msg = SANDBOX.message("dest@pec.sandbox.test")
        SANDBOX.send(msg, rcpts=["dest@pec.sandbox.test", "fuori@pec.sandbox.test"])
        self.expect_rejection(msg["Message-ID"], "fuori@pec.sandbox.test",
                              check="rcpt-not-in-headers")

    def test_blocked_attachment(self):
        msg = SANDBOX.message("dest@pec.sandbox.test",
                              attachments=[("fattura.pdf.exe", b"MZ", "application/octet-stream")])
        SANDBOX.send(msg)
        self.expect_rejection(msg["Message-ID"], "fattura.pdf.exe", check="blocked-attachment")

    def test_rejected_by_rule(self):
        msg = self.send("rifiuto@pec.sandbox.test")
        self.expect_rejection(msg["Message-ID"], "politica del gestore", check="rejected-by-rule")

    def test_eicar_attachment_is_a_virus(self):
        msg = SANDBOX.message("dest@pec.sandbox.test",
                              attachments=[("eicar.txt", sandboxlib.EICAR.encode(), "text/plain")])
        SANDBOX.send(msg)
        self.expect_rejection(msg["Message-ID"], "Eicar-Test-Signature", virus=True)

    def test_virus_rule(self):
        msg = self.send("virus@pec.sandbox.test")
        self.expect_rejection(msg["Message-ID"], "virus", virus=True)


class E_TimelineTest(Base):
    """12 h / 24 h notices, late delivery, external and forged receipts."""

    def test_timeline(self):
        t0 = time.monotonic()
        msgs = {addr: self.send(addr) for addr in (
            "ritardo@pec.sandbox.test", "lento@pec.sandbox.test", "esterno@example.com",
            "forged@pec.sandbox.test", "forged-plain@pec.sandbox.test")}
        # 24 h = 2 s on the test clock; wait for the last notice plus margin
        SANDBOX.wait_receipts(msgs["ritardo@pec.sandbox.test"]["Message-ID"], 3, timeout=6)
        elapsed = time.monotonic() - t0
        self.assertGreater(elapsed, 1.5)
        time.sleep(0.3)

        def receipts(addr):
            return [parse(r) for r in SANDBOX.receipts_for(msgs[addr]["Message-ID"])]

        # ritardo: accettazione, 12 h (4.x) then 24 h (5.4.1), never a consegna
        got = receipts("ritardo@pec.sandbox.test")
        pre = sorted(by_kind(got)["preavviso-errore-consegna"], key=lambda m: m["Date"])
        self.assertEqual(len(pre), 2)
        self.assertNotIn("avvenuta-consegna", by_kind(got))
        estesi = sorted(daticert(m)["errore_esteso"] for m in pre)
        self.assertTrue(estesi[0].startswith("4."), estesi)
        self.assertTrue(estesi[1].startswith("5.4.1"), estesi)
        for m in pre:
            self.assertTrue(m["Subject"].startswith(
                "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: "))
            self.assertEqual(daticert(m)["consegna"], "ritardo@pec.sandbox.test")
            self.assert_signed_ok(m)

        # lento: the 12 h warning, then the consegna (between 12 h and 24 h)
        got = by_kind(receipts("lento@pec.sandbox.test"))
        self.assertEqual(len(got["preavviso-errore-consegna"]), 1)
        self.assertTrue(daticert(got["preavviso-errore-consegna"][0])["errore_esteso"]
                        .startswith("4."))
        self.assertEqual(len(got["avvenuta-consegna"]), 1)

        # external: accepted, marked esterno, nothing else ever
        got = receipts("esterno@example.com")
        self.assertEqual([m["X-Ricevuta"] for m in got], ["accettazione"])
        self.assertEqual(daticert(got[0])["destinatari"], [("esterno@example.com", "esterno")])

        # forged-plain: an unsigned fake consegna with receipt headers
        got = by_kind(receipts("forged-plain@pec.sandbox.test"))
        fake = got["avvenuta-consegna"][0]
        self.assertEqual(classify(fake), "receipt")   # a naive client is fooled ...
        self.assertNotEqual(fake.get_content_type(), "multipart/signed")  # ... a careful one not
        self.assertEqual(len(got["preavviso-errore-consegna"]), 2)  # the real outcome

        # forged: the fake receipt arrives wrapped in an anomaly envelope
        everything = [parse(raw) for _, raw in SANDBOX.fetch()]
        anomalies = [m for m in everything if m["X-Trasporto"] == "errore"
                     and find_part(m, "postacert.eml").get_payload()[0]["X-Riferimento-Message-ID"]
                     == msgs["forged@pec.sandbox.test"]["Message-ID"]]
        self.assertEqual(len(anomalies), 1)
        env = anomalies[0]
        self.assertEqual(classify(env), "envelope")
        self.assertTrue(env["Subject"].startswith("ANOMALIA MESSAGGIO: "))
        top = [p.get_filename() for p in env.get_payload()[0].get_payload()]
        self.assertEqual(top, [None, "postacert.eml"])  # text + wrapped message, no daticert
        self.assert_signed_ok(env)
        inner = find_part(env, "postacert.eml").get_payload()[0]
        self.assertEqual(inner["X-Ricevuta"], "avvenuta-consegna")
        self.assertNotEqual(inner.get_content_type(), "multipart/signed")

        # the receipts journal agrees on the timing of the notices
        journal = [r for r in SANDBOX.receipts_log()
                   if r["recipient"] == "ritardo@pec.sandbox.test"
                   and r["kind"] == "preavviso-errore-consegna"]
        self.assertEqual(len(journal), 2)


class F_NegativeReceiptsTest(Base):

    def consegna(self, addr):
        msg = self.send(addr)
        return SANDBOX.wait_receipts(msg["Message-ID"], 1, kinds=("avvenuta-consegna",))[0]

    def test_tampered(self):
        raw = self.consegna("tampered@pec.sandbox.test").as_bytes()
        self.assertEqual(structure(parse(raw)), EXPECTED_LAYOUT_POSTACERT)
        ok, out = openssl_verify(raw, SANDBOX.info["ca_cert"])
        self.assertFalse(ok)
        self.assertIn("digest failure", out)

    def test_unsigned(self):
        msg = self.consegna("unsigned@pec.sandbox.test")
        self.assertEqual(classify(msg), "receipt")
        self.assertEqual(msg.get_content_type(), "multipart/mixed")
        self.assertIsNone(find_part(msg, "smime.p7s"))
        self.assertIsNotNone(daticert(msg))

    def test_untrusted(self):
        raw = self.consegna("untrusted@pec.sandbox.test").as_bytes()
        ok, out = openssl_verify(raw, SANDBOX.info["ca_cert"])
        self.assertFalse(ok)
        self.assertIn("certificate verify error", out)
        ok, out = openssl_verify(raw, SANDBOX.info["ca_cert"], ["-noverify"])
        self.assertTrue(ok, out)  # the signature itself is intact
        self.assertIn("Untrusted PEC Root CA", sandboxlib.openssl_signer_certs(raw))

    def test_receipt_fault_from_control_file(self):
        SANDBOX.control({"receipt_faults": [{"mode": "tampered", "kind": "accettazione",
                                             "count": 1}]})
        try:
            first = self.send("dest@pec.sandbox.test")
            second = self.send("dest@pec.sandbox.test")
            bad = SANDBOX.wait_receipts(first["Message-ID"], 1, kinds=("accettazione",))[0]
            good = SANDBOX.wait_receipts(second["Message-ID"], 1, kinds=("accettazione",))[0]
            self.assertFalse(openssl_verify(bad.as_bytes(), SANDBOX.info["ca_cert"])[0])
            self.assert_signed_ok(good)
        finally:
            SANDBOX.control(None)


class G_JournalTest(Base):

    def test_submissions_log_counts_copies(self):
        msg = SANDBOX.message("dest@pec.sandbox.test")
        SANDBOX.send(msg)
        SANDBOX.send(msg)  # the same Message-ID twice: two copies accepted
        log = SANDBOX.submissions(msg["Message-ID"])
        self.assertEqual([r["outcome"] for r in log], ["accepted", "accepted"])
        self.assertTrue(all(r["accepted"] for r in log))
        self.assertNotEqual(log[0]["identificativo"], log[1]["identificativo"])
        rec = log[0]
        self.assertEqual(rec["mail_from"], SANDBOX.sender)
        self.assertEqual(rec["auth_user"], SANDBOX.sender)
        self.assertEqual(rec["rcpt_to"], ["dest@pec.sandbox.test"])
        self.assertGreater(rec["size"], 100)
        self.assertEqual(rec["listener"], "smtps")
        datetime.datetime.fromisoformat(rec["time"])
        accs = SANDBOX.wait_receipts(msg["Message-ID"], 2, kinds=("accettazione",))
        self.assertEqual({daticert(m)["identificativo"] for m in accs},
                         {r["identificativo"] for r in log})

    def test_imap_search_by_reference(self):
        msg = self.send("dest@pec.sandbox.test")
        conn = SANDBOX.imap()
        try:
            deadline = time.monotonic() + 5
            while True:
                conn.noop()
                typ, data = conn.uid("SEARCH", None, "HEADER", "X-Riferimento-Message-ID",
                                     '"%s"' % msg["Message-ID"])
                if len(data[0].split()) >= 2 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            self.assertEqual(len(data[0].split()), 2)
        finally:
            conn.logout()

    def test_maildir_files_verify_directly(self):
        msg = self.send("dest@pec.sandbox.test")
        SANDBOX.wait_receipts(msg["Message-ID"], 2)
        pec_id = SANDBOX.submissions(msg["Message-ID"])[0]["identificativo"]
        files = [r["file"] for r in SANDBOX.receipts_log() if r["identificativo"] == pec_id]
        self.assertEqual(len(files), 2)
        box = os.path.dirname(os.path.dirname(files[0]))
        self.assertEqual(os.listdir(os.path.join(box, "tmp")), [])
        for path in files:
            # Dovecot may have moved the file from new/ to cur/ (adding ":2,<flags>")
            name = os.path.basename(path)
            found = [os.path.join(box, d, f) for d in ("new", "cur")
                     for f in os.listdir(os.path.join(box, d)) if f.split(":")[0] == name]
            self.assertEqual(len(found), 1, name)
            with open(found[0], "rb") as fh:
                raw = fh.read()
            self.assertTrue(re.search(rb"^X-Ricevuta: ", raw, re.M))
            self.assert_signed_ok(raw)  # the stored bytes are exactly the signed ones

class H_SampleParityTest(Base):
    """Sandbox receipts must take the same client code paths as real Aruba ones."""

    TRACE = {"return-path", "delivered-to", "received"}

    def sample(self, name):
        path = os.path.join(sandboxlib.SAMPLES_DIR, "OCA__l10n-italy", name)
        if not os.path.exists(path):
            self.skipTest("PEC samples not found at %s" % sandboxlib.SAMPLES_DIR)
        with open(path, "rb") as fh:
            return fh.read()

    def client_view(self, raw):
        """What a careful PEC client extracts, in the order PROTOCOL.md prescribes."""
        msg = parse(raw)
        signed, sig = sandboxlib.signed_parts(msg)
        d = daticert(msg)
        ok, out = openssl_verify(raw, None, ["-noverify"])  # integrity only
        view = {
            "class": classify(msg),
            "headers": sorted({k.lower() for k in msg.keys()} - self.TRACE),
            "structure": structure(msg),
            "protocol": msg.get_param("protocol"),
            "signed_type": signed.get_content_type(),
            "sig_headers": [(k.lower(), v) for k, v in sig.items()],
            "text_parts": [(p.get_content_type(), p.get_content_charset(),
                            p["Content-Transfer-Encoding"])
                           for p in signed.get_payload()[0].walk()
                           if p.get_content_maintype() == "text"],
            "daticert_headers": [(k.lower(), v) for k, v in find_part(msg, "daticert.xml").items()],
            "tipo": d["tipo"],
            "errore": d["errore"],
            "intestazione": d["intestazione_order"],
            "dati": d["dati_order"],
            "msgid_matches_header": d["msgid"] == msg["X-Riferimento-Message-ID"],
            "from_is_provider": msg["From"].startswith("posta-certificata@"),
            "signature_intact": ok,
        }
        post = find_part(msg, "postacert.eml")
        if post is not None:
            inner = post.get_payload()[0]
            view["postacert_headers"] = [(k.lower(), v) for k, v in post.items()
                                         if k.lower() != "content-transfer-encoding"]
            view["postacert_id_is_pec_id"] = inner["Message-ID"] == "<%s>" % d["identificativo"]
            view["postacert_ref"] = inner["X-Riferimento-Message-ID"] == d["msgid"]
        return view

    def test_same_client_view_as_aruba_2018(self):
        msg = self.send("dest@pec.sandbox.test", subject="IT03339130126_00009.xml",
                        attachments=[("IT03339130126_00009.xml", b"<xml/>", "application/xml")])
        got = by_kind(SANDBOX.wait_receipts(msg["Message-ID"], 2))
        pairs = [("ACCETTAZIONE_ IT03339130126_00009.xml.txt", got["accettazione"][0]),
                 ("CONSEGNA_ IT03339130126_00009.xml.txt", got["avvenuta-consegna"][0])]
        for sample_name, mine in pairs:
            with self.subTest(sample=sample_name):
                real = self.client_view(self.sample(sample_name))
                ours = self.client_view(mine.as_bytes())
                self.assertTrue(real["signature_intact"])
                self.assertEqual(ours, real)

    def test_same_daticert_elements_as_aruba_2014(self):
        msg = self.send("dest@pec.sandbox.test")
        got = by_kind(SANDBOX.wait_receipts(msg["Message-ID"], 2))
        for sample_name, kind in (("message2_accettazione", "accettazione"),
                                  ("message2_consegna", "avvenuta-consegna")):
            with self.subTest(sample=sample_name):
                real = self.client_view(self.sample(sample_name))
                ours = self.client_view(got[kind][0].as_bytes())
                for key in ("class", "protocol", "signed_type", "tipo", "errore", "intestazione",
                            "dati", "msgid_matches_header", "from_is_provider",
                            "signature_intact", "daticert_headers", "sig_headers"):
                    self.assertEqual(ours[key], real[key], key)


if __name__ == "__main__":
    unittest.main()

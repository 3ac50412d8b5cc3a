"""Fault injection through DIR/control.json, checked from the client side and
in the submissions log."""

import smtplib
import ssl
import time
import unittest

import sandboxlib

SANDBOX = None


def setUpModule():
    global SANDBOX
    SANDBOX = sandboxlib.Sandbox({"clock": sandboxlib.FAST_CLOCK}, name="faults").start()


def tearDownModule():
    if SANDBOX is not None:
        SANDBOX.stop()


DISCONNECTED = (smtplib.SMTPServerDisconnected, ConnectionError, ssl.SSLError, OSError)


class FaultsTest(unittest.TestCase):

    def setUp(self):
        SANDBOX.control(None)

    def tearDown(self):
        SANDBOX.control(None)

    def arm(self, *faults, **extra):
        data = {"faults": list(faults)}
        data.update(extra)
        SANDBOX.control(data)

    def last_log(self, n=1):
        return SANDBOX.submissions()[-n:]

    def accepted_copies(self, msgid):
        return [r for r in SANDBOX.submissions(msgid) if r["accepted"]]

    def test_421_at_connect(self):
        self.arm({"at": "connect", "reply": 421, "count": 1})
        with self.assertRaises(smtplib.SMTPConnectError) as ctx:
            smtplib.SMTP_SSL("127.0.0.1", SANDBOX.info["smtps_port"],
                             context=SANDBOX.ssl_context(), timeout=10)
        self.assertEqual(ctx.exception.smtp_code, 421)
        rec = self.last_log()[0]
        self.assertEqual((rec["outcome"], rec["at"], rec["accepted"]), ("fault-421", "connect", False))
        SANDBOX.send(SANDBOX.message("dest@pec.sandbox.test"))  # count exhausted

    def test_451_at_mail_then_retry(self):
        self.arm({"at": "mail", "reply": 451, "count": 1})
        msg = SANDBOX.message("dest@pec.sandbox.test")
        with self.assertRaises(smtplib.SMTPSenderRefused) as ctx:
            SANDBOX.send(msg)
        self.assertEqual(ctx.exception.smtp_code, 451)
        rec = self.last_log()[0]
        self.assertEqual((rec["outcome"], rec["at"]), ("fault-451", "mail"))
        SANDBOX.send(msg)
        self.assertEqual(len(self.accepted_copies(msg["Message-ID"])), 1)

    def test_421_closes_the_connection(self):
        self.arm({"at": "mail", "reply": 421})
        with SANDBOX.smtp() as conn:
            code, _ = conn.mail(SANDBOX.sender)
            self.assertEqual(code, 421)
            with self.assertRaises(DISCONNECTED):
                conn.noop()

    def test_452_at_rcpt_for_one_recipient(self):
        self.arm({"at": "rcpt", "reply": 452, "recipient": "secondo@*"})
        msg = SANDBOX.message("primo@pec.sandbox.test, secondo@pec.sandbox.test")
        refused = SANDBOX.send(msg)
        self.assertEqual(list(refused), ["secondo@pec.sandbox.test"])
        self.assertEqual(refused["secondo@pec.sandbox.test"][0], 452)
        logs = SANDBOX.submissions()
        self.assertEqual(logs[-2]["outcome"], "fault-452")
        # the transaction went on with the recipient that was accepted (every
        # RCPT must appear in To/Cc, not every To/Cc address in the envelope)
        self.assertEqual(logs[-1]["outcome"], "accepted")
        self.assertEqual(logs[-1]["rcpt_to"], ["primo@pec.sandbox.test"])

    def test_451_at_data_end_is_not_accepted(self):
        self.arm({"at": "data-end", "reply": 451, "count": 1})
        msg = SANDBOX.message("dest@pec.sandbox.test")
        with self.assertRaises(smtplib.SMTPDataError) as ctx:
            SANDBOX.send(msg)
        self.assertEqual(ctx.exception.smtp_code, 451)
        rec = self.last_log()[0]
        self.assertEqual((rec["outcome"], rec["at"], rec["accepted"]),
                         ("fault-451", "data-end", False))
        time.sleep(0.2)
        self.assertEqual(SANDBOX.receipts_for(msg["Message-ID"]), [])

    def test_554_at_data_command(self):
        self.arm({"at": "data", "reply": 554, "message": "5.3.0 Sandbox says no"})
        with self.assertRaises(smtplib.SMTPDataError) as ctx:
            SANDBOX.send(SANDBOX.message("dest@pec.sandbox.test"))
        self.assertEqual(ctx.exception.smtp_code, 554)
        self.assertIn(b"Sandbox says no", ctx.exception.smtp_error)

    def test_535_at_auth(self):
        self.arm({"at": "auth", "reply": 535})
        with SANDBOX.smtp(login=False) as conn:
            with self.assertRaises(smtplib.SMTPAuthenticationError) as ctx:
                conn.login(SANDBOX.account["username"], SANDBOX.account["password"])
            self.assertEqual(ctx.exception.smtp_code, 535)
        self.assertEqual(self.last_log()[0]["outcome"], "fault-535")
        SANDBOX.control(None)
        with SANDBOX.smtp() as conn:
            self.assertTrue(conn.noop()[0] == 250)

    def test_slow_replies(self):
        self.arm({"at": "mail", "delay": 0.4}, {"at": "data-end", "delay": 0.4})
        started = time.monotonic()
        msg = SANDBOX.message("dest@pec.sandbox.test")
        SANDBOX.send(msg)
        self.assertGreaterEqual(time.monotonic() - started, 0.8)
        rec = SANDBOX.submissions(msg["Message-ID"])[0]
        self.assertEqual(rec["outcome"], "accepted")
        self.assertEqual(rec["faults"], ["delay-0.4s@mail", "delay-0.4s@data-end"])

    def test_drop_before_data(self):
        self.arm({"at": "rcpt", "drop": True, "count": 1})
        with self.assertRaises(DISCONNECTED):
            SANDBOX.send(SANDBOX.message("dest@pec.sandbox.test"))
        rec = self.last_log()[0]
        self.assertEqual((rec["outcome"], rec["at"], rec["accepted"]),
                         ("dropped-before-data", "rcpt", False))

    def test_drop_during_data(self):
        self.arm({"at": "data-body", "drop": True, "count": 1})
        msg = SANDBOX.message("dest@pec.sandbox.test", body="riga\n" * 20000)
        with self.assertRaises(DISCONNECTED):
            SANDBOX.send(msg)
        rec = self.last_log()[0]
        self.assertEqual((rec["outcome"], rec["accepted"]), ("dropped-during-data", False))
        time.sleep(0.2)
        self.assertEqual(SANDBOX.receipts_for(msg["Message-ID"]), [])

    def test_drop_after_accept_creates_duplicates(self):
        self.arm({"at": "accepted", "drop": True, "count": 1})
        msg = SANDBOX.message("dest@pec.sandbox.test")
        with self.assertRaises(DISCONNECTED):
            SANDBOX.send(msg)
        rec = self.last_log()[0]
        self.assertEqual((rec["outcome"], rec["at"], rec["accepted"]),
                         ("dropped-after-accept", "accepted", True))
        self.assertTrue(rec["identificativo"])
        # the provider did accept it: receipts arrive although the client saw no 250
        got = SANDBOX.wait_receipts(msg["Message-ID"], 2)
        self.assertEqual(sorted(m["X-Ricevuta"] for m in got),
                         ["accettazione", "avvenuta-consegna"])
        # a blind retry makes a second certified copy
        SANDBOX.send(msg)
        self.assertEqual(len(self.accepted_copies(msg["Message-ID"])), 2)

    def test_error_reply_after_accept(self):
        self.arm({"at": "accepted", "reply": 451, "count": 1})
        msg = SANDBOX.message("dest@pec.sandbox.test")
        with self.assertRaises(smtplib.SMTPDataError):
            SANDBOX.send(msg)
        rec = self.last_log()[0]
        self.assertEqual((rec["outcome"], rec["accepted"]), ("fault-451", True))
        self.assertEqual(len(SANDBOX.wait_receipts(msg["Message-ID"], 1,
                                                   kinds=("accettazione",))), 1)

    def test_probability(self):
        self.arm({"at": "mail", "reply": 451, "probability": 0.0})
        SANDBOX.send(SANDBOX.message("dest@pec.sandbox.test"))
        self.arm({"at": "mail", "reply": 451, "probability": 1.0})
        with self.assertRaises(smtplib.SMTPSenderRefused):
            SANDBOX.send(SANDBOX.message("dest@pec.sandbox.test"))

    def test_skip_then_fire(self):
        self.arm({"at": "mail", "reply": 452, "skip": 2, "count": 1})
        SANDBOX.send(SANDBOX.message("dest@pec.sandbox.test"))
        SANDBOX.send(SANDBOX.message("dest@pec.sandbox.test"))
        with self.assertRaises(smtplib.SMTPSenderRefused):
            SANDBOX.send(SANDBOX.message("dest@pec.sandbox.test"))
        SANDBOX.send(SANDBOX.message("dest@pec.sandbox.test"))

    def test_rate_limit_like_legalmail(self):
        SANDBOX.control({"rate_limit_per_minute": 2})
        with SANDBOX.smtp() as conn:
            for _ in range(2):
                conn.send_message(SANDBOX.message("dest@pec.sandbox.test"))
            with self.assertRaises(smtplib.SMTPSenderRefused) as ctx:
                conn.send_message(SANDBOX.message("dest@pec.sandbox.test"))
        self.assertEqual(ctx.exception.smtp_code, 550)
        self.assertEqual(ctx.exception.smtp_error,
                         b"5.7.1 Class Of Service - Too much traffic from this sender")
        self.assertEqual(self.last_log()[0]["outcome"], "rate-limited")

    def test_rules_from_control_file(self):
        SANDBOX.control({"rules": [{"address": "cambia@pec.sandbox.test", "outcome": "no-dest"}]})
        msg = SANDBOX.message("cambia@pec.sandbox.test")
        SANDBOX.send(msg)
        got = SANDBOX.wait_receipts(msg["Message-ID"], 2)
        self.assertIn("errore-consegna", [m["X-Ricevuta"] for m in got])

    def test_broken_control_file_is_ignored(self):
        with open(SANDBOX.info["control_file"], "w") as fh:
            fh.write("{ not json")
        msg = SANDBOX.message("dest@pec.sandbox.test")
        SANDBOX.send(msg)
        self.assertEqual(len(self.accepted_copies(msg["Message-ID"])), 1)
        with open(SANDBOX.info["log_file"]) as fh:
            self.assertIn("control file", fh.read())

    def test_starttls_listener_faults_too(self):
        self.arm({"at": "mail", "reply": 451, "count": 1})
        with self.assertRaises(smtplib.SMTPSenderRefused):
            SANDBOX.send(SANDBOX.message("dest@pec.sandbox.test"), listener="starttls")
        self.assertEqual(self.last_log()[0]["listener"], "starttls")


if __name__ == "__main__":
    unittest.main()

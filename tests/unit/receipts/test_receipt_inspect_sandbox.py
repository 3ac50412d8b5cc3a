#!/usr/bin/python3
"""`pecbatch receipt inspect` on receipts issued by the simulated PEC provider
(tools/pec-sandbox): every kind of receipt and every bad-receipt mode.

Starts one sandbox (12 h = 1 s, 24 h = 2 s), submits one message per
trigger address over SMTPS with smtplib, waits (bounded) for the receipts
listed in the sandbox's receipts journal, then runs the real binary on the
Maildir files: with --ca-file = the sandbox CA, and without it. The sandbox
is always stopped. Exits 77 (skipped) when the sandbox cannot run here.

Run by ctest with PECBATCH set to the binary.
"""
import email.utils
import json
import os
import shutil
import signal
import smtplib
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
from email.message import EmailMessage

PECBATCH = os.environ.get("PECBATCH", "pecbatch")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
SANDBOX = os.path.join(ROOT, "tools", "pec-sandbox", "pec-sandbox")
SKIP = 77
WAIT_SECONDS = 45

D = "pec.sandbox.test"
# Trigger address -> the receipts (kind, extra facts) the sender's mailbox gets,
# in any order, and how each verifies with the sandbox CA.
SCENARIOS = {
    "consegna": ("dest@" + D, [
        ("accettazione", {}, "valid"),
        ("avvenuta-consegna", {"errore": "nessuno", "ricevuta": "completa"}, "valid")]),
    "no-dest": ("nodest@" + D, [
        ("accettazione", {}, "valid"),
        ("errore-consegna", {"errore": "no-dest", "esteso": "5.1.1 "}, "valid")]),
    "pieno": ("pieno@" + D, [
        ("accettazione", {}, "valid"),
        ("errore-consegna", {"errore": "altro", "esteso": "5.2.2 "}, "valid")]),
    "no-dominio": ("x@nodominio.sandbox.test", [
        ("accettazione", {}, "valid"),
        ("errore-consegna", {"errore": "no-dominio", "esteso": "5.1.2 "}, "valid")]),
    "virusdest": ("virusdest@" + D, [
        ("accettazione", {}, "valid"),
        ("errore-consegna", {"errore": "virus", "esteso": "5.7.1 "}, "valid")]),
    "esterno": ("qualcuno@example.com", [
        ("accettazione", {"tipo": "esterno"}, "valid")]),
    "ritardo": ("ritardo@" + D, [
        ("accettazione", {}, "valid"),
        ("preavviso-errore-consegna", {"esteso": "4.4.7 "}, "valid"),
        ("preavviso-errore-consegna", {"esteso": "5.4.1 "}, "valid")]),
    "rifiuto": ("rifiuto@" + D, [
        ("non-accettazione", {"errore": "altro", "esteso": "5.7.1 "}, "valid")]),
    "virus": ("virus@" + D, [
        ("non-accettazione", {"errore": "virus", "esteso": "5.7.1 "}, "valid")]),
    "tampered": ("tampered@" + D, [
        ("accettazione", {}, "valid"),
        ("avvenuta-consegna", {}, "invalid")]),
    "unsigned": ("unsigned@" + D, [
        ("accettazione", {}, "valid"),
        ("avvenuta-consegna", {}, "unsigned")]),
    "untrusted": ("untrusted@" + D, [
        ("accettazione", {}, "valid"),
        ("avvenuta-consegna", {}, "untrusted")]),
    "forged": ("forged@" + D, [
        ("accettazione", {}, "valid"),
        (None, {"class": "anomaly"}, "valid"),
        ("preavviso-errore-consegna", {"esteso": "4.4.7 "}, "valid"),
        ("preavviso-errore-consegna", {"esteso": "5.4.1 "}, "valid")]),
}


class Sandbox:
    def __init__(self):
        self.top = None
        self.dir = None
        self.info = None

    def start(self):
        self.top = tempfile.mkdtemp(prefix="pecbatch-receipts-")
        os.chmod(self.top, 0o755)  # Dovecot's mail user must get in (as root)
        config = os.path.join(self.top, "config.json")
        with open(config, "w") as f:
            json.dump({"clock": {"12h": 1, "24h": 2}}, f)
        self.dir = os.path.join(self.top, "pec")
        proc = subprocess.run([SANDBOX, "start", "--dir", self.dir, "--config", config,
                               "--quiet"], capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise RuntimeError("pec-sandbox start failed: " + proc.stderr)
        with open(os.path.join(self.dir, "sandbox.json")) as f:
            self.info = json.load(f)

    def stop(self):
        if self.dir is not None:
            subprocess.run([SANDBOX, "stop", "--dir", self.dir], capture_output=True,
                           timeout=60)
            self.dir = None
        if self.top is not None and os.environ.get("PECBATCH_KEEP") != "1":
            shutil.rmtree(self.top, ignore_errors=True)

    def send(self, to, message_id):
        account = self.info["accounts"][0]
        msg = EmailMessage()
        msg["From"] = account["address"]
        msg["To"] = to
        msg["Subject"] = "Prova " + message_id
        msg["Message-ID"] = "<%s>" % message_id
        msg["Date"] = email.utils.formatdate(localtime=True)
        msg.set_content("Testo di prova.\n")
        context = ssl.create_default_context(cafile=self.info["ca_cert"])
        with smtplib.SMTP_SSL("127.0.0.1", self.info["smtps_port"], context=context,
                              timeout=15) as smtp:
            smtp.login(account["username"], account["password"])
            smtp.send_message(msg)

    def receipts(self):
        path = self.info["receipts_log"]
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]


SANDBOX_RUN = Sandbox()


def inspect(files, *options):
    proc = subprocess.run([PECBATCH, "receipt", "inspect", "--json", *options, *files],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise AssertionError("exit %d: %s" % (proc.returncode, proc.stderr))
    objects = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["file"] for o in objects] == files
    return {o["file"]: o for o in objects}


class SandboxReceipts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sender = SANDBOX_RUN.info["accounts"][0]["address"]
        cls.sender = sender
        expected_count = sum(len(receipts) for _, receipts in SCENARIOS.values())
        for name, (to, _) in SCENARIOS.items():
            SANDBOX_RUN.send(to, "%s.%d@pecbatch.test" % (name, os.getpid()))
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            records = [r for r in SANDBOX_RUN.receipts() if r.get("file")]
            if len(records) >= expected_count or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        time.sleep(0.3)  # anything unexpected after the last one
        cls.records = [r for r in SANDBOX_RUN.receipts() if r.get("file")]
        assert len(cls.records) == expected_count, (
            "%d receipts, expected %d" % (len(cls.records), expected_count))
        cls.files = [r["file"] for r in cls.records]
        cls.with_ca = inspect(cls.files, "--ca-file", SANDBOX_RUN.info["ca_cert"])
        cls.without_ca = inspect(cls.files)

    def by_scenario(self):
        """scenario -> list of inspect objects (with the sandbox CA)."""
        groups = {name: [] for name in SCENARIOS}
        for o in self.with_ca.values():
            if o["msgid"] is not None:
                groups[o["msgid"].split(".")[0]].append(o)
            else:  # the anomaly envelope: no daticert, no X-Riferimento
                groups["forged"].append(o)
        return groups

    def test_every_receipt_has_the_expected_facts_and_signature(self):
        for name, objects in self.by_scenario().items():
            to, wanted = SCENARIOS[name]
            with self.subTest(scenario=name):
                got = sorted(objects, key=lambda o: (o["kind"] or "", o["errore_esteso"] or ""))
                want = sorted(wanted, key=lambda w: (w[0] or "", w[1].get("esteso", "")))
                self.assertEqual([o["kind"] for o in got], [w[0] for w in want])
                for o, (kind, facts, status) in zip(got, want):
                    self.assertEqual(o["signature"]["status"], status, o)
                    self.assertEqual(o["class"], facts.get("class", "receipt"), o)
                    if o["class"] == "anomaly":
                        self.assertIsNone(o["identificativo"])
                        continue
                    self.assertEqual(o["msgid"], "%s.%d@pecbatch.test" % (name, os.getpid()))
                    self.assertEqual(o["mittente"], self.sender)
                    self.assertEqual(o["gestore"], "Sandbox PEC S.p.A.")
                    self.assertRegex(o["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
                    self.assertTrue(o["identificativo"].endswith("@" + D), o)
                    self.assertEqual(o["destinatari"],
                                     [{"address": to, "tipo": facts.get("tipo", "certificato")}])
                    if kind in ("avvenuta-consegna", "errore-consegna",
                                "preavviso-errore-consegna"):
                        self.assertEqual(o["consegna"], to)
                    else:
                        self.assertIsNone(o["consegna"])
                    self.assertEqual(o["errore"], facts.get(
                        "errore", "altro" if kind == "preavviso-errore-consegna" else "nessuno"))
                    if "esteso" in facts:
                        self.assertTrue(o["errore_esteso"].startswith(facts["esteso"]), o)
                    if "ricevuta" in facts:
                        self.assertEqual(o["ricevuta"], facts["ricevuta"])
                    if status == "valid":
                        self.assertEqual(o["warnings"], [])

    def test_identificativo_is_shared_by_the_receipts_of_one_message(self):
        for name, objects in self.by_scenario().items():
            ids = {o["identificativo"] for o in objects if o["class"] == "receipt"}
            with self.subTest(scenario=name):
                self.assertEqual(len(ids), 1, ids)

    def test_signed_receipts_name_the_sandbox_signer(self):
        for o in self.with_ca.values():
            if o["signature"]["status"] in ("valid", "invalid", "untrusted"):
                self.assertEqual(o["signature"]["signer_email"], "posta-certificata@" + D)
                self.assertRegex(o["signature"]["signing_time"],
                                 r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
                self.assertIsNotNone(o["signature"]["issuer"])

    def test_bad_receipts(self):
        by_mode = {r["mode"]: self.with_ca[r["file"]] for r in self.records
                   if r["mode"] != "genuine"}
        self.assertEqual(set(by_mode), {"tampered", "unsigned", "untrusted", "forged"})
        tampered = by_mode["tampered"]
        self.assertEqual(tampered["signature"]["status"], "invalid")
        self.assertTrue(any("digest mismatch" in w for w in tampered["warnings"]))
        self.assertEqual(by_mode["unsigned"]["signature"]["status"], "unsigned")
        self.assertEqual(by_mode["unsigned"]["signature"]["signer_email"], None)
        untrusted = by_mode["untrusted"]
        self.assertEqual(untrusted["signature"]["status"], "untrusted")
        self.assertIn("Untrusted PEC Root CA", " ".join(untrusted["warnings"]))
        forged = by_mode["forged"]
        self.assertEqual((forged["class"], forged["kind"]), ("anomaly", None))
        self.assertEqual(forged["signature"]["status"], "valid")

    def test_without_the_sandbox_ca_genuine_receipts_are_untrusted(self):
        for r in self.records:
            o = self.without_ca[r["file"]]
            expected = {"genuine": "untrusted", "forged": "untrusted", "untrusted": "untrusted",
                        "tampered": "invalid", "unsigned": "unsigned"}[r["mode"]]
            with self.subTest(file=r["file"], mode=r["mode"]):
                self.assertEqual(o["signature"]["status"], expected)
                # Facts do not depend on trust.
                same = dict(self.with_ca[r["file"]])
                del same["signature"], same["warnings"]
                other = dict(o)
                del other["signature"], other["warnings"]
                self.assertEqual(same, other)


def main():
    for tool in (SANDBOX, "/usr/sbin/dovecot"):
        if not os.path.exists(tool):
            print("skipped: %s not found" % tool)
            return SKIP
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        try:
            SANDBOX_RUN.start()
        except Exception as e:  # noqa: BLE001 - no sandbox here: skip
            print("skipped: %s" % e)
            return SKIP
        started = time.monotonic()
        result = unittest.main(exit=False, verbosity=2).result
        print("sandbox receipts: %.1f s" % (time.monotonic() - started))
        return 0 if result.wasSuccessful() else 1
    finally:
        SANDBOX_RUN.stop()


if __name__ == "__main__":
    sys.exit(main())

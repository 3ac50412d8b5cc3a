#!/usr/bin/python3
"""End-to-end: `pecbatch poll` against the simulated PEC provider.

Rows are sent with `pecbatch send`, the sandbox puts its S/MIME-signed
receipts into the sender's Dovecot mailbox, and `pecbatch poll` reads them
over IMAPS. Each row's final state, the archived evidence and the receipts
table are checked; a second poll must not count anything twice.
"""
import glob
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandbox_fixture import PECBATCH, SandboxTest  # noqa: E402


class Poll(SandboxTest):
    sandbox_config = {"clock": {"12h": 1, "24h": 2}}

    def db(self):
        return sqlite3.connect(os.path.join(self.dir, "out", "journal.sqlite"))

    def rows(self):
        db = self.db()
        try:
            return {address: (state, message_id, last_text) for address, state, message_id, last_text
                    in db.execute("select address, state, message_id, last_text from rows")}
        finally:
            db.close()

    def receipts(self):
        db = self.db()
        try:
            return db.execute("select uidvalidity, uid, message_id, kind, signature, file, "
                              "sha256, row_id from receipts order by id").fetchall()
        finally:
            db.close()

    def event_count(self):
        db = self.db()
        try:
            return db.execute("select count(*) from events").fetchone()[0]
        finally:
            db.close()

    def send(self, addresses):
        campaign = self.make_campaign(addresses)
        r = self.pecbatch("send", campaign, "--yes", "--quiet")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return campaign

    def check_evidence(self):
        out = os.path.join(self.dir, "out")
        for _, _, message_id, _, _, file, sha, row_id in self.receipts():
            path = os.path.join(out, file)
            with open(path, "rb") as f:
                self.assertEqual(hashlib.sha256(f.read()).hexdigest(), sha, path)
            if row_id is not None:
                self.assertTrue(file.startswith("evidence/"), file)
                self.assertIn("/receipts/", file)
            else:
                self.assertTrue(file.startswith("evidence/_unmatched/"), file)

    def check_manifests(self, delivered):
        """Each delivered row's manifest lists sent.eml and its receipts
        with their true SHA-256; the campaign manifest lists every row
        manifest with its true SHA-256."""
        evidence = os.path.join(self.dir, "out", "evidence")

        def sha(path):
            with open(path, "rb") as f:
                return hashlib.sha256(f.read()).hexdigest()

        with open(os.path.join(evidence, "manifest.json"), encoding="utf-8") as f:
            campaign_manifest = json.load(f)
        listed = {entry["message_id"]: entry for entry in campaign_manifest["rows"]}
        for _, message_id, _ in self.rows().values():
            self.assertIn(message_id, listed)
        for entry in campaign_manifest["rows"]:
            path = os.path.join(evidence, entry["manifest"])
            self.assertEqual(entry["sha256"], sha(path), path)

        for message_id in delivered:
            row_dir = os.path.join(evidence, message_id)
            with open(os.path.join(row_dir, "manifest.json"), encoding="utf-8") as f:
                manifest = json.load(f)
            self.assertEqual(manifest["message_id"], message_id)
            self.assertEqual(manifest["state"], "delivered")
            self.assertEqual(manifest["history"][-1]["to"], "delivered")
            files = {entry["path"]: entry for entry in manifest["files"]}
            self.assertIn("sent.eml", files)
            receipts = glob.glob(os.path.join(row_dir, "receipts", "*.eml"))
            self.assertGreaterEqual(len(receipts), 2)  # accettazione, consegna
            for path in [os.path.join(row_dir, "sent.eml")] + receipts:
                name = os.path.relpath(path, row_dir)
                self.assertIn(name, files)
                self.assertEqual(files[name]["sha256"], sha(path), name)
                self.assertEqual(files[name]["size"], os.path.getsize(path), name)
            kinds = {entry["receipt"]["kind"] for entry in manifest["files"]
                     if "receipt" in entry}
            self.assertIn("accettazione", kinds)
            self.assertIn("avvenuta-consegna", kinds)
            for entry in manifest["files"]:
                if "receipt" in entry:
                    self.assertEqual(entry["receipt"]["signature"]["status"], "valid")
                    self.assertTrue(entry["receipt"]["signature"]["signer"])
            daticerts = [name for name in files if name.startswith("daticert-")]
            self.assertEqual(len(daticerts), len(receipts), daticerts)
            for name in daticerts:
                self.assertEqual(files[name]["sha256"], sha(os.path.join(row_dir, name)))

    def test_every_outcome_reaches_its_final_state_once(self):
        addresses = ["x@pec.sandbox.test", "nodest@pec.sandbox.test",
                     "pieno@pec.sandbox.test", "someone@example.com",
                     "ritardo@pec.sandbox.test", "rifiuto@pec.sandbox.test"]
        campaign = self.send(addresses)
        started = time.monotonic()
        r = self.pecbatch("poll", campaign, "--until-final", "--timeout", "40s",
                          "--interval", "500ms", timeout=55)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertLess(time.monotonic() - started, 45)
        rows = self.rows()
        self.assertEqual(rows["x@pec.sandbox.test"][0], "delivered")
        self.assertEqual(rows["nodest@pec.sandbox.test"][0], "delivery_failed")
        self.assertIn("5.1.1", rows["nodest@pec.sandbox.test"][2])
        self.assertEqual(rows["pieno@pec.sandbox.test"][0], "delivery_failed")
        self.assertIn("5.2.2", rows["pieno@pec.sandbox.test"][2])
        self.assertEqual(rows["someone@example.com"][0], "sent_external")
        self.assertEqual(rows["ritardo@pec.sandbox.test"][0], "failed_timeout")
        self.assertEqual(rows["rifiuto@pec.sandbox.test"][0], "rejected")
        self.assertNotIn(self.account["password"], r.stdout + r.stderr)

        # The evidence: every receipt of our rows, byte for byte.
        ours = [rec for rec in self.receipts() if rec[7] is not None]
        kinds = sorted(rec[3] for rec in ours)
        self.assertEqual(kinds.count("accettazione"), 5, kinds)
        self.assertEqual(kinds.count("non-accettazione"), 1, kinds)
        self.assertEqual(kinds.count("avvenuta-consegna"), 1, kinds)
        self.assertEqual(kinds.count("errore-consegna"), 2, kinds)
        self.assertEqual(kinds.count("preavviso-errore-consegna"), 2, kinds)
        self.assertTrue(all(rec[4] == "valid" for rec in ours))
        self.check_evidence()
        delivered_id = rows["x@pec.sandbox.test"][1]
        files = glob.glob(os.path.join(self.dir, "out", "evidence", delivered_id, "receipts",
                                       "*-avvenuta-consegna.eml"))
        self.assertEqual(len(files), 1)
        self.check_manifests([delivered_id])

        # Again: nothing new, nothing counted twice.
        before = (len(self.receipts()), self.event_count())
        r = self.pecbatch("poll", campaign, "--trace", timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("0 new messages", r.stdout)
        self.assertIn("imap: C: ", r.stderr)
        self.assertIn("UID SEARCH UID", r.stderr)
        self.assertNotIn(self.account["password"], r.stdout + r.stderr)
        self.assertEqual((len(self.receipts()), self.event_count()), before)

        # A lost cursor (e.g. a restored journal) reads the mailbox again
        # without counting anything twice.
        db = self.db()
        db.execute("delete from meta where key like 'imap:%'")
        db.commit()
        db.close()
        r = self.pecbatch("poll", campaign, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual((len(self.receipts()), self.event_count()), before)
        self.assertEqual(self.rows()["x@pec.sandbox.test"][0], "delivered")

    def test_bad_receipts_change_nothing(self):
        campaign = self.send(["tampered@pec.sandbox.test", "forged@pec.sandbox.test"])
        r = self.pecbatch("poll", campaign, "--until-final", "--timeout", "8s",
                          "--interval", "1s", timeout=30)
        # The tampered consegna never counts: that row stays accepted.
        self.assertEqual(r.returncode, 75, r.stdout + r.stderr)
        self.assertIn("pending", r.stdout)
        rows = self.rows()
        self.assertEqual(rows["tampered@pec.sandbox.test"][0], "accepted")
        # The forged consegna (an anomaly envelope) is ignored; the genuine
        # 24 h notice settles the row.
        self.assertEqual(rows["forged@pec.sandbox.test"][0], "failed_timeout")
        recs = self.receipts()
        tampered_id = rows["tampered@pec.sandbox.test"][1]
        bad = [rec for rec in recs if rec[2] == tampered_id and rec[4] != "valid"]
        self.assertEqual(len(bad), 1, recs)
        self.assertEqual(bad[0][3], "avvenuta-consegna")
        self.assertIn("signature", r.stderr)
        self.check_evidence()

    def poll_process(self, campaign, *args):
        env = dict(os.environ)
        env["PECBATCH_TEST_PASSWORD"] = self.account["password"]
        return subprocess.Popen([PECBATCH, "poll", campaign, *args], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def test_interrupt_and_kill_lose_nothing(self):
        # tampered: its consegna never counts, so the row stays pending.
        campaign = self.send(["tampered@pec.sandbox.test", "x@pec.sandbox.test",
                              "ritardo@pec.sandbox.test"])
        p = self.poll_process(campaign, "--until-final", "--timeout", "60s",
                              "--interval", "300ms")
        time.sleep(1.0)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 130, out + err)
        self.assertIn("interrupted", err)

        # kill -9 in the middle of passes, then run to the end.
        p = self.poll_process(campaign, "--until-final", "--timeout", "60s",
                              "--interval", "100ms")
        time.sleep(0.7)
        p.kill()
        p.communicate(timeout=20)
        r = self.pecbatch("poll", campaign, "--until-final", "--timeout", "6s",
                          "--interval", "500ms", timeout=30)
        self.assertEqual(r.returncode, 75, r.stdout + r.stderr)  # tampered stays accepted
        rows = self.rows()
        self.assertEqual(rows["x@pec.sandbox.test"][0], "delivered")
        self.assertEqual(rows["ritardo@pec.sandbox.test"][0], "failed_timeout")
        self.assertEqual(rows["tampered@pec.sandbox.test"][0], "accepted")
        # Each of our receipts is recorded once: 3 accettazione, 1 consegna,
        # 1 tampered consegna, 2 notices.
        ours = [rec for rec in self.receipts() if rec[7] is not None]
        self.assertEqual(len(ours), 7, ours)
        self.assertEqual(len({(rec[0], rec[1]) for rec in ours}), 7)
        self.check_evidence()

    def test_wrong_password_is_a_configuration_error(self):
        campaign = self.send(["x@pec.sandbox.test"])
        r = self.pecbatch("poll", campaign, password="wrong-password", timeout=30)
        self.assertEqual(r.returncode, 78, r.stdout + r.stderr)
        self.assertNotIn("wrong-password", r.stdout + r.stderr)

    def test_poll_before_any_send_is_refused(self):
        campaign = self.make_campaign(["x@pec.sandbox.test"])
        r = self.pecbatch("poll", campaign, timeout=30)
        self.assertEqual(r.returncode, 78, r.stdout + r.stderr)
        self.assertIn("pecbatch send", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)

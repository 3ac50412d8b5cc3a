#!/usr/bin/python3
"""End-to-end: `pecbatch status` and `pecbatch report` (CSV, JSON) on a real
journal: a campaign sent to the simulated PEC provider and polled until
final. Checks the numbers against the journal itself, that both commands
only read (no lock, journal unchanged), CSV safety for Excel, the JSON
shape, and the exit codes of the error cases.
"""
import csv
import fcntl
import hashlib
import io
import json
import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandbox_fixture import SandboxTest  # noqa: E402

LIFECYCLE = ["queued", "sending", "submitting", "deferred", "uncertain", "submitted",
             "accepted", "delayed", "delivered", "sent_external", "failed", "rejected",
             "delivery_failed", "failed_timeout", "no_receipt", "abandoned"]

RECIPIENTS = [
    ("ok@pec.sandbox.test", "Niccolò Perché"),
    ("nodest@pec.sandbox.test", "=1+1"),
    ("someone@example.com", "+39 06 1234"),
    ("bad@pec.sandbox.test", "Rossi; Mario"),
    ("dopo@pec.sandbox.test", "@Bianchi"),
]


class StatusAndReport(SandboxTest):
    sandbox_config = {"clock": {"12h": 1, "24h": 2}}

    def snapshot(self):
        """Everything a reader could change in the journal."""
        db = sqlite3.connect(os.path.join(self.dir, "out", "journal.sqlite"))
        try:
            return (db.execute("select * from rows order by id").fetchall(),
                    db.execute("select * from events order by id").fetchall(),
                    db.execute("select * from receipts order by id").fetchall(),
                    db.execute("select * from meta order by key").fetchall())
        finally:
            db.close()

    def counts(self):
        db = sqlite3.connect(os.path.join(self.dir, "out", "journal.sqlite"))
        try:
            return dict(db.execute("select state, count(*) from rows group by state"))
        finally:
            db.close()

    def prepare(self):
        campaign = self.make_campaign([address for address, _ in RECIPIENTS],
                                      rate_per_minute=6)
        with open(os.path.join(self.dir, "contacts.csv"), "w", encoding="utf-8",
                  newline="") as f:
            f.write("pec;nome;numero\r\n")
            for i, (address, name) in enumerate(RECIPIENTS):
                f.write('%s;"%s";%d\r\n' % (address, name, i + 1))
        self.set_control({"faults": [{"at": "rcpt", "reply": 550,
                                      "recipient": "bad@pec.sandbox.test"}]})
        # dopo@ is left for later: a tranche of 4 rows.
        r = self.pecbatch("send", campaign, "--yes", "--quiet", "--limit", "4")
        self.assertEqual(r.returncode, 69, r.stdout + r.stderr)
        r = self.pecbatch("poll", campaign, "--until-final", "--timeout", "40s",
                          "--interval", "500ms", timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return campaign

    def test_status_and_report_read_a_real_journal(self):
        campaign = self.prepare()
        counts = self.counts()
        self.assertEqual(counts, {"delivered": 1, "delivery_failed": 1, "sent_external": 1,
                                  "failed": 1, "queued": 1})
        before = self.snapshot()

        # Another run holds the campaign lock: status and report still work.
        lock = open(os.path.join(self.dir, "out", "lock"), "a")
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            r = self.pecbatch("status", campaign, "--json")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            status = json.loads(r.stdout)
            text = self.pecbatch("status", campaign)
            self.assertEqual(text.returncode, 0, text.stdout + text.stderr)
            report_csv = os.path.join(self.dir, "esito.csv")
            r = self.pecbatch("report", campaign, "--out", report_csv, "--excel",
                              "--fields", "nome,numero")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            r = self.pecbatch("report", campaign, "--format", "json", "--out", "-",
                              "--fields", "nome")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            report = json.loads(r.stdout)
        finally:
            lock.close()
        self.assertEqual(self.snapshot(), before)

        # status --json
        self.assertEqual(status["campaign"], self.campaign_id)
        self.assertEqual(status["total"], 5)
        self.assertEqual([s["state"] for s in status["states"]], LIFECYCLE)
        for s in status["states"]:
            self.assertEqual(s["count"], counts.get(s["state"], 0), s)
            self.assertAlmostEqual(s["percent"], 100.0 * s["count"] / 5, places=1)
        self.assertEqual(status["groups"], {"to_send": 1, "awaiting_receipts": 0,
                                            "success": 2, "failure": 2})
        self.assertEqual(status["send"]["submissions"], 3)  # bad@ never reached DATA
        self.assertEqual(status["send"]["recent_submissions"], 3)
        self.assertIsNotNone(status["send"]["last_submission"])
        self.assertEqual(status["limits"]["rate_per_minute"], 6)
        self.assertEqual(status["eta_seconds"], 0)  # one row left, it leaves at once
        self.assertEqual(status["eta_basis"], "configured rate")
        self.assertIsNotNone(status["last_receipt"])
        self.assertLess(status["seconds_since_last_receipt"], 120)
        decisions = {d["address"]: d for d in status["needs_decision"]}
        self.assertEqual(set(decisions), {"nodest@pec.sandbox.test", "bad@pec.sandbox.test"})
        self.assertEqual(decisions["bad@pec.sandbox.test"]["state"], "failed")
        self.assertTrue(decisions["bad@pec.sandbox.test"]["error"].startswith("550 "))
        self.assertEqual(decisions["nodest@pec.sandbox.test"]["state"], "delivery_failed")
        self.assertIn("5.1.1", decisions["nodest@pec.sandbox.test"]["error"])

        # status as text
        self.assertIn("rows        5: 2 delivered or sent external, 2 failed", text.stdout)
        self.assertIn("decisions   2 rows need a decision", text.stdout)
        self.assertIn("bad@pec.sandbox.test  failed  550", text.stdout)
        self.assertIn("receipts    last recorded", text.stdout)

        # CSV for Italian Excel: BOM, ';', formulas neutralised, every row.
        with open(report_csv, "rb") as f:
            raw = f.read()
        self.assertTrue(raw.startswith(b"\xef\xbb\xbf"))
        self.assertIn(b"\r\n", raw)
        rows = list(csv.DictReader(io.StringIO(raw[3:].decode("utf-8"), newline=""),
                                   delimiter=";"))
        self.assertEqual(len(rows), 5)
        by_address = {row["address"]: row for row in rows}
        self.assertEqual(by_address["ok@pec.sandbox.test"]["nome"], "Niccolò Perché")
        self.assertEqual(by_address["nodest@pec.sandbox.test"]["nome"], "'=1+1")
        self.assertEqual(by_address["someone@example.com"]["nome"], "'+39 06 1234")
        self.assertEqual(by_address["bad@pec.sandbox.test"]["nome"], "Rossi; Mario")
        self.assertEqual(by_address["dopo@pec.sandbox.test"]["nome"], "'@Bianchi")
        self.assertEqual(by_address["bad@pec.sandbox.test"]["smtp_code"], "550")
        self.assertEqual(by_address["nodest@pec.sandbox.test"]["errore"], "no-dest")
        self.assertTrue(by_address["nodest@pec.sandbox.test"]["errore_esteso"]
                        .startswith("5.1.1"))
        ok = by_address["ok@pec.sandbox.test"]
        self.assertEqual(ok["state"], "delivered")
        self.assertEqual(ok["signature"], "valid")
        self.assertRegex(ok["submitted_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
        self.assertRegex(ok["delivered_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
        out = os.path.join(self.dir, "out")
        with open(os.path.join(out, ok["sent_file"]), "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), ok["sent_sha256"])
        files = ok["receipt_files"].split("\n")
        hashes = ok["receipt_sha256"].split("\n")
        self.assertGreaterEqual(len(files), 2)
        for path, sha in zip(files, hashes):
            with open(os.path.join(out, path), "rb") as f:
                self.assertEqual(hashlib.sha256(f.read()).hexdigest(), sha, path)
        self.assertEqual([f for f in os.listdir(self.dir) if "esito" in f], ["esito.csv"])

        # JSON
        self.assertEqual(report["report_version"], 1)
        self.assertEqual(report["campaign"], self.campaign_id)
        self.assertEqual(report["fields"], ["nome"])
        self.assertEqual(list(report["counts"]), LIFECYCLE)
        self.assertEqual({k: v for k, v in report["counts"].items() if v}, counts)
        self.assertEqual(len(report["rows"]), 5)
        for row in report["rows"]:
            self.assertIsNone(row["retry_of"])
            self.assertIn("nome", row["fields"])
        db = sqlite3.connect(os.path.join(out, "journal.sqlite"))
        ids = dict(db.execute("select address, message_id from rows"))
        db.close()
        self.assertEqual({row["address"]: row["message_id"] for row in report["rows"]}, ids)

        # Default output: OUTPUT_DIR/report.FORMAT
        r = self.pecbatch("report", campaign, "--format", "html")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(os.path.exists(os.path.join(out, "report.html")))

    def test_error_exit_codes(self):
        campaign = self.make_campaign(["x@pec.sandbox.test"])
        # Nothing sent yet: no journal (78, as poll), and none created.
        for args in (["status", campaign], ["report", campaign, "--format", "csv"]):
            r = self.pecbatch(*args)
            self.assertEqual(r.returncode, 78, r.stdout + r.stderr)
            self.assertIn("pecbatch send", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "out", "journal.sqlite")))
        r = self.pecbatch("status", os.path.join(self.dir, "missing.toml"))
        self.assertEqual(r.returncode, 66, r.stdout + r.stderr)

        r = self.pecbatch("send", campaign, "--yes", "--quiet")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.pecbatch("report", campaign, "--format", "csv", "--fields", "nomee")
        self.assertEqual(r.returncode, 78, r.stdout + r.stderr)
        self.assertIn("did you mean \"nome\"", r.stderr)
        r = self.pecbatch("report", campaign, "--out", os.path.join(self.dir, "x.txt"))
        self.assertEqual(r.returncode, 64, r.stdout + r.stderr)
        r = self.pecbatch("report", campaign, "--format", "pdf")
        self.assertEqual(r.returncode, 64, r.stdout + r.stderr)
        r = self.pecbatch("report", campaign, "--format", "csv", "--csv-delimiter", ":")
        self.assertEqual(r.returncode, 78, r.stdout + r.stderr)
        r = self.pecbatch("report", campaign, "--format", "html", "--out", "-")
        self.assertEqual(r.returncode, 78, r.stdout + r.stderr)
        # A report where a file is in the way of its directory: 74.
        blocker = os.path.join(self.dir, "blocker")
        with open(blocker, "w") as f:
            f.write("x")
        r = self.pecbatch("report", campaign, "--out", os.path.join(blocker, "r.csv"))
        self.assertEqual(r.returncode, 74, r.stdout + r.stderr)
        # [report] fields from the campaign file.
        with open(campaign, "a") as f:
            f.write('[report]\nfields = ["numero"]\n')
        r = self.pecbatch("report", campaign, "--format", "json", "--out", "-")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(json.loads(r.stdout)["fields"], ["numero"])
        self.assertEqual(json.loads(r.stdout)["rows"][0]["fields"], {"numero": "0"})


if __name__ == "__main__":
    unittest.main(verbosity=2)

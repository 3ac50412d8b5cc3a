"""`pecbatch run` end to end against the simulated PEC provider: validate,
send, poll until final, report, and the exit code that sums it up."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandbox_fixture import SandboxTest  # noqa: E402


class RunTest(SandboxTest):

    def run_campaign(self, campaign, *args, timeout=120):
        return self.pecbatch("run", campaign, *args, timeout=timeout)

    def states_by_address(self):
        import sqlite3
        db = sqlite3.connect(os.path.join(self.dir, "out", "journal.sqlite"))
        try:
            return dict(db.execute("select address, state from rows").fetchall())
        finally:
            db.close()

    def test_without_yes_it_only_shows_the_plan(self):
        campaign = self.make_campaign(3)
        r = self.run_campaign(campaign)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("would send 3 messages", r.stdout)
        self.assertEqual(self.submissions(), [])

    def test_all_delivered_exits_0_and_writes_the_report(self):
        campaign = self.make_campaign(4)
        html = os.path.join(self.dir, "esito.html")
        log = os.path.join(self.dir, "run.jsonl")
        r = self.pecbatch("--log-file", log, "--log-format", "json", "run", campaign,
                          "--yes", "--timeout", "60s", "--report", html, "--fields", "nome")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(set(self.states_by_address().values()), {"delivered"})
        self.assertEqual(len(self.submissions()), 4)
        # The per-recipient table: one line per row, with its state.
        lines = [l for l in r.stdout.splitlines() if "@pec.sandbox.test" in l]
        self.assertEqual(len(lines), 4, r.stdout)
        self.assertTrue(all(" delivered " in l and " valid " in l for l in lines), lines)
        with open(html, encoding="utf-8") as f:
            page = f.read()
        self.assertIn("dest000@pec.sandbox.test", page)
        self.assertIn("Destinatario 3", page)
        with open(log) as f:
            text = f.read()
        events = [json.loads(l)["event"] for l in text.splitlines()]
        self.assertEqual(events[0], "start")
        self.assertEqual(events.count("attempt"), 4)
        self.assertIn("poll_pass", events)
        self.assertEqual(events[-1], "exit")
        self.assertNotIn(self.account["password"], text)

        # Again: nothing is sent twice, the outcome is the same.
        r = self.run_campaign(campaign, "--yes", "--timeout", "20s")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(len(self.submissions()), 4)

    def test_mixed_outcomes_exit_69_with_each_row_explained(self):
        campaign = self.make_campaign([
            "ok@pec.sandbox.test",
            "pieno@pec.sandbox.test",
            "nodest@pec.sandbox.test",
            "rifiuto@pec.sandbox.test",
            "mario.rossi@example.com",
        ])
        r = self.run_campaign(campaign, "--yes", "--timeout", "60s")
        self.assertEqual(r.returncode, 69, r.stdout + r.stderr)
        self.assertEqual(self.states_by_address(), {
            "ok@pec.sandbox.test": "delivered",
            "pieno@pec.sandbox.test": "delivery_failed",
            "nodest@pec.sandbox.test": "delivery_failed",
            "rifiuto@pec.sandbox.test": "rejected",
            "mario.rossi@example.com": "sent_external",
        })
        table = {l.split()[1]: l for l in r.stdout.splitlines()
                 if len(l.split()) > 2 and "@" in l.split()[1]}
        self.assertIn("casella di posta del destinatario piena",
                      table["pieno@pec.sandbox.test"])
        self.assertIn("no-dest", table["nodest@pec.sandbox.test"])
        self.assertIn("sent_external", table["mario.rossi@example.com"])

    def test_a_failed_row_retried_then_delivered_makes_the_campaign_succeed(self):
        campaign = self.make_campaign(["a@pec.sandbox.test", "b@pec.sandbox.test"])
        self.set_control({"faults": [{"at": "data-end", "reply": 554,
                                      "message": "5.6.0 Message refused",
                                      "recipient": "b@*"}]})
        r = self.run_campaign(campaign, "--yes", "--timeout", "60s")
        self.assertEqual(r.returncode, 69, r.stdout + r.stderr)
        self.assertIn("554 5.6.0 Message refused", r.stdout)
        self.set_control({})
        r = self.pecbatch("retry", campaign, "--failed", "--yes")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.run_campaign(campaign, "--yes", "--timeout", "60s")
        # The failed first attempt is history: its successor was delivered.
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("sent again as", r.stdout)
        self.assertIn("retry of", r.stdout)
        copies = self.accepted_copies()
        self.assertEqual(sorted(copies.values()), [1, 1], copies)

    def test_external_recipients_succeed_only_with_allow_external(self):
        campaign = self.make_campaign(["ok@pec.sandbox.test", "mario.rossi@example.com"])
        r = self.run_campaign(campaign, "--yes", "--timeout", "60s")
        self.assertEqual(r.returncode, 69, r.stdout + r.stderr)
        # Nothing left to send: the same result, now counted as success.
        r = self.run_campaign(campaign, "--yes", "--timeout", "20s", "--allow-external")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(len(self.submissions()), 2)


class RunTimeoutTest(SandboxTest):
    """A provider whose 12 h / 24 h notices take 30 s / 60 s: a row whose
    delivery is 30 h away is still waiting when a short timeout ends."""

    sandbox_config = {"clock": {"12h": 30, "24h": 60}}

    def test_rows_still_waiting_at_the_timeout_exit_75(self):
        self.set_control({"rules": [{"address": "lento@pec.sandbox.test",
                                     "outcome": "delivered", "delay": "30h"}]})
        campaign = self.make_campaign(["lento@pec.sandbox.test", "ok@pec.sandbox.test"])
        r = self.pecbatch("run", campaign, "--yes", "--timeout", "3s", "--interval", "1s")
        self.assertEqual(r.returncode, 75, r.stdout + r.stderr)
        import sqlite3
        db = sqlite3.connect(os.path.join(self.dir, "out", "journal.sqlite"))
        states = dict(db.execute("select address, state from rows").fetchall())
        db.close()
        self.assertEqual(states, {"lento@pec.sandbox.test": "accepted",
                                  "ok@pec.sandbox.test": "delivered"})
        self.assertIn("timeout", r.stderr)


if __name__ == "__main__":
    unittest.main()

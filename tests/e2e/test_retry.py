#!/usr/bin/python3
"""End-to-end: sending rows again, against the simulated PEC provider.

`pecbatch retry --failed` re-queues a row the provider refused, and the next
`pecbatch send` sends it exactly once under a new Message-ID while the old
attempt keeps its evidence; `pecbatch resolve --resend-uncertain` sends an
uncertain row again only when no receipt names it; `pecbatch evidence --zip`
exports the archive byte for byte (checked with Python's zipfile against
the manifests).
"""
import hashlib
import io
import json
import os
import sqlite3
import sys
import unittest
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandbox_fixture import SandboxTest  # noqa: E402


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class Retry(SandboxTest):
    sandbox_config = {"clock": {"12h": 1, "24h": 2}}

    # -- helpers -------------------------------------------------------------

    def db(self):
        return sqlite3.connect(os.path.join(self.dir, "out", "journal.sqlite"))

    def rows(self):
        """Journal rows by Message-ID: (row, address, state, generation,
        retry_of Message-ID, superseded_by Message-ID, sent_sha256)."""
        db = self.db()
        try:
            ids = dict(db.execute("select id, message_id from rows"))
            out = {}
            for row, address, mid, state, gen, retry_of, superseded_by, sent in db.execute(
                    "select row, address, message_id, state, generation, retry_of, "
                    "superseded_by, sent_sha256 from rows"):
                out[mid] = (row, address, state, gen, ids.get(retry_of),
                            ids.get(superseded_by), sent)
            return out
        finally:
            db.close()

    def events(self, message_id):
        db = self.db()
        try:
            return db.execute("select e.from_state, e.to_state, e.detail from events e "
                              "join rows r on r.id = e.row_id where r.message_id = ? "
                              "order by e.id", (message_id,)).fetchall()
        finally:
            db.close()

    def evidence(self, message_id, name):
        with open(os.path.join(self.dir, "out", "evidence", message_id, name), "rb") as f:
            return f.read()

    def submission_count(self):
        return len(self.submissions())

    def poll_until_final(self, campaign, timeout="30s"):
        return self.pecbatch("poll", campaign, "--until-final", "--timeout", timeout,
                             "--interval", "500ms", "--quiet", timeout=60)

    # -- retry --failed --------------------------------------------------------

    def test_a_failed_row_is_sent_again_once_and_the_evidence_exported(self):
        campaign = self.make_campaign(3)
        refused = "dest001@pec.sandbox.test"
        # Refused after the whole message went out: the first attempt has
        # a sent.eml of its own.
        self.set_control({"faults": [{"at": "data-end", "reply": 554,
                                      "message": "5.6.0 Message refused",
                                      "recipient": "dest001@*"}]})
        r = self.pecbatch("send", campaign, "--yes", "--quiet")
        self.assertEqual(r.returncode, 69, r.stdout + r.stderr)
        self.set_control({})
        rows = self.rows()
        old_id = next(m for m, v in rows.items() if v[1] == refused)
        self.assertEqual(rows[old_id][2], "failed")
        self.assertTrue(old_id.endswith(".1@pec.sandbox.test"), old_id)
        new_id = old_id.replace(".1@pec.sandbox.test", ".2@pec.sandbox.test")
        old_sent = self.evidence(old_id, "sent.eml")
        self.assertEqual(sha256(old_sent), rows[old_id][6])

        # Without --yes: only the list.
        r = self.pecbatch("retry", campaign, "--failed")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(old_id, r.stdout)
        self.assertIn(new_id, r.stdout)
        self.assertIn("554 5.6.0 Message refused", r.stdout)
        self.assertIn("nothing changed", r.stdout)
        self.assertEqual(len(self.rows()), 3)

        r = self.pecbatch("retry", campaign, "--failed", "--yes", "--reason", "prova e2e")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("1 row re-queued", r.stdout)
        rows = self.rows()
        self.assertEqual(len(rows), 4)
        self.assertEqual(rows[new_id][1:6], (refused, "queued", 2, old_id, None))
        self.assertEqual(rows[old_id][2], "failed")
        self.assertEqual(rows[old_id][5], new_id)
        self.assertTrue(self.events(new_id)[0][2].startswith("retry of " + old_id + ": "))
        self.assertIn("prova e2e", self.events(new_id)[0][2])
        self.assertEqual(self.events(old_id)[-1][:2], ("failed", "failed"))
        self.assertIn("superseded by " + new_id, self.events(old_id)[-1][2])

        # The next send sends exactly one message: the new one.
        before = self.submission_count()
        r = self.pecbatch("send", campaign, "--yes", "--quiet")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        new_submissions = self.submissions()[before:]
        self.assertEqual([s["message_id"] for s in new_submissions], ["<" + new_id + ">"])
        self.assertTrue(new_submissions[0]["accepted"])
        self.assertEqual(new_submissions[0]["rcpt_to"], [refused])
        copies = self.accepted_copies()
        self.assertEqual(copies.get("<" + new_id + ">"), 1)
        self.assertNotIn("<" + old_id + ">", copies)
        rows = self.rows()
        self.assertEqual(rows[new_id][2], "submitted")
        sent = self.evidence(new_id, "sent.eml")
        self.assertIn(("Message-ID: <" + new_id + ">").encode(), sent)
        self.assertEqual(sha256(sent), rows[new_id][6])
        # The old attempt keeps its state and evidence, untouched.
        self.assertEqual(rows[old_id][2], "failed")
        self.assertEqual(self.evidence(old_id, "sent.eml"), old_sent)

        # Never twice.
        before = self.submission_count()
        r = self.pecbatch("send", campaign, "--yes", "--quiet")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.submission_count(), before)

        r = self.poll_until_final(campaign)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        rows = self.rows()
        self.assertEqual(rows[new_id][2], "delivered")
        self.assertEqual(rows[old_id][2], "failed")

        # A delivered row is never retried; nothing else is left to retry.
        r = self.pecbatch("retry", campaign, "--failed", "--states", "delivered", "--yes")
        self.assertEqual(r.returncode, 78, r.stdout + r.stderr)
        self.assertIn("never sent again", r.stderr)
        r = self.pecbatch("retry", campaign, "--failed", "--yes")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("nothing to retry", r.stdout)
        self.assertEqual(len(self.rows()), 4)

        self.check_evidence_zip(campaign, old_id, new_id)

    def check_evidence_zip(self, campaign, old_id, new_id):
        out = os.path.join(self.dir, "prove.zip")
        r = self.pecbatch("evidence", campaign, "--zip", out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(out, "rb") as f:
            data = f.read()
        self.assertIn(sha256(data), r.stdout)
        self.assertEqual([n for n in os.listdir(self.dir) if ".tmp-" in n], [])
        top = self.campaign_id + "-evidence/"
        evidence_dir = os.path.join(self.dir, "out", "evidence")
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            self.assertIsNone(z.testzip())
            members = {name: z.read(name) for name in z.namelist()}
        self.assertTrue(all(name.startswith(top) for name in members), list(members))

        # Every member is the archive's file, byte for byte.
        for name, content in members.items():
            relative = name[len(top):]
            if relative.startswith("evidence/"):
                with open(os.path.join(self.dir, "out", relative), "rb") as f:
                    self.assertEqual(f.read(), content, name)

        # The campaign manifest lists each row manifest with its SHA-256;
        # each row manifest lists its files with theirs.
        campaign_manifest = json.loads(members[top + "evidence/manifest.json"])
        listed = {entry["message_id"]: entry for entry in campaign_manifest["rows"]}
        self.assertEqual(len(listed), 4)  # 3 first attempts + 1 retry
        for message_id in self.rows():
            entry = listed[message_id]
            manifest_bytes = members[top + "evidence/" + entry["manifest"]]
            self.assertEqual(sha256(manifest_bytes), entry["sha256"])
            manifest = json.loads(manifest_bytes)
            self.assertEqual(manifest["message_id"], message_id)
            paths = [f["path"] for f in manifest["files"]]
            self.assertIn("sent.eml", paths)
            for f in manifest["files"]:
                content = members[top + "evidence/" + message_id + "/" + f["path"]]
                self.assertEqual(sha256(content), f["sha256"], f["path"])
                self.assertEqual(len(content), f["size"], f["path"])
        delivered = json.loads(members[top + "evidence/" + new_id + "/manifest.json"])
        self.assertEqual(delivered["state"], "delivered")
        kinds = sorted(f["receipt"]["kind"] for f in delivered["files"] if "receipt" in f)
        self.assertEqual(kinds, ["accettazione", "avvenuta-consegna"])
        self.assertTrue(any(f["path"].startswith("daticert-") for f in delivered["files"]))

        # SHA256SUMS covers every other member.
        sums = {}
        for line in members[top + "SHA256SUMS"].decode().splitlines():
            digest, name = line.split("  ", 1)
            sums[name] = digest
        self.assertEqual(set(sums), {n[len(top):] for n in members} - {"SHA256SUMS"})
        for name, digest in sums.items():
            self.assertEqual(sha256(members[top + name]), digest, name)
        readme = members[top + "README.txt"].decode()
        self.assertIn(old_id, readme)
        self.assertIn("sent again " + new_id, readme)
        self.assertIn("retry of   " + old_id, readme)
        with open(os.path.join(evidence_dir, "manifest.json"), "rb") as f:
            self.assertEqual(f.read(), members[top + "evidence/manifest.json"])

        # --rows: every attempt of the chosen row, nothing else.
        row = self.rows()[old_id][0]
        out_row = os.path.join(self.dir, "riga.zip")
        r = self.pecbatch("evidence", campaign, "--zip", out_row, "--rows", str(row))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with zipfile.ZipFile(out_row) as z:
            dirs = {n[len(top):].split("/")[1] for n in z.namelist()
                    if n[len(top):].startswith("evidence/") and n.count("/") > 2}
        self.assertEqual(dirs, {old_id, new_id})

        # Rows without evidence: nothing written, exit 66.
        r = self.pecbatch("evidence", campaign, "--zip", os.path.join(self.dir, "none.zip"),
                          "--rows", "50-60")
        self.assertEqual(r.returncode, 66, r.stdout + r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "none.zip")))

    # -- resolve --resend-uncertain ---------------------------------------------

    def test_an_uncertain_row_is_sent_again_only_when_no_receipt_names_it(self):
        campaign = self.make_campaign(2)
        lost = "dest000@pec.sandbox.test"   # dropped after the data: never accepted
        taken = "dest001@pec.sandbox.test"  # dropped after acceptance: receipts come
        self.set_control({
            "faults": [{"at": "data-end", "drop": True, "recipient": "dest000@*", "count": 1},
                       {"at": "accepted", "drop": True, "recipient": "dest001@*",
                        "count": 1}],
            # Receipts nobody can verify: recorded, but they settle nothing
            # (only dest001's message is accepted, so only it has any).
            "receipt_faults": [{"mode": "untrusted", "kind": "any"}]})
        r = self.pecbatch("send", campaign, "--yes", "--quiet")
        self.assertEqual(r.returncode, 75, r.stdout + r.stderr)
        self.assertIn("2 uncertain", r.stdout)
        # The faults stay armed (delivery receipts may still be on their
        # way): nothing is accepted until the resend below.
        self.set_control({"receipt_faults": [{"mode": "untrusted", "kind": "any"}]})
        rows = self.rows()
        lost_id = next(m for m, v in rows.items() if v[1] == lost)
        taken_id = next(m for m, v in rows.items() if v[1] == taken)
        self.assertEqual({v[2] for v in rows.values()}, {"uncertain"})
        self.assertEqual(self.accepted_copies(), {"<" + taken_id + ">": 1})

        # Before any poll nothing is known: refused.
        r = self.pecbatch("resolve", campaign, "--resend-uncertain", "--yes")
        self.assertEqual(r.returncode, 65, r.stdout + r.stderr)
        self.assertIn("never polled", r.stderr)
        self.assertEqual(len(self.rows()), 2)

        r = self.pecbatch("poll", campaign, "--until-final", "--timeout", "4s",
                          "--interval", "500ms", "--quiet", timeout=60)
        self.assertEqual(r.returncode, 75, r.stdout + r.stderr)
        self.assertEqual({v[2] for v in self.rows().values()}, {"uncertain"})

        # The list: the lost row can be sent again, the taken one cannot.
        r = self.pecbatch("resolve", campaign, "--resend-uncertain")
        self.assertEqual(r.returncode, 65, r.stdout + r.stderr)
        self.assertIn("DUPLICATE RISK", r.stderr)
        self.assertIn(lost_id.replace(".1@", ".2@"), r.stdout)
        self.assertIn("receipts recorded: accettazione (untrusted)", r.stdout)
        self.assertIn("refused", r.stdout)
        self.assertEqual(len(self.rows()), 2)

        # Asking for the taken row is refused; nothing changes.
        r = self.pecbatch("resolve", campaign, "--resend-uncertain", "--rows", "3", "--yes")
        self.assertEqual(r.returncode, 65, r.stdout + r.stderr)
        self.assertIn("the provider has it", r.stdout)
        self.assertEqual(len(self.rows()), 2)

        r = self.pecbatch("resolve", campaign, "--resend-uncertain", "--rows", "2", "--yes",
                          "--reason", "nessuna ricevuta")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("DUPLICATE RISK", r.stderr)
        new_id = lost_id.replace(".1@", ".2@")
        rows = self.rows()
        self.assertEqual(rows[lost_id][2], "abandoned")
        self.assertEqual(rows[lost_id][5], new_id)
        self.assertEqual(rows[new_id][2:5], ("queued", 2, lost_id))
        self.assertEqual(rows[taken_id][2], "uncertain")
        self.assertEqual(self.events(lost_id)[-1][:2], ("uncertain", "abandoned"))

        self.set_control({})
        before = self.submission_count()
        r = self.pecbatch("send", campaign, "--yes", "--quiet")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual([s["message_id"] for s in self.submissions()[before:]],
                         ["<" + new_id + ">"])
        self.assertEqual(self.accepted_copies(),
                         {"<" + taken_id + ">": 1, "<" + new_id + ">": 1})

        r = self.pecbatch("poll", campaign, "--until-final", "--timeout", "4s",
                          "--interval", "500ms", "--quiet", timeout=60)
        rows = self.rows()
        self.assertEqual(rows[new_id][2], "delivered")
        self.assertEqual(rows[lost_id][2], "abandoned")
        # The taken row still waits for a person (its receipts are untrusted).
        self.assertEqual(rows[taken_id][2], "uncertain")
        self.assertEqual(r.returncode, 75, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/python3
"""End-to-end: the opt-in `poll.archive_folder` and waiting with IMAP IDLE.

Against the sandbox's real Dovecot (which offers MOVE, UIDPLUS and IDLE):
with `poll.archive_folder` set, this campaign's receipts end in that folder
(created on first use), byte for byte the archived evidence, and INBOX
keeps everything else, flags untouched; without the key nothing in the
mailbox changes. Against a scripted IMAPS server: the UID COPY + UID STORE
+ UID EXPUNGE path of a server without MOVE, and no change at all (one
warning) on a server with neither MOVE nor UIDPLUS. Then `poll
--until-final` with a 10-minute interval finishes as soon as the receipts
reach INBOX: only IDLE can wake it before the interval ends.
"""
import email.utils
import hashlib
import os
import re
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandbox_fixture import PECBATCH, SandboxTest, imap_commands  # noqa: E402

ARCHIVE = "Archivio PEC"


class PollArchive(SandboxTest):

    # -- the journal ------------------------------------------------------------

    def db(self):
        return sqlite3.connect(os.path.join(self.dir, "out", "journal.sqlite"))

    def rows(self):
        db = self.db()
        try:
            return {address: (state, message_id) for address, state, message_id
                    in db.execute("select address, state, message_id from rows")}
        finally:
            db.close()

    def recorded(self):
        """(uid, sha256, file) of every message recorded."""
        db = self.db()
        try:
            return db.execute("select uid, sha256, file from receipts order by id").fetchall()
        finally:
            db.close()

    # -- the mailbox, seen from a second client -----------------------------------

    def folder(self, name):
        """{uid: (flags, sha256 of the bytes)} of folder `name` (read-only);
        None when the folder does not exist."""
        conn = self.imap()
        try:
            typ, _ = conn.select('"%s"' % name, readonly=True)
            if typ != "OK":
                return None
            typ, data = conn.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
            self.assertEqual(typ, "OK", data)
            out = {}
            for item in data:
                if not isinstance(item, tuple):
                    continue
                head = item[0].decode()
                uid = int(re.search(r"UID (\d+)", head).group(1))
                flags = re.search(r"FLAGS \(([^)]*)\)", head).group(1)
                out[uid] = (flags, hashlib.sha256(item[1]).hexdigest())
            return out
        finally:
            conn.logout()

    def unrelated(self, subject):
        return (b"From: someone@example.com\r\nTo: %s\r\nSubject: %s\r\n"
                b"Message-ID: <%s@example.com>\r\nDate: %s\r\n\r\nhello\r\n"
                % (self.account["address"].encode(), subject.encode(),
                   subject.replace(" ", ".").encode(), email.utils.formatdate().encode()))

    def send(self, addresses, extra=""):
        campaign = self.make_campaign(addresses, extra=extra)
        r = self.pecbatch("send", campaign, "--yes", "--quiet")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return campaign

    @staticmethod
    def commands(stderr):
        return [line.split(" ", 3)[3] for line in stderr.splitlines()
                if line.startswith("imap: C: ") and line.count(" ") >= 3]

    # -- the tests ------------------------------------------------------------------

    def test_receipts_move_to_the_archive_folder_and_nothing_else_does(self):
        campaign = self.send(["x@pec.sandbox.test", "nodest@pec.sandbox.test"],
                             extra='\n[poll]\narchive_folder = "%s"\n' % ARCHIVE)
        rows = self.rows()
        for _, message_id in rows.values():
            self.wait_for_receipts("<%s>" % message_id, 2)
        # Unrelated mail, one of it marked \Deleted by "another client" (a
        # plain EXPUNGE would remove it) and one \Flagged.
        plain = self.append(self.unrelated("hello one"))
        deleted = self.append(self.unrelated("hello two"), r"(\Deleted)")
        flagged = self.append(self.unrelated("hello three"), r"(\Flagged)")
        before = self.folder("INBOX")
        self.assertIsNone(self.folder(ARCHIVE))

        r = self.pecbatch("poll", campaign, "--until-final", "--timeout", "60s",
                          "--interval", "500ms", "--trace", timeout=90)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        rows = self.rows()
        self.assertEqual(rows["x@pec.sandbox.test"][0], "delivered")
        self.assertEqual(rows["nodest@pec.sandbox.test"][0], "delivery_failed")
        self.assertIn('archive     4 messages moved to "%s"' % ARCHIVE, r.stdout)
        self.assertIn("created folder " + ARCHIVE, r.stderr)
        self.assertNotIn(self.account["password"], r.stdout + r.stderr)

        # Read-only until something is to be moved, then SELECT and one UID
        # MOVE; never a flag, a copy or an expunge.
        commands = self.commands(r.stderr)
        select = [i for i, c in enumerate(commands) if c.startswith("SELECT ")]
        self.assertGreaterEqual(len(select), 1, commands)
        self.assertTrue(commands[select[0] - 1].startswith(("UID SEARCH", "UID FETCH")),
                        commands)
        self.assertTrue(any(c.startswith("EXAMINE ") for c in commands[:select[0]]))
        moves = [c for c in commands if c.startswith("UID MOVE ")]
        self.assertGreaterEqual(len(moves), 1, commands)
        for c in commands:
            self.assertNotRegex(c, r"^(UID STORE|STORE|UID COPY|COPY|EXPUNGE|UID EXPUNGE)\b")

        # The archive folder holds exactly the evidence, byte for byte, and
        # nothing became \Seen.
        recorded = self.recorded()
        self.assertEqual(len(recorded), 4, recorded)
        out = os.path.join(self.dir, "out")
        for _, sha, file in recorded:
            with open(os.path.join(out, file), "rb") as f:
                self.assertEqual(hashlib.sha256(f.read()).hexdigest(), sha)
        archive = self.folder(ARCHIVE)
        self.assertEqual(sorted(sha for _, sha in archive.values()),
                         sorted(sha for _, sha, _ in recorded))
        for flags, _ in archive.values():
            self.assertNotIn("\\Seen", flags)

        # INBOX kept everything else, flags as they were (but \Recent, which
        # is no stored flag: the first session that SELECTs a folder takes
        # it); none of this campaign's receipts is left there.
        def stored(folder):
            return {uid: (" ".join(f for f in flags.split() if f != "\\Recent"), sha)
                    for uid, (flags, sha) in folder.items()}
        after = self.folder("INBOX")
        moved_uids = {uid for uid, _, _ in recorded}
        self.assertEqual(stored(after),
                         {uid: v for uid, v in stored(before).items() if uid not in moved_uids})
        self.assertIn(plain, after)
        self.assertIn("\\Deleted", after[deleted][0])
        self.assertIn("\\Flagged", after[flagged][0])
        self.assertEqual(self.search("HEADER", "X-Riferimento-Message-ID",
                                           "pecbatch.%s." % self.campaign_id), [])

        # Again: nothing to read, nothing to move, nothing counted twice.
        r = self.pecbatch("poll", campaign, "--trace", timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn('archive     0 messages moved', r.stdout)
        self.assertFalse([c for c in self.commands(r.stderr) if c.startswith("SELECT ")])
        self.assertEqual(len(self.recorded()), 4)
        self.assertEqual(self.folder(ARCHIVE), archive)

    def test_without_the_key_the_mailbox_does_not_change(self):
        campaign = self.send(["x@pec.sandbox.test"])
        message_id = list(self.rows().values())[0][1]
        self.wait_for_receipts("<%s>" % message_id, 2)
        self.append(self.unrelated("hello four"), r"(\Deleted)")
        before = self.folder("INBOX")
        r = self.pecbatch("poll", campaign, "--trace", timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.rows()["x@pec.sandbox.test"][0], "delivered")
        self.assertNotIn("archive ", r.stdout)
        for c in self.commands(r.stderr):
            self.assertRegex(c, r"^(CAPABILITY|AUTHENTICATE PLAIN <redacted|EXAMINE |"
                                r"UID SEARCH UID |UID FETCH \S+ \(UID RFC822.SIZE "
                                r"BODY.PEEK\[|LOGOUT)")
        self.assertEqual(self.folder("INBOX"), before)  # same UIDs, same flags

    # -- a scripted server without MOVE -------------------------------------------

    def scripted_server(self, capabilities, messages):
        """An IMAPS server (the sandbox's certificate) offering `capabilities`
        and serving `messages` {uid: bytes} in INBOX; records the commands."""
        header_of = {}
        for uid, raw in messages.items():
            head = raw.split(b"\r\n\r\n", 1)[0]
            keep = [l for l in re.split(rb"\r\n(?![ \t])", head)
                    if l.lower().startswith((b"x-ricevuta:", b"x-riferimento-message-id:"))]
            header_of[uid] = b"\r\n".join(keep) + b"\r\n\r\n"
        state = {"commands": [], "inbox": dict(messages), "archive": {}, "deleted": set()}
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca_dir = os.path.dirname(self.info["ca_cert"])
        ctx.load_cert_chain(os.path.join(ca_dir, "tls.pem"), os.path.join(ca_dir, "tls.key"))
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        server.settimeout(20)
        caps = ("IMAP4rev1 SASL-IR AUTH=PLAIN " + capabilities).strip().encode()

        def uids_of(text):
            out = []
            for part in text.split(","):
                a, _, b = part.partition(":")
                out += range(int(a), int(b or a) + 1)
            return out

        def serve_one(raw):
            with ctx.wrap_socket(raw, server_side=True) as tls:
                serve_tls(tls)

        def serve_tls(tls):
            tls.settimeout(10)
            tls.sendall(b"* OK [CAPABILITY %s] scripted\r\n" % caps)
            for tag, command in imap_commands(tls):
                state["commands"].append(command)
                out, status = b"", b"OK done"
                inbox = state["inbox"]
                if command.startswith("CAPABILITY"):
                    out = b"* CAPABILITY %s\r\n" % caps
                elif command.startswith(("EXAMINE", "SELECT")):
                    out = (b"* %d EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n* OK [UIDNEXT 9] ok\r\n"
                           % len(inbox))
                    status = b"OK [READ-WRITE] ok" if command.startswith("SELECT") else status
                elif command.startswith("UID SEARCH UID"):
                    out = b"* SEARCH %s\r\n" % " ".join(map(str, sorted(inbox))).encode()
                elif command.startswith("UID SEARCH"):
                    out = b"* SEARCH %s\r\n" % " ".join(
                        str(u) for u in sorted(inbox) if b"pecbatch." in header_of[u]).encode()
                elif command.startswith("UID FETCH") and "HEADER.FIELDS" in command:
                    for uid in uids_of(command.split()[2]):
                        if uid in inbox:
                            block = header_of[uid]
                            out += (b"* %d FETCH (UID %d RFC822.SIZE %d BODY[HEADER.FIELDS "
                                    b"(X-RICEVUTA X-RIFERIMENTO-MESSAGE-ID)] {%d}\r\n%s)\r\n"
                                    % (uid, uid, len(inbox[uid]), len(block), block))
                elif command.startswith("UID FETCH"):
                    uid = int(command.split()[2])
                    body = inbox.get(uid)
                    if body is not None:
                        out = (b"* %d FETCH (UID %d RFC822.SIZE %d BODY[] {%d}\r\n%s)\r\n"
                               % (uid, uid, len(body), len(body), body))
                elif command.startswith("UID COPY"):
                    uids = [u for u in uids_of(command.split()[2]) if u in inbox]
                    for u in uids:
                        state["archive"][u] = inbox[u]
                    status = b"OK [COPYUID 43 %s %s] copied" % (
                        ",".join(map(str, uids)).encode(),
                        ",".join(str(100 + i) for i in range(len(uids))).encode())
                elif command.startswith("UID STORE"):
                    state["deleted"].update(uids_of(command.split()[2]))
                elif command.startswith("UID EXPUNGE"):
                    for u in uids_of(command.split()[2]):
                        if u in state["deleted"] and u in inbox:
                            del inbox[u]
                            out += b"* 1 EXPUNGE\r\n"
                elif command.startswith("LOGOUT"):
                    tls.sendall(b"* BYE bye\r\n%s OK done\r\n" % tag.encode())
                    return
                elif not command.startswith("AUTHENTICATE"):
                    status = b"BAD unexpected"
                tls.sendall(out + b"%s %s\r\n" % (tag.encode(), status))

        def serve():
            try:
                while True:
                    raw, _ = server.accept()
                    with raw:
                        serve_one(raw)
            except OSError:
                pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        return server, thread, state

    def poll_scripted(self, capabilities, unrelated_uid=1):
        """Sends one row, takes its receipts from Dovecot, and polls a
        scripted server serving them (UIDs 2, 3) beside unrelated mail (UID
        1) with archive_folder set."""
        campaign = self.send(["x@pec.sandbox.test"],
                             extra='\n[poll]\narchive_folder = "Archive"\n')
        message_id = list(self.rows().values())[0][1]
        uids = self.wait_for_receipts("<%s>" % message_id, 2)
        conn = self.imap()
        try:
            conn.select("INBOX", readonly=True)
            receipts = [conn.uid("FETCH", str(u), "(BODY.PEEK[])")[1][0][1] for u in uids]
        finally:
            conn.logout()
        messages = {unrelated_uid: self.unrelated("hello five"), 2: receipts[0], 3: receipts[1]}
        server, thread, state = self.scripted_server(capabilities, messages)
        with open(campaign) as f:
            text = f.read()
        with open(campaign, "w") as f:
            f.write(text.replace("imap_port = %d\n" % self.info["imaps_port"],
                                 "imap_port = %d\n" % server.getsockname()[1]))
        r = self.pecbatch("poll", campaign, timeout=60)
        server.close()
        thread.join(10)
        return r, state, messages

    def test_without_move_it_copies_flags_and_expunges_only_its_uids(self):
        r, state, messages = self.poll_scripted("UIDPLUS")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + repr(state["commands"]))
        self.assertEqual(self.rows()["x@pec.sandbox.test"][0], "delivered")
        self.assertIn('archive     2 messages moved to "Archive"', r.stdout)
        writes = [c for c in state["commands"]
                  if c.split()[0] in ("SELECT", "UID") and not c.startswith(("UID SEARCH",
                                                                              "UID FETCH"))]
        self.assertEqual(writes, ["SELECT INBOX", "UID COPY 2:3 Archive",
                                  "UID STORE 2:3 +FLAGS.SILENT (\\Deleted)",
                                  "UID EXPUNGE 2:3"], state["commands"])
        self.assertNotIn("EXPUNGE", [c.split()[0] for c in state["commands"]])
        self.assertEqual(sorted(state["inbox"]), [1])
        self.assertEqual(state["archive"], {2: messages[2], 3: messages[3]})

    def test_with_neither_move_nor_uidplus_nothing_changes_and_it_says_so(self):
        r, state, _ = self.poll_scripted("")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + repr(state["commands"]))
        self.assertEqual(self.rows()["x@pec.sandbox.test"][0], "delivered")
        self.assertEqual(r.stderr.count("neither MOVE nor UIDPLUS"), 1, r.stderr)
        self.assertIn('archive     0 messages moved', r.stdout)
        for c in state["commands"]:
            self.assertNotRegex(c, r"^(SELECT|UID COPY|UID STORE|UID EXPUNGE|UID MOVE|"
                                   r"EXPUNGE|CREATE)\b")
        self.assertEqual(sorted(state["inbox"]), [1, 2, 3])

    # -- IDLE -----------------------------------------------------------------------

    def test_idle_processes_a_receipt_long_before_the_interval(self):
        campaign = self.send(["x@pec.sandbox.test"])
        message_id = list(self.rows().values())[0][1]
        uids = self.wait_for_receipts("<%s>" % message_id, 2)
        # Hold the receipts back in another folder, so that the first pass
        # finds nothing and the poller has to wait.
        conn = self.imap()
        try:
            conn.create("Hold")
            conn.select("INBOX")
            typ, data = conn.uid("MOVE", ",".join(map(str, uids)), "Hold")
            self.assertEqual(typ, "OK", data)
        finally:
            conn.logout()

        env = dict(os.environ)
        env["PECBATCH_TEST_PASSWORD"] = self.account["password"]
        stdout = tempfile.TemporaryFile(mode="w+")
        # A 10-minute interval: the only way to finish within the test's time
        # is IDLE waking the poller up when the receipts arrive.
        p = subprocess.Popen([PECBATCH, "poll", campaign, "--until-final", "--interval", "10m",
                              "--timeout", "15m", "--trace"], env=env, stdout=stdout,
                             stderr=subprocess.PIPE, text=True)
        lines = []
        idling = threading.Event()

        def read_stderr():
            for line in p.stderr:
                lines.append(line)
                if re.match(r"imap: S: \+ ", line) and any(" IDLE\n" in l for l in lines):
                    idling.set()

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        try:
            self.assertTrue(idling.wait(60), "".join(lines))
            self.assertTrue(any(l.startswith("poll: pass 1:") for l in lines), "".join(lines))
            self.assertEqual(self.rows()["x@pec.sandbox.test"][0], "submitted")
            # The receipts arrive while it idles.
            conn = self.imap()
            try:
                conn.select("Hold")
                typ, data = conn.uid("MOVE", "1:*", "INBOX")
                self.assertEqual(typ, "OK", data)
            finally:
                conn.logout()
            p.wait(timeout=180)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        reader.join(10)
        p.stderr.close()
        stdout.seek(0)
        out = stdout.read()
        stdout.close()
        err = "".join(lines)
        self.assertEqual(p.returncode, 0, out + err)
        self.assertEqual(self.rows()["x@pec.sandbox.test"][0], "delivered")
        self.assertRegex(out, r"idle +1 waits ended early by new mail")
        self.assertIn("C: DONE", err)
        self.assertIn("poll: pass 2:", err)
        self.assertNotIn(self.account["password"], out + err)


if __name__ == "__main__":
    unittest.main(verbosity=2)

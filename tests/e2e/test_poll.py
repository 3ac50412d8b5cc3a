#!/usr/bin/python3
"""End-to-end: `pecbatch poll` against the simulated PEC provider.

Rows are sent with `pecbatch send`, the sandbox puts its S/MIME-signed
receipts into the sender's Dovecot mailbox, and `pecbatch poll` reads them
over IMAPS or IMAP + STARTTLS with its own OpenSSL client. Each row's final
state, the archived evidence and the receipts table are checked; a second
poll must not count anything twice; the mailbox is only read (no \\Seen
flag afterwards); unrelated mail is never fetched; a message over 1 MB
comes back byte for byte; an uncertain row is settled by a search.
"""
import email.utils
import glob
import hashlib
import json
import os
import re
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandbox_fixture import PECBATCH, SandboxTest, imap_commands  # noqa: E402


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

    # -- the mailbox, seen from a second client ---------------------------------

    def mailbox_flags(self):
        """{uid: flags string} of every message in INBOX (read-only)."""
        conn = self.imap()
        try:
            conn.select("INBOX", readonly=True)
            typ, data = conn.uid("FETCH", "1:*", "(UID FLAGS)")
            self.assertEqual(typ, "OK", data)
            out = {}
            for item in data:
                if item is None:
                    continue
                text = item.decode() if isinstance(item, bytes) else item[0].decode()
                m = re.search(r"UID (\d+)", text)
                f = re.search(r"FLAGS \(([^)]*)\)", text)
                if m and f:
                    out[int(m.group(1))] = f.group(1)
            return out
        finally:
            conn.logout()

    def status(self):
        conn = self.imap()
        try:
            typ, data = conn.status("INBOX", "(UIDNEXT UIDVALIDITY)")
            self.assertEqual(typ, "OK", data)
            text = data[0].decode()
            return (int(re.search(r"UIDVALIDITY (\d+)", text).group(1)),
                    int(re.search(r"UIDNEXT (\d+)", text).group(1)))
        finally:
            conn.logout()

    def use_starttls(self, campaign):
        """Points the campaign at the sandbox's IMAP + STARTTLS listener."""
        with open(campaign) as f:
            text = f.read()
        text = text.replace("imap_port = %d\n" % self.info["imaps_port"],
                            "imap_port = %d\nimap_security = \"starttls\"\n"
                            % self.info["imap_starttls_port"])
        with open(campaign, "w") as f:
            f.write(text)

    def test_starttls_read_only_headers_first_and_a_big_message_byte_exact(self):
        campaign = self.make_campaign(["x@pec.sandbox.test"])
        self.use_starttls(campaign)
        # A consegna "completa" carries the original message: with a 1.2 MB
        # attachment the signed receipt is over 1.5 MB.
        with open(os.path.join(self.dir, "allegato.pdf"), "wb") as f:
            f.write(b"%PDF-1.4\n" + os.urandom(1_200_000))
        with open(campaign) as f:
            text = f.read()
        text = text.replace("[message]\n", "[message]\nreceipt = \"completa\"\n"
                            "attachments = [\"allegato.pdf\"]\n")
        with open(campaign, "w") as f:
            f.write(text)
        r = self.pecbatch("send", campaign, "--yes", "--quiet")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        message_id = list(self.rows().values())[0][1]
        self.wait_for_receipts("<%s>" % message_id, 2)

        # Unrelated mail, 3 MB, whose body is full of lines that look like
        # our tags and names our Message-ID: never to be fetched.
        filler = b"".join(b"A%04d OK Fetch completed.\r\n" % (i % 20) for i in range(115_000))
        unrelated = (b"From: someone@example.com\r\nTo: %s\r\nSubject: about %s\r\n"
                     b"Message-ID: <unrelated.1@example.com>\r\nDate: %s\r\n\r\n"
                     % (self.account["address"].encode(), message_id.encode(),
                        email.utils.formatdate().encode())) + filler
        self.assertGreater(len(unrelated), 3_000_000)
        unrelated_uid = self.append(unrelated)

        r = self.pecbatch("poll", campaign, "--trace", timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.rows()["x@pec.sandbox.test"][0], "delivered")
        self.assertNotIn(self.account["password"], r.stdout + r.stderr)

        # STARTTLS came before the login; the folder was only EXAMINEd,
        # messages only read with BODY.PEEK; nothing else was sent.
        commands = [line.split(" ", 3)[3] if line.count(" ") >= 3 else line
                    for line in r.stderr.splitlines() if line.startswith("imap: C: ")]
        self.assertTrue(commands[0].startswith("STARTTLS"), commands)
        login = [i for i, c in enumerate(commands) if c.startswith("AUTHENTICATE") or
                 c.startswith("LOGIN")]
        self.assertEqual(len(login), 1, commands)
        self.assertGreater(login[0], 0)
        for c in commands:
            self.assertRegex(c, r"^(STARTTLS|CAPABILITY|AUTHENTICATE PLAIN <redacted|"
                                r"EXAMINE |UID SEARCH |UID FETCH \S+ \(UID RFC822.SIZE "
                                r"BODY.PEEK\[|LOGOUT)")
        self.assertNotIn("SELECT", " ".join(commands))

        # Unrelated mail: headers only, never the whole message.
        fetched_whole = [int(m.group(1)) for m in
                         re.finditer(r"UID FETCH (\d+) \(UID RFC822.SIZE BODY.PEEK\[\]\)",
                                     r.stderr)]
        self.assertEqual(len(fetched_whole), 2, fetched_whole)
        self.assertNotIn(unrelated_uid, fetched_whole)
        received = int(re.search(r"bytes +(\d+) received", r.stdout).group(1))
        self.assertLess(received, len(unrelated))
        # (The mailbox is shared with the other tests: their mail is skipped too.)
        self.assertGreaterEqual(int(re.search(r"(\d+) skipped", r.stdout).group(1)), 1)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "out", "evidence", "_unmatched")))

        # The mailbox was not changed: no message is \Seen.
        flags = self.mailbox_flags()
        self.assertIn(unrelated_uid, flags)
        self.assertGreaterEqual(len(flags), 3, flags)
        for uid, f in flags.items():
            self.assertNotIn("\\Seen", f, (uid, f))

        # The big receipt, byte for byte as the server holds it (and its
        # signature verified, which needs every byte).
        consegna = glob.glob(os.path.join(self.dir, "out", "evidence", message_id, "receipts",
                                          "*-avvenuta-consegna.eml"))
        self.assertEqual(len(consegna), 1)
        with open(consegna[0], "rb") as f:
            archived = f.read()
        self.assertGreater(len(archived), 1_500_000)
        conn = self.imap()
        try:
            conn.select("INBOX", readonly=True)
            uid = os.path.basename(consegna[0]).split("-")[1]
            typ, data = conn.uid("FETCH", uid, "(BODY.PEEK[])")
            self.assertEqual(typ, "OK")
            self.assertEqual(hashlib.sha256(data[0][1]).hexdigest(),
                             hashlib.sha256(archived).hexdigest())
        finally:
            conn.logout()
        recs = [rec for rec in self.receipts() if rec[3] == "avvenuta-consegna"]
        self.assertEqual(recs[0][4], "valid")
        self.check_evidence()

    def test_an_uncertain_row_is_settled_by_searching_the_mailbox(self):
        campaign = self.send(["x@pec.sandbox.test"])
        message_id = list(self.rows().values())[0][1]
        self.wait_for_receipts("<%s>" % message_id, 2)
        # As if the connection had dropped after the whole message went out
        # (the row is uncertain) and the mailbox cursor were already past
        # its receipts: only a search can find them.
        uidvalidity, uidnext = self.status()
        db = self.db()
        db.execute("update rows set state = 'uncertain'")
        db.execute("insert or replace into meta(key, value) values('imap:uidvalidity', ?)",
                   (str(uidvalidity),))
        db.execute("insert or replace into meta(key, value) values('imap:last_uid', ?)",
                   (str(uidnext - 1),))
        db.commit()
        db.close()

        r = self.pecbatch("poll", campaign, "--trace", timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn('UID SEARCH HEADER X-Riferimento-Message-ID %s' % message_id, r.stderr)
        self.assertEqual(self.rows()["x@pec.sandbox.test"][0], "delivered")
        self.assertIn("rows settled", r.stdout)
        kinds = sorted(rec[3] for rec in self.receipts())
        self.assertEqual(kinds, ["accettazione", "avvenuta-consegna"])
        db = self.db()
        try:
            history = [row[0] for row in db.execute(
                "select to_state from events order by id")]
            last_uid = db.execute("select value from meta where key = 'imap:last_uid'").fetchone()
        finally:
            db.close()
        self.assertEqual(history[-2:], ["accepted", "delivered"])
        self.assertEqual(last_uid[0], str(uidnext - 1))  # a search moves no cursor
        self.check_evidence()

    def test_no_starttls_no_login_and_an_untrusted_certificate_stops(self):
        campaign = self.send(["x@pec.sandbox.test"])
        # A server on 127.0.0.1 that offers no STARTTLS: pecbatch must not
        # send the password in the clear.
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        received = []

        def serve():
            conn, _ = server.accept()
            with conn:
                conn.settimeout(10)
                conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] plain only\r\n")
                try:
                    while True:
                        data = conn.recv(4096)
                        if not data:
                            break
                        received.append(data)
                        if data.startswith(b"A0001 CAPABILITY"):
                            conn.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n"
                                         b"A0001 OK done\r\n")
                except OSError:
                    pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with open(campaign) as f:
            text = f.read()
        with open(campaign, "w") as f:
            f.write(text.replace("imap_port = %d\n" % self.info["imaps_port"],
                                 "imap_port = %d\nimap_security = \"starttls\"\n" % port))
        r = self.pecbatch("poll", campaign, timeout=30)
        thread.join(15)
        server.close()
        self.assertEqual(r.returncode, 69, r.stdout + r.stderr)
        self.assertIn("STARTTLS", r.stderr)
        sent = b"".join(received)
        self.assertNotIn(b"AUTHENTICATE", sent)
        self.assertNotIn(b"LOGIN", sent)
        self.assertNotIn(self.account["password"].encode(), sent)

        # The real server, without the sandbox CA: the certificate is not
        # trusted, nothing is sent.
        with open(campaign, "w") as f:
            f.write(re.sub(r'ca_file = "[^"]*"\n', "", text))
        r = self.pecbatch("poll", campaign, timeout=30)
        self.assertEqual(r.returncode, 69, r.stdout + r.stderr)
        self.assertIn("certificate", r.stderr)

    def test_a_scripted_server_vanished_messages_split_literals_one_connection(self):
        """pecbatch against a scripted IMAPS server (the sandbox's certificate)
        serving the sandbox's real receipts: a message that vanishes between
        the header fetch and the fetch, an unsolicited FETCH in the middle of
        a reply, literals sent a few bytes at a time. All on one connection."""
        campaign = self.send(["x@pec.sandbox.test"])
        message_id = list(self.rows().values())[0][1]
        uids = self.wait_for_receipts("<%s>" % message_id, 2)
        conn = self.imap()
        try:
            conn.select("INBOX", readonly=True)
            receipts = []
            for uid in uids:
                typ, data = conn.uid("FETCH", str(uid), "(BODY.PEEK[])")
                receipts.append(data[0][1])
        finally:
            conn.logout()
        header = ("X-Ricevuta: accettazione\r\nX-Riferimento-Message-ID: <%s>\r\n\r\n"
                  % message_id).encode()
        messages = {1: None, 2: receipts[0], 3: receipts[1],
                    4: b"From: a@example.com\r\n\r\nA0009 OK trap\r\n"}
        commands = []
        connections = []

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca_dir = os.path.dirname(self.info["ca_cert"])
        ctx.load_cert_chain(os.path.join(ca_dir, "tls.pem"), os.path.join(ca_dir, "tls.key"))
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        server.settimeout(20)
        port = server.getsockname()[1]

        def send_slowly(tls, data):
            for i in range(0, len(data), 997):
                tls.sendall(data[i:i + 997])

        def serve_one(raw):
            tls = ctx.wrap_socket(raw, server_side=True)
            tls.settimeout(10)
            tls.sendall(b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] scripted\r\n")
            for tag, command in imap_commands(tls, 4096):
                commands.append(command)
                out = b""
                if command.startswith("CAPABILITY"):
                    out = b"* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN\r\n"
                elif command.startswith("EXAMINE"):
                    out = b"* 4 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n* OK [UIDNEXT 5] ok\r\n"
                elif command.startswith("UID SEARCH UID"):
                    out = b"* SEARCH 1 2 3 4\r\n"
                elif command.startswith("UID FETCH") and "HEADER.FIELDS" in command:
                    for uid in (1, 2, 3, 4):
                        block = header if uid < 4 else b"From: a@example.com\r\n\r\n"
                        out += (b"* %d FETCH (UID %d RFC822.SIZE 100 BODY[HEADER.FIELDS "
                                b"(X-RICEVUTA X-RIFERIMENTO-MESSAGE-ID)] {%d}\r\n%s)\r\n"
                                % (uid, uid, len(block), block))
                elif command.startswith("UID FETCH"):
                    uid = int(command.split()[2])
                    body = messages.get(uid)
                    if body is not None:
                        out = (b"* %d FETCH (UID %d RFC822.SIZE %d BODY[] {%d}\r\n%s)\r\n"
                               b"* 1 FETCH (FLAGS (\\Recent))\r\n"
                               % (uid, uid, len(body), len(body), body))
                elif command.startswith("LOGOUT"):
                    tls.sendall(b"* BYE bye\r\n%s OK done\r\n" % tag.encode())
                    return
                elif not command.startswith("AUTHENTICATE"):
                    out = b""
                    tls.sendall(b"%s BAD unexpected\r\n" % tag.encode())
                    continue
                send_slowly(tls, out + b"%s OK done\r\n" % tag.encode())

        def serve():
            try:
                while True:
                    raw, _ = server.accept()
                    connections.append(raw)
                    with raw:
                        serve_one(raw)
            except OSError:
                pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with open(campaign) as f:
            text = f.read()
        with open(campaign, "w") as f:
            f.write(text.replace("imap_port = %d\n" % self.info["imaps_port"],
                                 "imap_port = %d\n" % port))
        r = self.pecbatch("poll", campaign, timeout=60)
        server.close()
        thread.join(10)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + repr(commands))
        self.assertEqual(self.rows()["x@pec.sandbox.test"][0], "delivered")
        self.assertIn("vanished", r.stderr)
        self.assertIn("1 skipped", r.stdout)
        self.assertEqual(len(connections), 1, commands)
        fetched = [c for c in commands if c.startswith("UID FETCH") and "BODY.PEEK[]" in c]
        self.assertEqual([c.split()[2] for c in fetched], ["1", "2", "3"])
        for c in commands:
            self.assertNotRegex(c, r"^(SELECT|STORE|UID STORE|EXPUNGE|COPY|MOVE|UID MOVE)")
        for _, uid, _, _, signature, file, sha, _ in self.receipts():
            self.assertEqual(signature, "valid")
            self.assertEqual(sha, hashlib.sha256(messages[uid]).hexdigest())

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

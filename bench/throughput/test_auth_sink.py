#!/usr/bin/python3
"""auth_sink, the benchmark's SMTP sink, does what the benchmark relies on:
it completes AUTH (235), accepts and counts every message, handles
dot-stuffing and several connections, reports its counters on SIGUSR1 and
exits cleanly on SIGTERM. Runs on 127.0.0.1 only, bounded in time.

    test_auth_sink.py PATH_TO_AUTH_SINK
"""
import os
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
import unittest

SINK = None


class AuthSink(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="auth-sink-")
        self.stats = os.path.join(self.dir, "stats")
        self.proc = subprocess.Popen([SINK, "--listen", "127.0.0.1:0", "--stats", self.stats],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        self.assertEqual(line[0], "READY", line)
        self.port = int(line[1])

    def tearDown(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()

    def counters(self):
        if os.path.exists(self.stats):
            os.unlink(self.stats)
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if os.path.exists(self.stats) and os.path.getsize(self.stats) > 0:
                with open(self.stats) as f:
                    return dict(kv.split("=") for kv in f.read().split())
            time.sleep(0.02)
        self.fail("no counters written")

    def test_completes_auth_and_counts_messages_and_bytes(self):
        body = "Subject: prova\r\n\r\nriga uno\r\n.riga con un punto\r\nfine\r\n"
        for _ in range(2):
            with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as smtp:
                smtp.ehlo("bench.test")
                self.assertIn("auth", smtp.esmtp_features)
                code, _ = smtp.login("mittente@bench.example", "not-a-real-secret")
                self.assertEqual(code, 235)
                for _ in range(3):
                    refused = smtp.sendmail("mittente@bench.example", ["dest@bench.example"], body)
                    self.assertEqual(refused, {})
        got = self.counters()
        self.assertEqual(int(got["messages"]), 6)
        self.assertEqual(int(got["connections"]), 2)
        self.assertEqual(int(got["auths"]), 2)
        # As received: the line starting with "." travels dot-stuffed.
        stuffed = len(body) + 1
        self.assertEqual(int(got["bytes"]), 6 * stuffed)

    def test_sigterm_writes_the_counters_and_exits_zero(self):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as smtp:
            smtp.login("u", "p")
            smtp.sendmail("a@bench.example", ["b@bench.example"], "Subject: x\r\n\r\nx\r\n")
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=10), 0)
        with open(self.stats) as f:
            self.assertIn("messages=1", f.read())


if __name__ == "__main__":
    SINK = sys.argv.pop(1)
    unittest.main(verbosity=2)

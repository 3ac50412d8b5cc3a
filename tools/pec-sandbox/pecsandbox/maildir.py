"""Atomic delivery into the Maildirs that Dovecot serves.

Each mailbox is ``<maildir root>/<address>/`` with ``cur``, ``new`` and
``tmp``.  A message is written into ``tmp/``, given to the mail user,
then renamed into ``new/`` (the Maildir protocol), so Dovecot never
sees a partial file (no fsync: a sandbox needs atomicity, not durability).  Files keep the exact CRLF bytes that were signed, so
``openssl smime -verify -in <file>`` works on them directly.
"""

import os
import socket
import threading
import time

_HOST = socket.gethostname().replace("/", "\\057").replace(":", "\\072") or "localhost"
_lock = threading.Lock()
_seq = 0


def _unique_name(size):
    global _seq
    with _lock:
        _seq += 1
        seq = _seq
    now = time.time()
    return "%d.M%dP%dQ%d.%s,S=%d" % (int(now), int((now % 1) * 1e6), os.getpid(), seq,
                                     _HOST, size)


class Maildir:
    """One mailbox directory, owned by *uid*/*gid* (None = leave as is)."""

    def __init__(self, path, uid=None, gid=None):
        self.path = path
        self.uid = uid
        self.gid = gid

    def _chown(self, path):
        if self.uid is not None and os.geteuid() == 0:
            os.chown(path, self.uid, self.gid)

    def create(self):
        """Create the directory tree (idempotent) with the right owner."""
        for sub in ("", "cur", "new", "tmp"):
            path = os.path.join(self.path, sub)
            os.makedirs(path, mode=0o700, exist_ok=True)
            self._chown(path)

    def deliver(self, data):
        """Store *data* (bytes) as a new message; return its path in ``new/``."""
        name = _unique_name(len(data))
        tmp = os.path.join(self.path, "tmp", name)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            self._chown(tmp)
            final = os.path.join(self.path, "new", name)
            os.rename(tmp, final)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return final

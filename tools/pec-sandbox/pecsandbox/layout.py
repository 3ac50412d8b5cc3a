"""Where everything lives inside a sandbox directory (``--dir DIR``)."""

import hashlib
import os
import pwd
import tempfile


class Layout:
    """Paths of one sandbox instance."""

    def __init__(self, directory):
        self.dir = os.path.abspath(directory)
        j = lambda *p: os.path.join(self.dir, *p)  # noqa: E731
        self.sandbox_json = j("sandbox.json")
        self.config_json = j("config.json")
        self.control_json = j("control.json")
        self.submissions_log = j("submissions.jsonl")
        self.receipts_log = j("receipts.jsonl")
        self.log_file = j("sandbox.log")
        self.ca_dir = j("ca")
        self.mail_root = j("mail")
        self.dovecot_dir = j("dovecot")
        self.dovecot_conf = j("dovecot", "dovecot.conf")
        self.dovecot_users = j("dovecot", "users")
        self.dovecot_log = j("dovecot", "dovecot.log")
        self.dovecot_state = j("dovecot", "state")
        self.run_dir = j("run")
        self.smtp_pid = j("run", "smtp.pid")
        self.dovecot_pid = j("run", "dovecot.pid")

    @property
    def dovecot_base(self):
        """Dovecot's base_dir (its UNIX sockets live there).

        Socket paths are limited to about 107 bytes, so a long DIR gets a
        short base_dir under the system temp dir, named after DIR's hash.
        """
        base = os.path.join(self.dovecot_dir, "run")
        if len(base) <= 60:
            return base
        digest = hashlib.sha1(self.dir.encode("utf-8")).hexdigest()[:12]
        return os.path.join(tempfile.gettempdir(), "pec-sandbox-%s" % digest)

    def maildir(self, address):
        return os.path.join(self.mail_root, address.lower())


def mail_owner():
    """(uid, gid, user name) that owns the mail and runs Dovecot's mail processes.

    As root this is the ``mail`` system user (Dovecot refuses uid 0 for mail
    processes); otherwise the current user.
    """
    if os.geteuid() == 0:
        try:
            entry = pwd.getpwnam("mail")
            return entry.pw_uid, entry.pw_gid, entry.pw_name
        except KeyError:
            raise RuntimeError("running as root needs the 'mail' system user")
    uid, gid = os.getuid(), os.getgid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        raise RuntimeError("the current uid %d has no passwd entry; Dovecot needs one" % uid)
    return uid, gid, name

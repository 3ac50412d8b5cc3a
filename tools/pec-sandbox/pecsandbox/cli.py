"""``pec-sandbox``: start, stop and inspect a local simulated PEC provider.

    pec-sandbox start  --dir DIR [--config FILE] [--quiet]
    pec-sandbox stop   --dir DIR
    pec-sandbox status --dir DIR
    pec-sandbox env    --dir DIR

``start`` returns once SMTPS, STARTTLS and IMAPS accept TLS connections
verified against the sandbox CA (and IMAP offers STARTTLS), and writes
``DIR/sandbox.json``.
"""

import argparse
import datetime
import json
import os
import shlex
import shutil
import socket
import stat
import subprocess
import sys
import time

from . import __version__, dovecot, procutil
from .ca import ensure_pki
from .config import ConfigError, load_config
from .layout import Layout, mail_owner
from .maildir import Maildir

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
READY_TIMEOUT = 10.0

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL, EXIT_STOPPED = 0, 1, 2, 3


class CliError(Exception):
    """An error reported to the user as ``pec-sandbox: error: ...``."""


# -- helpers ------------------------------------------------------------------

def _write_json(path, data, mode=0o644):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _smtp_pid(layout):
    """PID of this sandbox's SMTP daemon if it is running, else None."""
    pid = procutil.read_pidfile(layout.smtp_pid)
    if pid and procutil.is_alive(pid):
        argv = procutil.cmdline(pid)
        if "pecsandbox.daemon" in argv and layout.dir in argv:
            return pid
    return None


def _dovecot_pid(layout):
    """PID of this sandbox's Dovecot master if it is running, else None."""
    pid = procutil.read_pidfile(layout.dovecot_pid)
    if pid and procutil.is_alive(pid) and dovecot.is_dovecot(pid, layout):
        return pid
    return None


def _check_traversable(path, uid):
    """As root, the mail user must be able to reach the Maildirs under *path*."""
    if os.geteuid() != 0:
        return
    current = os.path.dirname(path)
    while True:
        st = os.stat(current)
        if st.st_uid != uid and not st.st_mode & stat.S_IXOTH:
            raise CliError(
                "%s is mode %04o: Dovecot's mail user (uid %d) cannot traverse it to reach "
                "the mailboxes; run 'chmod 755 %s' (mktemp -d creates 0700 directories)"
                % (current, stat.S_IMODE(st.st_mode), uid, shlex.quote(current)))
        parent = os.path.dirname(current)
        if parent == current:
            return
        current = parent


def _wait_ready(port, cafile, proc=None, starttls=False, expect=b"220", what="SMTPS",
                log=None):
    deadline = time.monotonic() + READY_TIMEOUT
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise CliError("the SMTP daemon exited with status %s%s"
                           % (proc.returncode, procutil.tail(log) if log else ""))
        try:
            procutil.probe_tls(port, cafile, expect=expect, starttls=starttls,
                               timeout=max(0.2, deadline - time.monotonic()))
            return
        except (OSError, ValueError) as exc:
            last = exc
            time.sleep(0.01)
    raise CliError("%s on port %d not ready after %.0f s: %s%s"
                   % (what, port, READY_TIMEOUT, last, procutil.tail(log) if log else ""))


def _wait_imap_starttls(port, log=None):
    """Wait until the plain IMAP listener greets and offers STARTTLS."""
    deadline = time.monotonic() + READY_TIMEOUT
    last = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as raw:
                raw.settimeout(max(0.2, deadline - time.monotonic()))
                greeting = b""
                while not greeting.endswith(b"\n"):
                    chunk = raw.recv(512)
                    if not chunk:
                        raise OSError("connection closed during greeting")
                    greeting += chunk
                if greeting.startswith(b"* OK") and b"STARTTLS" in greeting:
                    raw.sendall(b"a LOGOUT\r\n")
                    return
                last = "unexpected greeting %r" % greeting[:80]
        except OSError as exc:
            last = exc
        time.sleep(0.01)
    raise CliError("IMAP STARTTLS on port %d not ready after %.0f s: %s%s"
                   % (port, READY_TIMEOUT, last, procutil.tail(log) if log else ""))


# -- start ------------------------------------------------------------------

def start(directory, config_path=None):
    """Start a sandbox in *directory*; return the sandbox.json data."""
    t0 = time.monotonic()
    layout = Layout(directory)
    if _smtp_pid(layout) or _dovecot_pid(layout):
        raise CliError("a sandbox is already running in %s (use 'pec-sandbox stop --dir %s')"
                       % (layout.dir, shlex.quote(layout.dir)))
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise CliError(str(exc))
    try:
        uid, gid, user = mail_owner()
    except RuntimeError as exc:
        raise CliError(str(exc))

    os.makedirs(layout.dir, exist_ok=True)
    if os.stat(layout.dir).st_uid == os.geteuid():
        os.chmod(layout.dir, 0o755)
    _check_traversable(os.path.join(layout.dir, "x"), uid)
    os.makedirs(layout.run_dir, exist_ok=True)
    _write_json(layout.config_json, config.effective(), 0o600)

    pki = ensure_pki(layout.ca_dir, config.domain, config.provider_name)
    os.makedirs(layout.mail_root, exist_ok=True)
    os.chmod(layout.mail_root, 0o755)
    if os.geteuid() == 0:
        os.chown(layout.mail_root, uid, gid)
    for address in config.accounts:
        Maildir(layout.maildir(address), uid, gid).create()

    smtps_sock = procutil.bind_listener(config.ports["smtps"])
    starttls_sock = procutil.bind_listener(config.ports["starttls"])
    proc = None
    dovecot_pid = None
    try:
        imaps_port, imap_starttls_port = _start_dovecot(layout, pki, config, uid, gid, user)
        dovecot_pid = procutil.read_pidfile(layout.dovecot_pid)
        log_fh = open(layout.log_file, "ab")
        env = dict(os.environ)
        env["PYTHONPATH"] = PACKAGE_PARENT + (
            os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        proc = subprocess.Popen(
            [sys.executable, "-m", "pecsandbox.daemon", "--dir", layout.dir,
             "--smtps-fd", str(smtps_sock.fileno()), "--starttls-fd", str(starttls_sock.fileno())],
            pass_fds=(smtps_sock.fileno(), starttls_sock.fileno()), stdin=subprocess.DEVNULL,
            stdout=log_fh, stderr=log_fh, env=env, cwd=layout.dir, start_new_session=True)
        log_fh.close()
        procutil.write_pidfile(layout.smtp_pid, proc.pid)
        smtps_port = smtps_sock.getsockname()[1]
        starttls_port = starttls_sock.getsockname()[1]
        smtps_sock.close()
        starttls_sock.close()
        _wait_ready(smtps_port, pki.root_cert, proc, what="SMTPS", log=layout.log_file)
        _wait_ready(starttls_port, pki.root_cert, proc, starttls=True, what="STARTTLS",
                    log=layout.log_file)
        _wait_ready(imaps_port, pki.root_cert, expect=b"* OK", what="IMAPS",
                    log=layout.dovecot_log)
        _wait_imap_starttls(imap_starttls_port, log=layout.dovecot_log)
    except BaseException:
        smtps_sock.close()
        starttls_sock.close()
        if proc is not None:
            procutil.terminate(proc.pid)
        if dovecot_pid:
            procutil.terminate(dovecot_pid)
        for path in (layout.smtp_pid, layout.dovecot_pid):
            if os.path.exists(path):
                os.unlink(path)
        raise

    info = {
        "version": 1,
        "dir": layout.dir,
        "host": "127.0.0.1",
        "domain": config.domain,
        "provider_name": config.provider_name,
        "smtps_port": smtps_port,
        "starttls_port": starttls_port,
        "imaps_port": imaps_port,
        "imap_starttls_port": imap_starttls_port,
        "ca_cert": pki.root_cert,
        "accounts": [{"address": a, "username": a, "password": p,
                      "maildir": layout.maildir(a)} for a, p in config.accounts.items()],
        "imap_mailbox": "INBOX",
        "submissions_log": layout.submissions_log,
        "receipts_log": layout.receipts_log,
        "maildir": layout.mail_root,
        "control_file": layout.control_json,
        "log_file": layout.log_file,
        "dovecot_log": layout.dovecot_log,
        "signer_cert": pki.signer_cert,
        "intermediate_cert": pki.intermediate_cert,
        "clock": {"12h": config.clock.t12, "24h": config.clock.t24},
        "pids": {"smtp": proc.pid, "dovecot": dovecot_pid},
        "started_at": datetime.datetime.now(config.tz).isoformat(timespec="seconds"),
        "startup_seconds": round(time.monotonic() - t0, 3),
    }
    _write_json(layout.sandbox_json, info)
    return info


def _start_dovecot(layout, pki, config, uid, gid, user):
    """Configure and start Dovecot, retrying on a port race; return the
    IMAPS and the IMAP (STARTTLS) ports."""
    fixed = config.ports["imaps"]
    fixed_starttls = config.ports["imap_starttls"]
    attempts = 1 if fixed and fixed_starttls else 3
    for attempt in range(attempts):
        port = fixed or procutil.free_port()
        starttls_port = fixed_starttls or procutil.free_port()
        while starttls_port == port:
            starttls_port = procutil.free_port()
        dovecot.write_config(layout, pki, port, config.accounts, uid, gid, user,
                             starttls_port=starttls_port)
        try:
            dovecot.start(layout)
            return port, starttls_port
        except RuntimeError as exc:
            if attempt + 1 < attempts and "in use" in str(exc):
                continue
            raise CliError(str(exc))
    raise CliError("could not start dovecot")


# -- stop / status -------------------------------------------------------------

def stop(directory):
    """Stop what ``start`` started in *directory*; return a message."""
    layout = Layout(directory)
    stopped = []
    failed = []
    for name, pid, stopper in (("smtp", _smtp_pid(layout), procutil.terminate),
                               ("dovecot", _dovecot_pid(layout), dovecot.stop)):
        if pid is None:
            continue
        if stopper(pid, timeout=10.0):
            stopped.append("%s pid %d" % (name, pid))
        else:
            failed.append("%s pid %d" % (name, pid))
    if failed:
        raise CliError("could not stop: %s" % ", ".join(failed))
    for path in (layout.smtp_pid, layout.dovecot_pid):
        if os.path.exists(path):
            os.unlink(path)
    base = layout.dovecot_base
    if stopped and not base.startswith(layout.dir + os.sep) and os.path.isdir(base):
        shutil.rmtree(base, ignore_errors=True)  # the short base_dir outside DIR
    if not stopped:
        return "nothing running in %s" % layout.dir
    return "stopped %s" % ", ".join(stopped)


def status(directory):
    """Return (exit code, status dict) for the sandbox in *directory*."""
    layout = Layout(directory)
    smtp_pid, dovecot_pid = _smtp_pid(layout), _dovecot_pid(layout)
    info = {}
    try:
        with open(layout.sandbox_json, encoding="utf-8") as fh:
            info = json.load(fh)
    except (OSError, ValueError):
        pass
    result = {"dir": layout.dir,
              "smtp": {"running": bool(smtp_pid), "pid": smtp_pid},
              "dovecot": {"running": bool(dovecot_pid), "pid": dovecot_pid}}
    for key in ("smtps_port", "starttls_port", "imaps_port", "imap_starttls_port", "ca_cert",
                "domain"):
        if key in info:
            result[key] = info[key]
    if smtp_pid and dovecot_pid:
        result["state"] = "running"
        return EXIT_OK, result
    if smtp_pid or dovecot_pid:
        result["state"] = "partial"
        return EXIT_PARTIAL, result
    result["state"] = "stopped"
    return EXIT_STOPPED, result


def env_lines(directory):
    """Shell ``export`` lines describing a running sandbox."""
    layout = Layout(directory)
    try:
        with open(layout.sandbox_json, encoding="utf-8") as fh:
            info = json.load(fh)
    except (OSError, ValueError):
        raise CliError("no sandbox.json in %s: start the sandbox first" % layout.dir)
    account = info["accounts"][0]
    values = [("PEC_SANDBOX_DIR", info["dir"]), ("PEC_SANDBOX_HOST", info["host"]),
              ("PEC_SANDBOX_SMTPS_PORT", info["smtps_port"]),
              ("PEC_SANDBOX_STARTTLS_PORT", info["starttls_port"]),
              ("PEC_SANDBOX_IMAPS_PORT", info["imaps_port"]),
              ("PEC_SANDBOX_IMAP_STARTTLS_PORT", info.get("imap_starttls_port", "")),
              ("PEC_SANDBOX_CA_CERT", info["ca_cert"]),
              ("PEC_SANDBOX_USER", account["username"]),
              ("PEC_SANDBOX_PASSWORD", account["password"]),
              ("PEC_SANDBOX_SUBMISSIONS_LOG", info["submissions_log"]),
              ("PEC_SANDBOX_CONTROL_FILE", info["control_file"])]
    return ["export %s=%s" % (k, shlex.quote(str(v))) for k, v in values]


# -- main ---------------------------------------------------------------------

def build_parser():
    parser = argparse.ArgumentParser(
        prog="pec-sandbox",
        description="A local simulated PEC (Posta Elettronica Certificata) provider: "
                    "SMTPS/STARTTLS submission with the PEC formal checks, signed "
                    "receipts, and a real Dovecot IMAPS mailbox. Everything listens on "
                    "127.0.0.1 only.",
        epilog="See docs/sandbox.md for the configuration, rules and faults.")
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    p = sub.add_parser("start", help="start a sandbox; write DIR/sandbox.json",
                       description="Start SMTPS, STARTTLS, Dovecot IMAPS and IMAP "
                                   "STARTTLS on free 127.0.0.1 ports; return when they "
                                   "are ready. "
                                   "Prints the sandbox.json content.")
    p.add_argument("--dir", required=True, help="state directory (created if missing)")
    p.add_argument("--config", help="JSON configuration file (default: built-in defaults)")
    p.add_argument("--quiet", action="store_true", help="do not print sandbox.json")
    p = sub.add_parser("stop", help="stop the sandbox started in DIR",
                       description="Stop exactly the processes recorded in DIR/run/*.pid "
                                   "and wait for them to exit. Succeeds when nothing runs.")
    p.add_argument("--dir", required=True)
    p = sub.add_parser("status", help="show whether the sandbox in DIR runs",
                       description="Print the state as JSON. Exit status: 0 running, "
                                   "2 partially running, 3 stopped.")
    p.add_argument("--dir", required=True)
    p = sub.add_parser("env", help="print shell export lines for a running sandbox",
                       description="Print PEC_SANDBOX_* variables (ports, CA, first "
                                   "account) as shell 'export' lines, for eval.")
    p.add_argument("--dir", required=True)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.command == "start":
            info = start(args.dir, args.config)
            if not args.quiet:
                print(json.dumps(info, indent=2, ensure_ascii=False))
            print("pec-sandbox: started in %s (SMTPS %d, STARTTLS %d, IMAPS %d, "
                  "IMAP STARTTLS %d) in %.2f s"
                  % (info["dir"], info["smtps_port"], info["starttls_port"],
                     info["imaps_port"], info["imap_starttls_port"], info["startup_seconds"]),
                  file=sys.stderr)
            return EXIT_OK
        if args.command == "stop":
            print("pec-sandbox: %s" % stop(args.dir), file=sys.stderr)
            return EXIT_OK
        if args.command == "status":
            code, result = status(args.dir)
            print(json.dumps(result, indent=2))
            return code
        if args.command == "env":
            print("\n".join(env_lines(args.dir)))
            return EXIT_OK
    except CliError as exc:
        print("pec-sandbox: error: %s" % exc, file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("pec-sandbox: interrupted", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())

"""Process, pidfile and port helpers (no systemd, no broad kills).

A process counts as exited when it is gone or is a zombie (state ``Z`` in
``/proc/PID/stat``): on some machines PID 1 reaps orphans slowly.
"""

import os
import signal
import socket
import ssl
import time


def write_pidfile(path, pid):
    with open(path + ".tmp", "w") as fh:
        fh.write("%d\n" % pid)
    os.replace(path + ".tmp", path)


def read_pidfile(path):
    """The PID in *path*, or None when missing/garbled."""
    try:
        with open(path) as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


def wait_for_pidfile(path, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = read_pidfile(path)
        if pid:
            return pid
        time.sleep(0.005)
    return None


def proc_state(pid):
    """The one-letter state of *pid* from /proc, or None if it does not exist."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as fh:
            data = fh.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return "?"
    # comm may contain spaces/parentheses: the state follows the last ')'.
    tail = data[data.rfind(b")") + 2:]
    return tail[:1].decode("ascii", "replace") or "?"


def is_alive(pid):
    """True when *pid* exists and is not a zombie."""
    if not pid or pid <= 0:
        return False
    state = proc_state(pid)
    return state is not None and state not in ("Z", "X")


def cmdline(pid):
    """The argv of *pid* as a list of str ([] when unavailable)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            raw = fh.read()
    except OSError:
        return []
    return [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]


def children(pid):
    """PIDs whose parent is *pid* (scanning /proc)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        fields = data[data.rfind(b")") + 2:].split()
        if len(fields) > 1 and fields[1] == str(pid).encode():
            found.append(int(name))
    return found


def wait_exit(pid, timeout):
    """Wait until *pid* has exited (or is a zombie); True if it did in time."""
    deadline = time.monotonic() + timeout
    while True:
        try:  # reap it if it is our own child
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        if not is_alive(pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def terminate(pid, timeout=5.0):
    """SIGTERM *pid*, wait, then SIGKILL if needed.  True once it has exited."""
    if not is_alive(pid):
        return True
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    if wait_exit(pid, timeout):
        return True
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    return wait_exit(pid, 5.0)


def bind_listener(port=0, host="127.0.0.1"):
    """A listening TCP socket on *host*:*port* (0 = any free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def free_port(host="127.0.0.1"):
    """A currently free TCP port (for servers that must be told a number)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def probe_tls(port, cafile, expect=None, timeout=5.0, starttls=False, host="127.0.0.1"):
    """Connect, verify the certificate against *cafile* and read the greeting.

    With *starttls*, the plain greeting is read, then EHLO + STARTTLS are sent
    and the TLS handshake done.  Returns the first greeting line (bytes).
    Raises OSError/ssl.SSLError on failure.
    """
    ctx = ssl.create_default_context(cafile=cafile)
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as raw:
        if starttls:
            greeting = _read_line(raw, deadline)
            raw.sendall(b"EHLO probe.sandbox\r\n")
            while True:
                line = _read_line(raw, deadline)
                if line[:4] != b"250-":
                    break
            raw.sendall(b"STARTTLS\r\n")
            if not _read_line(raw, deadline).startswith(b"220"):
                raise OSError("STARTTLS refused")
            with ctx.wrap_socket(raw, server_hostname=host) as tls:
                tls.sendall(b"QUIT\r\n")
            return greeting
        with ctx.wrap_socket(raw, server_hostname=host) as tls:
            greeting = _read_line(tls, deadline)
            if expect and not greeting.startswith(expect):
                raise OSError("unexpected greeting %r" % greeting)
            tls.sendall(b"QUIT\r\n" if expect == b"220" else b"a LOGOUT\r\n")
            return greeting


def _read_line(sock, deadline):
    buf = b""
    while not buf.endswith(b"\n"):
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        chunk = sock.recv(1)
        if not chunk:
            raise OSError("connection closed during greeting")
        buf += chunk
    return buf


def tail(path, lines=15):
    """The last *lines* of a log file, formatted for an error message."""
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as fh:
            content = fh.read().splitlines()[-lines:]
    except OSError:
        return ""
    if not content:
        return ""
    return "\n--- last lines of %s ---\n%s" % (path, "\n".join(content))

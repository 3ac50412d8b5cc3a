"""The background process serving SMTP for one sandbox.

Started by ``pec-sandbox start`` as::

    python3 -m pecsandbox.daemon --dir DIR --smtps-fd N --starttls-fd M

with the two listening sockets already bound by the parent (so the ports in
``sandbox.json`` are known before this process starts, without races).  It
reads the effective configuration from ``DIR/config.json``, logs to stderr
(redirected to ``DIR/sandbox.log``) and runs until SIGTERM/SIGINT.
"""

import argparse
import asyncio
import datetime
import signal
import socket
import sys
import threading

from .ca import Pki
from .config import load_config
from .layout import Layout, mail_owner
from .provider import Provider
from .smtp import start_servers, tls_context

_log_lock = threading.Lock()


def log(message):
    stamp = datetime.datetime.now().astimezone().isoformat(timespec="milliseconds")
    with _log_lock:
        sys.stderr.write("%s %s\n" % (stamp, message))
        sys.stderr.flush()


async def serve(layout, smtps_fd, starttls_fd):
    config = load_config(layout.config_json)
    pki = Pki(layout.ca_dir)
    uid, gid, _ = mail_owner()
    provider = Provider(config, pki, layout, uid, gid, log)
    ctx = tls_context(pki.tls_cert, pki.tls_key)
    smtps_sock = socket.socket(fileno=smtps_fd)
    starttls_sock = socket.socket(fileno=starttls_fd)
    servers = await start_servers(provider, config, smtps_sock, starttls_sock, ctx)
    log("serving SMTPS on %s:%d and STARTTLS on %s:%d" % (
        smtps_sock.getsockname() + starttls_sock.getsockname()))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log("stopping")
    for server in servers:
        server.close()
    for server in servers:
        await server.wait_closed()
    provider.stop()
    log("stopped")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="pecsandbox.daemon")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--smtps-fd", type=int, required=True)
    parser.add_argument("--starttls-fd", type=int, required=True)
    args = parser.parse_args(argv)
    layout = Layout(args.dir)
    try:
        asyncio.run(serve(layout, args.smtps_fd, args.starttls_fd))
    except Exception as exc:  # report in the log, exit non-zero
        log("fatal: %s: %s" % (type(exc).__name__, exc))
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())

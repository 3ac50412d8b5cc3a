#!/usr/bin/python3
"""An SMTPS server (implicit TLS, 127.0.0.1) that offers no AUTH and takes
mail from anyone, like a misconfigured relay: the dispatch e2e tests check
that the transport refuses to send through it (libcurl 7.88 would silently
skip AUTH and deliver).

usage: noauth_server.py CERT KEY PORT_FILE LOG_FILE

Writes the port it listens on to PORT_FILE (atomically) once ready; logs
every command and "DATA <bytes>" for every message body to LOG_FILE. Exits
by itself after 120 s in case nobody stops it.
"""

import os
import signal
import socket
import ssl
import sys
import threading


def main():
    cert, key, port_file, log_file = sys.argv[1:5]
    signal.alarm(120)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    lock = threading.Lock()

    def log(line):
        with lock, open(log_file, "a") as f:
            f.write(line + "\n")

    def handle(conn):
        try:
            tls = ctx.wrap_socket(conn, server_side=True)
            reader = tls.makefile("rb")

            def send(line):
                tls.sendall(line.encode() + b"\r\n")

            send("220 noauth.test ESMTP no authentication here")
            while True:
                line = reader.readline()
                if not line:
                    return
                command = line.decode("utf-8", "replace").strip()
                log("C: " + command)
                verb = command.split(" ")[0].upper()
                if verb in ("EHLO", "HELO"):
                    send("250-noauth.test")
                    send("250-SIZE 10000000")
                    send("250 8BITMIME")
                elif verb == "DATA":
                    send("354 go ahead")
                    size = 0
                    while True:
                        body = reader.readline()
                        if not body:
                            log("DATA-INCOMPLETE %d" % size)
                            return
                        if body == b".\r\n":
                            break
                        size += len(body)
                    log("DATA %d" % size)
                    send("250 2.0.0 accepted without authentication")
                elif verb == "QUIT":
                    send("221 bye")
                    return
                else:
                    send("250 ok")
        except (OSError, ssl.SSLError) as e:
            log("error %s" % e)
        finally:
            conn.close()

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.getsockname()[1]))
    os.rename(tmp, port_file)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()

# Sourced by bench/throughput/run.sh and bench/rss-send.sh: a throwaway CA,
# the AUTH sink, postfix's smtp-sink and stunnel4 on 127.0.0.1, each
# recorded in $bench_pids and stopped by PID by bench_stop_servers.
#
# The caller sets $work (a scratch directory, mode 755) and $auth_sink (the
# auth_sink binary).

bench_pids=""

# A CA and a server certificate for localhost / 127.0.0.1, valid 2 days:
# $work/ca.pem (given to the clients), $work/cert.pem and $work/key.pem.
bench_make_ca() {
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=pecbatch bench CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
        -keyout "$work/key.pem" -out "$work/req.pem" 2>/dev/null
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
        "extendedKeyUsage=serverAuth" >"$work/ext.cnf"
    openssl x509 -req -in "$work/req.pem" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
        -CAcreateserial -days 2 -extfile "$work/ext.cnf" -out "$work/cert.pem" 2>/dev/null
}

# Prints COUNT free loopback ports.
bench_free_ports() {
    /usr/bin/python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

bench_wait_port() {
    /usr/bin/python3 -c '
import socket, sys, time
deadline = time.monotonic() + 10
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close(); break
    except OSError:
        if time.monotonic() > deadline: sys.exit("port %s never opened" % sys.argv[1])
        time.sleep(0.02)' "$1"
}

# Starts auth_sink on a free port: sets $auth_sink_pid and $auth_port.
bench_start_auth_sink() {
    "$auth_sink" --stats "$work/sink.stats" >"$work/auth_sink.out" 2>"$work/auth_sink.err" &
    auth_sink_pid=$!
    bench_pids="$bench_pids $auth_sink_pid"
    i=0
    until grep -q READY "$work/auth_sink.out" 2>/dev/null; do
        sleep 0.02; i=$((i + 1))
        [ $i -lt 250 ] || { echo "auth_sink did not start" >&2; return 1; }
    done
    auth_port=$(awk '/READY/ { print $2 }' "$work/auth_sink.out")
}

# Starts postfix's smtp-sink on PORT: sets $smtp_sink_pid. With -a it
# advertises no AUTH (it would answer AUTH with 250, which curl refuses).
bench_start_smtp_sink() {
    if [ "$(id -u)" -eq 0 ]; then
        smtp-sink -u nobody -a "127.0.0.1:$1" 256 >"$work/smtp-sink.log" 2>&1 &
    else
        smtp-sink -a "127.0.0.1:$1" 256 >"$work/smtp-sink.log" 2>&1 &
    fi
    smtp_sink_pid=$!
    bench_pids="$bench_pids $smtp_sink_pid"
    bench_wait_port "$1"
}

# Starts one stunnel4 with the given services, each "ACCEPT_PORT:CONNECT_PORT":
# sets $stunnel_pid.
bench_start_stunnel() {
    {
        printf 'foreground = yes\npid =\noutput = %s\ndebug = 3\n' "$work/stunnel.log"
        printf 'socket = l:TCP_NODELAY=1\nsocket = r:TCP_NODELAY=1\n'
        for service in "$@"; do
            printf '[s%s]\naccept = 127.0.0.1:%s\nconnect = 127.0.0.1:%s\n' \
                "${service%%:*}" "${service%%:*}" "${service#*:}"
            printf 'cert = %s\nkey = %s\n' "$work/cert.pem" "$work/key.pem"
        done
    } >"$work/stunnel.conf"
    stunnel4 "$work/stunnel.conf" >"$work/stunnel.out" 2>&1 &
    stunnel_pid=$!
    bench_pids="$bench_pids $stunnel_pid"
    for service in "$@"; do
        bench_wait_port "${service%%:*}"
    done
}

# The number of messages auth_sink has received so far.
bench_sink_messages() {
    rm -f "$work/sink.stats"
    kill -USR1 "$auth_sink_pid"
    i=0
    until [ -s "$work/sink.stats" ]; do
        sleep 0.01; i=$((i + 1))
        [ $i -lt 500 ] || { echo "auth_sink gives no stats" >&2; return 1; }
    done
    sed 's/.*messages=\([0-9]*\).*/\1/' "$work/sink.stats"
}

# Stops every server started here, by PID, and waits for them to exit
# (a zombie counts as exited: PID 1 reaps slowly on this VM).
bench_stop_servers() {
    for p in $bench_pids; do kill "$p" 2>/dev/null || true; done
    for p in $bench_pids; do
        i=0
        while [ $i -lt 50 ] && kill -0 "$p" 2>/dev/null &&
              ! grep -q '^State:.Z' "/proc/$p/status" 2>/dev/null; do
            sleep 0.1; i=$((i + 1))
        done
    done
    bench_pids=""
}

#!/bin/sh
# Whole-process SMTP throughput of `pecbatch send` beside the standard
# baselines, run side by side in one run on loopback (issue 4, "Performance"):
#
#   pecbatch send --yes, concurrency 1 and 4   SMTPS+AUTH -> stunnel4 -> auth_sink
#   postfix smtp-source -s1 -d / -s4 -d        plain SMTP -> smtp-sink (no TLS possible)
#   a shell loop of one curl per message       SMTPS+AUTH -> stunnel4 -> auth_sink
#   one curl, all messages over one connection (a -K file of `next` blocks)
#   4 such curls in parallel
# and, to show that the AUTH sink is not the bottleneck, one curl and
# smtp-source against postfix's smtp-sink beside the same against auth_sink.
#
# For 2,000 messages of about 20 KB and 200 of about 2 MB (the bytes of a
# message pecbatch composes, so every client sends the same size): messages
# per second and CPU per message of the client (user + system, children
# included) and of the servers (sink and stunnel4 separately), median of
# RUNS runs. Prints the table and the ratios the issue targets; exits 1 when
# a target is missed or a run failed (after printing everything). A target
# that no client reaches on this machine (4 curls not 2x one curl; one curl
# not 10x the shell loop) is printed but not judged: see report.py.
#
#   bench/throughput/run.sh [--quick] [--runs N] [--size 20k|2m] [--cases LIST]
#
#   --quick   200 and 20 messages, 1 run: a smoke test, not a measurement
#   --runs N  runs per case (default 3)
#   --size S  only one message size
#   --cases L only these cases, comma-separated (pecbatch-c1, pecbatch-c4,
#             curl-one, curl-four, curl-loop, source-s1, source-s4,
#             source-s1-authsink, curl-one-smtpsink): for working on one
#             figure; a published table runs them all
#
# Environment: PECBATCH (default build/bench/src/cli/pecbatch), AUTH_SINK
# (default build/bench/bench/throughput/auth_sink), BENCH_DIR (where the
# scratch directory goes, default build/: on the repository's disk, so the
# journal's fsyncs cost what they cost there), N20K and N2M (message counts),
# KEEP_RESULTS=FILE (keep the raw per-run lines; report.py FILE reprints).
# Build both with:
#   cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release \
#         -DPECBATCH_BUILD_BENCH=ON -DPECBATCH_BUILD_TESTS=OFF
#   cmake --build build/bench --target pecbatch auth_sink
# Needs postfix (smtp-sink, smtp-source), stunnel4, curl, openssl
# (scripts/install-deps). Every server listens on 127.0.0.1 only and is
# stopped by PID at exit.
set -eu
cd "$(dirname "$0")/../.."
repo=$PWD
here=$repo/bench/throughput

runs=3
n20k=${N20K:-2000}
n2m=${N2M:-200}
sizes="20k 2m"
cases=all
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) runs=1; n20k=${N20K:-200}; n2m=${N2M:-20} ;;
        --runs) runs=$2; shift ;;
        --size) sizes=$2; shift ;;
        --cases) cases=",$2,"; shift ;;
        *) sed -n '2,/^set -eu/p' "$0" | sed 's/^# \{0,1\}//;$d' >&2; exit 64 ;;
    esac
    shift
done

pecbatch=$(realpath "${PECBATCH:-build/bench/src/cli/pecbatch}")
auth_sink=$(realpath "${AUTH_SINK:-build/bench/bench/throughput/auth_sink}")
for tool in "$pecbatch" "$auth_sink"; do
    [ -x "$tool" ] || { echo "run.sh: missing $tool: build it first (see the top of $0)" >&2; exit 1; }
done
for tool in smtp-sink smtp-source stunnel4 curl openssl /usr/bin/python3; do
    command -v "$tool" >/dev/null ||
        { echo "run.sh: $tool not found: run scripts/install-deps as root" >&2; exit 1; }
done

mkdir -p "${BENCH_DIR:-build}"
work=$(mktemp -d "$(realpath "${BENCH_DIR:-build}")/throughput.XXXXXX")
chmod 755 "$work"
# shellcheck source=bench/throughput/servers.sh
. "$here/servers.sh"
trap 'bench_stop_servers; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

bench_make_ca
# shellcheck disable=SC2046 # three port numbers
set -- $(bench_free_ports 3)
plain_port=$1 tls_auth_port=$2 tls_plain_port=$3
bench_start_auth_sink
bench_start_smtp_sink "$plain_port"
bench_start_stunnel "$tls_auth_port:$auth_port" "$tls_plain_port:$plain_port"

# --- one campaign per size, and the same message bytes for every client -------
account=mittente@bench.example
export PECBATCH_BENCH_PASSWORD=bench-secret-not-real

make_campaign() { # SIZE N TARGET_BYTES
    d=$work/$1
    mkdir -p "$d"
    /usr/bin/python3 - "$d/contacts.csv" "$2" <<'PY'
import sys
with open(sys.argv[1], "w", newline="") as f:
    f.write("pec;nome;numero\r\n")
    for i in range(int(sys.argv[2])):
        f.write("dest%06d@bench.example;Cliente Numero %d;%d\r\n" % (i, i, i))
PY
    cat >"$d/body.txt" <<'EOF'
Gentile {{nome}},

in allegato la fattura numero {{numero}}, emessa in data odierna.
Il documento ha valore legale ed e' inviato tramite posta elettronica
certificata. Per qualsiasi chiarimento puo' rispondere a questo messaggio.

Cordiali saluti,
Ufficio amministrazione
EOF
    cat >"$d/campaign.toml" <<EOF
[campaign]
id = "bench-$1"
[account]
address = "$account"
password_env = "PECBATCH_BENCH_PASSWORD"
smtp_host = "127.0.0.1"
smtp_port = $tls_auth_port
smtp_security = "tls"
ca_file = "$work/ca.pem"
[provider]
profile = "custom"
max_message_size = "100 MB"
rate_per_minute = 0
rate_per_hour = 0
rate_per_day = 0
[contacts]
file = "contacts.csv"
[message]
subject = "Fattura {{numero}}"
text_template = "body.txt"
attachments = ["fattura.pdf"]
[send]
concurrency = 1
messages_per_connection = 100000
EOF
    # Size the attachment so that the composed message is about TARGET
    # bytes: base64 turns 57 bytes into a 78-byte line.
    attachment=$(( $3 * 57 / 78 ))
    for _ in 1 2; do
        head -c "$attachment" /dev/urandom >"$d/fattura.pdf"
        rm -rf "$d/render"
        "$pecbatch" render "$d/campaign.toml" --rows 2 --out "$d/render" >/dev/null
        eml=$(find "$d/render" -name '*.eml' | head -n 1)
        got=$(wc -c <"$eml")
        attachment=$(( attachment + ($3 - got) * 57 / 78 ))
    done
    cp "$eml" "$d/msg.eml"
    sed 's/\r$//' "$d/msg.eml" >"$d/msg.lf.eml" # smtp-source -F appends CRLF itself
    rm -rf "$d/render"
    echo "$1: $2 messages of $got bytes"

    # curl: a config for the shell loop (one message), one with every
    # message as a `next` block (one connection), and four quarters.
    block() { # PORT AUTH
        printf 'url = "smtps://127.0.0.1:%s/bench.example"\ncacert = "%s"\nssl-reqd\n' \
            "$1" "$work/ca.pem"
        [ "$2" = no ] || printf 'user = "%s:%s"\n' "$account" "$PECBATCH_BENCH_PASSWORD"
        printf 'mail-from = "%s"\nmail-rcpt = "dest@bench.example"\nupload-file = "%s"\n' \
            "$account" "$d/msg.eml"
    }
    chain() { # COUNT PORT AUTH
        k=0
        while [ $k -lt "$1" ]; do
            [ $k -eq 0 ] || echo next
            block "$2" "$3"
            k=$((k + 1))
        done
    }
    block "$tls_auth_port" yes >"$d/loop.cfg"
    chain "$2" "$tls_auth_port" yes >"$d/one.cfg"
    chain "$2" "$tls_plain_port" no >"$d/one-smtpsink.cfg"
    q=$(( $2 / 4 ))
    for part in 1 2 3 4; do
        [ $part -lt 4 ] || q=$(( $2 - 3 * ($2 / 4) ))
        chain "$q" "$tls_auth_port" yes >"$d/four-$part.cfg"
    done
    chmod 600 "$d"/*.cfg
}

failures=0
results=$work/results.tsv
: >"$results"
: >"$work/disk.txt"
export MEASURE_STDOUT="$work/clients.out"

measure() { # SIZE CASE RUN N SINK_PID TLS_PID COMMAND...
    m_size=$1 m_case=$2 m_n=$4
    case "$cases" in all | *",$m_case,"*) ;; *) return 0 ;; esac
    if [ "$5" = "$auth_sink_pid" ]; then before=$(bench_sink_messages); fi
    rc=0
    /usr/bin/python3 "$here/measure.py" "$results" "$@" || rc=$?
    if [ "$5" = "$auth_sink_pid" ]; then
        after=$(bench_sink_messages)
        if [ $((after - before)) -ne "$m_n" ]; then
            echo "  CHECK FAILED: $m_size $m_case: auth_sink received $((after - before)) of $m_n messages" >&2
            failures=$((failures + 1))
        fi
    fi
    [ $rc -eq 0 ] || failures=$((failures + 1))
}

run_size() { # SIZE N
    d=$work/$1
    r=1
    while [ $r -le "$runs" ]; do
        for c in 1 4; do
            out=$d/out-c$c-$r
            measure "$1" "pecbatch-c$c" "$r" "$2" "$auth_sink_pid" "$stunnel_pid" -- \
                "$pecbatch" send "$d/campaign.toml" --yes --quiet --output-dir "$out" \
                --set send.concurrency=$c
        done
        measure "$1" curl-one "$r" "$2" "$auth_sink_pid" "$stunnel_pid" -- \
            curl -sS -K "$d/one.cfg"
        measure "$1" curl-four "$r" "$2" "$auth_sink_pid" "$stunnel_pid" -- \
            /bin/sh -c 'set --; for f in "$0"/four-*.cfg; do curl -sS -K "$f" & set -- "$@" $!; done
                        rc=0; for p in "$@"; do wait "$p" || rc=1; done; exit $rc' "$d"
        measure "$1" curl-loop "$r" "$2" "$auth_sink_pid" "$stunnel_pid" -- \
            /bin/sh -c 'i=0; while [ $i -lt "$0" ]; do curl -sS -K "$1" || exit 1; i=$((i + 1)); done' \
            "$2" "$d/loop.cfg"
        for s in 1 4; do
            measure "$1" "source-s$s" "$r" "$2" "$smtp_sink_pid" - -- \
                smtp-source -s $s -d -m "$2" -f "$account" -t dest@bench.example \
                -F "$d/msg.lf.eml" "127.0.0.1:$plain_port"
        done
        measure "$1" source-s1-authsink "$r" "$2" "$auth_sink_pid" - -- \
            smtp-source -s 1 -d -m "$2" -f "$account" -t dest@bench.example \
            -F "$d/msg.lf.eml" "127.0.0.1:$auth_port"
        measure "$1" curl-one-smtpsink "$r" "$2" "$smtp_sink_pid" "$stunnel_pid" -- \
            curl -sS -K "$d/one-smtpsink.cfg"
        r=$((r + 1))
    done
    # Outputs are removed only now: ext4 without a journal (this VM) makes
    # creating inodes slower right after many were deleted.
    rm -rf "$d"/out-*
}

probe() { # LABEL
    printf '%-22s %s; load average %s\n' "$1" "$(/usr/bin/python3 "$here/fsync_probe.py" "$work")" \
        "$(cut -d' ' -f1 /proc/loadavg)" >>"$work/disk.txt"
    tail -n 1 "$work/disk.txt"
}

echo "pecbatch: $pecbatch"
echo "scratch:  $work ($runs run(s) per case)"
for size in $sizes; do
    case "$size" in
        20k) make_campaign 20k "$n20k" 20480 ;;
        2m) make_campaign 2m "$n2m" 2097152 ;;
        *) echo "run.sh: unknown size $size" >&2; exit 64 ;;
    esac
done
for size in $sizes; do
    probe "disk before $size:"
    case "$size" in
        20k) run_size 20k "$n20k" ;;
        2m) run_size 2m "$n2m" ;;
    esac
    probe "disk after $size:"
done

status=0
/usr/bin/python3 "$here/report.py" "$results" || status=1
echo
echo "Durable-write latency on the scratch disk (pecbatch's journal pays it), machine load:"
cat "$work/disk.txt"
if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed (see CHECK FAILED / rc above)" >&2
    status=1
fi
[ -z "${KEEP_RESULTS:-}" ] || cp "$results" "$KEEP_RESULTS"
exit $status

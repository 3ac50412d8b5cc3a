#!/bin/sh
# Whole-process memory benchmark: peak RSS of `pecbatch send --yes` sending a
# small message to 1,000 recipients (the baseline) and to 100,000, each run
# several times; prints the medians side by side and the ratio (issue 4:
# target <= 1.2). The provider is bench/throughput's auth_sink (it completes
# AUTH and discards) behind stunnel4, on 127.0.0.1, with no rate limit.
# Every run starts with a fresh output directory (journal and evidence).
#
#   bench/rss-send.sh [PECBATCH] [RUNS] [LARGE]
#
# PECBATCH defaults to build/bench/src/cli/pecbatch, RUNS to 3, LARGE (the
# big campaign's row count) to 100000. AUTH_SINK (default
# build/bench/bench/throughput/auth_sink) and BENCH_DIR (default build/, on
# the repository's disk) as for bench/throughput/run.sh. Needs stunnel4,
# openssl (scripts/install-deps).
set -eu
cd "$(dirname "$0")/.."
pecbatch=$(realpath "${1:-build/bench/src/cli/pecbatch}")
runs=${2:-3}
large=${3:-100000}
auth_sink=$(realpath "${AUTH_SINK:-build/bench/bench/throughput/auth_sink}")
for tool in "$pecbatch" "$auth_sink"; do
    [ -x "$tool" ] || { echo "build first (see bench/throughput/run.sh): missing $tool" >&2; exit 1; }
done

mkdir -p "${BENCH_DIR:-build}"
work=$(mktemp -d "$(realpath "${BENCH_DIR:-build}")/rss-send.XXXXXX")
chmod 755 "$work"
# shellcheck source=bench/throughput/servers.sh
. bench/throughput/servers.sh
trap 'bench_stop_servers; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

bench_make_ca
tls_port=$(bench_free_ports 1)
bench_start_auth_sink
bench_start_stunnel "$tls_port:$auth_port"

export PECBATCH_BENCH_PASSWORD=bench-secret-not-real
printf 'Gentile {{nome}}, fattura {{numero}}.\n' >"$work/body.txt"
for n in 1000 "$large"; do
    /usr/bin/python3 - "$work/contacts-$n.csv" "$n" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w", encoding="utf-8", newline="") as f:
    f.write("nome;pec;numero\r\n")
    for i in range(n):
        f.write("Cliente Numero %d;cliente%d@pec.example.it;%d\r\n" % (i, i, i))
PY
    cat >"$work/campaign-$n.toml" <<TOML
[campaign]
id = "rss-$n"
[account]
address = "mittente@pec.example.it"
password_env = "PECBATCH_BENCH_PASSWORD"
smtp_host = "127.0.0.1"
smtp_port = $tls_port
ca_file = "$work/ca.pem"
[provider]
profile = "custom"
rate_per_minute = 0
rate_per_hour = 0
rate_per_day = 0
[contacts]
file = "contacts-$n.csv"
[message]
subject = "Fattura {{numero}}"
text_template = "body.txt"
[send]
messages_per_connection = 100000
TOML
done

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

measure() { # N
    i=0
    while [ "$i" -lt "$runs" ]; do
        out=$work/out-$1-$i
        before=$(bench_sink_messages)
        /usr/bin/time -f '%M %e' -o "$work/time" \
            "$pecbatch" send "$work/campaign-$1.toml" --yes --quiet --output-dir "$out" >/dev/null
        after=$(bench_sink_messages)
        [ $((after - before)) -eq "$1" ] ||
            { echo "rss-send: the sink received $((after - before)) of $1 messages" >&2; exit 1; }
        cat "$work/time"
        rm -rf "$out"
        i=$((i + 1))
    done
}

printf '%-28s %14s %12s\n' "campaign" "peak RSS (kB)" "seconds"
for n in 1000 "$large"; do
    measure "$n" >"$work/m-$n"
    rss=$(cut -d' ' -f1 "$work/m-$n" | median)
    secs=$(cut -d' ' -f2 "$work/m-$n" | median)
    printf '%-28s %14s %12s   (runs: %s)\n' "send, $n rows" "$rss" "$secs" \
        "$(awk '{ printf "%s%s kB %s s", (NR > 1 ? ", " : ""), $1, $2 }' "$work/m-$n")"
    eval "rss_$n=$rss"
done
eval "rss_large=\$rss_$large"
awk -v a="$rss_1000" -v b="$rss_large" -v n="$large" 'BEGIN {
    r = b / a
    printf "ratio %d / 1,000 rows: %.2f (target <= 1.20): %s\n", n, r, r <= 1.2 ? "ok" : "MISSED"
    exit r <= 1.2 ? 0 : 1 }'

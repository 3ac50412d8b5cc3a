#!/bin/sh
# Receipt benchmarks of issue 5 (bench/README.md, docs/performance.md):
#
#  1. receipts parsed, verified and matched per second: `pecbatch receipt
#     inspect --json` beside reference.py (stdlib email + one `openssl smime
#     -verify` per receipt + xml.etree) on the same corpus of sandbox-made
#     receipts; matching (msgid in the campaign's set) done by the harness
#     for both; median of RUNS runs, alternating which side goes first;
#     both sides' verdicts and facts compared file by file.
#     1b. the same work inside `pecbatch poll` (IMAP fetch, evidence archive,
#     journal transaction per receipt): one poll over the 2 x ROWS receipts
#     of a campaign sent to the sandbox; pecbatch alone (no reference does
#     IMAP and durable records), with the disk's fdatasync latency beside it.
#  2. a poll when the mailbox already holds OLD messages: `pecbatch poll`
#     against the sandbox's Dovecot, before and after a few new receipts;
#     bytes received and wall time of each poll.
#
#   bench/receipts/run.sh [--quick] [--runs N] [--only throughput|poll-rate|poll]
#
# --quick: 500 receipts, 100 rows, 2,000 old messages, 1 run (a smoke test).
# Default: 10,000 receipts, 2,000 rows, 50,000 old messages, 3 runs.
# PECBATCH (default build/benchrcpt/src/cli/pecbatch) is the binary to
# measure, BENCH_DIR (default build/benchrcpt/work) the scratch directory;
# the corpus is made once per size and reused (BENCH_KEEP=1 also keeps the
# poll benchmark's sandbox and mailbox). Needs the sandbox's Debian
# packages (python3-cryptography, python3-aiosmtpd, dovecot-imapd, openssl).
# Exits 1 when a check fails (the two sides disagree, a poll fetched what it
# should not).
set -eu
cd "$(dirname "$0")/../.."
receipts=10000 rows=2000 old=50000 runs=3 only=
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) receipts=500 rows=100 old=2000 runs=1 ;;
        --runs) runs=$2; shift ;;
        --only) only=$2; shift ;;
        -h|--help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
pecbatch=${PECBATCH:-build/benchrcpt/src/cli/pecbatch}
[ -x "$pecbatch" ] || {
    echo "build first: cmake -S . -B build/benchrcpt -G Ninja -DCMAKE_BUILD_TYPE=Release" \
         "-DPECBATCH_BUILD_TESTS=OFF && cmake --build build/benchrcpt --target pecbatch" >&2
    exit 1
}
work=${BENCH_DIR:-build/benchrcpt/work}
mkdir -p "$work"
chmod 755 "$work"
py=/usr/bin/python3
here=bench/receipts
status=0

echo "== machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -z "$only" ] || [ "$only" = throughput ]; then
    corpus=$work/corpus-$receipts
    if [ ! -f "$corpus/campaign.txt" ]; then
        echo "== making a corpus of $receipts receipts in $corpus"
        rm -rf "$corpus"
        $py $here/make_corpus.py corpus "$corpus" --count "$receipts"
    fi
    echo "== 1. receipts parsed, verified and matched per second"
    $py $here/harness.py throughput --corpus "$corpus" --pecbatch "$pecbatch" \
        --runs "$runs" --json "$work/throughput-$receipts.json" || status=1
fi
if [ -z "$only" ] || [ "$only" = poll-rate ]; then
    echo "== 1b. receipts fetched, verified, matched and recorded per second by pecbatch poll"
    $py bench/throughput/fsync_probe.py "$work"
    $py $here/harness.py poll-throughput --work "$work/poll-rate-$rows" --pecbatch "$pecbatch" \
        --rows "$rows" --json "$work/poll-rate-$rows.json" || status=1
    $py bench/throughput/fsync_probe.py "$work"
fi
if [ -z "$only" ] || [ "$only" = poll ]; then
    echo "== 2. polling a mailbox that holds $old old messages"
    $py $here/harness.py poll --work "$work/poll-$old" --pecbatch "$pecbatch" \
        --old "$old" --json "$work/poll-$old.json" || status=1
fi
echo "== load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status

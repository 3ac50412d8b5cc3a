#!/bin/sh
# Whole-process memory benchmark: peak RSS of `pecbatch validate` on a
# campaign with 1,000 contacts (the baseline) and with 100,000, each run
# several times; prints the medians side by side. Contacts are streamed, so
# the 100,000-row run should stay close to the baseline.
#
#   bench/rss-validate.sh [PECBATCH] [RUNS]
set -eu
cd "$(dirname "$0")/.."
pecbatch=${1:-build/release/src/cli/pecbatch}
runs=${2:-5}
[ -x "$pecbatch" ] || { echo "build first: scripts/build (missing $pecbatch)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf 'Gentile {{nome}}, fattura {{numero}}.\n' >"$work/body.txt"
head -c 200000 /dev/urandom >"$work/shared.pdf"
for n in 1000 100000; do
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
id = "bench"
[account]
address = "mittente@pec.example.it"
[provider]
profile = "custom"
[contacts]
file = "contacts-$n.csv"
[message]
subject = "Fattura {{numero}}"
text_template = "body.txt"
attachments = ["shared.pdf"]
TOML
done

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

measure() {
    i=0
    while [ "$i" -lt "$runs" ]; do
        /usr/bin/time -f '%M %e' -o "$work/time" "$pecbatch" validate "$1" >/dev/null
        cat "$work/time"
        i=$((i + 1))
    done
}

printf '%-28s %14s %12s\n' "campaign" "peak RSS (kB)" "seconds"
for n in 1000 100000; do
    measure "$work/campaign-$n.toml" >"$work/m-$n"
    rss=$(cut -d' ' -f1 "$work/m-$n" | median)
    secs=$(cut -d' ' -f2 "$work/m-$n" | median)
    printf '%-28s %14s %12s\n' "validate, $n rows" "$rss" "$secs"
    eval "rss_$n=$rss"
done
awk -v a="$rss_1000" -v b="$rss_100000" \
    'BEGIN { printf "ratio 100,000 / 1,000 rows: %.2f (target <= 1.20)\n", b / a }'

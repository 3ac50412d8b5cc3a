#!/bin/sh
# Rate accuracy of `pecbatch send`: with a limit of 60 messages per minute,
# run for 5 minutes against the local sandbox provider, then check in the
# provider's own submissions log that no 60-second window ever saw more than
# 60 messages, and that at least 95% of what the limit allowed was sent.
#
#   bench/rate-accuracy.sh [PECBATCH] [SECONDS] [RATE]
set -eu
cd "$(dirname "$0")/.."
pecbatch=$(realpath "${1:-build/release/src/cli/pecbatch}")
seconds=${2:-300}
rate=${3:-60}
sandbox=$PWD/tools/pec-sandbox/pec-sandbox
[ -x "$pecbatch" ] || { echo "build first: scripts/build (missing $pecbatch)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/pecbatch-rate.XXXXXX")
chmod 755 "$work"
trap '"$sandbox" stop --dir "$work/sandbox" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$sandbox" start --dir "$work/sandbox" --quiet
eval "$("$sandbox" env --dir "$work/sandbox")"

rows=$((rate * seconds / 60 + rate * 2))
/usr/bin/python3 - "$work/contacts.csv" "$rows" <<'PY'
import sys
with open(sys.argv[1], "w", newline="") as f:
    f.write("pec;nome\r\n")
    for i in range(int(sys.argv[2])):
        f.write("dest%05d@pec.sandbox.test;Destinatario %d\r\n" % (i, i))
PY
printf 'Gentile {{nome}}.\n' >"$work/body.txt"
cat >"$work/campaign.toml" <<TOML
[campaign]
id = "rate"
[account]
address = "$PEC_SANDBOX_USER"
password_env = "PEC_SANDBOX_PASSWORD"
smtp_host = "127.0.0.1"
smtp_port = $PEC_SANDBOX_SMTPS_PORT
ca_file = "$PEC_SANDBOX_CA_CERT"
[provider]
profile = "custom"
rate_per_minute = $rate
[contacts]
file = "contacts.csv"
[message]
subject = "Prova {{nome}}"
text_template = "body.txt"
receipt = "sintetica"
TOML

echo "sending at $rate/min for $seconds s ($rows rows queued)..."
"$pecbatch" send "$work/campaign.toml" --yes --quiet &
pid=$!
sleep "$seconds"
kill -INT "$pid" 2>/dev/null || true
wait "$pid" || true

/usr/bin/python3 - "$PEC_SANDBOX_SUBMISSIONS_LOG" "$rate" "$seconds" <<'PY'
import datetime, json, sys
log, rate, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
times = sorted(datetime.datetime.fromisoformat(r["time"]).timestamp()
               for r in map(json.loads, open(log)) if r["accepted"])
worst = 0
j = 0
for i, t in enumerate(times):
    while times[j] <= t - 60:
        j += 1
    worst = max(worst, i - j + 1)
allowed = rate * ((seconds + 59) // 60)
print("messages accepted:        %d in %d s" % (len(times), seconds))
print("most in any 60 s window:  %d (limit %d)" % (worst, rate))
print("share of what was allowed: %.1f%% (%d of %d; target >= 95%%)"
      % (100.0 * len(times) / allowed, len(times), allowed))
ok = worst <= rate and len(times) >= 0.95 * allowed
print("result: %s" % ("PASS" if ok else "FAIL"))
sys.exit(0 if ok else 1)
PY

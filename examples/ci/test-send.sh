#!/bin/sh
# Test-sends a campaign to the local simulated PEC provider (pec-sandbox) and
# fails unless every row is delivered. The same steps as the CI jobs beside
# this file; run it locally before a real send.
#
#   examples/ci/test-send.sh CAMPAIGN [--contacts TEST-CONTACTS] [pecbatch options...]
#
# The campaign is sent as it is (templates, attachments, provider limits),
# but from the sandbox's account, to the sandbox on 127.0.0.1, with the
# journal and evidence in a temporary directory: the campaign's real journal
# is never touched. Recipients must be on the sandbox's domain
# (anything@pec.sandbox.test is delivered; see docs/sandbox.md), so point a
# campaign with real addresses at a test contacts file with --contacts.
# Whatever the campaign's password source (password_env, password_file,
# password_command), it is pointed at the sandbox's password.
#
# Environment:
#   PECBATCH         the pecbatch binary (default: pecbatch on PATH)
#   PEC_SANDBOX      tools/pec-sandbox/pec-sandbox of a pecbatch source tree
#                    (default: the one beside this script, in a checkout)
#   SANDBOX_CONFIG   JSON configuration of the sandbox (default: fast clock)
#   TIMEOUT          how long `pecbatch run` waits for receipts (default 2m)
#   KEEP_DIR         a directory to keep the journal, evidence and report
#                    (esito.html) in
#
# Exit status: 0 every row delivered; otherwise pecbatch run's own (69 some
# rows failed or were rejected, 75 rows still pending at the timeout, 65/78
# bad data or configuration), or 1 when the sandbox could not start.
set -eu

usage() { sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
case ${1:-} in
    -h | --help) usage; exit 0 ;;
    "") usage >&2; exit 64 ;;
esac
campaign=$1
shift

here=$(cd "$(dirname "$0")" && pwd)
pecbatch=${PECBATCH:-pecbatch}
sandbox=${PEC_SANDBOX:-$here/../../tools/pec-sandbox/pec-sandbox}
timeout=${TIMEOUT:-2m}

if [ ! -x "$sandbox" ]; then
    echo "test-send: pec-sandbox not found at $sandbox (set PEC_SANDBOX)" >&2
    exit 1
fi
if ! "$pecbatch" run --help >/dev/null 2>&1; then
    echo "test-send: this pecbatch has no 'run' command" >&2
    exit 69
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/pecbatch-test-send.XXXXXX")
chmod 755 "$work"   # as root, the sandbox's Dovecot runs as 'mail' and must get in
# shellcheck disable=SC2317  # called by the trap
cleanup() {
    "$sandbox" stop --dir "$work/sandbox" >/dev/null 2>&1 || true
    if [ -n "${KEEP_DIR:-}" ]; then
        mkdir -p "$KEEP_DIR"
        cp -R "$work/out/." "$KEEP_DIR/" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. Start the sandbox: 127.0.0.1 only, free ports, its own CA. The default
#    clock makes the 12 h / 24 h delay notices come after 1 s / 2 s.
config=${SANDBOX_CONFIG:-}
if [ -z "$config" ]; then
    config=$work/sandbox-config.json
    printf '{"clock": {"12h": 1, "24h": 2}}\n' >"$config"
fi
"$sandbox" start --dir "$work/sandbox" --config "$config" --quiet
eval "$("$sandbox" env --dir "$work/sandbox")"

# 2. Point the campaign at it. The sandbox's password replaces the
#    campaign's through the same kind of source, never through argv: the
#    environment (PEC_SANDBOX_PASSWORD) or a 0600 file.
password_source() {
    "$pecbatch" config show "$campaign" |
        awk -v key="account.$1" '$1 == key && $3 != "(unset)" { found = 1 } END { exit !found }'
}
umask 077
printf '%s\n' "$PEC_SANDBOX_PASSWORD" >"$work/sandbox.password"
if password_source password_file; then
    password="account.password_file=$work/sandbox.password"
elif password_source password_command; then
    password="account.password_command=cat $work/sandbox.password"
else
    password="account.password_env=PEC_SANDBOX_PASSWORD"
fi

# 3. Validate, send, poll until every row is final or the timeout, report.
status=0
"$pecbatch" run "$campaign" --yes --timeout "$timeout" \
    --output-dir "$work/out" \
    --report "$work/out/esito.html" \
    --set "account.address=$PEC_SANDBOX_USER" \
    --set "account.username=$PEC_SANDBOX_USER" \
    --set "$password" \
    --set "account.smtp_host=127.0.0.1" \
    --set "account.smtp_port=$PEC_SANDBOX_SMTPS_PORT" \
    --set "account.smtp_security=tls" \
    --set "account.imap_host=127.0.0.1" \
    --set "account.imap_port=$PEC_SANDBOX_IMAPS_PORT" \
    --set "account.imap_security=tls" \
    --set "account.ca_file=$PEC_SANDBOX_CA_CERT" \
    --set "provider.rate_per_minute=0" \
    --set "provider.rate_per_hour=0" \
    --set "provider.rate_per_day=0" \
    "$@" || status=$?

# 4. The provider's side: every message accepted at most once.
duplicates=0
/usr/bin/python3 - "$PEC_SANDBOX_SUBMISSIONS_LOG" <<'EOF' || duplicates=1
import collections, json, sys
with open(sys.argv[1]) as f:
    accepted = collections.Counter(r["message_id"] for r in map(json.loads, f) if r["accepted"])
twice = {m: n for m, n in accepted.items() if n > 1}
if twice:
    sys.exit("test-send: accepted more than once by the provider: %s" % twice)
print("test-send: %d messages accepted by the provider, each once" % len(accepted))
EOF

if [ "$status" -eq 0 ] && [ "$duplicates" -ne 0 ]; then
    status=1
fi
if [ "$status" -eq 0 ]; then
    echo "test-send: every row delivered"
else
    echo "test-send: FAILED (exit $status): not every row was delivered" >&2
fi
exit "$status"

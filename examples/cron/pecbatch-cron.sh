#!/bin/sh
# One tranche of a campaign, for cron: send at most LIMIT rows, read the
# provider's receipts, and mail the operator when something needs a person.
# Run it again and again (examples/cron/crontab): each run continues where
# the last one stopped, and no row is ever sent twice.
#
#   pecbatch-cron.sh CAMPAIGN
#
# The password never appears here nor on a command line: the campaign reads
# it from its own file (account.password_file, mode 0600, owned by the cron
# user; pecbatch refuses a file that others can read).
#
# Environment (set it in the crontab; all optional):
#   OPERATOR       who is mailed when a run fails (default: the cron user)
#   LIMIT          rows per run; default from the provider's quotas (below)
#   RUN_MINUTES    how long one run may send, for the default LIMIT (25)
#   RUNS_PER_DAY   how many runs a day send, for the default LIMIT (10)
#   LOG_DIR        where the logs go (default: $HOME/pecbatch-log)
#   PECBATCH       the pecbatch binary (default: pecbatch on PATH)
#   SENDMAIL       used when there is no `mail` command (/usr/sbin/sendmail)
#
# Default LIMIT: provider.rate_per_minute x RUN_MINUTES, and at most
# provider.rate_per_day / RUNS_PER_DAY, both read with `pecbatch config
# show` (from the provider profile or the campaign). pecbatch itself never
# exceeds the quotas (its hour and day windows count every earlier run);
# the limit only keeps each run short, so that the next one finds the lock
# free.
#
# Exit status: 0 when everything went as planned, including 75 from
# pecbatch (locked by a run still going, rows deferred to the next run,
# receipts still to come); otherwise pecbatch's code (65 data, 69 failures,
# 78 configuration or authentication, ...), and the operator got a mail.
set -eu

PATH=$PATH:/usr/local/bin:/usr/bin:/bin   # cron's own PATH is short
export PATH
umask 077

if [ $# -ne 1 ]; then
    echo "usage: pecbatch-cron.sh CAMPAIGN" >&2
    exit 64
fi
campaign=$1
pecbatch=${PECBATCH:-pecbatch}
operator=${OPERATOR:-$(id -un)}
log_dir=${LOG_DIR:-$HOME/pecbatch-log}
sendmail=${SENDMAIL:-/usr/sbin/sendmail}
name=$(basename "$campaign" .toml)
[ "$name" = campaign ] && name=$(basename "$(dirname "$campaign")")

mkdir -p "$log_dir"
log=$log_dir/$name.log

say() {
    printf '%s pecbatch-cron[%s]: %s\n' "$(date '+%Y-%m-%dT%H:%M:%S%z')" "$$" "$*" >>"$log"
}

# Mails the operator: subject $1, body on standard input.
notify() {
    if command -v mail >/dev/null 2>&1; then
        mail -s "$1" "$operator"
    elif [ -x "$sendmail" ]; then
        {
            printf 'To: %s\nSubject: %s\nAuto-Submitted: auto-generated\n' "$operator" "$1"
            printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\n'
            cat
        } | "$sendmail" -oi -t
    else
        say "cannot mail $operator: neither mail nor $sendmail"
        cat >/dev/null
    fi
}

meaning() {
    case $1 in
        64) echo "wrong command line" ;;
        65) echo "bad data in the contacts, templates or attachments, or inputs changed since the first send: nothing was sent" ;;
        66) echo "a file named by the campaign does not exist" ;;
        69) echo "some rows failed for good (5xx), or a TLS/certificate failure" ;;
        70) echo "internal error in pecbatch (please report it)" ;;
        74) echo "local I/O error (output directory, journal)" ;;
        78) echo "configuration error or authentication refused (check the password file): stopped at once" ;;
        130) echo "interrupted" ;;
        *) echo "exit status $1" ;;
    esac
}

# A month whose campaign is not ready yet: nothing to do.
if [ ! -f "$campaign" ]; then
    say "no campaign file $campaign: nothing to do"
    exit 0
fi

# The tranche: from the provider's quotas unless LIMIT is given.
limit=${LIMIT:-}
if [ -z "$limit" ]; then
    rc=0
    settings=$("$pecbatch" config show "$campaign" 2>>"$log") || rc=$?
    if [ "$rc" -ne 0 ]; then
        say "config show failed with $rc"
        {
            echo "pecbatch config show $campaign failed: $(meaning "$rc")."
            echo
            tail -n 20 "$log"
        } | notify "pecbatch: $name: configuration error ($rc)"
        exit "$rc"
    fi
    value() { printf '%s\n' "$settings" | awk -v key="$1" '$1 == key && $3 ~ /^[0-9]+$/ { print $3 }'; }
    per_minute=$(value provider.rate_per_minute)
    per_day=$(value provider.rate_per_day)
    limit=$(( ${per_minute:-0} * ${RUN_MINUTES:-25} ))
    [ "$limit" -gt 0 ] || limit=500
    if [ "${per_day:-0}" -gt 0 ]; then
        share=$(( per_day / ${RUNS_PER_DAY:-10} ))
        [ "$share" -gt 0 ] || share=1
        [ "$share" -lt "$limit" ] && limit=$share
    fi
fi

say "start: $campaign, at most $limit rows"
worst=0
failed=""

# pecbatch's own log (docs/logging.md): one record per SMTP attempt,
# receipt pass, notice and error; never a password or a message body.
records=$log_dir/$name-pecbatch.log

# 1. Send the next tranche.
rc=0
"$pecbatch" send "$campaign" --yes --limit "$limit" --quiet \
    --log-file "$records" >>"$log" 2>&1 || rc=$?
case $rc in
    0) say "send: done" ;;
    75) say "send: 75 (locked by another run, or rows deferred or uncertain): next run" ;;
    *)
        say "send: failed with $rc: $(meaning "$rc")"
        worst=$rc
        failed="send exited $rc: $(meaning "$rc")"
        ;;
esac

# 2. Read the receipts (one pass): accettazione, consegna, failures. Not
#    after an authentication failure: retries lock PEC accounts.
if [ "$rc" -ne 78 ]; then
    rc=0
    "$pecbatch" poll "$campaign" --quiet --log-file "$records" >>"$log" 2>&1 || rc=$?
    case $rc in
        0) say "poll: every sent row is final" ;;
        75) say "poll: receipts still to come (or locked): next run" ;;
        *)
            say "poll: failed with $rc: $(meaning "$rc")"
            [ "$worst" -ne 0 ] || worst=$rc
            failed="${failed:+$failed; }poll exited $rc: $(meaning "$rc")"
            ;;
    esac
fi

if [ "$worst" -ne 0 ]; then
    {
        echo "pecbatch-cron on $(hostname): campaign $campaign"
        echo
        echo "$failed."
        echo
        echo "Where it stands:"
        "$pecbatch" status "$campaign" 2>&1 || true
        echo
        echo "Last lines of $log:"
        tail -n 30 "$log"
    } | notify "pecbatch: $name: failed ($worst)"
    say "end: failed ($worst), $operator mailed"
    exit "$worst"
fi
say "end: ok"
exit 0

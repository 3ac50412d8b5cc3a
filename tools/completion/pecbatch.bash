# bash completion for pecbatch                              -*- shell-script -*-
#
# Installed by the .deb as /usr/share/bash-completion/completions/pecbatch.
# From a source checkout:   source tools/completion/pecbatch.bash
#
# Completes subcommands, their options, campaign files (*.toml) for
# CAMPAIGN, contacts files (*.csv, *.xlsx, *.xls), the values of options
# with a fixed set (--format, --encoding, --delimiter, --duplicates,
# --csv-delimiter), journal states for --states (comma-separated lists),
# and campaign keys for --set KEY=VALUE.
#
# Self-contained: it does not need the bash-completion package.
# tests/cli/test_completion.py compares it with `pecbatch <cmd> --help`
# and fails when a command or an option is missing here: update the tables
# below together with the command.

_pecbatch_commands="validate render send poll status report retry resolve evidence run contacts config receipt"

# Options shared by every command that reads a campaign (src/cli/command.cpp).
_pecbatch_campaign_options="--contacts --output-dir --set"

# Global options (src/cli/app.cpp), accepted before or after the command.
_pecbatch_global_options="--log-file --log-format --log-level"

# Every option of a command, as "-h --help ..." (short and long names).
# $1: the command path, e.g. "send" or "config show".
_pecbatch_options() {
    local common="-h --help $_pecbatch_global_options"
    local campaign="$common $_pecbatch_campaign_options"
    case $1 in
        "") echo "$common --version" ;;
        validate | "config show") echo "$campaign" ;;
        render) echo "$campaign --out --rows" ;;
        run) echo "$campaign -y --yes --allow-external --timeout --interval --rows --accept-changes --report --report-format --fields -q --quiet --trace" ;;
        send) echo "$campaign -y --yes --dry-run --limit --rows --accept-changes -q --quiet --trace" ;;
        poll) echo "$campaign --until-final --timeout --interval -q --quiet --trace" ;;
        status) echo "$campaign --json --show" ;;
        report) echo "$campaign -f --format -o --out --fields --csv-delimiter --bom --excel" ;;
        retry) echo "$campaign --failed --states --rows --reason -y --yes" ;;
        resolve) echo "$campaign --resend-uncertain --rows --reason -y --yes" ;;
        evidence) echo "$campaign --zip --rows" ;;
        contacts) echo "$common --format --sheet --encoding --delimiter --address-column --duplicates --json" ;;
        config | receipt) echo "$common" ;;
        "receipt inspect") echo "$common --json --ca-file" ;;
    esac
}

# Nested commands of a command ("" when it has none).
_pecbatch_subcommands() {
    case $1 in
        "") echo "$_pecbatch_commands" ;;
        config) echo "show" ;;
        receipt) echo "inspect" ;;
    esac
}

# Succeeds when option $2 of command $1 takes a value.
_pecbatch_takes_value() {
    case $2 in
        --contacts | --output-dir | --set | --out | -o | --rows | --limit | --log-file | \
            --log-format | --log-level | --timeout | --interval | --show | --format | -f | \
            --fields | --csv-delimiter | --states | --zip | --sheet | --encoding | \
            --delimiter | --address-column | --duplicates | --ca-file | --report | \
            --report-format | --reason)
            return 0 ;;
    esac
    return 1
}

# The keys accepted by --set (the registry in src/config/campaign.cpp).
_pecbatch_keys="campaign.id campaign.name campaign.output_dir
account.address account.username account.password_env account.password_file
account.password_command account.smtp_host account.smtp_port account.smtp_security
account.imap_host account.imap_port account.imap_security account.ca_file
provider.profile provider.max_message_size provider.max_attachments
provider.blocked_extensions provider.rate_per_minute provider.rate_per_hour
provider.rate_per_day
contacts.file contacts.format contacts.sheet contacts.delimiter contacts.encoding
contacts.address_column contacts.duplicates contacts.attachment_columns
contacts.attachments_dir
message.subject message.text_template message.html_template message.attachments
message.receipt
send.concurrency send.max_attempts send.retry_base_seconds send.retry_max_seconds
send.connect_timeout_seconds send.timeout_seconds send.messages_per_connection
send.quiet_period_seconds send.helo_name
poll.no_receipt_after_hours poll.uncertain_grace_hours poll.folders poll.archive_folder
report.fields"

# The states `retry --failed --states` accepts (journal::is_retryable).
_pecbatch_retry_states="failed rejected delivery_failed failed_timeout no_receipt"

# Files with one of the extensions $2 (e.g. "csv xlsx", any case; "any"
# for every file, "" for none), plus directories to walk into; $1 is the
# word being completed. No extglob: it is off in a plain interactive bash.
_pecbatch_files() {
    local cur=$1 item lower ext
    local -a items exts
    read -ra exts <<<"$2"
    mapfile -t items < <(compgen -f -- "$cur")
    compopt -o filenames 2>/dev/null
    COMPREPLY=()
    for item in "${items[@]}"; do
        if [[ -d $item ]]; then
            COMPREPLY+=("$item")
            continue
        fi
        lower=${item,,}
        for ext in "${exts[@]}"; do
            if [[ $ext == any || $lower == *."$ext" ]]; then
                COMPREPLY+=("$item")
                break
            fi
        done
    done
}

# Words from the list $2 starting with $1, each quoted for the shell
# (";" and "|" must not end the command line).
_pecbatch_words() {
    local cur=$1 word
    COMPREPLY=()
    for word in $2; do
        if [[ $word == "$cur"* ]]; then
            COMPREPLY+=("$(printf '%q' "$word")")
        fi
    done
}

# Completes the value $3 of option $2 of command $1.
_pecbatch_value() {
    local cmd=$1 opt=$2 cur=$3
    case $opt in
        --contacts) _pecbatch_files "$cur" "csv xlsx xls" ;;
        --output-dir) _pecbatch_files "$cur" "" ;;
        --out | -o)
            if [[ $cmd == render ]]; then
                _pecbatch_files "$cur" ""
            else
                _pecbatch_files "$cur" any
            fi
            ;;
        --log-file | --report) _pecbatch_files "$cur" any ;;
        --log-format) _pecbatch_words "$cur" "text json" ;;
        --log-level) _pecbatch_words "$cur" "debug info warning error" ;;
        --report-format) _pecbatch_words "$cur" "csv json html" ;;
        --zip) _pecbatch_files "$cur" "zip" ;;
        --ca-file) _pecbatch_files "$cur" "pem crt cer" ;;
        --format | -f)
            if [[ $cmd == contacts ]]; then
                _pecbatch_words "$cur" "auto csv xlsx xls"
            else
                _pecbatch_words "$cur" "csv json html"
            fi
            ;;
        --encoding) _pecbatch_words "$cur" "utf-8 windows-1252 latin-1" ;;
        --delimiter) _pecbatch_words "$cur" "auto , ; tab" ;;
        --csv-delimiter) _pecbatch_words "$cur" ", ; | tab" ;;
        --duplicates) _pecbatch_words "$cur" "error skip" ;;
        --states)
            # A comma-separated list: complete the last element.
            local done_part="" last=$cur state
            if [[ $cur == *,* ]]; then
                done_part=${cur%,*},
                last=${cur##*,}
            fi
            COMPREPLY=()
            for state in $_pecbatch_retry_states; do
                [[ $state == "$last"* ]] && COMPREPLY+=("$done_part$state")
            done
            ;;
        --set)
            local key
            COMPREPLY=()
            for key in $_pecbatch_keys; do
                [[ $key == "$cur"* ]] && COMPREPLY+=("$key=")
            done
            compopt -o nospace 2>/dev/null
            ;;
        *) COMPREPLY=() ;;  # a number, a range, a duration, a name: nothing to offer
    esac
}

_pecbatch() {
    # COMP_WORDBREAKS splits "--format=csv" into "--format" "=" "csv":
    # join them back so that options and positionals are counted right.
    local -a words=()
    local i w n=-1 cword=0
    for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
        w=${COMP_WORDS[i]}
        if ((n >= 0)) && [[ $w == "=" || ($i -gt 1 && ${COMP_WORDS[i - 1]} == "=") ]]; then
            words[n]+=$w
        else
            words[++n]=$w
        fi
        ((i == COMP_CWORD)) && cword=$n
    done
    local cur=${words[cword]}
    # What readline replaces: the text after the last '=' when there is one.
    local rl_cur=${COMP_WORDS[COMP_CWORD]}
    [[ $rl_cur == "=" ]] && rl_cur=""

    # Walk the words before the cursor: the command path, option values,
    # how many positionals were given.
    local cmd="" positionals=0 expect_value="" subs
    for ((i = 1; i < cword; i++)); do
        w=${words[i]}
        if [[ -n $expect_value ]]; then
            expect_value=""
            continue
        fi
        case $w in
            --*=*) ;;
            -*)
                _pecbatch_takes_value "$cmd" "$w" && expect_value=$w
                ;;
            *)
                subs=$(_pecbatch_subcommands "$cmd")
                if [[ $positionals -eq 0 && " $subs " == *" $w "* ]]; then
                    cmd=${cmd:+$cmd }$w
                else
                    positionals=$((positionals + 1))
                fi
                ;;
        esac
    done

    # The value of an option: "--opt VALUE" or "--opt=VALUE".
    if [[ -n $expect_value ]]; then
        _pecbatch_value "$cmd" "$expect_value" "$cur"
        return 0
    fi
    if [[ $cur == -*=* ]]; then
        local opt=${cur%%=*}
        if _pecbatch_takes_value "$cmd" "$opt"; then
            _pecbatch_value "$cmd" "$opt" "$rl_cur"
        fi
        return 0
    fi

    if [[ $cur == -* ]]; then
        _pecbatch_words "$cur" "$(_pecbatch_options "$cmd")"
        return 0
    fi

    subs=$(_pecbatch_subcommands "$cmd")
    if [[ -n $subs ]]; then
        _pecbatch_words "$cur" "$subs"
        return 0
    fi
    # CAMPAIGN and FILE are single; receipt inspect takes many files.
    if ((positionals > 0)) && [[ $cmd != "receipt inspect" ]]; then
        COMPREPLY=()
        return 0
    fi
    case $cmd in
        contacts) _pecbatch_files "$cur" "csv xlsx xls" ;;
        "receipt inspect") _pecbatch_files "$cur" any ;;
        *) _pecbatch_files "$cur" "toml" ;;
    esac
    return 0
}

complete -F _pecbatch pecbatch

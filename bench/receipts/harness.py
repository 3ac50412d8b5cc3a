#!/usr/bin/python3
"""Runs and measures the two receipt benchmarks (see bench/README.md).

  harness.py throughput --corpus DIR --pecbatch P [--runs 3]
      pecbatch receipt inspect vs reference.py on the corpus of make_corpus.py
  harness.py poll --work DIR --pecbatch P [--old 50000] [--rows 20] [--new 10]
      pecbatch poll on a sandbox mailbox that already holds --old messages
  harness.py poll-throughput --work DIR --pecbatch P [--rows 2000]
      one pecbatch poll fetching and matching the 2 x --rows receipts of a
      campaign sent to the sandbox (pecbatch alone: no reference does IMAP)

Whole processes are measured: wall time, and user + system CPU from wait4
(children included, so the reference's openssl processes count).
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SANDBOX = os.path.join(ROOT, "tools", "pec-sandbox", "pec-sandbox")
PYTHON = "/usr/bin/python3"
EXPECTED_STATUS = {"genuine": "valid", "tampered": "invalid", "untrusted": "untrusted",
                   "unsigned": "unsigned"}
COMPARED = ("class", "kind", "msgid", "identificativo", "consegna", "errore",
            "errore_esteso", "mittente", "destinatari", "oggetto", "gestore", "time",
            "ricevuta")


def run_measured(argv, cwd=None, stdout=None, env=None, stdin=None):
    """Run one process to its end; return (exit code, wall s, cpu s, max RSS kB).

    CPU is user + system from wait4, children included. The peak RSS comes
    from /usr/bin/time, which forks from a small process: wait4's own
    ru_maxrss would count this harness's pages, shared at fork time.
    """
    rss_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), "harness-rss.%d" % os.getpid())
    started = time.monotonic()
    proc = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss_file] + argv, cwd=cwd,
                            stdout=stdout, env=env, stdin=stdin)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    try:
        with open(rss_file) as f:
            rss = int(f.read().split()[-1])
        os.unlink(rss_file)
    except (OSError, ValueError, IndexError):
        rss = 0
    return proc.returncode, wall, usage.ru_utime + usage.ru_stime, rss


def argv_batches(prefix, files, limit=512 * 1024):
    """Split *files* so that no command line exceeds *limit* bytes."""
    base = sum(len(a) + 1 for a in prefix)
    batch, size = [], base
    for name in files:
        if batch and size + len(name) + 1 > limit:
            yield prefix + batch
            batch, size = [], base
        batch.append(name)
        size += len(name) + 1
    if batch:
        yield prefix + batch


def match(jsonl_path, campaign):
    """The matching step, the same for both sides: parse the JSON lines and
    look each trusted receipt's msgid up in the campaign's set.
    Returns (objects by file, matched count, cpu s, wall s)."""
    cpu0, wall0 = time.process_time(), time.monotonic()
    by_file = {}
    matched = 0
    with open(jsonl_path, encoding="utf-8") as f:
        for line in f:
            obj = json.loads(line)
            by_file[obj["file"]] = obj
            if (obj["class"] == "receipt" and obj["signature"]["status"] == "valid"
                    and obj["msgid"] in campaign):
                matched += 1
    return by_file, matched, time.process_time() - cpu0, time.monotonic() - wall0


def throughput(args):
    corpus = os.path.abspath(args.corpus)
    pecbatch = os.path.abspath(args.pecbatch)
    ca_file = os.path.join(corpus, "ca", "root-ca.pem")
    expected = [json.loads(line) for line in open(os.path.join(corpus, "expected.jsonl"))]
    campaign = set(line.strip() for line in open(os.path.join(corpus, "campaign.txt")))
    files = ["receipts/" + e["file"] for e in expected]
    n = len(files)
    total_bytes = 0
    for name in files:  # warm the page cache: both sides read hot files
        with open(os.path.join(corpus, name), "rb") as f:
            total_bytes += len(f.read())
    with open(os.path.join(corpus, "files.txt"), "w") as f:
        f.write("\n".join(files) + "\n")
    print("corpus: %d receipts, %.1f MB, %d Message-IDs in the campaign"
          % (n, total_bytes / 1e6, len(campaign)), flush=True)

    def side_pecbatch(out):
        code = wall = cpu = rss = 0
        batches = 0
        with open(out, "wb") as f:
            for argv in argv_batches([pecbatch, "receipt", "inspect", "--json",
                                      "--ca-file", ca_file], files):
                c, w, u, r = run_measured(argv, cwd=corpus, stdout=f)
                code, wall, cpu, rss = max(code, c), wall + w, cpu + u, max(rss, r)
                batches += 1
        return code, wall, cpu, rss, batches

    def side_reference(out):
        with open(out, "wb") as f:
            c, w, u, r = run_measured([PYTHON, os.path.join(HERE, "reference.py"),
                                       "--ca-file", ca_file, "--list", "files.txt"],
                                      cwd=corpus, stdout=f)
        return c, w, u, r, 1

    sides = {"pecbatch": side_pecbatch, "reference": side_reference}
    results = {name: [] for name in sides}
    outputs = {}
    for run in range(args.runs):
        order = ["pecbatch", "reference"] if run % 2 == 0 else ["reference", "pecbatch"]
        for name in order:
            out = os.path.join(corpus, "out-%s.jsonl" % name)
            code, wall, cpu, rss, batches = sides[name](out)
            if code != 0:
                sys.exit("%s exited with %d (run %d)" % (name, code, run + 1))
            by_file, matched, mcpu, mwall = match(out, campaign)
            if len(by_file) != n:
                sys.exit("%s printed %d objects for %d files" % (name, len(by_file), n))
            outputs[name] = by_file
            row = {"wall": wall + mwall, "cpu": cpu + mcpu, "rss_kb": rss,
                   "match_ms": mwall * 1000, "matched": matched, "processes": batches}
            results[name].append(row)
            print("run %d %-9s %7.2f s wall %7.2f s cpu  %6.0f receipts/s  %5.2f ms cpu/receipt"
                  "  (%d process%s, match %.0f ms)"
                  % (run + 1, name, row["wall"], row["cpu"], n / row["wall"],
                     row["cpu"] * 1000 / n, batches, "" if batches == 1 else "es",
                     row["match_ms"]), flush=True)

    summary = {"receipts": n, "bytes": total_bytes, "campaign_ids": len(campaign),
               "runs": args.runs}
    print("\nmedian of %d runs, %d receipts (%.1f MB):" % (args.runs, n, total_bytes / 1e6))
    print("| side | receipts/s | CPU ms/receipt | wall s | peak RSS MB | matched |")
    print("|---|---|---|---|---|---|")
    for name in sides:
        wall = statistics.median(r["wall"] for r in results[name])
        cpu = statistics.median(r["cpu"] for r in results[name])
        rss = max(r["rss_kb"] for r in results[name])
        summary[name] = {"receipts_per_s": n / wall, "cpu_ms_per_receipt": cpu * 1000 / n,
                         "wall_s": wall, "cpu_s": cpu, "rss_mb": rss / 1024,
                         "matched": results[name][-1]["matched"], "runs": results[name]}
        print("| %s | %.0f | %.2f | %.2f | %.1f | %d |"
              % (name, n / wall, cpu * 1000 / n, wall, rss / 1024,
                 results[name][-1]["matched"]))
    ratio = summary["pecbatch"]["receipts_per_s"] / summary["reference"]["receipts_per_s"]
    cpu_ratio = (summary["reference"]["cpu_ms_per_receipt"]
                 / summary["pecbatch"]["cpu_ms_per_receipt"])
    print("pecbatch / reference: %.1fx receipts/s, %.1fx less CPU per receipt"
          % (ratio, cpu_ratio))
    summary["speedup"], summary["cpu_ratio"] = ratio, cpu_ratio

    # Verdicts: each side against the other and against what was generated.
    problems = []
    counts = {}
    for name in sides:
        statuses = {}
        for obj in outputs[name].values():
            status = obj["signature"]["status"]
            statuses[status] = statuses.get(status, 0) + 1
        counts[name] = statuses
    want = {}
    for e in expected:
        status = EXPECTED_STATUS[e["mode"]]
        want[status] = want.get(status, 0) + 1
        f = "receipts/" + e["file"]
        pb, ref = outputs["pecbatch"][f], outputs["reference"][f]
        for name, obj in (("pecbatch", pb), ("reference", ref)):
            if obj["signature"]["status"] != status:
                problems.append("%s: %s says %s, generated as %s"
                                % (f, name, obj["signature"]["status"], e["mode"]))
            if obj["kind"] != e["kind"] or obj["msgid"] != e["msgid"]:
                problems.append("%s: %s says kind %s msgid %s, generated %s %s"
                                % (f, name, obj["kind"], obj["msgid"], e["kind"], e["msgid"]))
        for key in COMPARED:
            if pb.get(key) != ref.get(key):
                problems.append("%s: %s differs: pecbatch %r, reference %r"
                                % (f, key, pb.get(key), ref.get(key)))
        if (pb["signature"]["status"] == "valid"
                and pb["signature"]["signer_email"] != ref["signature"]["signer_email"]):
            problems.append("%s: signer differs" % f)
        if pb["warnings"] and e["mode"] == "genuine":
            problems.append("%s: pecbatch warnings %s" % (f, pb["warnings"]))
    want_matched = sum(1 for e in expected if e["mode"] == "genuine" and e["ours"])
    print("\nsignature verdicts: generated %s" % json.dumps(want, sort_keys=True))
    for name in sides:
        print("                    %-9s %s" % (name, json.dumps(counts[name], sort_keys=True)))
    print("matched (valid receipt, msgid in the campaign): expected %d, pecbatch %d, "
          "reference %d" % (want_matched, summary["pecbatch"]["matched"],
                            summary["reference"]["matched"]))
    if summary["pecbatch"]["matched"] != want_matched:
        problems.append("pecbatch matched %d, expected %d"
                        % (summary["pecbatch"]["matched"], want_matched))
    if summary["reference"]["matched"] != want_matched:
        problems.append("reference matched %d, expected %d"
                        % (summary["reference"]["matched"], want_matched))
    summary["verdicts"] = {"generated": want, **counts}
    summary["matched_expected"] = want_matched
    summary["problems"] = problems
    print("facts compared per file: %s, signature status; %d disagreement(s)"
          % (", ".join(COMPARED), len(problems)))
    for line in problems[:20]:
        print("  " + line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    return 1 if problems else 0


# -- poll --------------------------------------------------------------------

def sandbox_info(sandbox_dir):
    with open(os.path.join(sandbox_dir, "sandbox.json")) as f:
        return json.load(f)


def count_lines(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def parse_poll(text):
    out = {}
    m = re.search(r"mailbox\s+(\d+) new messages in \d+ pass(?:es)?: (\d+) fetched, (\d+) "
                  r"skipped \(not about this campaign\), (\d+) already recorded", text)
    if m:
        out.update(examined=int(m.group(1)), fetched=int(m.group(2)), skipped=int(m.group(3)),
                   already=int(m.group(4)))
    m = re.search(r"receipts\s+(\d+) matched, (\d+) state changes, (\d+) untrusted", text)
    if m:
        out.update(matched=int(m.group(1)), changes=int(m.group(2)), untrusted=int(m.group(3)))
    m = re.search(r"bytes\s+(\d+) received from the server \((\d+) in whole messages\)", text)
    if m:
        out.update(bytes=int(m.group(1)), message_bytes=int(m.group(2)))
    m = re.search(r"all rows\s+(.*)", text)
    if m:
        out["states"] = m.group(1).strip()
    return out


def maildir_size(path):
    count = size = 0
    for sub in ("cur", "new"):
        with os.scandir(os.path.join(path, sub)) as it:
            for entry in it:
                count += 1
                size += entry.stat().st_size
    return count, size


SANDBOX_CONFIG = {
    # 'attesa*' rows are accepted, their consegna comes much later (written
    # by this harness between two polls); 'errore*' rows get errore-consegna;
    # no 12 h / 24 h notice during a run.
    "clock": {"12h": 100000, "24h": 200000},
    "rules": [{"local": "attesa*", "outcome": "delivered", "delay": 1000000},
              {"local": "errore*", "outcome": "no-dest"}],
}


def with_sandbox(args, steps):
    """Run steps(work, pecbatch, info) with a fresh sandbox in --work."""
    work = os.path.abspath(args.work)
    pecbatch = os.path.abspath(args.pecbatch)
    if os.path.exists(work):
        shutil.rmtree(work)
    os.makedirs(work)
    os.chmod(work, 0o755)
    sandbox_dir = os.path.join(work, "sandbox")
    config = os.path.join(work, "sandbox-config.json")
    with open(config, "w") as f:
        json.dump(SANDBOX_CONFIG, f)
    subprocess.run([SANDBOX, "start", "--dir", sandbox_dir, "--config", config, "--quiet"],
                   check=True, timeout=120)
    try:
        return steps(work, pecbatch, sandbox_info(sandbox_dir))
    finally:
        subprocess.run([SANDBOX, "stop", "--dir", sandbox_dir], timeout=120)
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)


def make_campaign(work, info, campaign_id, addresses):
    """A campaign for *addresses* against the sandbox; returns (toml path, env)."""
    account = info["accounts"][0]
    cdir = os.path.join(work, campaign_id)
    os.makedirs(cdir)
    with open(os.path.join(cdir, "contacts.csv"), "w", newline="") as f:
        f.write("pec;nome;numero\r\n")
        for i, address in enumerate(addresses):
            f.write("%s;Destinatario %d;%d\r\n" % (address, i, i))
    with open(os.path.join(cdir, "body.txt"), "w") as f:
        f.write("Gentile {{nome}},\nfattura {{numero}}.\n")
    campaign = os.path.join(cdir, "campaign.toml")
    with open(campaign, "w") as f:
        f.write("""[campaign]
id = "%s"
output_dir = "out"
[account]
address = "%s"
username = "%s"
password_env = "PECBATCH_BENCH_PASSWORD"
smtp_host = "127.0.0.1"
smtp_port = %d
imap_host = "127.0.0.1"
imap_port = %d
ca_file = "%s"
[provider]
profile = "custom"
rate_per_minute = 0
rate_per_hour = 0
rate_per_day = 0
[send]
timeout_seconds = 60
messages_per_connection = 100000
[contacts]
file = "contacts.csv"
[message]
subject = "Fattura {{numero}}"
text_template = "body.txt"
""" % (campaign_id, account["address"], account["username"], info["smtps_port"],
       info["imaps_port"], info["ca_cert"]))
    return campaign, dict(os.environ, PECBATCH_BENCH_PASSWORD=account["password"])


def send_and_wait(pecbatch, campaign, env, info, want):
    """pecbatch send, then wait until the sandbox delivered *want* more receipts."""
    before = count_lines(info["receipts_log"])
    code, wall, _, _ = run_measured([pecbatch, "send", "--yes", "--quiet", campaign],
                                    env=env, stdout=subprocess.DEVNULL)
    if code != 0:
        sys.exit("pecbatch send exited with %d" % code)
    deadline = time.monotonic() + 120 + want / 10
    while count_lines(info["receipts_log"]) - before < want:
        if time.monotonic() > deadline:
            sys.exit("the sandbox delivered %d receipts, expected %d"
                     % (count_lines(info["receipts_log"]) - before, want))
        time.sleep(0.2)
    return wall


DOVECOT_LOGOUT = re.compile(r"Logged out in=(\d+) out=(\d+) .*hdr_count=(\d+) hdr_bytes=(\d+) "
                            r"body_count=(\d+) body_bytes=(\d+)")


def dovecot_logouts(info):
    """Dovecot's own count of each IMAP session: (in, out, hdr_count, hdr_bytes,
    body_count, body_bytes) per 'Logged out' line of its log."""
    try:
        with open(info["dovecot_log"], errors="replace") as f:
            return [tuple(int(g) for g in m.groups())
                    for m in map(DOVECOT_LOGOUT.search, f) if m]
    except FileNotFoundError:
        return []


def one_poll(pecbatch, campaign, env, log, label, info):
    """One `pecbatch poll` pass, measured; returns the facts of its summary,
    with the server's view of the session (Dovecot's log) as a cross-check."""
    before = len(dovecot_logouts(info))
    with open(log, "w") as f:
        code, wall, cpu, rss = run_measured([pecbatch, "poll", "--quiet", campaign],
                                            env=env, stdout=f)
    with open(log) as f:
        facts = parse_poll(f.read())
    facts.update(exit=code, wall_s=wall, cpu_s=cpu, rss_mb=rss / 1024)
    deadline = time.monotonic() + 5  # Dovecot logs the logout asynchronously
    while len(dovecot_logouts(info)) <= before and time.monotonic() < deadline:
        time.sleep(0.05)
    sessions = dovecot_logouts(info)[before:]
    if sessions:
        facts["server"] = {"sessions": len(sessions),
                           "out": sum(x[1] for x in sessions),
                           "hdr_count": sum(x[2] for x in sessions),
                           "body_count": sum(x[4] for x in sessions),
                           "body_bytes": sum(x[5] for x in sessions)}
    print("%-24s exit %2d %6.2f s wall %5.2f s cpu  %s new, %s fetched, %s skipped, "
          "%s bytes received (%s in whole messages)"
          % (label, code, wall, cpu, facts.get("examined"), facts.get("fetched"),
             facts.get("skipped"), facts.get("bytes", "?"), facts.get("message_bytes", "?")),
          flush=True)
    if "bytes" not in facts:
        print("  (no 'bytes' line in the output of pecbatch poll)")
    server = facts.get("server")
    if server:
        print("%-24s Dovecot's log: %d session(s), sent %d bytes after login, %d header "
              "fetches, %d whole messages (%d bytes)"
              % ("", server["sessions"], server["out"], server["hdr_count"],
                 server["body_count"], server["body_bytes"]), flush=True)
    return facts


def poll(args):
    return with_sandbox(args, lambda work, pecbatch, info: poll_steps(args, work, pecbatch,
                                                                      info))


def poll_steps(args, work, pecbatch, info):
    account = info["accounts"][0]
    maildir = account["maildir"]
    pki = os.path.dirname(info["ca_cert"])
    summary = {"old": args.old, "rows": args.rows, "new": args.new}

    # 1. The old messages, then let Dovecot index them (as a server that has
    #    held them for months would have).
    print("filling the mailbox with %d old messages ..." % args.old, flush=True)
    out = subprocess.run([PYTHON, os.path.join(HERE, "make_corpus.py"), "old-mail", maildir,
                          "--count", str(args.old), "--pki", pki],
                         check=True, capture_output=True, text=True)
    summary["old_mail"] = json.loads(out.stdout)
    started = time.monotonic()
    doveconf = os.path.join(info["dir"], "dovecot", "dovecot.conf")
    status = subprocess.run(["doveadm", "-c", doveconf, "mailbox", "status", "-u",
                             account["username"], "messages uidnext", "INBOX"],
                            capture_output=True, text=True, timeout=1800)
    summary["dovecot_index_s"] = time.monotonic() - started
    print("dovecot indexed them in %.1f s: %s" % (summary["dovecot_index_s"],
                                                  (status.stdout or status.stderr).strip()),
          flush=True)

    # 2. The campaign: --rows delivered at once, --new whose consegna comes later.
    addresses = (["dest%03d@pec.sandbox.test" % i for i in range(args.rows)]
                 + ["attesa%03d@pec.sandbox.test" % i for i in range(args.new)])
    campaign, env = make_campaign(work, info, "bench-poll", addresses)
    cdir = os.path.dirname(campaign)
    wall = send_and_wait(pecbatch, campaign, env, info, 2 * args.rows + args.new)
    count, size = maildir_size(maildir)
    print("sent %d rows in %.1f s; mailbox: %d messages, %.1f MB"
          % (len(addresses), wall, count, size / 1e6), flush=True)
    summary["mailbox_before_poll"] = {"messages": count, "bytes": size}

    first = one_poll(pecbatch, campaign, env, os.path.join(work, "poll-1.txt"),
                     "poll 1 (first pass)", info)
    out = subprocess.run([PYTHON, os.path.join(HERE, "make_corpus.py"), "new-receipts",
                          maildir, "--pki", pki,
                          "--journal", os.path.join(cdir, "out", "journal.sqlite"),
                          "--evidence", os.path.join(cdir, "out", "evidence"),
                          "--like", "attesa*@*"], check=True, capture_output=True, text=True)
    added = json.loads(out.stdout)
    print("added %d new receipts (%d bytes)" % (added["receipts"], added["bytes"]), flush=True)
    second = one_poll(pecbatch, campaign, env, os.path.join(work, "poll-2.txt"),
                      "poll 2 (%d new)" % added["receipts"], info)
    third = one_poll(pecbatch, campaign, env, os.path.join(work, "poll-3.txt"),
                     "poll 3 (nothing new)", info)
    summary.update(poll1=first, poll2=second, poll3=third, added=added)

    problems = []
    if first.get("fetched") != 2 * args.rows + args.new:
        problems.append("poll 1 fetched %s messages, expected %d"
                        % (first.get("fetched"), 2 * args.rows + args.new))
    if second.get("examined") != added["receipts"] or second.get("fetched") != added["receipts"]:
        problems.append("poll 2 saw %s new and fetched %s, expected %d"
                        % (second.get("examined"), second.get("fetched"), added["receipts"]))
    if third.get("examined") != 0 or third.get("fetched") != 0:
        problems.append("poll 3 saw %s new and fetched %s, expected 0"
                        % (third.get("examined"), third.get("fetched")))
    for label, facts in (("poll 1", first), ("poll 2", second), ("poll 3", third)):
        server = facts.get("server")
        if server and server["body_count"] != facts.get("fetched"):
            problems.append("%s: Dovecot sent %d whole messages, pecbatch says it fetched %s"
                            % (label, server["body_count"], facts.get("fetched")))
    if second.get("exit") != 0:
        problems.append("poll 2 exited %s: not every row final (%s)"
                        % (second.get("exit"), second.get("states")))
    if "bytes" in second and "bytes" in first:
        per_new = (second["bytes"] - third.get("bytes", 0)) / max(1, added["receipts"])
        print("poll 2 received %.0f bytes per new receipt above an empty poll (a new receipt "
              "is %.0f bytes); poll 1 received %.1f bytes per old message"
              % (per_new, added["bytes"] / max(1, added["receipts"]),
                 (first["bytes"] - first["message_bytes"]) / max(1, first.get("examined", 1))))
        if second["bytes"] > 4 * added["bytes"] + 2 * third.get("bytes", 0) + 65536:
            problems.append("poll 2 received %d bytes for %d bytes of new receipts"
                            % (second["bytes"], added["bytes"]))
    summary["problems"] = problems
    for line in problems:
        print("PROBLEM: " + line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    return 1 if problems else 0


def poll_throughput(args):
    return with_sandbox(args, lambda work, pecbatch, info: poll_throughput_steps(
        args, work, pecbatch, info))


def poll_throughput_steps(args, work, pecbatch, info):
    """The whole pipeline in production: a mailbox holding only this campaign's
    receipts, one poll that fetches, archives, verifies, matches and records
    each of them (journal transaction per receipt, evidence manifests)."""
    n_err = args.rows // 10
    addresses = (["dest%05d@pec.sandbox.test" % i for i in range(args.rows - n_err)]
                 + ["errore%05d@pec.sandbox.test" % i for i in range(n_err)])
    campaign, env = make_campaign(work, info, "bench-poll-rate", addresses)
    wall = send_and_wait(pecbatch, campaign, env, info, 2 * args.rows)
    count, size = maildir_size(info["accounts"][0]["maildir"])
    print("sent %d rows in %.1f s; mailbox: %d receipts, %.1f MB"
          % (args.rows, wall, count, size / 1e6), flush=True)
    facts = one_poll(pecbatch, campaign, env, os.path.join(work, "poll.txt"), "poll", info)
    n = facts.get("fetched") or 0
    facts["receipts_per_s"] = n / facts["wall_s"]
    facts["cpu_ms_per_receipt"] = facts["cpu_s"] * 1000 / max(1, n)
    print("pecbatch poll: %.0f receipts/s, %.2f ms CPU per receipt, peak RSS %.1f MB; %s"
          % (facts["receipts_per_s"], facts["cpu_ms_per_receipt"], facts["rss_mb"],
             facts.get("states")))
    problems = []
    if n != 2 * args.rows or facts.get("matched") != 2 * args.rows:
        problems.append("fetched %s and matched %s, expected %d"
                        % (n, facts.get("matched"), 2 * args.rows))
    if facts.get("exit") != 0:
        problems.append("poll exited %s (%s)" % (facts.get("exit"), facts.get("states")))
    for line in problems:
        print("PROBLEM: " + line)
    facts["problems"] = problems
    if args.json:
        with open(args.json, "w") as f:
            json.dump(facts, f, indent=1)
    return 1 if problems else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("throughput")
    p.add_argument("--corpus", required=True)
    p.add_argument("--pecbatch", required=True)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--json", help="write the figures here")
    p.set_defaults(func=throughput)
    p = sub.add_parser("poll")
    p.add_argument("--work", required=True, help="scratch directory (emptied first)")
    p.add_argument("--pecbatch", required=True)
    p.add_argument("--old", type=int, default=50000)
    p.add_argument("--rows", type=int, default=20)
    p.add_argument("--new", type=int, default=10)
    p.add_argument("--json", help="write the figures here")
    p.set_defaults(func=poll)
    p = sub.add_parser("poll-throughput")
    p.add_argument("--work", required=True, help="scratch directory (emptied first)")
    p.add_argument("--pecbatch", required=True)
    p.add_argument("--rows", type=int, default=2000)
    p.add_argument("--json", help="write the figures here")
    p.set_defaults(func=poll_throughput)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(args.func(args))


if __name__ == "__main__":
    main()

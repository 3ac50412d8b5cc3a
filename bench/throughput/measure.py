#!/usr/bin/python3
"""Runs one benchmark case and appends one result line to a TSV file.

    measure.py RESULTS SIZE CASE RUN MESSAGES SINK_PIDS TLS_PIDS -- COMMAND...

Wall time is measured around the command; client CPU (user + system) comes
from wait4(), so it includes every process the command waited for (the curl
processes of a shell loop). Server CPU is the growth of utime + stime in
/proc/PID/stat of the sink and of the TLS proxy (comma-separated PID lists,
"-" for none), summed over all their threads. The command's standard output
goes to the file named by $MEASURE_STDOUT when set (appended). Prints the
line and exits with the command's status.
"""

import os
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        with open("/proc/%s/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def main():
    split = sys.argv.index("--")
    results, size, case, run, messages, sink, tls = sys.argv[1:split]
    command = sys.argv[split + 1:]
    sink_pids = [] if sink == "-" else sink.split(",")
    tls_pids = [] if tls == "-" else tls.split(",")

    sink0, tls0 = cpu_seconds(sink_pids), cpu_seconds(tls_pids)
    start = time.monotonic()
    actions = []
    if os.environ.get("MEASURE_STDOUT"):
        actions.append((os.POSIX_SPAWN_OPEN, 1, os.environ["MEASURE_STDOUT"],
                        os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644))
    pid = os.posix_spawnp(command[0], command, os.environ, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - start
    # Let the servers finish the last reply's accounting.
    time.sleep(0.05)
    sink1, tls1 = cpu_seconds(sink_pids), cpu_seconds(tls_pids)
    rc = os.waitstatus_to_exitcode(status)

    line = "\t".join([size, case, run, messages, "%.4f" % wall,
                      "%.4f" % (usage.ru_utime + usage.ru_stime),
                      "%.3f" % (sink1 - sink0), "%.3f" % (tls1 - tls0),
                      str(usage.ru_maxrss), str(rc)])
    with open(results, "a") as f:
        f.write(line + "\n")
    n = int(messages)
    print("  %-4s %-34s run %s: %7.0f msg/s  client %.3f ms/msg  rc=%d"
          % (size, case, run, n / wall, 1000 * (usage.ru_utime + usage.ru_stime) / n, rc),
          flush=True)
    sys.exit(rc)


if __name__ == "__main__":
    main()

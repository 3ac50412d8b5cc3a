#!/usr/bin/python3
"""Latency of a durable write on the disk of DIR, for context beside the
throughput figures: COUNT times, write 4 KiB and fdatasync (what an SQLite
commit in WAL mode with synchronous=FULL waits for). Prints one line.

    fsync_probe.py DIR [COUNT]
"""

import os
import sys
import time


def main():
    path = os.path.join(sys.argv[1], "fsync-probe.tmp")
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    lat = []
    try:
        for i in range(count):
            os.pwrite(fd, b"x" * 4096, (i % 16) * 4096)
            start = time.perf_counter()
            os.fdatasync(fd)
            lat.append(time.perf_counter() - start)
    finally:
        os.close(fd)
        os.unlink(path)
    lat.sort()
    print("fdatasync of 4 KiB: median %.3f ms, p90 %.3f ms, max %.3f ms (%d samples)"
          % (1000 * lat[len(lat) // 2], 1000 * lat[int(len(lat) * 0.9)], 1000 * lat[-1], count))


if __name__ == "__main__":
    main()

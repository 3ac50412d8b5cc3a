"""A small timer thread for delayed provider events.

Delivery receipts, errors and the 12 h / 24 h notices are produced on the
compressed clock by callables scheduled here.  Events run one at a time in
submission order for equal due times; an exception in one event is logged
and does not stop the others.  Pending events are dropped at shutdown.
"""

import heapq
import itertools
import threading
import time
import traceback


class Scheduler:
    """Runs callables at (monotonic) due times in a background thread."""

    def __init__(self, log=None):
        self._heap = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopping = False
        self._log = log or (lambda msg: None)
        self._thread = threading.Thread(target=self._run, name="pec-scheduler", daemon=True)
        self._thread.start()

    def call_later(self, delay, func, *args):
        """Run ``func(*args)`` after *delay* seconds."""
        due = time.monotonic() + max(0.0, delay)
        with self._cond:
            heapq.heappush(self._heap, (due, next(self._seq), func, args))
            self._cond.notify()

    def pending(self):
        with self._cond:
            return len(self._heap)

    def _run(self):
        while True:
            with self._cond:
                while not self._stopping:
                    if self._heap:
                        wait = self._heap[0][0] - time.monotonic()
                        if wait <= 0:
                            break
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
                if self._stopping:
                    return
                _, _, func, args = heapq.heappop(self._heap)
            try:
                func(*args)
            except Exception:  # keep the provider running
                self._log("scheduled event failed:\n" + traceback.format_exc())

    def stop(self):
        with self._cond:
            dropped = len(self._heap)
            self._stopping = True
            self._heap.clear()
            self._cond.notify()
        self._thread.join(timeout=5)
        return dropped

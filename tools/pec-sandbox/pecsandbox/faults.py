"""Fault injection, the control file, and the per-sender rate limit.

A *fault* changes what the access point does at one point of the SMTP
dialogue.  Faults come from the configuration (``faults``, active for the
whole run) and from the control file ``DIR/control.json``, which is re-read
whenever it changes (checked on every new connection and at every fault
point: EHLO, AUTH, MAIL, RCPT, DATA and the end of data), so
a test can arm a fault while the sandbox runs.  Rewriting the file resets
the counters of the faults it holds; an invalid file is logged in
``sandbox.log`` and treated as empty.

Fault object (JSON)::

    {"at": "mail",            # connect|ehlo|auth|mail|rcpt|data|data-body|data-end|accepted
     "reply": 451,            # one of: "reply": <4xx/5xx code> | "drop": true | "delay": <seconds>
     "message": "4.3.0 ...",  # optional reply text after the code
     "count": 1,              # optional: fire at most N times
     "skip": 0,               # optional: let the first K matching occasions pass
     "probability": 0.5,      # optional: fire with this probability
     "sender": "a@b",         # optional filter (glob) on the authenticated/MAIL FROM address
     "recipient": "x@*"}      # optional filter (glob) on a recipient (rcpt and later points)

Points: ``connect`` (before the greeting), ``ehlo``, ``auth`` (after the
credentials were read: a ``reply`` replaces the 235 answer, e.g. 535),
``mail``, ``rcpt``, ``data`` (the DATA command, before 354), ``data-body``
(after 354, once the first data arrived: only ``drop``), ``data-end``
(after the final dot, the message is NOT accepted), ``accepted`` (the
message IS accepted and its receipts issued; then ``drop`` closes the
connection without the 250 and ``reply`` answers with an error code
anyway: the two cases that make clients send duplicates).

A reply with code 421 always closes the connection afterwards.
"""

import fnmatch
import json
import os
import random
import threading
import time
from collections import deque

from .config import ConfigError, RECEIPT_MODES, _check_keys

POINTS = ("connect", "ehlo", "auth", "mail", "rcpt", "data", "data-body", "data-end",
          "accepted")

DEFAULT_TEXT = {
    421: "4.3.2 Service not available, closing transmission channel",
    450: "4.2.0 Mailbox temporarily unavailable",
    451: "4.3.0 Temporary local problem, please try again later",
    452: "4.3.1 Insufficient system storage",
    454: "4.7.0 Temporary authentication failure",
    535: "5.7.8 Authentication credentials invalid",
    550: "5.7.1 Message refused",
    552: "5.3.4 Message size exceeds fixed limit",
    554: "5.3.0 Transaction failed",
}

RATE_LIMIT_REPLY = "550 5.7.1 Class Of Service - Too much traffic from this sender"

RECEIPT_KINDS = ("accettazione", "non-accettazione", "avvenuta-consegna", "errore-consegna",
                 "preavviso-errore-consegna", "any")


class FaultSpec:
    """A validated fault description (see module docstring)."""

    KEYS = ("at", "reply", "message", "drop", "delay", "count", "skip", "probability",
            "sender", "recipient", "comment")

    def __init__(self):
        self.at = None
        self.action = None
        self.code = None
        self.text = None
        self.seconds = 0.0
        self.count = None
        self.skip = 0
        self.probability = None
        self.sender = None
        self.recipient = None
        self.raw = None

    @classmethod
    def parse(cls, obj, where):
        _check_keys(obj, cls.KEYS, where)
        spec = cls()
        spec.raw = obj
        spec.at = obj.get("at")
        if spec.at not in POINTS:
            raise ConfigError("%s.at must be one of %s" % (where, ", ".join(POINTS)))
        actions = [k for k in ("reply", "drop", "delay") if k in obj]
        if len(actions) != 1:
            raise ConfigError("%s needs exactly one of \"reply\", \"drop\", \"delay\"" % where)
        spec.action = actions[0]
        if spec.action == "reply":
            code = obj["reply"]
            if isinstance(code, bool) or not isinstance(code, int) or not 400 <= code <= 599:
                raise ConfigError("%s.reply must be an SMTP code 400..599" % where)
            spec.code = code
            text = obj.get("message")
            if text is not None and not isinstance(text, str):
                raise ConfigError("%s.message must be a string" % where)
            spec.text = text or DEFAULT_TEXT.get(code, "%d.0.0 Sandbox fault" % (code // 100))
            if spec.at == "data-body":
                raise ConfigError("%s: at \"data-body\" only \"drop\" is possible" % where)
        elif spec.action == "drop":
            if obj["drop"] is not True:
                raise ConfigError("%s.drop must be true" % where)
        else:
            delay = obj["delay"]
            if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
                raise ConfigError("%s.delay must be a number of seconds >= 0" % where)
            spec.seconds = float(delay)
            if spec.at == "data-body":
                raise ConfigError("%s: at \"data-body\" only \"drop\" is possible" % where)
        if "count" in obj:
            if isinstance(obj["count"], bool) or not isinstance(obj["count"], int) or obj["count"] < 0:
                raise ConfigError("%s.count must be an integer >= 0" % where)
            spec.count = obj["count"]
        if "skip" in obj:
            if isinstance(obj["skip"], bool) or not isinstance(obj["skip"], int) or obj["skip"] < 0:
                raise ConfigError("%s.skip must be an integer >= 0" % where)
            spec.skip = obj["skip"]
        if "probability" in obj:
            p = obj["probability"]
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
                raise ConfigError("%s.probability must be between 0 and 1" % where)
            spec.probability = float(p)
        for key in ("sender", "recipient"):
            if key in obj:
                if not isinstance(obj[key], str):
                    raise ConfigError("%s.%s must be a string" % (where, key))
                setattr(spec, key, obj[key].lower())
        return spec

    def reply_line(self):
        return "%d %s" % (self.code, self.text)

    def label(self):
        if self.action == "reply":
            return "fault-%d" % self.code
        if self.action == "drop":
            return "dropped"
        return "delay"


class _Armed:
    """A fault with its counters."""

    def __init__(self, spec, origin):
        self.spec = spec
        self.origin = origin
        self.seen = 0
        self.fired = 0

    def consider(self, sender, recipients, rng):
        spec = self.spec
        if spec.sender and not (sender and fnmatch.fnmatchcase(sender.lower(), spec.sender)):
            return False
        if spec.recipient and not any(fnmatch.fnmatchcase(r.lower(), spec.recipient)
                                      for r in recipients):
            return False
        self.seen += 1
        if self.seen <= spec.skip:
            return False
        if spec.count is not None and self.fired >= spec.count:
            return False
        if spec.probability is not None and rng.random() >= spec.probability:
            return False
        self.fired += 1
        return True


class Decision:
    """Result of evaluating the faults at one point."""

    def __init__(self):
        self.delay = 0.0
        self.fault = None     # the FaultSpec of a reply/drop that fired
        self.applied = []     # descriptions for the submissions log

    @property
    def drop(self):
        return self.fault is not None and self.fault.action == "drop"

    @property
    def reply(self):
        return self.fault.reply_line() if self.fault is not None and self.fault.action == "reply" else None


class _ReceiptFault:
    KEYS = ("mode", "kind", "recipient", "count", "comment")

    def __init__(self, obj, where):
        _check_keys(obj, self.KEYS, where)
        self.mode = obj.get("mode")
        if self.mode not in RECEIPT_MODES or self.mode == "genuine":
            raise ConfigError("%s.mode must be one of %s" % (
                where, ", ".join(m for m in RECEIPT_MODES if m != "genuine")))
        self.kind = obj.get("kind", "any")
        if self.kind not in RECEIPT_KINDS:
            raise ConfigError("%s.kind must be one of %s" % (where, ", ".join(RECEIPT_KINDS)))
        self.recipient = obj.get("recipient")
        self.count = obj.get("count")
        if self.count is not None and (isinstance(self.count, bool) or not isinstance(self.count, int)):
            raise ConfigError("%s.count must be an integer" % where)
        self.fired = 0

    def take(self, kind, recipient):
        if self.kind != "any" and self.kind != kind:
            return False
        if self.recipient and not (recipient and fnmatch.fnmatchcase(recipient.lower(),
                                                                      self.recipient.lower())):
            return False
        if self.count is not None and self.fired >= self.count:
            return False
        self.fired += 1
        return True


class Control:
    """Faults and overrides from config + control file, thread-safe."""

    KEYS = ("faults", "rules", "receipt_faults", "rate_limit_per_minute", "comment")

    def __init__(self, config, path, log=None, seed=None):
        self.config = config
        self.path = path
        self.log = log or (lambda msg: None)
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._config_faults = [_Armed(f, "config") for f in config.faults]
        self._file_faults = []
        self._rules = []
        self._receipt_faults = []
        self._rate_limit = None
        self._signature = None
        self._rate = {}

    # -- control file ----------------------------------------------------------

    def refresh(self):
        """Re-read the control file if it changed since the last look."""
        try:
            st = os.stat(self.path)
            signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            signature = None
        with self._lock:
            if signature == self._signature:
                return
            self._signature = signature
            if signature is None:
                self._file_faults, self._rules, self._receipt_faults = [], [], []
                self._rate_limit = None
                return
            try:
                self._load()
            except (ConfigError, ValueError, OSError) as exc:
                # A broken file counts as an empty one: nothing armed by an
                # earlier version of it survives.
                self._file_faults, self._rules, self._receipt_faults = [], [], []
                self._rate_limit = None
                self.log("control file %s ignored: %s" % (self.path, exc))

    def _load(self):
        with open(self.path, "r", encoding="utf-8") as fh:
            text = fh.read()
        if not text.strip():
            data = {}
        else:
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigError("not valid JSON: %s (line %d)" % (exc.msg, exc.lineno))
        _check_keys(data, self.KEYS, "control file")
        faults = [_Armed(FaultSpec.parse(f, "control.faults[%d]" % i), "control")
                  for i, f in enumerate(data.get("faults", []))]
        rules = self.config.make_rules(data.get("rules", []), "control.rules")
        receipt_faults = [_ReceiptFault(r, "control.receipt_faults[%d]" % i)
                          for i, r in enumerate(data.get("receipt_faults", []))]
        rate = data.get("rate_limit_per_minute")
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int) or rate < 0):
            raise ConfigError("rate_limit_per_minute must be an integer >= 0")
        self._file_faults, self._rules, self._receipt_faults = faults, rules, receipt_faults
        self._rate_limit = rate
        self.log("control file loaded: %d fault(s), %d rule(s), %d receipt fault(s)%s"
                 % (len(faults), len(rules), len(receipt_faults),
                    "" if rate is None else ", rate limit %d/min" % rate))

    # -- queries -------------------------------------------------------------

    def evaluate(self, point, sender=None, recipients=()):
        """Evaluate every fault armed at *point*; return a :class:`Decision`."""
        decision = Decision()
        with self._lock:
            for armed in self._file_faults + self._config_faults:
                spec = armed.spec
                if spec.at != point:
                    continue
                if spec.action != "delay" and decision.fault is not None:
                    continue
                if not armed.consider(sender, recipients, self._rng):
                    continue
                if spec.action == "delay":
                    decision.delay += spec.seconds
                    decision.applied.append("delay-%gs@%s" % (spec.seconds, point))
                else:
                    decision.fault = spec
                    decision.applied.append("%s@%s" % (spec.label(), point))
        return decision

    def rules(self):
        with self._lock:
            return list(self._rules)

    def receipt_mode(self, kind, recipient):
        """The mutation the control file asks for this receipt, or None."""
        with self._lock:
            for rf in self._receipt_faults:
                if rf.take(kind, recipient):
                    return rf.mode
        return None

    def rate_limited(self, sender):
        """Count one submission for *sender*; True if it is over the limit.

        The limit is per minute (sliding window of 60 s) and per sender;
        refused attempts are not counted.
        """
        with self._lock:
            limit = self._rate_limit if self._rate_limit is not None else self.config.rate_limit_per_minute
            if not limit:
                return False
            now = time.monotonic()
            window = self._rate.setdefault(sender.lower(), deque())
            while window and now - window[0] >= 60.0:
                window.popleft()
            if len(window) >= limit:
                return True
            window.append(now)
            return False

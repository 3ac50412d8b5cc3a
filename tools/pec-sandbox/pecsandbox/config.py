"""Configuration of the sandbox: format, defaults and recipient rules.

The configuration is a JSON object (see ``docs/sandbox.md``).  Every key is
optional; :data:`DEFAULTS` gives the value used when a key is absent.  The
string ``{domain}`` inside addresses, domain patterns and certified domains
is replaced by the provider domain, so the default rules follow a
configured ``domain``.

Recipient resolution (:meth:`Config.resolve`): the first rule of ``rules``
(the user's) and then of the built-in default rules (unless
``use_default_rules`` is false) that matches the address decides the
outcome; when none matches, the recipient is delivered if its domain is a
certified domain and treated as external (``esterno``) otherwise.
"""

import copy
import fnmatch
import json
import re
import secrets

OUTCOMES = {
    # per-recipient delivery outcomes
    "delivered": "avvenuta-consegna",
    "no-dest": "errore-consegna errore=no-dest",
    "no-dominio": "errore-consegna errore=no-dominio",
    "mailbox-full": "errore-consegna errore=altro (mailbox full)",
    "virus-delivery": "errore-consegna errore=virus (virus found by the recipient's provider)",
    "timeout": "never delivered: 12 h and 24 h preavviso-errore-consegna",
    "esterno": "external recipient: accepted, no delivery receipt ever",
    # whole-message outcomes (decided at the access point)
    "virus": "non-accettazione per virus of the whole message",
    "rejected": "non-accettazione (formal) of the whole message",
}

MESSAGE_OUTCOMES = ("virus", "rejected")

RECEIPT_MODES = {
    "genuine": "normal signed receipt",
    "tampered": "signed, then daticert.xml changed (signature digest mismatch)",
    "unsigned": "receipt layout and headers, but no S/MIME signature",
    "untrusted": "signed by a certificate outside the sandbox trust chain",
    "forged": "fake receipt sent as ordinary mail, wrapped in an anomaly envelope",
    "forged-plain": "fake receipt sent as ordinary mail, delivered bare (unsigned)",
}

DEFAULT_BLOCKED_EXTENSIONS = [
    "exe", "com", "bat", "cmd", "pif", "scr", "vbs", "vbe", "js", "jse",
    "wsf", "wsh", "ws", "msi", "msp", "msc", "jar", "ps1", "psm1", "cpl",
    "hta", "lnk", "reg", "scf", "inf", "dll", "sys", "application", "gadget",
]

SANDBOX_DOMAINS = ["{domain}", "*.{domain}"]

DEFAULT_RULES = [
    {"domain": ["nodominio.sandbox.test", "*.nodominio.sandbox.test"],
     "outcome": "no-dominio"},
    {"local": ["virus"], "outcome": "virus"},
    {"local": ["nodest", "inesistente"], "domain": SANDBOX_DOMAINS,
     "outcome": "no-dest"},
    {"local": ["pieno", "full"], "domain": SANDBOX_DOMAINS,
     "outcome": "mailbox-full"},
    {"local": ["virusdest"], "domain": SANDBOX_DOMAINS,
     "outcome": "virus-delivery"},
    {"local": ["ritardo", "timeout"], "domain": SANDBOX_DOMAINS,
     "outcome": "timeout"},
    {"local": ["lento", "late"], "domain": SANDBOX_DOMAINS,
     "outcome": "delivered", "delay": "18h"},
    {"local": ["rifiuto", "reject"], "domain": SANDBOX_DOMAINS,
     "outcome": "rejected",
     "errore_esteso": "5.7.1 - {provider} - messaggio rifiutato dalla politica del gestore"},
    {"local": ["tampered"], "domain": SANDBOX_DOMAINS,
     "outcome": "delivered", "receipt": "tampered"},
    {"local": ["unsigned"], "domain": SANDBOX_DOMAINS,
     "outcome": "delivered", "receipt": "unsigned"},
    {"local": ["untrusted"], "domain": SANDBOX_DOMAINS,
     "outcome": "delivered", "receipt": "untrusted"},
    {"local": ["forged"], "domain": SANDBOX_DOMAINS,
     "outcome": "timeout", "receipt": "forged"},
    {"local": ["forged-plain"], "domain": SANDBOX_DOMAINS,
     "outcome": "timeout", "receipt": "forged-plain"},
]

DEFAULTS = {
    "domain": "pec.sandbox.test",
    "provider_name": "Sandbox PEC S.p.A.",
    "timezone": "Europe/Rome",
    "accounts": [{"address": "mittente@{domain}", "password": None}],
    "certified_domains": ["{domain}", "*.{domain}", "nodominio.sandbox.test",
                          "*.nodominio.sandbox.test"],
    "rules": [],
    "use_default_rules": True,
    "limits": {
        "max_recipients": 500,
        "max_total_bytes": 100 * 1024 * 1024,
        "smtp_max_bytes": None,
        "blocked_extensions": DEFAULT_BLOCKED_EXTENSIONS,
        "block_executable_content": True,
        "scan_archives": True,
    },
    "rate_limit_per_minute": 0,
    "clock": {"12h": 12.0, "24h": 24.0},
    "delivery_delay": 0,
    "signature_digest": "sha256",
    "ports": {"smtps": 0, "starttls": 0, "imaps": 0, "imap_starttls": 0},
    "faults": [],
}

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(h|s)?\s*$")


class ConfigError(ValueError):
    """Raised for an invalid configuration, with a message meant for users."""


def _as_list(value, where):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError("%s must be a string or a list of strings" % where)


def _check_keys(obj, allowed, where):
    if not isinstance(obj, dict):
        raise ConfigError("%s must be a JSON object" % where)
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise ConfigError("unknown key%s %s in %s (allowed: %s)" % (
            "s" if len(unknown) > 1 else "", ", ".join(repr(k) for k in unknown),
            where, ", ".join(sorted(allowed))))


def _number(value, where, minimum=0.0):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError("%s must be a number" % where)
    if value < minimum:
        raise ConfigError("%s must be >= %s" % (where, minimum))
    return value


class Clock:
    """The compressed clock: how many real seconds stand for 12 h and 24 h."""

    def __init__(self, t12, t24):
        if t24 <= t12:
            raise ConfigError("clock: '24h' (%s) must be greater than '12h' (%s)"
                              % (t24, t12))
        self.t12 = float(t12)
        self.t24 = float(t24)

    def hours(self, hours):
        """Real seconds standing for *hours* virtual hours (piecewise linear)."""
        if hours <= 12:
            return hours / 12.0 * self.t12
        step = (self.t24 - self.t12) / 12.0
        return self.t12 + (hours - 12) * step

    def duration(self, value, where):
        """Parse a duration: a number of seconds, ``"3s"`` or ``"18h"``."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _number(value, where)
        if isinstance(value, str):
            match = _DURATION_RE.match(value)
            if match:
                amount = float(match.group(1))
                return self.hours(amount) if match.group(2) == "h" else amount
        raise ConfigError("%s must be seconds (number or \"5s\") or virtual "
                          "hours (\"18h\"), not %r" % (where, value))


class Rule:
    """One recipient rule: match criteria plus what happens to the recipient."""

    KEYS = ("address", "local", "domain", "outcome", "delay", "receipt",
            "errore_esteso", "comment")

    def __init__(self, spec, where, domain, provider, clock):
        _check_keys(spec, self.KEYS, where)
        sub = lambda s: s.replace("{domain}", domain).lower()  # noqa: E731
        self.addresses = [sub(a) for a in _as_list(spec.get("address"), where + ".address")]
        self.locals = [s.lower() for s in _as_list(spec.get("local"), where + ".local")]
        self.domains = [sub(d) for d in _as_list(spec.get("domain"), where + ".domain")]
        self.outcome = spec.get("outcome", "delivered")
        if self.outcome not in OUTCOMES:
            raise ConfigError("%s.outcome %r is not one of: %s" % (
                where, self.outcome, ", ".join(OUTCOMES)))
        self.delay = None
        if spec.get("delay") is not None:
            self.delay = clock.duration(spec["delay"], where + ".delay")
        self.receipt = spec.get("receipt", "genuine")
        if self.receipt not in RECEIPT_MODES:
            raise ConfigError("%s.receipt %r is not one of: %s" % (
                where, self.receipt, ", ".join(RECEIPT_MODES)))
        esteso = spec.get("errore_esteso")
        if esteso is not None and not isinstance(esteso, str):
            raise ConfigError("%s.errore_esteso must be a string" % where)
        self.errore_esteso = esteso.replace("{provider}", provider) if esteso else None
        self.where = where
        self.spec = spec

    def matches(self, address):
        """True when *address* (already lower-cased) matches every criterion."""
        local, _, domain = address.rpartition("@")
        if self.addresses and not any(fnmatch.fnmatchcase(address, p) for p in self.addresses):
            return False
        if self.locals and not any(fnmatch.fnmatchcase(local, p) for p in self.locals):
            return False
        if self.domains and not any(fnmatch.fnmatchcase(domain, p) for p in self.domains):
            return False
        return True


class Resolution:
    """What the sandbox does with one recipient."""

    def __init__(self, address, outcome, certified, delay, receipt,
                 errore_esteso, rule):
        self.address = address
        self.outcome = outcome
        self.certified = certified
        self.delay = float(delay)
        self.receipt = receipt
        self.errore_esteso = errore_esteso
        self.rule = rule

    @property
    def tipo(self):
        """The daticert ``destinatari tipo``: ``certificato`` or ``esterno``."""
        return "certificato" if self.certified else "esterno"

    def as_dict(self):
        return {"address": self.address, "outcome": self.outcome,
                "tipo": self.tipo, "delay": self.delay, "receipt": self.receipt,
                "rule": self.rule}


def _merge(base, override):
    """Merge user JSON over defaults (dicts merge one level deep)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            merged = dict(out[key])
            merged.update(value)
            out[key] = merged
        else:
            out[key] = value
    return out


class Config:
    """A validated sandbox configuration.

    Build it with :func:`load_config` or :meth:`Config.from_dict`.
    """

    def __init__(self, raw):
        _check_keys(raw, DEFAULTS.keys(), "the configuration")
        self.raw = raw
        domain = raw["domain"]
        if not isinstance(domain, str) or not re.match(r"^[a-z0-9.-]+\.[a-z0-9-]+$", domain.lower()):
            raise ConfigError("domain must be a DNS name like 'pec.sandbox.test', not %r" % (domain,))
        self.domain = domain.lower()
        self.provider_name = raw["provider_name"]
        if not isinstance(self.provider_name, str) or not self.provider_name.strip():
            raise ConfigError("provider_name must be a non-empty string")
        self.timezone = raw["timezone"]
        try:
            from zoneinfo import ZoneInfo
            self.tz = ZoneInfo(self.timezone)
        except Exception as exc:  # ZoneInfoNotFoundError, ValueError
            raise ConfigError("timezone %r is not a known IANA zone (%s)" % (self.timezone, exc))

        clock = raw["clock"]
        _check_keys(clock, ("12h", "24h"), "clock")
        self.clock = Clock(_number(clock.get("12h", 12.0), "clock.12h", 0.01),
                           _number(clock.get("24h", 24.0), "clock.24h", 0.01))

        self.accounts = self._accounts(raw["accounts"])
        self.certified_domains = [d.replace("{domain}", self.domain).lower()
                                  for d in _as_list(raw["certified_domains"], "certified_domains")]

        if not isinstance(raw["use_default_rules"], bool):
            raise ConfigError("use_default_rules must be true or false")
        if not isinstance(raw["rules"], list):
            raise ConfigError("rules must be a list of rule objects")
        self.rules = [Rule(spec, "rules[%d]" % i, self.domain, self.provider_name, self.clock)
                      for i, spec in enumerate(raw["rules"])]
        if raw["use_default_rules"]:
            self.rules += [Rule(spec, "default_rules[%d]" % i, self.domain,
                                self.provider_name, self.clock)
                           for i, spec in enumerate(DEFAULT_RULES)]

        limits = raw["limits"]
        _check_keys(limits, DEFAULTS["limits"].keys(), "limits")
        self.max_recipients = int(_number(limits["max_recipients"], "limits.max_recipients", 1))
        self.max_total_bytes = int(_number(limits["max_total_bytes"], "limits.max_total_bytes", 1))
        smtp_max = limits["smtp_max_bytes"]
        self.smtp_max_bytes = (int(_number(smtp_max, "limits.smtp_max_bytes", 1))
                               if smtp_max is not None else int(self.max_total_bytes * 1.5))
        self.blocked_extensions = [e.lower().lstrip(".") for e in
                                   _as_list(limits["blocked_extensions"], "limits.blocked_extensions")]
        for key in ("block_executable_content", "scan_archives"):
            if not isinstance(limits[key], bool):
                raise ConfigError("limits.%s must be true or false" % key)
        self.block_executable_content = limits["block_executable_content"]
        self.scan_archives = limits["scan_archives"]

        self.rate_limit_per_minute = int(_number(raw["rate_limit_per_minute"], "rate_limit_per_minute"))
        self.delivery_delay = self.clock.duration(raw["delivery_delay"], "delivery_delay")
        digest = str(raw["signature_digest"]).lower().replace("-", "")
        if digest not in ("sha256", "sha1"):
            raise ConfigError("signature_digest must be 'sha256' or 'sha1'")
        self.signature_digest = digest

        ports = raw["ports"]
        _check_keys(ports, ("smtps", "starttls", "imaps", "imap_starttls"), "ports")
        self.ports = {}
        for name in ("smtps", "starttls", "imaps", "imap_starttls"):
            port = ports.get(name, 0)
            if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
                raise ConfigError("ports.%s must be an integer 0..65535 (0 = pick a free port)" % name)
            self.ports[name] = port

        if not isinstance(raw["faults"], list):
            raise ConfigError("faults must be a list")
        from .faults import FaultSpec  # local import: faults imports config
        self.faults = [FaultSpec.parse(f, "faults[%d]" % i) for i, f in enumerate(raw["faults"])]

    def _accounts(self, accounts):
        if not isinstance(accounts, list) or not accounts:
            raise ConfigError("accounts must be a non-empty list")
        result = {}
        for i, acc in enumerate(accounts):
            where = "accounts[%d]" % i
            _check_keys(acc, ("address", "password"), where)
            address = acc.get("address")
            if not isinstance(address, str) or address.count("@") != 1:
                raise ConfigError("%s.address must be an e-mail address" % where)
            address = address.replace("{domain}", self.domain).lower()
            if not re.match(r"^[a-z0-9._+-]+@[a-z0-9.-]+$", address):
                raise ConfigError("%s.address %r: use letters, digits and . _ + - only"
                                  % (where, address))
            password = acc.get("password")
            if password is None:
                password = secrets.token_urlsafe(12)
            if not isinstance(password, str) or not password or ":" in password:
                raise ConfigError("%s.password must be a non-empty string without ':'" % where)
            if address in result:
                raise ConfigError("%s: duplicate account %s" % (where, address))
            result[address] = password
        return result

    # -- recipients ---------------------------------------------------------

    def is_certified_domain(self, domain):
        domain = domain.lower()
        return any(fnmatch.fnmatchcase(domain, p) for p in self.certified_domains)

    def resolve(self, address, extra_rules=()):
        """Decide what happens to recipient *address* (see module docstring).

        *extra_rules* (from the control file) are evaluated before the
        configured ones.
        """
        addr = address.lower()
        domain = addr.rpartition("@")[2]
        certified_domain = self.is_certified_domain(domain)
        for rule in list(extra_rules) + self.rules:
            if rule.matches(addr):
                outcome = rule.outcome
                if outcome == "esterno":
                    certified = False
                elif outcome in MESSAGE_OUTCOMES:
                    certified = certified_domain
                else:
                    certified = True
                delay = rule.delay if rule.delay is not None else self.delivery_delay
                return Resolution(address, outcome, certified, delay, rule.receipt,
                                  rule.errore_esteso, rule.where)
        if certified_domain:
            return Resolution(address, "delivered", True, self.delivery_delay,
                              "genuine", None, "certified_domains")
        return Resolution(address, "esterno", False, 0.0, "genuine", None,
                          "not a certified domain")

    def make_rules(self, specs, where):
        """Build :class:`Rule` objects from JSON (used for control-file rules)."""
        if not isinstance(specs, list):
            raise ConfigError("%s must be a list of rule objects" % where)
        return [Rule(s, "%s[%d]" % (where, i), self.domain, self.provider_name, self.clock)
                for i, s in enumerate(specs)]

    def effective(self):
        """The configuration as JSON-able data, passwords filled in."""
        data = copy.deepcopy(self.raw)
        data["domain"] = self.domain
        data["accounts"] = [{"address": a, "password": p} for a, p in self.accounts.items()]
        return data

    @classmethod
    def from_dict(cls, data):
        if not isinstance(data, dict):
            raise ConfigError("the configuration must be a JSON object")
        return cls(_merge(DEFAULTS, data))


def load_config(path=None):
    """Load the configuration from JSON file *path* (defaults when None)."""
    if path is None:
        return Config.from_dict({})
    try:
        with open(path, "r", encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise ConfigError("cannot read config file %s: %s" % (path, exc.strerror))
    except json.JSONDecodeError as exc:
        raise ConfigError("config file %s is not valid JSON: %s (line %d, column %d)"
                          % (path, exc.msg, exc.lineno, exc.colno))
    return Config.from_dict(data)

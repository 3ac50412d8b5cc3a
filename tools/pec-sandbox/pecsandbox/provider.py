"""The simulated provider: what happens to a message after DATA.

:meth:`Provider.submit` runs the access point's checks and issues the
accettazione or non-accettazione synchronously (so it is in the mailbox
before the client sees 250), then schedules, per recipient and on the
compressed clock, what the recipient's provider would send back:
avvenuta-consegna, errore-consegna, or the 12 h / 24 h
preavviso-errore-consegna notices.  Recipients that are sandbox accounts
also get the signed transport envelope in their own mailbox.

Two JSON-lines journals are kept, flushed line by line:
``submissions.jsonl`` (one line per SMTP transaction outcome, written by the
SMTP layer through :meth:`Provider.log_submission`) and ``receipts.jsonl``
(one line per message put into a mailbox).
"""

import datetime
import json
import os
import threading
from email.utils import format_datetime

from . import checks
from .faults import Control
from .maildir import Maildir
from .message import Submission, rewrite_original
from .receipts import ReceiptFactory, Transaction
from .scheduler import Scheduler

ERRORI = {
    "no-dest": ("no-dest", "5.1.1 - {provider} - indirizzo non valido"),
    "no-dominio": ("no-dominio", "5.1.2 - {provider} - dominio non valido"),
    "mailbox-full": ("altro", "5.2.2 - {provider} - casella di posta del destinatario piena"),
    "virus-delivery": ("virus", "5.7.1 - {provider} - rilevato virus nel messaggio ("
                       + checks.EICAR_NAME + ")"),
}


class Journal:
    """An append-only JSON-lines file, one flushed line per record."""

    def __init__(self, path):
        self.path = path
        self._lock = threading.Lock()
        self._fh = open(path, "a", encoding="utf-8")
        os.chmod(path, 0o644)

    def write(self, record):
        line = json.dumps(record, ensure_ascii=False, sort_keys=False)
        with self._lock:
            self._fh.write(line + "\n")
            self._fh.flush()

    def close(self):
        with self._lock:
            self._fh.close()


class SubmitResult:
    """Outcome of one submitted message."""

    def __init__(self, accepted, outcome, identificativo, message_id, size,
                 reason=None, recipients=(), failed_checks=()):
        self.accepted = accepted
        self.failed_checks = list(failed_checks)  # keys of the failed formal checks
        self.outcome = outcome          # accepted | rejected-formal | virus
        self.identificativo = identificativo
        self.message_id = message_id
        self.size = size
        self.reason = reason
        self.recipients = list(recipients)


class Provider:
    """Receipts, scheduling, mailboxes and journals of one sandbox."""

    def __init__(self, config, pki, layout, mail_uid=None, mail_gid=None, log=None):
        self.config = config
        self.layout = layout
        self.log = log or (lambda msg: None)
        self.factory = ReceiptFactory(config, pki)
        self.control = Control(config, layout.control_json, self.log)
        self.scheduler = Scheduler(self.log)
        self.submissions = Journal(layout.submissions_log)
        self.receipts = Journal(layout.receipts_log)
        self.mailboxes = {}
        for address in config.accounts:
            box = Maildir(layout.maildir(address), mail_uid, mail_gid)
            box.create()
            self.mailboxes[address] = box

    # -- accounts --------------------------------------------------------------

    def authenticate(self, login, password):
        """Return the account address if *login*/*password* are valid, else None."""
        address = login.strip().lower()
        expected = self.config.accounts.get(address)
        if expected is not None and password == expected:
            return address
        return None

    # -- journals ----------------------------------------------------------------

    def now_iso(self):
        return datetime.datetime.now(self.config.tz).isoformat(timespec="milliseconds")

    def log_submission(self, session, outcome, accepted, mail_from=None, rcpt_to=(),
                       result=None, reason=None, faults=(), at=None):
        record = {
            "time": self.now_iso(),
            "session": session.get("id"),
            "listener": session.get("listener"),
            "auth_user": session.get("auth_user"),
            "mail_from": mail_from,
            "rcpt_to": list(rcpt_to),
            "message_id": result.message_id if result else None,
            "size": result.size if result else None,
            "outcome": outcome,
            "accepted": bool(accepted),
            "identificativo": result.identificativo if result and result.identificativo else None,
            "reason": reason if reason is not None else (result.reason if result else None),
        }
        if at:
            record["at"] = at
        if faults:
            record["faults"] = list(faults)
        if result and result.failed_checks:
            record["failed_checks"] = result.failed_checks
        if result and result.recipients:
            record["recipients"] = [r.as_dict() for r in result.recipients]
        self.submissions.write(record)

    def _deliver(self, receipt):
        box = self.mailboxes.get(receipt.mailbox.lower())
        if box is None:
            self.log("no mailbox for %s: %s dropped" % (receipt.mailbox, receipt.kind))
            return None
        path = box.deliver(receipt.data)
        self.receipts.write({
            "time": self.now_iso(),
            "kind": receipt.kind,
            "mode": receipt.mode,
            "mailbox": receipt.mailbox,
            "recipient": receipt.recipient,
            "errore": receipt.errore,
            "identificativo": receipt.identificativo,
            "message_id": receipt.message_id,
            "file": path,
        })
        return path

    def _mode(self, kind, recipient, default="genuine"):
        return self.control.receipt_mode(kind, recipient) or default

    # -- submission --------------------------------------------------------------

    def submit(self, session, mail_from, rcpts, raw):
        """Process one message received after DATA; return a :class:`SubmitResult`."""
        sub = Submission(raw)
        factory = self.factory
        when = factory.now()
        pec_id = factory.ids.pec_id(when)
        msgid = sub.message_id or "<%s>" % factory.ids.receipt_id(when)
        extra_rules = self.control.rules()
        resolutions = [self.config.resolve(r, extra_rules) for r in rcpts]
        auth_user = session.get("auth_user") or ""
        tx = Transaction(sub, pec_id, msgid, auth_user, resolutions, when)

        failures = checks.formal_checks(sub, auth_user, mail_from, rcpts, self.config)
        ruled = [res for res in resolutions if res.outcome == "rejected"]
        if failures or ruled:
            reason = self._rejection_reason(failures, ruled)
            keys = [f.key for f in failures] + (["rejected-by-rule"] if ruled else [])
            self._deliver(factory.non_accettazione(tx, reason,
                                                   mode=self._mode("non-accettazione", None)))
            return SubmitResult(False, "rejected-formal", pec_id, msgid, sub.size, reason,
                                resolutions, keys)

        virus = checks.virus_scan(sub, self.config)
        if virus is None and any(r.outcome == "virus" for r in resolutions):
            virus = checks.EICAR_NAME
        if virus:
            reason = "5.7.1 - %s - rilevato virus nel messaggio (%s)" % (
                self.config.provider_name, virus)
            self._deliver(factory.non_accettazione(tx, reason, virus=virus,
                                                   mode=self._mode("non-accettazione", None)))
            return SubmitResult(False, "virus", pec_id, msgid, sub.size, reason, resolutions,
                                ["virus"])

        tx.postacert = rewrite_original(sub.raw, pec_id, msgid,
                                        self._received(session, rcpts, when))
        self._deliver(factory.accettazione(tx, mode=self._mode("accettazione", None)))
        for res in resolutions:
            self._plan(tx, res)
        return SubmitResult(True, "accepted", pec_id, msgid, sub.size, None, resolutions)

    def _rejection_reason(self, failures, ruled):
        """errore-esteso of a formal non-accettazione: the failed checks, then
        the texts of the ``rejected`` rules that matched."""
        provider = self.config.provider_name
        parts = [checks.errore_esteso(failures, provider)] if failures else []
        for res in ruled:
            parts.append(res.errore_esteso or "5.7.1 - %s - destinatario %s non accettato dal "
                                              "gestore" % (provider, res.address))
        return "; ".join(parts)

    def _received(self, session, rcpts, when):
        """The ``Received:`` trace the access point adds to the original."""
        return ("from %s (localhost [127.0.0.1])%s\r\n\tby %s (pec-sandbox) with ESMTPSA id %s"
                "\r\n\tfor <%s>; %s" % (
                    session.get("helo") or "client", session.get("tls_note", ""),
                    self.factory.host, session.get("queue_id", "0"),
                    rcpts[0] if rcpts else session.get("auth_user"), format_datetime(when)))

    # -- per-recipient timeline ----------------------------------------------

    def _plan(self, tx, res):
        if not res.certified or res.outcome in ("esterno", "virus", "rejected"):
            return
        clock = self.config.clock
        later = self.scheduler.call_later
        final_mode = res.receipt
        if res.receipt in ("forged", "forged-plain"):
            later(min(res.delay, clock.t12), self._event, tx, res, "forged", res.receipt)
            final_mode = "genuine"
        if res.outcome == "timeout":
            later(clock.t12, self._event, tx, res, "preavviso-12h", "genuine")
            later(clock.t24, self._event, tx, res, "preavviso-24h", final_mode)
            return
        if res.delay > clock.t12:
            later(clock.t12, self._event, tx, res, "preavviso-12h", "genuine")
        if res.delay > clock.t24:
            later(clock.t24, self._event, tx, res, "preavviso-24h", "genuine")
        later(res.delay, self._event, tx, res, res.outcome, final_mode)

    def _event(self, tx, res, event, mode):
        factory = self.factory
        rcpt = res.address
        if event == "forged":
            self._deliver(factory.avvenuta_consegna(tx, rcpt, mode=mode))
        elif event in ("preavviso-12h", "preavviso-24h"):
            mode = self._mode("preavviso-errore-consegna", rcpt, mode)
            self._deliver(factory.preavviso(tx, rcpt, final=event.endswith("24h"), mode=mode))
        elif event == "delivered":
            local = self.mailboxes.get(rcpt.lower())
            if local is not None:
                self._deliver(factory.trasporto(tx, rcpt.lower()))
            mode = self._mode("avvenuta-consegna", rcpt, mode)
            self._deliver(factory.avvenuta_consegna(tx, rcpt, mode=mode))
        elif event in ERRORI:
            errore, default = ERRORI[event]
            esteso = res.errore_esteso or default.replace("{provider}",
                                                          self.config.provider_name)
            mode = self._mode("errore-consegna", rcpt, mode)
            virus = checks.EICAR_NAME if event == "virus-delivery" else None
            self._deliver(factory.errore_consegna(tx, rcpt, errore, esteso, virus=virus,
                                                  mode=mode))
        else:
            self.log("unknown event %r for %s" % (event, rcpt))

    def stop(self):
        dropped = self.scheduler.stop()
        if dropped:
            self.log("%d scheduled receipt(s) dropped at shutdown" % dropped)
        self.submissions.close()
        self.receipts.close()

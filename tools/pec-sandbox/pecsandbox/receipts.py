"""Receipts, notices and envelopes, byte for byte.

Every receipt has the layout of the real Aruba receipts (PROTOCOL.md
section 3.1)::

    multipart/signed; protocol="application/x-pkcs7-signature"; micalg=...
    +-- multipart/mixed
    |   +-- multipart/alternative { text/plain ; text/html }  (ISO-8859-1, QP)
    |   +-- application/xml; name="daticert.xml"               (base64, UTF-8)
    |   +-- message/rfc822; name="postacert.eml"               (consegna completa/breve,
    |                                                           transport envelope)
    +-- application/x-pkcs7-signature; name="smime.p7s"        (detached CMS)

with top-level headers ``X-Ricevuta``, ``X-Riferimento-Message-ID``,
``Date``, ``Subject`` (prefix of PROTOCOL.md section 1.1), ``From:
posta-certificata@<domain>``, ``To:`` the sender and a fresh ``Message-ID``.

:class:`ReceiptFactory` also produces the negative-test variants
(``tampered``, ``unsigned``, ``untrusted``, ``forged``, ``forged-plain``,
see :data:`pecsandbox.config.RECEIPT_MODES`).
"""

import datetime
import os
import random
import threading
from email.utils import format_datetime

from . import mimeutil, texts
from .daticert import Daticert, format_data
from .smime import Signer, unsigned

SUBJECT_PREFIX = {
    "accettazione": "ACCETTAZIONE: ",
    "non-accettazione": "AVVISO DI NON ACCETTAZIONE: ",
    "non-accettazione-virus": "AVVISO DI NON ACCETTAZIONE PER VIRUS: ",
    "avvenuta-consegna": "CONSEGNA: ",
    "errore-consegna": "AVVISO DI MANCATA CONSEGNA: ",
    "errore-consegna-virus": "AVVISO DI MANCATA CONSEGNA PER VIRUS: ",
    "preavviso-errore-consegna": "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: ",
    "posta-certificata": "POSTA CERTIFICATA: ",
    "anomalia": "ANOMALIA MESSAGGIO: ",
}


class IdGenerator:
    """Aruba-style identifiers: ``opec<node>.<yyyymmddhhmmss>.<pid>.<n>.1.<r>@<domain>``."""

    def __init__(self, domain):
        self.domain = domain
        self.node = random.randint(100, 999)
        self.pid = os.getpid() % 100000
        self._seq = 0
        self._lock = threading.Lock()

    def _next(self):
        with self._lock:
            self._seq += 1
            return self._seq

    def pec_id(self, when):
        """A PEC identificativo (the transport envelope's Message-ID, no brackets)."""
        return "opec%d.%s.%05d.%d.1.%d@%s" % (self.node, when.strftime("%Y%m%d%H%M%S"),
                                              self.pid, self._next(), random.randint(1, 99),
                                              self.domain)

    def receipt_id(self, when):
        """A fresh Message-ID (no brackets) for one receipt."""
        return "opec%d.%s.%05d.%d.1.%d.%d@%s" % (self.node, when.strftime("%Y%m%d%H%M%S"),
                                                 self.pid, self._next(), random.randint(1, 999),
                                                 random.randint(1, 99), self.domain)


class Transaction:
    """What the provider knows about one submitted message.

    Built by :mod:`pecsandbox.provider` at acceptance time and shared by all
    receipts of that message.
    """

    def __init__(self, submission, identificativo, msgid, sender_mailbox,
                 resolutions, accepted_at, postacert=None):
        self.submission = submission
        self.identificativo = identificativo
        self.msgid = msgid                    # the client's Message-ID, with <>
        self.sender_mailbox = sender_mailbox  # the authenticated account
        self.resolutions = resolutions        # [config.Resolution], envelope order
        self.accepted_at = accepted_at
        self.postacert = postacert            # rewritten original (bytes) or None
        self._breve = None

    @property
    def destinatari(self):
        return [(r.address, r.tipo) for r in self.resolutions]

    @property
    def mittente(self):
        return self.submission.sender or self.sender_mailbox

    @property
    def oggetto(self):
        return self.submission.subject

    def breve(self):
        if self._breve is None:
            from .message import breve_copy
            self._breve = breve_copy(self.postacert)
        return self._breve


class Receipt:
    """A receipt ready for delivery into a mailbox."""

    def __init__(self, kind, data, message_id, mailbox, recipient=None,
                 errore="nessuno", mode="genuine", identificativo=None):
        self.kind = kind
        self.data = data
        self.message_id = message_id
        self.mailbox = mailbox
        self.recipient = recipient
        self.errore = errore
        self.mode = mode
        self.identificativo = identificativo


def _charset(lines):
    try:
        "\n".join(lines).encode("iso-8859-1")
        return "iso-8859-1"
    except UnicodeEncodeError:
        return "utf-8"


def _rfc822_cte(data):
    if all(len(line) <= 998 for line in data.split(b"\r\n")):
        try:
            data.decode("ascii")
            return "7bit"
        except UnicodeDecodeError:
            return "8bit"
    return "binary"


class ReceiptFactory:
    """Builds all receipts of the sandbox provider."""

    def __init__(self, config, pki):
        self.config = config
        self.pki = pki
        self.domain = config.domain
        self.address = "posta-certificata@%s" % config.domain
        self.host = "smtps.%s" % config.domain
        cert, key, chain = pki.load_signer()
        self.signer = Signer(cert, key, chain, config.signature_digest)
        self._untrusted = None
        self._untrusted_lock = threading.Lock()
        self.ids = IdGenerator(config.domain)

    # -- helpers -------------------------------------------------------------

    def now(self):
        return datetime.datetime.now(self.config.tz).replace(microsecond=0)

    def untrusted_signer(self):
        with self._untrusted_lock:
            if self._untrusted is None:
                from .ca import ensure_untrusted
                ensure_untrusted(self.pki, self.domain, self.config.provider_name)
                cert, key, chain = self.pki.load_untrusted_signer()
                self._untrusted = Signer(cert, key, chain, self.config.signature_digest)
            return self._untrusted

    def _info(self, tx, when):
        zona, giorno, ora = format_data(when)
        return {"zona": zona, "giorno": giorno, "ora": ora,
                "oggetto": tx.oggetto or "", "mittente": tx.mittente,
                "identificativo": tx.identificativo, "destinatari": tx.destinatari}

    def _text_part(self, title, plain, html):
        boundary = mimeutil.inner_boundary()
        plain_cs = _charset(plain)
        html_doc = ["<html>", "<head><title>%s</title></head>" % title, "<body>",
                    "<h3>%s</h3>" % title, "<hr><br>"]
        html_doc += [line + "<br>" for line in html[:-1]] + [html[-1] + "<br>",
                                                             "</body>", "</html>"]
        html_text = "\n".join(html_doc)
        html_cs = _charset([html_text])
        if html_cs != "iso-8859-1":
            html_text = html_text.encode("ascii", "xmlcharrefreplace").decode("ascii")
            html_cs = "iso-8859-1"
        text_plain = mimeutil.entity([
            ("Content-Type", 'text/plain; charset="%s"' % plain_cs),
            ("Content-Disposition", "inline"),
            ("Content-Transfer-Encoding", "quoted-printable"),
        ], mimeutil.qp_body("-- %s --\n\n" % title + "\n".join(plain) + "\n", plain_cs))
        text_html = mimeutil.entity([
            ("Content-Type", 'text/html; charset="%s"' % html_cs),
            ("Content-Disposition", "inline"),
            ("Content-Transfer-Encoding", "quoted-printable"),
        ], mimeutil.qp_body(html_text + "\n", html_cs))
        body = mimeutil.multipart_body(boundary, [text_plain, text_html])
        return mimeutil.entity([
            ("Content-Type", 'multipart/alternative;\r\n boundary="%s"' % boundary),
            ("Content-Transfer-Encoding", "binary"),
        ], body)

    @staticmethod
    def _daticert_part(xml):
        return mimeutil.entity([
            ("Content-Type", 'application/xml; name="daticert.xml"'),
            ("Content-Disposition", 'inline; filename="daticert.xml"'),
            ("Content-Transfer-Encoding", "base64"),
        ], mimeutil.base64_body(xml, 60))

    @staticmethod
    def _rfc822_part(data):
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        return mimeutil.entity([
            ("Content-Type", 'message/rfc822; name="postacert.eml"'),
            ("Content-Disposition", 'inline; filename="postacert.eml"'),
            ("Content-Transfer-Encoding", _rfc822_cte(data)),
        ], data)

    @staticmethod
    def _mixed(parts, boundary):
        return mimeutil.entity([
            ("Content-Type", 'multipart/mixed; boundary="%s"' % boundary),
            ("Content-Transfer-Encoding", "binary"),
            ("MIME-Version", "1.0"),
        ], mimeutil.multipart_body(boundary, parts))

    def _trace(self, mailbox, when):
        return [("Return-Path", "<%s>" % self.address),
                ("Delivered-To", mailbox),
                ("Received", "from %s (localhost [127.0.0.1])\r\n\tby %s (pec-sandbox) "
                             "with LMTP id %d;\r\n\t%s"
                 % (self.host, self.host, mimeutil.next_serial(), format_datetime(when)))]

    def _headers(self, kind, prefix_key, tx, when, message_id, extra=()):
        subject = SUBJECT_PREFIX[prefix_key] + (tx.oggetto or "")
        headers = self._trace(tx.sender_mailbox, when) + [
            ("Subject", mimeutil.encode_header_value(subject)),
            ("X-Riferimento-Message-ID", tx.msgid),
            ("Date", format_datetime(when)),
            ("To", tx.sender_mailbox),
            ("X-Ricevuta", kind)]
        headers += list(extra)
        headers += [("From", self.address), ("Message-ID", "<%s>" % message_id)]
        return headers

    def _assemble(self, headers, text_part, xml, attachment, mode, tamper_xml=None):
        """Sign (or not) according to *mode*; return the message bytes."""
        boundary = mimeutil.inner_boundary()

        def entity_for(daticert_xml):
            parts = [text_part]
            if daticert_xml is not None:
                parts.append(self._daticert_part(daticert_xml))
            if attachment is not None:
                parts.append(self._rfc822_part(attachment))
            return self._mixed(parts, boundary)

        entity = entity_for(xml)
        if mode == "unsigned":
            return unsigned(headers, entity)
        if mode == "untrusted":
            return self.untrusted_signer().wrap(headers, entity)
        if mode == "tampered":
            altered = entity_for(tamper_xml(xml) if xml is not None else None)
            if altered == entity:  # nothing to alter: change the text instead
                altered = entity.replace(b"Identificativo", b"Identificativ0", 1)
            return self.signer.wrap(headers, entity, tamper=lambda _: altered)
        return self.signer.wrap(headers, entity)

    @staticmethod
    def _backdate(xml):
        """Tampering used for ``tampered`` receipts: move ``ora`` one hour back."""
        text = xml.decode("utf-8")
        start = text.find("<ora>") + 5
        hh = int(text[start:start + 2])
        return (text[:start] + "%02d" % ((hh - 1) % 24) + text[start + 2:]).encode("utf-8")

    def _build(self, kind, prefix_key, tx, daticert, title_plain_html, *, recipient=None,
               attachment=None, mode="genuine", extra_headers=()):
        if mode in ("forged", "forged-plain"):
            return self._forged(kind, prefix_key, tx, daticert, title_plain_html,
                                recipient, mode)
        when = daticert.when
        message_id = self.ids.receipt_id(when)
        headers = self._headers(kind, prefix_key, tx, when, message_id, extra_headers)
        data = self._assemble(headers, self._text_part(*title_plain_html), daticert.to_xml(),
                              attachment, mode, tamper_xml=self._backdate)
        return Receipt(kind, data, "<%s>" % message_id, tx.sender_mailbox, recipient,
                       daticert.errore, mode, tx.identificativo)

    def _daticert(self, tipo, tx, when, **kw):
        return Daticert(tipo, mittente=tx.mittente, destinatari=tx.destinatari,
                        risposte=tx.submission.risposte or tx.mittente, oggetto=tx.oggetto,
                        gestore=self.config.provider_name, when=when,
                        identificativo=tx.identificativo, msgid=tx.msgid, **kw)

    # -- receipts and notices ------------------------------------------------

    def accettazione(self, tx, mode="genuine"):
        when = tx.accepted_at
        dc = self._daticert("accettazione", tx, when)
        return self._build("accettazione", "accettazione", tx, dc,
                           texts.accettazione(self._info(tx, when)), mode=mode)

    def non_accettazione(self, tx, reason, virus=None, mode="genuine"):
        when = tx.accepted_at
        dc = self._daticert("non-accettazione", tx, when, errore="virus" if virus else "altro",
                            errore_esteso=reason)
        extra = [("X-VerificaSicurezza", "errore")] if virus else []
        return self._build("non-accettazione",
                           "non-accettazione-virus" if virus else "non-accettazione",
                           tx, dc, texts.non_accettazione(self._info(tx, when), reason, virus),
                           mode=mode, extra_headers=extra)

    def avvenuta_consegna(self, tx, recipient, mode="genuine"):
        when = self.now()
        flavour = tx.submission.tipo_ricevuta
        attached = None
        if flavour != "sintetica" and tx.submission.is_to(recipient):
            attached = tx.postacert if flavour == "completa" else tx.breve()
        dc = self._daticert("avvenuta-consegna", tx, when, ricevuta=flavour, consegna=recipient)
        info = self._info(tx, when)
        return self._build("avvenuta-consegna", "avvenuta-consegna", tx, dc,
                           texts.avvenuta_consegna(info, recipient, flavour, attached is not None),
                           recipient=recipient, attachment=attached, mode=mode)

    def errore_consegna(self, tx, recipient, errore, esteso, virus=None, mode="genuine"):
        when = self.now()
        dc = self._daticert("errore-consegna", tx, when, errore=errore, consegna=recipient,
                            errore_esteso=esteso)
        extra = [("X-VerificaSicurezza", "errore")] if virus else []
        return self._build("errore-consegna",
                           "errore-consegna-virus" if virus else "errore-consegna",
                           tx, dc, texts.errore_consegna(self._info(tx, when), recipient,
                                                         esteso, virus),
                           recipient=recipient, mode=mode, extra_headers=extra)

    def preavviso(self, tx, recipient, final, mode="genuine"):
        when = self.now()
        provider = self.config.provider_name
        if final:
            esteso = ("5.4.1 - %s - il messaggio non è stato consegnato nelle prime "
                      "ventiquattro ore dal suo invio" % provider)
        else:
            esteso = ("4.4.7 - %s - il messaggio non è stato ancora consegnato nelle prime "
                      "dodici ore dal suo invio" % provider)
        dc = self._daticert("preavviso-errore-consegna", tx, when, errore="altro",
                            consegna=recipient, errore_esteso=esteso)
        return self._build("preavviso-errore-consegna", "preavviso-errore-consegna", tx, dc,
                           texts.preavviso(self._info(tx, when), recipient, esteso, final),
                           recipient=recipient, mode=mode)

    # -- envelopes -------------------------------------------------------------

    def trasporto(self, tx, mailbox):
        """The signed transport envelope as stored in a sandbox recipient's mailbox."""
        when = tx.accepted_at
        sub = tx.submission
        dc = Daticert("posta-certificata", mittente=tx.mittente, destinatari=tx.destinatari,
                      risposte=sub.risposte or tx.mittente, oggetto=tx.oggetto,
                      gestore=self.config.provider_name, when=when,
                      identificativo=tx.identificativo, msgid=tx.msgid,
                      ricevuta=sub.tipo_ricevuta)
        subject = SUBJECT_PREFIX["posta-certificata"] + (tx.oggetto or "")
        headers = self._trace(mailbox, when)
        for name in ("To", "Cc"):
            for value in sub.header_values(name):
                headers.append((name, value))
        headers += [
            ("Subject", mimeutil.encode_header_value(subject)),
            ("Date", format_datetime(when)),
            ("From", '"Per conto di: %s" <%s>' % (tx.mittente, self.address)),
            ("Reply-To", sub.reply_to or tx.mittente),
            ("Message-ID", "<%s>" % tx.identificativo),
            ("X-Riferimento-Message-ID", tx.msgid),
            ("X-TipoRicevuta", sub.tipo_ricevuta),
            ("X-Trasporto", "posta-certificata"),
        ]
        data = self._assemble(headers, self._text_part(*texts.trasporto(self._info(tx, when))),
                              dc.to_xml(), tx.postacert, "genuine")
        return Receipt("posta-certificata", data, "<%s>" % tx.identificativo, mailbox,
                       identificativo=tx.identificativo)

    def _forged(self, kind, prefix_key, tx, daticert, title_plain_html, recipient, mode):
        """A fake receipt sent as ordinary mail by an outsider.

        ``forged-plain`` delivers it bare; ``forged`` wraps it, as a PEC
        mailbox does with ordinary mail, in a signed anomaly envelope
        (``X-Trasporto: errore``, subject ``ANOMALIA MESSAGGIO: ``).
        """
        when = daticert.when
        fake_id = "%s@mx.falso.example" % os.urandom(8).hex()
        fake_headers = [
            ("Received", "from mx.falso.example (mx.falso.example [192.0.2.66])\r\n\tby %s "
                         "(pec-sandbox) with ESMTP id %d;\r\n\t%s"
             % (self.host, mimeutil.next_serial(), format_datetime(when))),
            ("Subject", mimeutil.encode_header_value(SUBJECT_PREFIX[prefix_key]
                                                     + (tx.oggetto or ""))),
            ("X-Riferimento-Message-ID", tx.msgid),
            ("Date", format_datetime(when)),
            ("To", tx.sender_mailbox),
            ("X-Ricevuta", kind),
            ("From", self.address),
            ("Message-ID", "<%s>" % fake_id),
        ]
        boundary = mimeutil.inner_boundary()
        fake_entity = self._mixed([self._text_part(*title_plain_html),
                                   self._daticert_part(daticert.to_xml())], boundary)
        fake = unsigned(fake_headers, fake_entity)
        if mode == "forged-plain":
            return Receipt(kind, fake, "<%s>" % fake_id, tx.sender_mailbox, recipient,
                           daticert.errore, mode, tx.identificativo)
        message_id = self.ids.receipt_id(when)
        info = self._info(tx, when)
        info["oggetto"] = SUBJECT_PREFIX[prefix_key] + (tx.oggetto or "")
        info["mittente"] = self.address
        info["destinatari"] = [(tx.sender_mailbox, "certificato")]
        headers = self._trace(tx.sender_mailbox, when) + [
            ("X-Trasporto", "errore"),
            ("Subject", mimeutil.encode_header_value(SUBJECT_PREFIX["anomalia"]
                                                     + info["oggetto"])),
            ("Date", format_datetime(when)),
            ("From", '"Per conto di: %s" <%s>' % (self.address, self.address)),
            ("To", tx.sender_mailbox),
            ("Reply-To", self.address),
            ("Message-ID", "<%s>" % message_id),
        ]
        data = self._assemble(headers, self._text_part(*texts.anomalia(info)), None, fake,
                              "genuine")
        return Receipt("anomalia", data, "<%s>" % message_id, tx.sender_mailbox, recipient,
                       daticert.errore, mode, tx.identificativo)

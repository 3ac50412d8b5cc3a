"""Submitted messages: parsing, and the provider's rewrites of the original.

* :class:`Submission` gives the header data the access point needs
  (From, To, Cc, Bcc, Subject, Message-ID, Reply-To, X-TipoRicevuta) and the
  attachments for the checks.
* :func:`rewrite_original` produces ``postacert.eml``: the original with its
  Message-ID replaced by the PEC identificativo and the client's id moved to
  X-Riferimento-Message-ID (RFC 6109 sec. 2.2.1).  Everything else is kept
  byte for byte.
* :func:`breve_copy` produces the original as carried by a ``breve``
  delivery receipt: every part with a ``name``/``filename`` parameter and
  every attached ``message/rfc822`` is replaced by a ``text/plain`` part named
  ``<filename>.hash`` holding the 40-hex SHA-1 of that part's body *as
  transmitted* (i.e. of its encoded form, e.g. the base64 text); the MIME
  structure is otherwise untouched.  In a ``multipart/signed`` original only
  the signed content is rewritten (the signature part stays, and no longer
  verifies); ``application/pkcs7-mime`` entities are left intact.
"""

import email
import email.policy
import hashlib
import re
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.utils import getaddresses

from . import mimeutil

CRLF = mimeutil.CRLF
FLAVOURS = ("completa", "breve", "sintetica")


def split_headers(raw):
    """Split an entity into ([(lower-case name, raw field bytes)], body).

    Each raw field keeps its continuation lines and its final CRLF.
    """
    if raw.startswith(CRLF):
        return [], raw[2:]
    end = raw.find(CRLF + CRLF)
    if end < 0:
        block, body = raw if raw.endswith(CRLF) else raw + CRLF, b""
    else:
        block, body = raw[:end + 2], raw[end + 4:]
    fields = []
    for line in block.split(CRLF)[:-1]:
        if line[:1] in (b" ", b"\t") and fields:
            name, data = fields[-1]
            fields[-1] = (name, data + line + CRLF)
        else:
            name = line.split(b":", 1)[0].strip().decode("ascii", "replace").lower()
            fields.append((name, line + CRLF))
    return fields, body


def join_headers(fields, body):
    return b"".join(data for _, data in fields) + CRLF + body


def _clean(text):
    """Turn raw 8-bit header bytes (surrogate escapes) back into UTF-8 text."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def decode_text(value):
    """Decode RFC 2047 words (or raw UTF-8) in a header value; never raises."""
    if value is None:
        return None
    text = _clean(str(value))
    if "=?" not in text:
        return " ".join(text.split())
    try:
        return str(make_header(decode_header(text))).strip()
    except Exception:  # malformed encoded words: keep the raw text
        return text.strip()


def _addresses(values):
    return [_clean(addr.strip()) for _, addr in getaddresses([str(v) for v in values])
            if addr.strip()]


class Attachment:
    """A part with a file name (or an attached message) found in a message."""

    def __init__(self, filename, content_type, payload):
        self.filename = filename
        self.content_type = content_type
        self.payload = payload


class Submission:
    """A message as received by the access point."""

    def __init__(self, raw):
        self.raw = mimeutil.normalize_crlf(raw)
        self.msg = email.message_from_bytes(self.raw, policy=email.policy.compat32)
        self._raw_items = list(self.msg.raw_items())  # unmodified values (8-bit kept)
        get_all = self._values
        self.from_header = get_all("From")
        self.from_addrs = _addresses(self.from_header)
        self.to_addrs = _addresses(get_all("To"))
        self.cc_addrs = _addresses(get_all("Cc"))
        self.bcc_present = bool(get_all("Bcc"))
        self.bcc_addrs = _addresses(get_all("Bcc"))
        subject = get_all("Subject")
        self.subject = decode_text(subject[0]) if subject else None
        mid = get_all("Message-ID")
        self.message_id = _clean(" ".join(str(mid[0]).split())) if mid else None
        reply_to = _addresses(get_all("Reply-To"))
        self.reply_to = reply_to[0] if reply_to else None
        flavour = (get_all("X-TipoRicevuta") or [""])[0].strip().lower()
        self.tipo_ricevuta = flavour if flavour in FLAVOURS else "completa"
        self.size = len(self.raw)

    def _values(self, name):
        return [v for k, v in self._raw_items if k.lower() == name.lower()]

    def header_values(self, name):
        """All values of header *name*, unfolded, 8-bit bytes decoded as UTF-8."""
        return [_clean(" ".join(v.split())) for v in self._values(name)]

    @property
    def sender(self):
        """The From address (first one), or '' when missing."""
        return self.from_addrs[0] if self.from_addrs else ""

    @property
    def risposte(self):
        """Reply-To, or From when there is none (daticert ``risposte``)."""
        return self.reply_to or self.sender

    def is_to(self, address):
        return address.lower() in (a.lower() for a in self.to_addrs)

    def attachments(self):
        """Yield :class:`Attachment` for every named part and attached message."""
        for part in self.msg.walk():
            ctype = part.get_content_type()
            name = part.get_filename() or part.get_param("name")
            if isinstance(name, tuple):  # RFC 2231 triple
                name = email.utils.collapse_rfc2231_value(name)
            name = decode_text(name) if name else None
            if ctype == "message/rfc822":
                payload = part.get_payload()
                data = payload[0].as_bytes() if isinstance(payload, list) and payload else b""
                yield Attachment(name, ctype, data)
            elif not part.is_multipart() and name:
                yield Attachment(name, ctype, part.get_payload(decode=True) or b"")

    def leaf_payloads(self):
        """Yield the decoded payload of every non-multipart part."""
        for part in self.msg.walk():
            if not part.is_multipart():
                payload = part.get_payload(decode=True)
                if payload:
                    yield payload


def rewrite_original(raw, pec_id, original_msgid, received=None):
    """The original as put into ``postacert.eml`` (see module docstring).

    *received* is an optional trace header value prepended as ``Received:``.
    """
    fields, body = split_headers(raw)
    out = []
    if received:
        out.append(("received", ("Received: %s" % received).encode("utf-8") + CRLF))
    new_mid = ("Message-ID: <%s>" % pec_id).encode("ascii") + CRLF
    riferimento = ("X-Riferimento-Message-ID: %s" % original_msgid).encode("utf-8") + CRLF
    replaced = False
    for name, data in fields:
        if name == "message-id":
            if not replaced:
                out += [(name, new_mid), ("x-riferimento-message-id", riferimento)]
                replaced = True
            continue
        if name == "x-riferimento-message-id":
            continue  # never let a client forge our correlation header
        out.append((name, data))
    if not replaced:
        out += [("message-id", new_mid), ("x-riferimento-message-id", riferimento)]
    return join_headers(out, body)


# -- breve -----------------------------------------------------------------

_PKCS7_MIME = ("application/pkcs7-mime", "application/x-pkcs7-mime")


def _header_info(fields):
    block = b"".join(data for _, data in fields) + CRLF
    msg = BytesHeaderParser(policy=email.policy.compat32).parsebytes(block)
    name = msg.get_filename() or msg.get_param("name")
    if isinstance(name, tuple):
        name = email.utils.collapse_rfc2231_value(name)
    return msg.get_content_type(), msg.get_param("boundary"), (decode_text(name) if name else None)


def _split_multipart(body, boundary):
    """Return (preamble, [(delimiter, part)], closing_delimiter, epilogue)."""
    pattern = re.compile(rb"(?:^|\r\n)--" + re.escape(boundary.encode("utf-8", "replace"))
                         + rb"(--)?[ \t]*(?:\r\n|$)")
    matches = list(pattern.finditer(body))
    closing_index = next((i for i, m in enumerate(matches) if m.group(1)), None)
    if not matches or closing_index is None:
        return None
    preamble = body[:matches[0].start()]
    parts = []
    for i in range(closing_index):
        parts.append((matches[i].group(0), body[matches[i].end():matches[i + 1].start()]))
    closing = matches[closing_index]
    return preamble, parts, closing.group(0), body[closing.end():]


def _hash_part(filename, body):
    digest = hashlib.sha1(body).hexdigest()
    hash_name = "%s.hash" % filename
    name_param, file_param = mimeutil.filename_params(hash_name)
    return mimeutil.entity([
        ("Content-Type", "text/plain; charset=us-ascii; %s" % name_param),
        ("Content-Transfer-Encoding", "7bit"),
        ("Content-Disposition", "attachment; %s" % file_param),
    ], digest.encode("ascii"))


def _breve_entity(entity, top):
    fields, body = split_headers(entity)
    ctype, boundary, name = _header_info(fields)
    if ctype in _PKCS7_MIME:
        return entity
    if not top and ctype == "message/rfc822":
        return _hash_part(name or "messaggio.eml", body)
    if not top and name and not ctype.startswith("multipart/"):
        return _hash_part(name, body)
    if ctype.startswith("multipart/") and boundary:
        split = _split_multipart(body, boundary)
        if split is None:
            return entity
        preamble, parts, closing, epilogue = split
        out = [preamble]
        for index, (delim, part) in enumerate(parts):
            if ctype == "multipart/signed" and index > 0:
                out += [delim, part]          # the signature stays as it is
            else:
                out += [delim, _breve_entity(part, top=False)]
        out += [closing, epilogue]
        return join_headers(fields, b"".join(out))
    return entity


def breve_copy(raw):
    """The original as included in a ``breve`` delivery receipt."""
    return _breve_entity(raw, top=True)

"""Byte-exact MIME building helpers.

Receipts are signed over the exact bytes of their first MIME part, so they
are assembled here by hand, with CRLF line endings everywhere, instead of
through :mod:`email.generator` (which may re-fold headers or change line
endings).  The layout mimics what real PEC providers emit (see the Aruba
samples): ``Content-Type`` first in each part, quoted-printable ISO-8859-1
text parts, base64 attachments.
"""

import base64
import itertools
import os
import quopri
import threading
import time
from email.header import Header

CRLF = b"\r\n"

_counter = itertools.count(1)
_counter_lock = threading.Lock()


def next_serial():
    """Return a process-wide increasing integer (thread-safe)."""
    with _counter_lock:
        return next(_counter)


def normalize_crlf(data):
    """Return *data* with every line ending (LF or CRLF) turned into CRLF."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def is_ascii(text):
    """True when *text* (str) only holds 7-bit characters."""
    try:
        text.encode("ascii")
    except UnicodeEncodeError:
        return False
    return True


def encode_header_value(value, charset="utf-8"):
    """Encode a header value for the wire.

    Pure ASCII values are kept as they are; anything else becomes an RFC 2047
    encoded word sequence, folded with CRLF + space.
    """
    value = value.replace("\r", " ").replace("\n", " ")
    if is_ascii(value):
        return value
    encoded = Header(value, charset, maxlinelen=76).encode(linesep="\r\n")
    return encoded


def header_lines(headers):
    """Serialise ``[(name, value), ...]`` into CRLF-terminated header bytes.

    Values may already contain CRLF + whitespace folding; they are written
    verbatim otherwise.
    """
    out = []
    for name, value in headers:
        line = "%s: %s" % (name, value)
        out.append(line.encode("utf-8") + CRLF)
    return b"".join(out)


def entity(headers, body):
    """Build a MIME entity: header lines, an empty line, then *body* bytes."""
    return header_lines(headers) + CRLF + body


def multipart_body(boundary, parts, preamble=b""):
    """Join already-serialised *parts* into a multipart body.

    The result is ``preamble --b CRLF part CRLF --b CRLF part ... CRLF --b-- CRLF``;
    per RFC 2046 the CRLF before each delimiter belongs to the delimiter, so
    a part that ends with CRLF is followed by an empty line, exactly like in
    the real receipts.
    """
    delim = b"--" + boundary.encode("ascii")
    out = [preamble, delim, CRLF]
    for index, part in enumerate(parts):
        if index:
            out += [CRLF, delim, CRLF]
        out.append(part)
    out += [CRLF, delim, b"--", CRLF]
    return b"".join(out)


def base64_body(data, width=76):
    """Base64-encode *data* into CRLF-terminated lines of *width* characters."""
    encoded = base64.b64encode(data)
    lines = [encoded[i:i + width] for i in range(0, len(encoded), width)]
    return CRLF.join(lines) + CRLF


def qp_body(text, charset="iso-8859-1"):
    """Quoted-printable encode *text* (str) in *charset*, CRLF line endings.

    Characters that do not exist in *charset* are replaced by '?'.
    """
    raw = text.replace("\r\n", "\n").encode(charset, errors="replace")
    encoded = quopri.encodestring(raw, quotetabs=False)
    encoded = encoded.replace(b"\r\n", b"\n").replace(b"\n", CRLF)
    if not encoded.endswith(CRLF):
        encoded += CRLF
    return encoded


def inner_boundary(epoch=None):
    """A boundary in the style of Aruba's MIME::Entity-built inner parts."""
    epoch = int(epoch if epoch is not None else time.time())
    return "----------=_%d-%d-%d" % (epoch, os.getpid(), next_serial())


def outer_boundary():
    """A boundary in the style of OpenSSL's ``multipart/signed`` output."""
    return "----" + os.urandom(16).hex().upper()


def quote_param(value):
    """Quote a MIME parameter value (filename, name)."""
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')


def filename_params(filename):
    """Return (content-type name param, disposition filename param) strings.

    Non-ASCII names use RFC 2231 encoding for ``filename*``; the ``name``
    parameter gets an RFC 2047 word, which is what most mailers do.
    """
    if is_ascii(filename):
        quoted = quote_param(filename)
        return "name=%s" % quoted, "filename=%s" % quoted
    from urllib.parse import quote
    name = Header(filename, "utf-8").encode()
    return ("name=%s" % quote_param(name),
            "filename*=utf-8''%s" % quote(filename, safe=""))

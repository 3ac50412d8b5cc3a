"""Formal checks and virus scan of the access point (PROTOCOL.md section 7.3).

A message failing any check gets a ``non-accettazione`` and goes nowhere.
:func:`formal_checks` returns every failure as ``(enhanced status code,
Italian description)``; :func:`virus_scan` returns the name of the "virus"
found, if any.  The sandbox's antivirus only knows the EICAR test file
(anywhere in a decoded part or in a zip member).
"""

import io
import struct
import zipfile

# The EICAR test string, assembled at run time so that this source file is
# not itself flagged by antivirus scanners.
EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-" + "ANTIVIRUS-TEST-FILE!$H+H*").encode("ascii")
EICAR_NAME = "Eicar-Test-Signature"

_MAX_MEMBER = 32 * 1024 * 1024


class Failure:
    """One failed check."""

    def __init__(self, code, text, key):
        self.code = code
        self.text = text
        self.key = key  # short machine-readable reason for the submissions log

    def __repr__(self):
        return "Failure(%s, %s)" % (self.key, self.text)


def errore_esteso(failures, provider):
    """The ``errore-esteso`` text for a list of failures."""
    return "%s - %s - %s" % (failures[0].code, provider, "; ".join(f.text for f in failures))


def _extension(filename):
    base = filename.strip().rstrip(". ").lower()
    return base.rsplit(".", 1)[1] if "." in base else ""


def _is_executable(data):
    if data[:4] == b"\x7fELF":
        return True
    if data[:2] == b"MZ" and len(data) >= 0x40:
        offset = struct.unpack_from("<I", data, 0x3C)[0]
        return data[offset:offset + 4] == b"PE\0\0"
    return False


def _zip_members(data, depth=0):
    """Yield (name, bytes) of the members of a zip archive (one level of nesting)."""
    if data[:4] != b"PK\x03\x04" or depth > 1:
        return
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        for info in archive.infolist():
            if info.is_dir():
                continue
            content = b""
            if info.file_size <= _MAX_MEMBER and not info.flag_bits & 0x1:
                try:
                    content = archive.read(info)
                except (RuntimeError, zipfile.BadZipFile, NotImplementedError, OSError):
                    content = b""
            yield info.filename, content
            yield from _zip_members(content, depth + 1)
    except (zipfile.BadZipFile, OSError, ValueError):
        return


def _attachment_failures(submission, config):
    failures = []
    blocked = set(config.blocked_extensions)
    for att in submission.attachments():
        name = att.filename or "(senza nome)"
        candidates = [(name, att.payload)]
        if config.scan_archives:
            candidates += [("%s/%s" % (name, member), content)
                           for member, content in _zip_members(att.payload)]
        for label, content in candidates:
            ext = _extension(label)
            if ext in blocked:
                failures.append(Failure("5.7.1", "tipo di allegato non consentito: %s" % label,
                                        "blocked-attachment"))
            elif config.block_executable_content and _is_executable(content):
                failures.append(Failure("5.7.1", "allegato con contenuto eseguibile: %s" % label,
                                        "blocked-attachment"))
    return failures


def formal_checks(submission, auth_user, mail_from, rcpts, config):
    """Run the formal checks; return a list of :class:`Failure` (empty = pass)."""
    failures = []
    low = lambda s: (s or "").lower()  # noqa: E731
    if len(submission.from_addrs) != 1:
        failures.append(Failure("5.6.0", "il campo From deve contenere esattamente un indirizzo",
                                "bad-from"))
    if low(auth_user) != low(mail_from):
        failures.append(Failure("5.7.1", "il mittente della busta (MAIL FROM %s) non corrisponde "
                                "all'utente autenticato (%s)" % (mail_from, auth_user),
                                "sender-mismatch"))
    if submission.from_addrs and low(submission.sender) != low(mail_from):
        failures.append(Failure("5.7.1", "il campo From (%s) non corrisponde al mittente della "
                                "busta (MAIL FROM %s)" % (submission.sender, mail_from),
                                "from-mismatch"))
    if submission.bcc_present:
        failures.append(Failure("5.7.1", "presenza di destinatari in copia nascosta (Bcc) non "
                                "consentita", "bcc"))
    if not submission.to_addrs:
        failures.append(Failure("5.6.0", "nessun destinatario nel campo To", "no-to"))
    visible = {a.lower() for a in submission.to_addrs + submission.cc_addrs}
    missing = [r for r in rcpts if r.lower() not in visible]
    if missing:
        failures.append(Failure("5.7.1", "destinatari della busta non presenti nei campi To/Cc: %s"
                                % ", ".join(missing), "rcpt-not-in-headers"))
    if len(rcpts) > config.max_recipients:
        failures.append(Failure("5.5.3", "troppi destinatari (%d, massimo %d)"
                                % (len(rcpts), config.max_recipients), "too-many-recipients"))
    total = submission.size * max(1, len(rcpts))
    if total > config.max_total_bytes:
        failures.append(Failure("5.3.4", "dimensione del messaggio (%d byte) per numero di "
                                "destinatari (%d) oltre il limite di %d byte"
                                % (submission.size, len(rcpts), config.max_total_bytes),
                                "too-big"))
    failures += _attachment_failures(submission, config)
    return failures


def virus_scan(submission, config):
    """Return the name of the virus found in *submission*, or None."""
    if EICAR in submission.raw:
        return EICAR_NAME
    for payload in submission.leaf_payloads():
        if EICAR in payload:
            return EICAR_NAME
        if config.scan_archives:
            for _, content in _zip_members(payload):
                if EICAR in content:
                    return EICAR_NAME
    return None

#!/usr/bin/python3
"""Checks messages composed by pecbatch with an independent MIME parser.

Usage: check_message.py DIR

DIR holds the messages and the manifest.json written by compose_golden_writer.
Each message is parsed with Python's email package (policy=default) and
compared with the manifest: headers (one To, no Cc/Bcc, decoded Subject,
Message-ID, Date, MIME-Version, X-TipoRicevuta), the decoded text and HTML
bodies, and every attachment's file name, type and decoded bytes (equal to
the source file). The raw bytes must use CRLF line ends only, with no line
over 998 octets, and be 7-bit.

Exits 0 when every message passes, 1 otherwise (every problem is printed).
"""

import email
import email.policy
import hashlib
import json
import re
import sys
from email.utils import parsedate_to_datetime
from pathlib import Path

MAX_LINE = 998


class Checker:
    def __init__(self, name):
        self.name = name
        self.problems = []

    def fail(self, what):
        self.problems.append(f"{self.name}: {what}")

    def equal(self, what, got, expected):
        if got != expected:
            self.fail(f"{what}: got {got!r}, expected {expected!r}")


def normalise_text(text):
    """Line ends as LF, ending with one (how pecbatch sends text bodies)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text and not text.endswith("\n"):
        text += "\n"
    return text


def check_wire_format(check, raw):
    if any(b >= 0x80 for b in raw):
        check.fail("message has 8-bit bytes")
    if not raw.endswith(b"\r\n"):
        check.fail("message does not end with CRLF")
    lines = raw.split(b"\r\n")
    for number, line in enumerate(lines, 1):
        if b"\n" in line or b"\r" in line:
            check.fail(f"line {number}: bare CR or LF")
        if len(line) > MAX_LINE:
            check.fail(f"line {number}: {len(line)} octets, over {MAX_LINE}")


def check_headers(check, msg, expected):
    for name in ("Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc"):
        if msg.get_all(name):
            check.fail(f"has a {name} header")
    to_headers = msg.get_all("To") or []
    check.equal("number of To headers", len(to_headers), 1)
    if to_headers:
        addresses = [a.addr_spec for a in to_headers[0].addresses]
        check.equal("To addresses", addresses, [expected["to"]])
    from_headers = msg.get_all("From") or []
    check.equal("number of From headers", len(from_headers), 1)
    if from_headers:
        check.equal("From", [a.addr_spec for a in from_headers[0].addresses],
                    [expected["from"]])
    # pecbatch removes blanks at either end of the subject.
    check.equal("Subject", str(msg["Subject"]), expected["subject"].strip(" \t"))
    check.equal("Message-ID", str(msg["Message-ID"]), f"<{expected['message_id']}>")
    check.equal("MIME-Version", str(msg["MIME-Version"]), "1.0")
    check.equal("X-TipoRicevuta", str(msg["X-TipoRicevuta"]), expected["receipt"])
    date = parsedate_to_datetime(str(msg["Date"]))
    check.equal("Date (epoch)", int(date.timestamp()), expected["date"])
    check.equal("Date offset", date.utcoffset().total_seconds(), 0)
    for name in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version"):
        count = len(msg.get_all(name) or [])
        if count != 1:
            check.fail(f"{count} {name} headers")


def check_text_part(check, part, subtype, expected_text):
    if part is None:
        check.fail(f"no text/{subtype} part")
        return
    check.equal(f"text/{subtype} type", part.get_content_type(), f"text/{subtype}")
    check.equal(f"text/{subtype} charset", part.get_content_charset(), "utf-8")
    encoding = part.get("Content-Transfer-Encoding", "")
    if encoding not in ("quoted-printable", "base64"):
        check.fail(f"text/{subtype} has transfer encoding {encoding!r}")
    check.equal(f"text/{subtype} content", normalise_text(part.get_content()),
                normalise_text(expected_text))


def check_structure(check, msg, expected):
    has_html = expected["html"] is not None
    has_attachments = bool(expected["attachments"])
    if has_attachments:
        check.equal("top-level type", msg.get_content_type(), "multipart/mixed")
    elif has_html:
        check.equal("top-level type", msg.get_content_type(), "multipart/alternative")
    else:
        check.equal("top-level type", msg.get_content_type(), "text/plain")
    for part in msg.walk():
        if part.is_multipart():
            boundary = part.get_boundary() or ""
            if not boundary.startswith("=_pecbatch_"):
                check.fail(f"boundary {boundary!r} is not derived by pecbatch")
        if part.defects:
            check.fail(f"{part.get_content_type()} part has defects: {part.defects}")
    if has_html:
        alternative = msg if not has_attachments else msg.get_payload(0)
        check.equal("body type", alternative.get_content_type(), "multipart/alternative")
        subtypes = [p.get_content_type() for p in alternative.get_payload()]
        check.equal("alternative parts", subtypes, ["text/plain", "text/html"])


def check_attachments(check, msg, expected, directory):
    got = list(msg.iter_attachments()) if msg.is_multipart() else []
    check.equal("number of attachments", len(got), len(expected["attachments"]))
    for index, (part, want) in enumerate(zip(got, expected["attachments"])):
        label = f"attachment {index} ({want['filename']!r})"
        check.equal(f"{label} file name", part.get_filename(), want["filename"])
        check.equal(f"{label} content type", part.get_content_type(), want["content_type"])
        check.equal(f"{label} disposition", part.get_content_disposition(), "attachment")
        check.equal(f"{label} transfer encoding",
                    part.get("Content-Transfer-Encoding", ""), "base64")
        raw_disposition = dict(part.raw_items()).get("Content-Disposition", "")
        if want["filename"].isascii():
            if "filename*" in raw_disposition:
                check.fail(f"{label}: RFC 2231 used for an ASCII name: {raw_disposition!r}")
        elif not re.search(r"filename\*(0\*)?=UTF-8''", raw_disposition):
            check.fail(f"{label}: no RFC 2231 UTF-8 filename: {raw_disposition!r}")
        data = part.get_payload(decode=True) or b""
        source = Path(want["source"])
        if not source.is_absolute():
            source = directory / source
        source_bytes = source.read_bytes()
        check.equal(f"{label} size", len(data), want["size"])
        check.equal(f"{label} sha256", hashlib.sha256(data).hexdigest(), want["sha256"])
        if data != source_bytes:
            check.fail(f"{label}: decoded bytes differ from {source}")
        encoded_lines = part.get_payload(decode=False).split("\n")
        if any(len(line.rstrip("\r")) > 76 for line in encoded_lines):
            check.fail(f"{label}: base64 line over 76 characters")


def check_message(directory, expected):
    check = Checker(expected["file"])
    raw = (directory / expected["file"]).read_bytes()
    check_wire_format(check, raw)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    check_headers(check, msg, expected)
    check_structure(check, msg, expected)
    check_text_part(check, msg.get_body(preferencelist=("plain",)), "plain", expected["text"])
    if expected["html"] is not None:
        check_text_part(check, msg.get_body(preferencelist=("html",)), "html",
                        expected["html"])
    check_attachments(check, msg, expected, directory)
    decoded = [str(msg["Subject"])]
    for part in msg.walk():
        if part.get_content_maintype() == "text" and not part.get_filename():
            decoded.append(part.get_content())
    for forbidden in expected.get("must_not_contain", []):
        if any(forbidden in text for text in decoded):
            check.fail(f"contains {forbidden!r} (template injection?)")
    return check.problems


def main():
    if len(sys.argv) != 2:
        print("usage: check_message.py DIR", file=sys.stderr)
        return 2
    directory = Path(sys.argv[1])
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    problems = []
    for expected in manifest:
        problems += check_message(directory, expected)
    for problem in problems:
        print(f"FAIL {problem}")
    print(f"checked {len(manifest)} messages: "
          f"{'all passed' if not problems else f'{len(problems)} problem(s)'}")
    return 0 if not problems and manifest else 1


if __name__ == "__main__":
    sys.exit(main())

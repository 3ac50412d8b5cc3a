#!/usr/bin/python3
"""Reference for the receipt benchmark: what a careful script would do.

For each file, in order: parse it with the standard library's ``email``
package, classify it from its top-level headers, verify its S/MIME signature
with the ``openssl`` command (one ``openssl smime -verify`` process per
receipt: integrity, chain to ``--ca-file``, purpose smimesign), check that
the signer certificate's subjectAltName e-mail is the message's From, and
read the facts of ``daticert.xml`` (from the signed part, never from an
attached message) with ``xml.etree``.

Prints one JSON object per file with the keys of
``pecbatch receipt inspect --json`` that the benchmark compares (``file``,
``class``, ``kind``, ``msgid``, ``identificativo``, ``consegna``, ``errore``,
``errore_esteso``, ``mittente``, ``destinatari``, ``oggetto``, ``gestore``,
``time``, ``ricevuta``, ``signature.status``, ``signature.signer_email``).

    reference.py --ca-file CA FILE...
    reference.py --ca-file CA --list PATHS     (one path a line)

Kept simpler than pecbatch on purpose: the chain is checked at the current
time (pecbatch: at the signing time) and only ``--ca-file`` is trusted
(pecbatch adds the system bundle); neither matters for sandbox receipts.
"""

import argparse
import email
import email.policy
import email.utils
import json
import os
import ssl
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

KINDS = {"accettazione", "non-accettazione", "presa-in-carico", "avvenuta-consegna",
         "errore-consegna", "preavviso-errore-consegna", "rilevazione-virus",
         "posta-certificata"}
SIGNATURE_TYPES = ("application/pkcs7-signature", "application/x-pkcs7-signature")


def header(msg, name):
    value = msg.get(name)
    return " ".join(str(value).split()).strip() if value is not None else None


def classify(msg):
    if header(msg, "X-Ricevuta") is not None:
        return "receipt"
    trasporto = (header(msg, "X-Trasporto") or "").lower()
    if trasporto == "posta-certificata":
        return "envelope"
    if trasporto == "errore":
        return "anomaly"
    return "other"


def parts_without_attached_messages(entity):
    """The entity and its descendants, never entering message/rfc822."""
    yield entity
    if entity.get_content_type() == "message/rfc822":
        return
    if entity.is_multipart():
        for child in entity.get_payload():
            yield from parts_without_attached_messages(child)


def find_daticert(entity):
    fallback = None
    for part in parts_without_attached_messages(entity):
        if part.is_multipart():
            continue
        name = (part.get_filename() or part.get_param("name") or "")
        if isinstance(name, tuple):
            name = email.utils.collapse_rfc2231_value(name)
        if name.lower() == "daticert.xml":
            return part.get_payload(decode=True)
        if name.lower() == "certdata.xml" and fallback is None:
            fallback = part.get_payload(decode=True)
    return fallback


def text(node, path):
    found = node.find(path)
    if found is None:
        return None
    return (found.text or "").strip()


def daticert_facts(xml_bytes):
    facts = {}
    try:
        root = ET.fromstring(xml_bytes)
    except ET.ParseError:
        return facts
    if root.tag != "postacert":
        return facts
    facts["kind"] = root.get("tipo")
    facts["errore"] = root.get("errore", "nessuno")
    facts["mittente"] = text(root, "intestazione/mittente")
    facts["destinatari"] = [{"address": (d.text or "").strip(),
                             "tipo": d.get("tipo", "certificato")}
                            for d in root.findall("intestazione/destinatari")]
    facts["oggetto"] = text(root, "intestazione/oggetto")
    facts["gestore"] = text(root, "dati/gestore-emittente")
    data = root.find("dati/data")
    if data is not None:
        zona, giorno, ora = data.get("zona"), text(data, "giorno"), text(data, "ora")
        try:
            dd, mm, yyyy = giorno.split("/")
            facts["time"] = "%s-%s-%sT%s%s:%s" % (yyyy, mm, dd, ora, zona[:3], zona[3:])
        except (AttributeError, ValueError, TypeError):
            facts["time"] = None
    facts["identificativo"] = text(root, "dati/identificativo")
    msgid = text(root, "dati/msgid")
    facts["msgid"] = msgid.strip("<>") if msgid else None
    ricevuta = root.find("dati/ricevuta")
    facts["ricevuta"] = ricevuta.get("tipo") if ricevuta is not None else None
    facts["consegna"] = text(root, "dati/consegna")
    facts["errore_esteso"] = text(root, "dati/errore-esteso")
    return facts


def signer_email(pem_path):
    try:
        cert = ssl._ssl._test_decode_cert(pem_path)  # stdlib's own X.509 decoder
    except (ssl.SSLError, OSError):
        return None
    for kind, value in cert.get("subjectAltName", ()):
        if kind == "email":
            return value
    return None


def verify(path, msg, ca_file, signer_pem):
    """Signature status and signer e-mail, as pecbatch reports them."""
    if msg.get_content_type() != "multipart/signed" or not msg.is_multipart():
        return "unsigned", None
    parts = msg.get_payload()
    if len(parts) < 2 or parts[1].get_content_type() not in SIGNATURE_TYPES:
        return "unsigned", None
    if os.path.exists(signer_pem):
        os.unlink(signer_pem)
    proc = subprocess.run(["openssl", "smime", "-verify", "-in", path, "-CAfile", ca_file,
                           "-purpose", "smimesign", "-signer", signer_pem,
                           "-out", os.devnull],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.decode("utf-8", "replace")
    signer = signer_email(signer_pem) if os.path.exists(signer_pem) else None
    if proc.returncode == 0:
        sender = email.utils.parseaddr(header(msg, "From") or "")[1]
        if signer is None or signer.lower() != sender.lower():
            return "invalid", signer
        return "valid", signer
    if "certificate verify error" in err:
        return "untrusted", signer
    if "no content type" in err or "unable to read" in err or "error reading" in err:
        return "unsigned", signer
    return "invalid", signer


def inspect(path, ca_file, signer_pem):
    with open(path, "rb") as f:
        raw = f.read()
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    cls = classify(msg)
    signed = msg.get_payload(0) if (msg.get_content_type() == "multipart/signed"
                                   and msg.is_multipart()) else msg
    xml_bytes = find_daticert(signed) if cls != "anomaly" else None
    facts = daticert_facts(xml_bytes) if xml_bytes else {}
    kind = facts.get("kind")
    if kind not in KINDS:
        if cls == "receipt":
            value = (header(msg, "X-Ricevuta") or "").lower()
            kind = value if value in KINDS else None
        elif cls == "envelope":
            kind = "posta-certificata"
        else:
            kind = None
    msgid = facts.get("msgid")
    if msgid is None:
        ref = header(msg, "X-Riferimento-Message-ID")
        msgid = ref.strip("<>") if ref else None
    status, signer = verify(path, msg, ca_file, signer_pem)
    out = {"file": path, "class": cls, "kind": kind, "msgid": msgid}
    for key in ("identificativo", "consegna", "errore", "errore_esteso", "mittente",
                "destinatari", "oggetto", "gestore", "time", "ricevuta"):
        out[key] = facts.get(key)
    out["signature"] = {"status": status, "signer_email": signer}
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ca-file", required=True)
    parser.add_argument("--list", help="file with one path a line")
    parser.add_argument("files", nargs="*")
    args = parser.parse_args()
    files = list(args.files)
    if args.list:
        with open(args.list, encoding="utf-8") as f:
            files += [line.rstrip("\n") for line in f if line.strip()]
    out = sys.stdout
    with tempfile.TemporaryDirectory(prefix="reference-") as tmp:
        signer_pem = os.path.join(tmp, "signer.pem")
        for path in files:
            out.write(json.dumps(inspect(path, args.ca_file, signer_pem),
                                 ensure_ascii=False) + "\n")
    out.flush()


if __name__ == "__main__":
    main()

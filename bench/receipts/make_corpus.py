#!/usr/bin/python3
"""Generate PEC receipts for the receipt benchmarks with the sandbox's own code.

The receipts are built, signed and laid out by tools/pec-sandbox
(``pecsandbox.receipts.ReceiptFactory``, the code the running sandbox uses),
so they are byte for byte what the sandbox would put in a mailbox.

  make_corpus.py corpus OUT --count N [--seed S]
      OUT/ca/            the sandbox PKI (root-ca.pem is the trust anchor)
      OUT/receipts/      N files, one receipt each (exact signed bytes)
      OUT/campaign.txt   the Message-IDs of the fake campaign, one a line
      OUT/expected.jsonl what each file should be (kind, msgid, mode, ...)
  make_corpus.py old-mail MAILDIR --count N --pki DIR [--seed S]
      fills MAILDIR/cur with N old messages: ordinary mail and receipts of
      another (finished) campaign, none of them about the benchmarked one
  make_corpus.py new-receipts MAILDIR --pki DIR --journal J --evidence E --like GLOB
      delivers, for every row of journal J whose address matches GLOB, an
      avvenuta-consegna into MAILDIR/new (built from the row's sent.eml in E)

The corpus mixes accettazione, avvenuta-consegna (completa / breve /
sintetica), errore-consegna (no-dest, no-dominio, altro), non-accettazione
and a few receipts that must not verify (tampered, untrusted, unsigned),
with SHA-256 and SHA-1 signatures and originals carrying attachments of
0, 20 kB, 200 kB or 1 MB; most receipts reference the fake campaign's
Message-IDs, a few another campaign's.
"""

import argparse
import datetime
import fnmatch
import hashlib
import json
import os
import random
import sqlite3
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "pec-sandbox"))

from pecsandbox import ca, mimeutil  # noqa: E402
from pecsandbox.config import Config  # noqa: E402
from pecsandbox.maildir import Maildir  # noqa: E402
from pecsandbox.message import Submission, rewrite_original  # noqa: E402
from pecsandbox.receipts import ReceiptFactory, Transaction  # noqa: E402

SENDER = "mittente@pec.sandbox.test"
DOMAIN = "pec.sandbox.test"
ATTACHMENT_SIZES = [(0, 40), (20 * 1024, 30), (200 * 1024, 25), (1024 * 1024, 5)]
FLAVOURS = [("completa", 50), ("breve", 25), ("sintetica", 25)]
ERRORS = [("no-dest", "5.1.1 - Sandbox PEC S.p.A. - indirizzo non valido"),
          ("no-dominio", "5.1.2 - Sandbox PEC S.p.A. - dominio non valido"),
          ("altro", "5.2.2 - Sandbox PEC S.p.A. - casella di posta del destinatario piena")]


def weighted(rng, choices):
    total = sum(w for _, w in choices)
    pick = rng.uniform(0, total)
    for value, weight in choices:
        pick -= weight
        if pick <= 0:
            return value
    return choices[-1][0]


def message_id(campaign, address, generation=1):
    """pecbatch's scheme: pecbatch.<campaign>.<20 hex of SHA-256(address)>.<gen>@<domain>."""
    key = hashlib.sha256(address.lower().encode("utf-8")).hexdigest()[:20]
    return "pecbatch.%s.%s.%d@%s" % (campaign, key, generation, DOMAIN)


def original(rng, msgid, address, flavour, attachment_size, number):
    """An original message as a client like pecbatch would submit it."""
    date = "Mon, 23 Nov 2026 10:%02d:%02d +0100" % (number // 60 % 60, number % 60)
    headers = [("From", SENDER), ("To", address),
               ("Subject", "Fattura n. %d del 23/11/2026" % number),
               ("Date", date), ("Message-ID", "<%s>" % msgid),
               ("X-TipoRicevuta", flavour), ("MIME-Version", "1.0")]
    text = ("Gentile cliente,\r\nin allegato la fattura n. %d.\r\n\r\nCordiali saluti\r\n"
            % number).encode("ascii")
    if attachment_size == 0:
        headers += [("Content-Type", 'text/plain; charset="utf-8"'),
                    ("Content-Transfer-Encoding", "7bit")]
        return mimeutil.header_lines(headers) + mimeutil.CRLF + text
    boundary = "=_pecbatch_%s" % hashlib.sha256(msgid.encode()).hexdigest()[:24]
    body_part = mimeutil.entity([("Content-Type", 'text/plain; charset="utf-8"'),
                                 ("Content-Transfer-Encoding", "7bit")], text)
    pdf = b"%PDF-1.4\n" + rng.randbytes(max(0, attachment_size - 9))
    pdf_part = mimeutil.entity([
        ("Content-Type", 'application/pdf; name="fattura-%d.pdf"' % number),
        ("Content-Disposition", 'attachment; filename="fattura-%d.pdf"' % number),
        ("Content-Transfer-Encoding", "base64")], mimeutil.base64_body(pdf))
    headers.append(("Content-Type", 'multipart/mixed; boundary="%s"' % boundary))
    return (mimeutil.header_lines(headers) + mimeutil.CRLF
            + mimeutil.multipart_body(boundary, [body_part, pdf_part]))


class Factories:
    """One ReceiptFactory per signature digest, over one sandbox PKI."""

    def __init__(self, pki_dir):
        self.config = Config.from_dict({})
        self.pki = ca.ensure_pki(pki_dir, self.config.domain, self.config.provider_name)
        self.by_digest = {
            "sha256": ReceiptFactory(self.config, self.pki),
            "sha1": ReceiptFactory(Config.from_dict({"signature_digest": "sha1"}), self.pki),
        }

    def transaction(self, raw, address, digest="sha256"):
        factory = self.by_digest[digest]
        sub = Submission(raw)
        when = factory.now() - datetime.timedelta(minutes=5)
        pec_id = factory.ids.pec_id(when)
        tx = Transaction(sub, pec_id, sub.message_id, SENDER,
                         [self.config.resolve(address)], when)
        tx.postacert = rewrite_original(sub.raw, pec_id, sub.message_id,
                                        "from client (localhost [127.0.0.1])\r\n\tby "
                                        "smtps.pec.sandbox.test (pec-sandbox) with ESMTPSA")
        return factory, tx


def row_receipts(fac, rng, campaign, index, bad_share):
    """All receipts of one row: [(kind, mode, flavour, size, receipt), ...]."""
    address = "cliente%05d@pec.sandbox.test" % index
    if rng.random() < 0.03:
        address = "cliente%05d@destinatario.example" % index   # a few external ones
    msgid = message_id(campaign, address)
    flavour = weighted(rng, FLAVOURS)
    size = weighted(rng, ATTACHMENT_SIZES)
    digest = "sha1" if rng.random() < 0.2 else "sha256"
    factory, tx = fac.transaction(original(rng, msgid, address, flavour, size, index),
                                  address, digest)

    def mode():
        roll = rng.random()
        if roll < bad_share:
            return rng.choice(["tampered", "untrusted", "unsigned"])
        return "genuine"

    outcome = rng.random()
    out = []
    if outcome < 0.05:
        m = mode()
        out.append(("non-accettazione", m, factory.non_accettazione(
            tx, "5.7.1 - Sandbox PEC S.p.A. - messaggio rifiutato dalla politica del gestore",
            mode=m)))
    else:
        m = mode()
        out.append(("accettazione", m, factory.accettazione(tx, mode=m)))
        if not address.endswith("@destinatario.example"):
            m = mode()
            if outcome < 0.17:
                errore, esteso = rng.choice(ERRORS)
                out.append(("errore-consegna", m,
                            factory.errore_consegna(tx, address, errore, esteso, mode=m)))
            else:
                out.append(("avvenuta-consegna", m,
                            factory.avvenuta_consegna(tx, address, mode=m)))
    return msgid, flavour, size, digest, out


def cmd_corpus(args):
    rng = random.Random(args.seed)
    out = os.path.abspath(args.out)
    rdir = os.path.join(out, "receipts")
    os.makedirs(rdir, exist_ok=True)
    fac = Factories(os.path.join(out, "ca"))
    campaign, other = "fatture-2026-11", "solleciti-2026-10"
    ours = set()
    written = 0
    index = 0
    started = time.monotonic()
    with open(os.path.join(out, "expected.jsonl"), "w", encoding="utf-8") as exp:
        while written < args.count:
            index += 1
            theirs = rng.random() < 0.03        # a receipt of another campaign
            msgid, flavour, size, digest, receipts = row_receipts(
                fac, rng, other if theirs else campaign, index, args.bad_share)
            if not theirs:
                ours.add(msgid)
            for kind, mode, receipt in receipts:
                if written >= args.count:
                    break
                written += 1
                name = "r%05d-%s.eml" % (written, kind)
                with open(os.path.join(rdir, name), "wb") as f:
                    f.write(receipt.data)
                exp.write(json.dumps({
                    "file": name, "kind": kind, "mode": mode, "msgid": msgid,
                    "ours": not theirs, "ricevuta": flavour if kind == "avvenuta-consegna"
                    else None, "attachment": size, "digest": digest,
                    "bytes": len(receipt.data)}) + "\n")
            if written % 1000 < len(receipts) and written >= 1000:
                print("  %d receipts (%.0f s)" % (written, time.monotonic() - started),
                      file=sys.stderr)
    with open(os.path.join(out, "campaign.txt"), "w", encoding="utf-8") as f:
        for msgid in sorted(ours):
            f.write(msgid + "\n")
    print("%d receipts in %s (%d Message-IDs in the campaign), %.0f s"
          % (written, rdir, len(ours), time.monotonic() - started), file=sys.stderr)


WORDS = ("riunione ordine fattura preventivo consegna richiesta conferma verbale "
         "contratto offerta sollecito pagamento documento allegato comune ufficio "
         "protocollo avviso scadenza rinnovo").split()


def plain_mail(rng, n):
    """An ordinary (non-PEC) message, 2-6 kB, one in ten with a 30 kB attachment."""
    subject = " ".join(rng.choice(WORDS) for _ in range(5))
    sender = "utente%d@esempio%d.example" % (rng.randrange(500), rng.randrange(20))
    headers = [("Return-Path", "<%s>" % sender), ("Delivered-To", SENDER),
               ("From", sender), ("To", SENDER), ("Subject", subject),
               ("Date", "Tue, 06 Oct 2026 %02d:%02d:00 +0200" % (n // 60 % 24, n % 60)),
               ("Message-ID", "<old.%d.%s@esempio.example>" % (n, rng.randbytes(6).hex())),
               ("MIME-Version", "1.0")]
    lines = [" ".join(rng.choice(WORDS) for _ in range(10)) for _ in range(rng.randrange(25, 80))]
    text = ("\r\n".join(lines) + "\r\n").encode("ascii")
    if rng.random() >= 0.1:
        headers += [("Content-Type", "text/plain; charset=us-ascii")]
        return mimeutil.header_lines(headers) + mimeutil.CRLF + text
    boundary = "b%d" % n
    part1 = mimeutil.entity([("Content-Type", "text/plain; charset=us-ascii")], text)
    part2 = mimeutil.entity([("Content-Type", 'application/octet-stream; name="dati.bin"'),
                             ("Content-Transfer-Encoding", "base64")],
                            mimeutil.base64_body(rng.randbytes(30 * 1024)))
    headers.append(("Content-Type", 'multipart/mixed; boundary="%s"' % boundary))
    return (mimeutil.header_lines(headers) + mimeutil.CRLF
            + mimeutil.multipart_body(boundary, [part1, part2]))


def owner_of(path):
    st = os.stat(path)
    return (st.st_uid, st.st_gid) if os.geteuid() == 0 else (None, None)


def cmd_old_mail(args):
    """Old messages straight into MAILDIR/cur (Dovecot indexes them on its next sync)."""
    rng = random.Random(args.seed)
    fac = Factories(args.pki)
    uid, gid = owner_of(args.maildir)
    cur = os.path.join(args.maildir, "cur")
    receipts_every = max(1, round(1 / args.receipt_share)) if args.receipt_share > 0 else 0
    started = time.monotonic()
    pending = []
    n_receipts = total_bytes = 0
    for n in range(args.count):
        if receipts_every and n % receipts_every == 0:
            if not pending:
                _, _, _, _, rows = row_receipts(fac, rng, "solleciti-2026-10", n, 0.0)
                pending = [r.data for _, _, r in rows]
            data = pending.pop()
            n_receipts += 1
        else:
            data = plain_mail(rng, n)
        # Maildir name: unique, with the size, in cur/ with no flags (unread).
        name = "%d.M%dP%dQ%d.bench,S=%d:2," % (1790000000 + n, n, os.getpid(), n, len(data))
        path = os.path.join(cur, name)
        with open(path, "wb") as f:
            f.write(data)
        if uid is not None:
            os.chown(path, uid, gid)
        total_bytes += len(data)
        if (n + 1) % 10000 == 0:
            print("  %d messages (%.0f s)" % (n + 1, time.monotonic() - started), file=sys.stderr)
    print(json.dumps({"messages": args.count, "receipts": n_receipts, "bytes": total_bytes,
                      "seconds": round(time.monotonic() - started, 1)}))


def cmd_new_receipts(args):
    """An avvenuta-consegna for each matching row of the journal, into MAILDIR/new."""
    fac = Factories(args.pki)
    uid, gid = owner_of(args.maildir)
    box = Maildir(args.maildir, uid, gid)
    db = sqlite3.connect("file:%s?mode=ro" % args.journal, uri=True)
    rows = db.execute("select address, message_id from rows order by row").fetchall()
    db.close()
    count = total = 0
    for address, msgid in rows:
        if not fnmatch.fnmatch(address.lower(), args.like.lower()):
            continue
        sent = os.path.join(args.evidence, msgid.strip("<>"), "sent.eml")
        with open(sent, "rb") as f:
            raw = f.read()
        factory, tx = fac.transaction(raw, address)
        data = factory.avvenuta_consegna(tx, address).data
        box.deliver(data)
        count += 1
        total += len(data)
    print(json.dumps({"receipts": count, "bytes": total}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("corpus", help="receipt files for the parse/verify/match benchmark")
    p.add_argument("out")
    p.add_argument("--count", type=int, default=10000)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--bad-share", type=float, default=0.02,
                   help="share of receipts made tampered/untrusted/unsigned (default 0.02)")
    p.set_defaults(func=cmd_corpus)
    p = sub.add_parser("old-mail", help="fill a Maildir with old messages")
    p.add_argument("maildir")
    p.add_argument("--count", type=int, default=50000)
    p.add_argument("--pki", required=True, help="the sandbox's ca/ directory")
    p.add_argument("--receipt-share", type=float, default=0.2,
                   help="share of old receipts of another campaign (default 0.2)")
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=cmd_old_mail)
    p = sub.add_parser("new-receipts", help="deliver consegne for some rows of a campaign")
    p.add_argument("maildir")
    p.add_argument("--pki", required=True)
    p.add_argument("--journal", required=True)
    p.add_argument("--evidence", required=True)
    p.add_argument("--like", required=True, help="address glob, e.g. 'attesa*@*'")
    p.set_defaults(func=cmd_new_receipts)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()

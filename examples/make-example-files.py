#!/usr/bin/python3
"""Regenerates the example contacts file and PDFs in this directory.

The outputs are committed; run this only to change them:
    /usr/bin/python3 examples/make-example-files.py   (from the repository root)
The contacts file is written the way Italian Excel writes CSV: UTF-8 with a
BOM, ';' as delimiter, CRLF line ends, quoted values where needed.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

PEOPLE = [
    ("Studio Legale Bianchi & Associati", "studio.bianchi@pec.sandbox.test", "1001", "1.250,00"),
    ("Niccolò Ferrari", "niccolo.ferrari@pec.sandbox.test", "1002", "480,50"),
    ("Farmacia San Giovanni di Città di Castello", "farmacia.sangiovanni@pec.sandbox.test", "1003", "2.310,00"),
    ("Agostino Esposito", "agostino.esposito@pec.sandbox.test", "1004", "99,90"),
    ("Comune di Forlì - Ufficio Tributi", "tributi.forli@pec.sandbox.test", "1005", "15.000,00"),
    ("Lucia Mazzà", "lucia.mazza@pec.sandbox.test", "1006", "310,00"),
    ("Officina Meccanica Gallo S.r.l.", "officina.gallo@pec.sandbox.test", "1007", "3.780,40"),
    ("Giosuè Ricci", "giosue.ricci@pec.sandbox.test", "1008", "75,00"),
    ("Panificio Conti \"Il Forno\"", "panificio.conti@pec.sandbox.test", "1009", "1.120,00"),
    ("Elisa Marchetti; Amministrazione", "elisa.marchetti@pec.sandbox.test", "1010", "640,00"),
    ("Caffè Rinaldi S.n.c.", "caffe.rinaldi@pec.sandbox.test", "1011", "212,30"),
    ("Nicolò Lombardi", "nicolo.lombardi@pec.sandbox.test", "1012", "890,00"),
    ("Cooperativa Sociale Perché No", "coop.percheno@pec.sandbox.test", "1013", "4.500,00"),
    ("Andrea De Luca", "andrea.deluca@pec.sandbox.test", "1014", "57,80"),
    ("Hotel Belvedere Sàrl", "amministrazione@hotel-belvedere.example.com", "1015", "2.999,99"),
    ("Martina Colombo", "martina.colombo@pec.sandbox.test", "1016", "130,00"),
    ("Geom. Fabrizio Barbieri", "fabrizio.barbieri@pec.sandbox.test", "1017", "760,00"),
    ("Ilaria Fontana", "ilaria.fontana@pec.sandbox.test", "1018", "1.005,00"),
    ("Edilizia Moretti & Figli", "edilizia.moretti@pec.sandbox.test", "1019", "12.400,00"),
    ("Tommaso Giordano", "tommaso.giordano@pec.sandbox.test", "1020", "45,00"),
]

# An optional column: the template shows its paragraph only where it is set.
NOTES = {"1002": "acconto di 200,00 euro già ricevuto, il saldo è indicato in fattura"}

# The demo's mix of outcomes (scripts/demo with sandbox-demo.json): the
# hotel's address above is an ordinary mailbox, not a PEC one (the provider
# accepts the message, no delivery proof will come); the sandbox rules in
# sandbox-demo.json make two addresses fail at delivery; and the demo copies
# the campaign and appends the EICAR antivirus test string to one invoice,
# so that the provider refuses that whole message. (Not in the repository:
# antivirus scanners would quarantine the file on checkout.)


def pdf(lines):
    """A minimal, valid one-page PDF with correct xref offsets."""
    def esc(s):
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    text = "BT /F1 14 Tf 50 780 Td " + " ".join(
        "(%s) Tj 0 -20 Td" % esc(line) for line in lines) + " ET"
    body = text.encode("latin-1")
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(body) + body + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def main():
    os.makedirs(os.path.join(HERE, "allegati"), exist_ok=True)
    os.makedirs(os.path.join(HERE, "fatture"), exist_ok=True)
    with open(os.path.join(HERE, "allegati", "condizioni-generali.pdf"), "wb") as f:
        f.write(pdf(["Condizioni generali di fornitura", "Esempio per pecbatch"]))
    rows = ["nome;pec;fattura;importo;scadenza;allegato;note"]
    for name, pec, number, amount in PEOPLE:
        invoice = "fattura-2026-%s.pdf" % number
        with open(os.path.join(HERE, "fatture", invoice), "wb") as f:
            f.write(pdf(["Fattura n. 2026/%s" % number, "Importo: EUR %s" % amount]))
        cell = '"%s"' % name.replace('"', '""') if any(c in name for c in ';"') else name
        note = NOTES.get(number, "")
        rows.append(";".join([cell, pec, "2026/" + number, amount, "2026-12-31", invoice, note]))
    with open(os.path.join(HERE, "contatti.csv"), "wb") as f:
        f.write(b"\xef\xbb\xbf" + ("\r\n".join(rows) + "\r\n").encode("utf-8"))


if __name__ == "__main__":
    main()

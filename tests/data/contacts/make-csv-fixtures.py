#!/usr/bin/env python3
"""Writes the CSV fixtures of tests/data/contacts byte for byte.

Run from anywhere: python3 tests/data/contacts/make-csv-fixtures.py
The tests assert exact rows, values, lines and byte offsets of these files:
change them together.
"""
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
BOM = b"\xef\xbb\xbf"


def write(name, data):
    (HERE / name).write_bytes(data)


def utf8_lines(lines, eol):
    return eol.join(lines).encode("utf-8") + eol.encode("ascii")


# As Italian Excel saves "CSV UTF-8 (delimitato da virgole)": BOM, ';', CRLF.
# Quoted values: one with ';', one with doubled quotes, one with ';' and an
# embedded line break (Alt+Enter in a cell: a bare LF inside the quotes), so
# the record starting on line 5 ends on line 6. The last line has no CRLF.
excel_it = [
    "Ragione sociale;PEC;Numero fattura;Importo;Scadenza;Allegato",
    "Niccolò Rossi S.r.l.;niccolo.rossi@pec.it;2024/001;1.234,56;15/03/2024;fattura-001.pdf",
    'Città di Forlì;protocollo@pec.comune.forli.fc.it;2024/002;99,00;31/12/2024;"fattura-002.pdf;allegato-002.pdf"',
    '"Caffè ""Il Chicco"" S.n.c.";amministrazione@pec.ilchicco.it;2024/003;12,50;02/01/2025;fattura-003.pdf',
    '"Studio Bianchi; Verdi\nAvvocati associati";studio.bianchi@pec.avvocati.it;2024/004;1.000,00;28/02/2025;',
    "Perché Sì S.p.A.;perche.si@legalmail.it;2024/005;0,10;01/03/2025;fattura-005.pdf",
]
write("excel-it.csv", BOM + "\r\n".join(excel_it).encode("utf-8"))

# As Excel saves plain "CSV (delimitato dal separatore di elenco)" on an
# Italian Windows: Windows-1252, ';', CRLF, no BOM.
windows_1252 = [
    "Ragione sociale;PEC;Importo;Note",
    "Città di Forlì;protocollo@pec.comune.forli.fc.it;€ 99,00;perché sì",
    "Niccolò Rossi;niccolo.rossi@pec.it;€ 1.234,56;“urgente”",
]
write("windows-1252.csv", "\r\n".join(windows_1252).encode("cp1252") + b"\r\n")

# UTF-8 with one Latin-1 byte (0xE8, è) on line 5, after a record spanning
# lines 3-4. Byte offset of the bad byte: 9 + 19 + 25 + 5 = 58.
write(
    "invalid-utf8.csv",
    b"Nome,PEC\n"
    b"Mario,mario@pec.it\n"
    b'"Anna\nMaria",anna@pec.it\n'
    b"Lucia\xe8,lucia@pec.it\n",
)

# Rows with fewer and more fields than the header; blank lines in between
# (skipped, but they count for line numbers).
write(
    "ragged.csv",
    utf8_lines(
        [
            "Nome;PEC;Città",
            "Mario;mario@pec.it;Roma",
            "",
            "Anna;anna@pec.it",
            ";;",
            "Luca;luca@pec.it;Milano;extra",
        ],
        "\n",
    ),
)

# A quote inside a quoted value that is not doubled (line 3).
write(
    "broken-quotes.csv",
    utf8_lines(
        ["Nome;PEC", "Mario;mario@pec.it", '"Anna "la rossa"";anna@pec.it', "Luca;luca@pec.it"],
        "\n",
    ),
)

# A quote opened on line 3 and never closed.
write(
    "unterminated-quote.csv",
    utf8_lines(["Nome;PEC", "Mario;mario@pec.it", '"Anna;anna@pec.it', "Luca;luca@pec.it"], "\n"),
)

# Addresses a PEC provider refuses; the last one only needs trimming.
write(
    "bad-addresses.csv",
    utf8_lines(
        [
            "Nome,PEC",
            "Display,Mario Rossi <mario@pec.it>",
            "Angle,<anna@pec.it>",
            "Space,luca @pec.it",
            "NoAt,giulia.pec.it",
            "Empty,",
            "Blank,   ",
            "Trimmed,  ok@pec.it\t",
        ],
        "\n",
    ),
)

# The same addresses with different case.
write(
    "duplicates.csv",
    utf8_lines(
        [
            "Nome,PEC",
            "A,Mario.Rossi@PEC.it",
            "B,anna@pec.it",
            "C,mario.rossi@pec.it",
            "D,ANNA@pec.IT",
            "E,mario.rossi@pec.it",
        ],
        "\r\n",
    ),
)

# Header injection attempts: CR LF inside quoted values. Records start on
# lines 2, 4 and 6.
write(
    "injection.csv",
    b"Nome,PEC,Oggetto,Nota\r\n"
    b'"Mario\r\nBcc: x@y.it",mario@pec.it,Fattura,ok\r\n'
    b'Anna,"anna@pec.it\r\nBcc: x@y.it",Fattura,ok\r\n'
    b'Luca,luca@pec.it,"Fattura\r\nBcc: x@y.it","riga 1\r\nriga 2"\r\n'
    b"Nul,nul@pec.it,Fattura,a\x00b\r\n",
)

write("empty-header.csv", utf8_lines(["Nome;;PEC;Città", "Mario;x;mario@pec.it;Roma"], "\n"))
write("duplicate-header.csv", utf8_lines(["Nome;PEC;Città;nome", "Mario;mario@pec.it;Roma;M"], "\n"))
write("no-address-column.csv", utf8_lines(["Nome;Cognome;Telefono", "Mario;Rossi;06 1234"], "\n"))

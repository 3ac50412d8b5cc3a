#!/bin/sh
# Regenerates the spreadsheet fixtures of tests/data/contacts.
#
# contacts.xlsx and contacts.xls were written by a real spreadsheet program
# from spreadsheet-source.csv: LibreOffice 7.4.7.2 (Debian 12 package
# libreoffice-calc-nogui 4:7.4.7-1+deb12u14, installed only to make these
# files: it is not a build dependency):
#
#   apt-get install -y --no-install-recommends libreoffice-calc-nogui
#
# CSV import filter options "CSV:59,34,76,1,,1033,false,true":
#   59 ';' separates fields, 34 '"' quotes text, 76 UTF-8, 1 start at line 1,
#   (empty) default column types, 1033 en-US so '.' is the decimal separator,
#   false quoted fields are not forced to text, true "detect special numbers"
#   so ISO dates (2024-03-15, 2025-01-02 09:30:00) become real date cells.
# Checked after conversion: in xl/worksheets/sheet1.xml the Scadenza cells
# are numbers (<c r="F2" s="1" t="n"><v>45366</v>) whose style has the
# custom format "yyyy\-mm\-dd" (numFmtId 165) in xl/styles.xml.
# The sheet is named after the CSV file: "spreadsheet-source".
#
# sparse.xlsx and zip-bomb.xlsx are HAND-MADE below with Python's zipfile:
# no spreadsheet program writes missing rows, cells without references,
# inline strings, rich text runs and _xHHHH_ escapes all at once.
set -eu
cd "$(dirname "$0")"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cp spreadsheet-source.csv "$tmp/"
filter='CSV:59,34,76,1,,1033,false,true'
soffice --headless "-env:UserInstallation=file://$tmp/profile" \
  --infilter="$filter" --convert-to xlsx --outdir "$tmp" "$tmp/spreadsheet-source.csv"
soffice --headless "-env:UserInstallation=file://$tmp/profile" \
  --infilter="$filter" --convert-to 'xls:MS Excel 97' --outdir "$tmp" \
  "$tmp/spreadsheet-source.csv"
cp "$tmp/spreadsheet-source.xlsx" contacts.xlsx
cp "$tmp/spreadsheet-source.xls" contacts.xls

python3 - <<'PY'
import zipfile

NS = ('xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
      'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"')
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

content_types = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/contatti.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
<Override PartName="/xl/worksheets/altro.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>
<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>
</Types>"""

package_rels = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""

workbook = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook {NS}><workbookPr/><sheets>
<sheet name="Contatti" sheetId="1" r:id="rId7"/>
<sheet name="Altro" sheetId="2" r:id="rId8"/>
</sheets></workbook>"""

# Targets: one relative with a detour, one absolute.
workbook_rels = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId7" Type="{REL}/worksheet" Target="worksheets/../worksheets/contatti.xml"/>
<Relationship Id="rId8" Type="{REL}/worksheet" Target="/xl/worksheets/altro.xml"/>
<Relationship Id="rId9" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>
<Relationship Id="rId10" Type="{REL}/styles" Target="styles.xml"/>
</Relationships>"""

# Shared strings: 0 rich text runs "P"+"EC"; 1 "Città"; 2 "mario@pec.it";
# 3 "Linea 1" CR LF "Linea 2" with CR written as _x000D_; 4 " Importo "
# (header name to trim); 5 phonetic run to ignore.
shared_strings = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="6" uniqueCount="6">
<si><r><rPr><b/></rPr><t>P</t></r><r><t>EC</t></r></si>
<si><t>Città</t></si>
<si><t>mario@pec.it</t></si>
<si><t>Linea 1_x000D_
Linea 2</t></si>
<si><t xml:space="preserve"> Importo </t></si>
<si><t>Tokyo</t><rPh sb="0" eb="1"><t>トウキョウ</t></rPh></si>
</sst>"""

# cellXfs: 0 General; 1 built-in 14 (date); 2 custom 164 date;
# 3 custom 165 date and time; 4 built-in 4 (#,##0.00); 5 built-in 20 (h:mm);
# 6 custom 166, text in quotes that contains d and y but is not a date.
styles = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<numFmts count="3">
<numFmt numFmtId="164" formatCode="dd/mm/yyyy;@"/>
<numFmt numFmtId="165" formatCode="[$-410]dd\\ mmmm\\ yyyy\\ hh:mm"/>
<numFmt numFmtId="166" formatCode="0.00&quot; days&quot;"/>
</numFmts>
<cellXfs count="7">
<xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/><xf numFmtId="165"/>
<xf numFmtId="4"/><xf numFmtId="20"/><xf numFmtId="166"/>
</cellXfs>
</styleSheet>"""

# Header: Nome | PEC | Città | Nota | Data | Attivo | Importo (G1), and H1
# styled but empty (not a column).
# Row 2 missing. Row 3 sparse (no C3). Row 4 only empty styled cells
# (skipped). Row 6: a value in I6, past the header. Row 7: row and cells
# without references. Row 9: numbers and dates in several formats.
def inline(ref, text):
    r = f' r="{ref}"' if ref else ""
    return f'<c{r} t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'

contatti = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet {NS}><dimension ref="A1:I9"/><sheetData>
<row r="1">{inline("A1", "Nome")}<c r="B1" t="s"><v>0</v></c><c r="C1" t="s"><v>1</v></c>{inline("D1", "Nota")}{inline("E1", "Data")}{inline("F1", "Attivo")}<c r="G1" t="s"><v>4</v></c><c r="H1" s="1"/></row>
<row r="3">{inline("A3", "Mario")}<c r="B3" t="s"><v>2</v></c><c r="D3" t="str"><f>CONCAT("calco","lato")</f><v>calcolato</v></c><c r="E3" s="1"><v>45366</v></c><c r="F3" t="b"><v>1</v></c></row>
<row r="4"><c r="A4" s="1"/><c r="B4" s="2"><v></v></c></row>
<row r="5">{inline("A5", "Anna")}{inline("B5", "  anna@pec.it ")}<c r="D5" t="e"><v>#N/A</v></c><c r="E5" s="3"><v>45366.5</v></c><c r="F5" t="b"><v>0</v></c><c r="G5"><v>0.1</v></c></row>
<row r="6">{inline("A6", "Luca")}{inline("B6", "luca@pec.it")}<c r="I6" t="inlineStr"><is><r><t>ol</t></r><r><t>tre</t></r></is></c></row>
<row>{inline("", "Senza")}{inline("", "rif@pec.it")}<c t="s"><v>5</v></c><c t="s"><v>3</v></c></row>
<row r="9">{inline("A9", "Numeri")}{inline("B9", "numeri@pec.it")}<c r="C9"><v>1234</v></c><c r="D9"><v>0.30000000000000004</v></c><c r="E9" s="2"><v>60</v></c><c r="F9" s="5"><v>0.75</v></c><c r="G9" s="4"><v>1234.56</v></c></row>
<row r="10">{inline("A10", "Testo")}{inline("B10", "testo@pec.it")}<c r="E10" s="6"><v>45366</v></c><c r="G10"><v>-1E-3</v></c></row>
</sheetData></worksheet>"""

altro = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet {NS}><sheetData>
<row r="2">{inline("A2", "E-Mail")}{inline("B2", "Nome")}</row>
<row r="3">{inline("A3", "altro@pec.it")}{inline("B3", "Altro")}</row>
</sheetData></worksheet>"""

def write_xlsx(path, parts):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in parts:
            z.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)),
                       text.encode("utf-8"), zipfile.ZIP_DEFLATED)

write_xlsx("sparse.xlsx", [
    ("[Content_Types].xml", content_types),
    ("_rels/.rels", package_rels),
    ("xl/workbook.xml", workbook),
    ("xl/_rels/workbook.xml.rels", workbook_rels),
    ("xl/sharedStrings.xml", shared_strings),
    ("xl/styles.xml", styles),
    ("xl/worksheets/contatti.xml", contatti),
    ("xl/worksheets/altro.xml", altro),
])

# zip-bomb.xlsx: a minimal workbook whose sheet claims 600,000,000 bytes
# uncompressed (sizes patched in the local header and the central
# directory). The reader must refuse it from the size alone.
bomb_workbook = f"""<?xml version="1.0" encoding="UTF-8"?>
<workbook {NS}><sheets><sheet name="Bomb" sheetId="1" r:id="rId1"/></sheets></workbook>"""
bomb_rels = f"""<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>
</Relationships>"""
bomb_sheet = f'<worksheet {NS}><sheetData/></worksheet>'
write_xlsx("zip-bomb.xlsx", [
    ("_rels/.rels", package_rels),
    ("xl/workbook.xml", bomb_workbook),
    ("xl/_rels/workbook.xml.rels", bomb_rels),
    ("xl/worksheets/sheet1.xml", bomb_sheet),
])
data = bytearray(open("zip-bomb.xlsx", "rb").read())
name = b"xl/worksheets/sheet1.xml"
claimed = (600_000_000).to_bytes(4, "little")
pos = 0
while True:
    pos = data.find(b"PK\x03\x04", pos)
    if pos < 0:
        break
    name_len = int.from_bytes(data[pos + 26:pos + 28], "little")
    if data[pos + 30:pos + 30 + name_len] == name:
        data[pos + 22:pos + 26] = claimed
    pos += 4
pos = 0
while True:
    pos = data.find(b"PK\x01\x02", pos)
    if pos < 0:
        break
    name_len = int.from_bytes(data[pos + 28:pos + 30], "little")
    if data[pos + 46:pos + 46 + name_len] == name:
        data[pos + 24:pos + 28] = claimed
    pos += 4
open("zip-bomb.xlsx", "wb").write(bytes(data))
PY
echo "spreadsheet fixtures written in $(pwd)"

#!/usr/bin/python3
"""End-to-end: the HTML report of a real campaign, in a real headless Chromium.

A campaign with mixed outcomes is sent to the simulated PEC provider and
polled until every row is final, so the journal and the evidence archive
are real. `pecbatch report --format html` writes the page; Chromium
(Debian's `chromium`, run headless with a private profile) loads it from
disk and the test checks what it shows after its script ran: one table row
per journal row, chart numbers equal to the journal's counts, names shown
as text (including a `<script>` one and accented ones), working sort and
filter (driven by a small script injected into a copy of the page), no
network request of any kind, relative evidence links that resolve. A
screenshot is kept under the build directory (path printed).

Exits 77 (skipped) when chromium is not installed (scripts/install-deps
installs it).
"""
import hashlib
import html.parser
import json
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib
from urllib.parse import unquote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandbox_fixture import SandboxTest  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = os.environ.get("PECBATCH_TEST_ARTIFACTS") or os.path.join(
    tempfile.gettempdir(), "pecbatch-artifacts")

# address -> (name, expected final state)
RECIPIENTS = [
    ("ok@pec.sandbox.test", "Niccolò Perché", "delivered"),
    ("nodest@pec.sandbox.test", "<script>alert('x')</script>", "delivery_failed"),
    ("pieno@pec.sandbox.test", "Zoë Àlvarez-Müller", "delivery_failed"),
    ("someone@example.com", "Ilaria D'Angelo & C.", "sent_external"),
    ("rifiuto@pec.sandbox.test", "=HYPERLINK(\"x\")", "rejected"),
    ("bad@pec.sandbox.test", "Perla <b>Bianchi</b>", "failed"),
    ("altro@pec.sandbox.test", "Ugo Foscolo", "delivered"),
]


def chromium(*args, timeout=60):
    """Runs headless Chromium with a private, throw-away profile."""
    profile = tempfile.mkdtemp(prefix="pecbatch-chromium-")
    try:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
             "--disable-background-networking", "--user-data-dir=" + profile, *args],
            capture_output=True, text=True, timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


class Dom(html.parser.HTMLParser):
    """The few facts the test reads from a dumped DOM."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows = []            # [{"attrs": {...}, "cells": [text, ...]}]
        self.bars = {}            # state -> count
        self.scripts = 0
        self.links = []           # href values in the rows table
        self.texts = {}           # id -> text, for a few elements
        self.meta_csp = None
        self._in_rows = False
        self._in_tbody = False
        self._cell = None
        self._row = None
        self._capture = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy":
            self.meta_csp = a.get("content")
        if tag == "script":
            self.scripts += 1
        if tag == "table" and a.get("id") == "rows":
            self._in_rows = True
        if self._in_rows and tag == "tbody":
            self._in_tbody = True
        if self._in_tbody and tag == "tr":
            self._row = {"attrs": a, "cells": []}
        if self._row is not None and tag == "td":
            self._cell = []
        if self._in_rows and tag == "a":
            self.links.append(a.get("href"))
        if tag == "g" and "bar" in (a.get("class") or "").split():
            self.bars[a["data-state"]] = int(a["data-count"])
        if a.get("id") in ("shown", "test-result", "total"):
            self._capture = (a["id"], [])

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self._row["cells"].append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        elif tag == "tbody":
            self._in_tbody = False
        elif tag == "table":
            self._in_rows = False
        if self._capture and tag in ("span", "pre"):
            self.texts[self._capture[0]] = "".join(self._capture[1])
            self._capture = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._capture:
            self._capture[1].append(data)


def parse_dom(text):
    dom = Dom()
    dom.feed(text)
    return dom


def png_pixels(path):
    """Decodes an 8-bit RGB/RGBA, non-interlaced PNG; yields (r, g, b)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    for y in range(height):
        line = raw[y * (stride + 1):(y + 1) * (stride + 1)]
        kind, row = line[0], bytearray(line[1:])
        for i in range(stride):
            left = row[i - channels] if i >= channels else 0
            up = previous[i]
            upleft = previous[i - channels] if i >= channels else 0
            if kind == 1:
                row[i] = (row[i] + left) & 255
            elif kind == 2:
                row[i] = (row[i] + up) & 255
            elif kind == 3:
                row[i] = (row[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - upleft
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else upleft)
                row[i] = (row[i] + pred) & 255
        previous = row
        for x in range(0, stride, channels):
            yield row[x], row[x + 1], row[x + 2]


# Injected into a copy of the page: records CSP violations from the start.
HEAD_PROBE = """<script>
window.__violations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__violations.push(e.blockedURI);
});
</script>"""

# A request the CSP must block: proves that the probe sees blocked requests.
CANARY = '<img alt="" src="http://127.0.0.1:9/canary.png">'

# Injected at the end of the copy's body, after the page's own script:
# drives the table like a user and writes what it saw into the DOM.
DRIVER = """<script>
window.addEventListener('load', function () {
  var out = {};
  function rows() { return Array.prototype.slice.call(document.querySelectorAll('#rows tbody tr')); }
  function visible() { return rows().filter(function (r) { return !r.hidden; }); }
  function col(r, i) { return r.cells[i].textContent; }
  function click(el) { el.dispatchEvent(new MouseEvent('click', {bubbles: true})); }
  var rowButton = document.querySelector('#rows thead button[data-col="0"]');
  var addressButton = document.querySelector('#rows thead button[data-col="1"]');
  var nameButton = document.querySelector('#rows thead button[data-col="2"]');
  click(addressButton);
  out.address_ascending = rows().map(function (r) { return col(r, 1); });
  out.address_sort = addressButton.parentNode.getAttribute('aria-sort');
  click(addressButton);
  out.address_descending = rows().map(function (r) { return col(r, 1); });
  out.address_sort_again = addressButton.parentNode.getAttribute('aria-sort');
  click(nameButton);
  out.names_ascending = rows().map(function (r) { return col(r, 2); });
  click(rowButton);
  out.rows_ascending = rows().map(function (r) { return col(r, 0); });
  var filter = document.getElementById('filter');
  filter.value = 'PERCH';
  filter.dispatchEvent(new Event('input'));
  out.text_filter = visible().map(function (r) { return col(r, 1); });
  out.text_filter_shown = document.getElementById('shown').textContent;
  filter.value = '';
  filter.dispatchEvent(new Event('input'));
  var state = document.getElementById('state-filter');
  state.value = 'delivery_failed';
  state.dispatchEvent(new Event('change'));
  out.state_filter = visible().map(function (r) { return col(r, 1); });
  filter.value = 'pieno';
  filter.dispatchEvent(new Event('input'));
  out.both_filters = visible().map(function (r) { return col(r, 1); });
  filter.value = '';
  filter.dispatchEvent(new Event('input'));
  state.value = '';
  state.dispatchEvent(new Event('change'));
  click(document.querySelector('#chart .bar[data-state="delivered"]'));
  out.bar_filter = visible().map(function (r) { return r.getAttribute('data-state'); });
  out.bar_filter_select = state.value;
  out.violations = window.__violations;
  out.resources = performance.getEntriesByType('resource').map(function (e) { return e.name; });
  var pre = document.createElement('pre');
  pre.id = 'test-result';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


class ReportHtml(SandboxTest):
    sandbox_config = {"clock": {"12h": 1, "24h": 2}}

    def journal(self):
        db = sqlite3.connect(os.path.join(self.dir, "out", "journal.sqlite"))
        try:
            counts = dict(db.execute("select state, count(*) from rows group by state"))
            rows = db.execute("select row, address, state, message_id from rows "
                              "order by row").fetchall()
            return counts, rows
        finally:
            db.close()

    def make_sent_campaign(self):
        campaign = self.make_campaign([address for address, _, _ in RECIPIENTS])
        with open(os.path.join(self.dir, "contacts.csv"), "w", encoding="utf-8",
                  newline="") as f:
            f.write("pec;nome;numero\r\n")
            for i, (address, name, _) in enumerate(RECIPIENTS):
                f.write('%s;"%s";%d\r\n' % (address, name.replace('"', '""'), i + 1))
        self.set_control({"faults": [{"at": "rcpt", "reply": 550,
                                      "recipient": "bad@pec.sandbox.test"}]})
        r = self.pecbatch("send", campaign, "--yes", "--quiet")
        self.assertEqual(r.returncode, 69, r.stdout + r.stderr)  # bad@ refused
        r = self.pecbatch("poll", campaign, "--until-final", "--timeout", "40s",
                          "--interval", "500ms", timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return campaign

    def test_report_page_in_headless_chromium(self):
        campaign = self.make_sent_campaign()
        counts, journal_rows = self.journal()
        expected = {address: state for address, _, state in RECIPIENTS}
        self.assertEqual({address: state for _, address, state, _ in journal_rows}, expected)

        # Outside the output directory: evidence links must climb to it.
        page = os.path.join(self.dir, "reports", "esito.html")
        r = self.pecbatch("report", campaign, "--format", "html", "--out", page,
                          "--fields", "nome,numero")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("esito.html", r.stdout)
        with open(page, encoding="utf-8") as f:
            source = f.read()

        # Static: nothing that could reach the network.
        self.assertNotRegex(source, r"(?i)https?:")
        self.assertNotRegex(source, r"(?i)\b(src|srcset|action|poster|data)\s*=")
        self.assertNotRegex(source, r"(?i)<(link|iframe|object|embed|base|img)\b")
        self.assertNotRegex(source, r"(?i)url\(|@import|//[a-z0-9.-]+\.[a-z]")
        self.assertEqual(source.count("<script"), 1)

        # What Chromium shows once the page's script ran.
        r = chromium("--dump-dom", "file://" + page)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        dom = parse_dom(r.stdout)
        self.assertEqual(
            dom.meta_csp,
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
            "img-src data:")
        self.assertEqual(dom.scripts, 1)  # the name's <script> is text, not an element
        self.assertEqual(len(dom.rows), len(journal_rows))
        self.assertEqual(dom.texts.get("total"), str(len(journal_rows)))
        # The page's script ran: it numbered the rows and counted them.
        self.assertTrue(all("data-index" in row["attrs"] for row in dom.rows))
        self.assertEqual(dom.texts.get("shown"), "%d of %d rows shown" % (
            len(journal_rows), len(journal_rows)))
        # The chart says what the journal says.
        self.assertEqual(dom.bars, counts)
        self.assertEqual(sum(dom.bars.values()), len(journal_rows))
        # Each row: address, the name exactly as in the contacts file, state.
        names = {address: name for address, name, _ in RECIPIENTS}
        for row in dom.rows:
            address = row["cells"][1]
            self.assertEqual(row["cells"][2], names[address])
            self.assertEqual(row["attrs"]["data-state"], expected[address])
            self.assertEqual(row["cells"][4], expected[address])
        # Evidence links are relative and lead to the real files, whose
        # SHA-256 the JSON report states.
        self.assertTrue(dom.links)
        out = os.path.join(self.dir, "out")
        for href in dom.links:
            self.assertFalse(re.match(r"^[a-z]+:|^/", href), href)
            self.assertTrue(href.startswith("../out/evidence/"), href)
            target = os.path.normpath(os.path.join(os.path.dirname(page), unquote(href)))
            self.assertTrue(os.path.exists(target), target)
        r = self.pecbatch("report", campaign, "--format", "json", "--out", "-")
        self.assertEqual(r.returncode, 0, r.stderr)
        for row in json.loads(r.stdout)["rows"]:
            for receipt in row["evidence"]["receipts"]:
                with open(os.path.join(out, receipt["path"]), "rb") as f:
                    self.assertEqual(hashlib.sha256(f.read()).hexdigest(), receipt["sha256"])

        # Sort and filter, driven inside Chromium on a copy of the page (same
        # directory, same relative links) with a CSP-violation probe, a
        # canary request the CSP must block, and the driver script.
        probe = os.path.join(self.dir, "reports", "esito-driven.html")
        driven = source.replace("</title>", "</title>\n" + HEAD_PROBE, 1)
        driven = driven.replace("<main>", "<main>\n" + CANARY, 1)
        driven = driven.replace("</body>", DRIVER + "\n</body>", 1)
        with open(probe, "w", encoding="utf-8") as f:
            f.write(driven)
        r = chromium("--dump-dom", "file://" + probe)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        result = json.loads(parse_dom(r.stdout).texts["test-result"])
        addresses = sorted(address for address, _, _ in RECIPIENTS)
        self.assertEqual(result["address_ascending"], addresses)
        self.assertEqual(result["address_sort"], "ascending")
        self.assertEqual(result["address_descending"], addresses[::-1])
        self.assertEqual(result["address_sort_again"], "descending")
        self.assertEqual(result["names_ascending"][0], "<script>alert('x')</script>")
        self.assertEqual([int(n) for n in result["rows_ascending"]],
                         [row for row, _, _, _ in journal_rows])
        self.assertEqual(result["text_filter"], ["ok@pec.sandbox.test"])  # "Perché"
        self.assertEqual(result["text_filter_shown"],
                         "1 of %d rows shown" % len(journal_rows))
        self.assertEqual(sorted(result["state_filter"]),
                         ["nodest@pec.sandbox.test", "pieno@pec.sandbox.test"])
        self.assertEqual(result["both_filters"], ["pieno@pec.sandbox.test"])
        self.assertEqual(result["bar_filter"], ["delivered", "delivered"])
        self.assertEqual(result["bar_filter_select"], "delivered")
        # The only request ever attempted is the canary, and it was blocked.
        canary = "http://127.0.0.1:9/canary.png"
        self.assertEqual(result["violations"], [canary])
        self.assertEqual(result["resources"], [canary])

        # A screenshot to look at, kept under the build directory.
        os.makedirs(ARTIFACTS, exist_ok=True)
        shot = os.path.join(ARTIFACTS, "report-html.png")
        if os.path.exists(shot):
            os.remove(shot)
        r = chromium("--hide-scrollbars", "--window-size=1280,900",
                     "--screenshot=" + shot, "file://" + page)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        pixels = list(png_pixels(shot))
        self.assertEqual(len(pixels), 1280 * 900)
        # Not blank: the green of delivered bars and the red of failures.
        colours = set(pixels)
        self.assertGreater(len(colours), 50)
        self.assertIn((0x1a, 0x7f, 0x37), colours)
        self.assertIn((0xc6, 0x28, 0x28), colours)
        print("\nreport-html: screenshot kept at " + shot, file=sys.stderr)


if __name__ == "__main__":
    if not CHROMIUM:
        print("SKIP: chromium is not installed (scripts/install-deps installs it)")
        sys.exit(77)
    unittest.main(verbosity=2)

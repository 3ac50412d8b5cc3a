#!/usr/bin/python3
"""docs/pecbatch.1 against the real binary and the docs.

(a) The page is generated (tools/gen-man.py): regenerating it with the
    binary under test must give the committed bytes. The .TH date is taken
    from the committed page (--date), so only content can make it stale.
(b) Every command and nested command of `pecbatch --help` has its .SS in
    COMMANDS, and every option of its --help is a .TP tag there; the
    program's own options are in GLOBAL OPTIONS (-h/--help only there).
(c) Every key `pecbatch config show examples/campaign.toml` prints is a
    .TP tag of CAMPAIGN FILE.
(d) Every exit code of docs/exit-codes.md's tables is a .TP tag of
    EXIT STATUS.
(e) groff renders the page without a warning (-ww).

The help is parsed here independently of the generator (entry lines start
with two spaces and a dash; subcommands are the entries under
"Subcommands:"), so a parsing bug in gen-man.py cannot hide a missing
option.
"""
import difflib
import os
import re
import shutil
import subprocess
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGE = os.path.join(ROOT, "docs", "pecbatch.1")
GENERATOR = os.path.join(ROOT, "tools", "gen-man.py")
EXIT_CODES = os.path.join(ROOT, "docs", "exit-codes.md")
EXAMPLE = os.path.join(ROOT, "examples", "campaign.toml")
PECBATCH = os.environ.get("PECBATCH", "pecbatch")
PYTHON = "/usr/bin/python3"


def pecbatch(*args):
    r = subprocess.run([PECBATCH, *args], capture_output=True, text=True, timeout=30, cwd=ROOT)
    if r.returncode != 0:
        raise AssertionError("pecbatch %s: exit %d\n%s" % (" ".join(args), r.returncode, r.stderr))
    return r.stdout


def help_of(path):
    """(options, subcommands) of `pecbatch PATH --help`: every name of
    every entry line starting with a dash, and the entries of
    "Subcommands:"."""
    text = pecbatch(*path, "--help")
    options = []
    subcommands = []
    in_subcommands = False
    for line in text.split("\n"):
        if not line.strip():
            in_subcommands = False
            continue
        if line == "Subcommands:":
            in_subcommands = True
            continue
        if in_subcommands and re.match(r"^  \S", line):
            subcommands.append(line.split()[0])
            continue
        m = re.match(r"^  (-[^ ]+)", line)
        if m:
            options += [n for n in m.group(1).split(",") if n]
    return options, subcommands


def all_commands():
    """[(path, options)] for the program ([]) and every nested command."""
    result = []

    def visit(path):
        options, subcommands = help_of(path)
        result.append((path, options))
        for sub in subcommands:
            visit(path + [sub])

    visit([])
    return result


def roff_escape(name):
    return name.replace("\\", "\\(rs").replace("-", "\\-")


def split_page(text):
    """{.SH title: {"": lines before the first .SS, .SS title: lines}}"""
    page = {}
    sh = ss = None
    for line in text.split("\n"):
        m = re.match(r'^\.SH\s+"?(.*?)"?\s*$', line)
        if m:
            sh, ss = m.group(1), ""
            page[sh] = {"": []}
            continue
        m = re.match(r'^\.SS\s+"?(.*?)"?\s*$', line)
        if m and sh is not None:
            ss = m.group(1).replace("\\-", "-")
            page[sh][ss] = []
            continue
        if sh is not None:
            page[sh][ss].append(line)
    return page


def tags(lines):
    """The lines that follow a .TP: the tags of a .TP list."""
    return [lines[i + 1] for i in range(len(lines) - 1) if lines[i].startswith(".TP")]


def all_lines(section):
    return [line for part in section.values() for line in part]


def has_tag(lines, name):
    wanted = "\\fB" + roff_escape(name) + "\\fR"
    return any(wanted in tag for tag in tags(lines))


class ManPage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(PAGE, encoding="ascii") as f:
            cls.text = f.read()
        cls.page = split_page(cls.text)

    def test_a_up_to_date(self):
        m = re.search(r"^\.TH PECBATCH 1 (\d{4}-\d{2}-\d{2}) ", self.text, re.M)
        self.assertIsNotNone(m, "docs/pecbatch.1 has no .TH PECBATCH 1 YYYY-MM-DD line")
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "pecbatch.1")
            r = subprocess.run([PYTHON, GENERATOR, PECBATCH, "--date", m.group(1), "--out", out],
                               capture_output=True, text=True, timeout=120, cwd=ROOT)
            self.assertEqual(r.returncode, 0, "gen-man.py failed:\n" + r.stderr)
            with open(out, "rb") as f:
                fresh = f.read()
        with open(PAGE, "rb") as f:
            committed = f.read()
        if fresh != committed:
            binary = os.path.relpath(os.path.abspath(PECBATCH), ROOT)
            if binary.startswith(".."):
                binary = "build/<dir>/src/cli/pecbatch"
            diff = difflib.unified_diff(
                committed.decode("ascii", "replace").splitlines(),
                fresh.decode("ascii", "replace").splitlines(),
                "docs/pecbatch.1", "regenerated", lineterm="", n=1)
            self.fail("docs/pecbatch.1 is out of date: run /usr/bin/python3 tools/gen-man.py %s "
                      "> docs/pecbatch.1\n%s" % (binary, "\n".join(list(diff)[:60])))

    def test_b_every_command_and_option(self):
        commands = all_commands()
        self.assertGreaterEqual(len(commands), 10, "too few commands found in --help")
        sections = self.page["COMMANDS"]
        global_lines = all_lines(self.page["GLOBAL OPTIONS"])
        checked = 0
        for path, options in commands:
            if not path:
                for option in options:
                    self.assertTrue(has_tag(global_lines, option),
                                    "%s is not in GLOBAL OPTIONS" % option)
                    checked += 1
                continue
            name = " ".join(path)
            own = [o for o in options if o not in ("-h", "--help")]
            nested = [s for s in sections if s == name or s.startswith(name + " ")]
            self.assertTrue(nested, "command %r has no .SS in COMMANDS" % name)
            if own:
                self.assertIn(name, sections, "command %r has no .SS in COMMANDS" % name)
                for option in own:
                    self.assertTrue(has_tag(sections[name], option),
                                    "%s %s is not an option tag under .SS %s" % (name, option, name))
                    checked += 1
        self.assertGreater(checked, 50)

    def test_c_every_campaign_key(self):
        keys = []
        for line in pecbatch("config", "show", EXAMPLE).split("\n"):
            m = re.match(r"^([a-z_]+(?:\.[a-z_0-9]+)+)\s+=", line)
            if m:
                keys.append(m.group(1))
        self.assertGreater(len(keys), 30, "config show printed too few keys")
        lines = all_lines(self.page["CAMPAIGN FILE"])
        missing = [k for k in keys if not has_tag(lines, k)]
        self.assertEqual(missing, [], "keys of `config show` missing from CAMPAIGN FILE "
                         "(document them in docs/configuration.md, then regenerate)")

    def test_d_every_exit_code(self):
        codes = []
        with open(EXIT_CODES, encoding="utf-8") as f:
            for line in f:
                m = re.match(r"^\|\s*(\d+)\s*\|", line)
                if m and m.group(1) not in codes:
                    codes.append(m.group(1))
        self.assertIn("0", codes)
        self.assertIn("75", codes)
        exit_tags = tags(all_lines(self.page["EXIT STATUS"]))
        for code in codes:
            self.assertTrue(any(t.startswith("\\fB%s\\fR" % code) for t in exit_tags),
                            "exit code %s of docs/exit-codes.md missing from EXIT STATUS" % code)

    def test_e_renders_without_warnings(self):
        groff = shutil.which("groff")
        self.assertIsNotNone(groff, "groff not found (Debian package groff-base)")
        r = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", PAGE],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "", "groff warnings:\n" + r.stderr)
        # And the text really comes out: a sample of each part.
        r = subprocess.run([groff, "-man", "-Tutf8", "-P-c", PAGE],
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, LC_ALL="C.UTF-8"))
        plain = re.sub(r".\x08", "", r.stdout)
        for heading in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "GLOBAL OPTIONS",
                        "CAMPAIGN FILE", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES",
                        "SEE ALSO"):
            self.assertRegex(plain, r"(?m)^%s$" % heading)
        self.assertIn("campaign.id", plain)
        self.assertIn("journal.sqlite", plain)


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/python3
"""Generate the pecbatch(1) man page from the binary and the docs.

    /usr/bin/python3 tools/gen-man.py build/release/src/cli/pecbatch > docs/pecbatch.1
    /usr/bin/python3 tools/gen-man.py PECBATCH --out docs/pecbatch.1 [--date YYYY-MM-DD]

Nothing in the page is written by hand twice: the commands, their usage,
arguments, options and help texts come from `pecbatch --help` and
`pecbatch <command> [<subcommand>] --help` (every command listed under
"Subcommands:", recursively, so new commands appear by themselves); the
campaign keys from the key tables of docs/configuration.md; the exit codes
from docs/exit-codes.md; the files from docs/journal.md and docs/polling.md;
SEE ALSO from the titles of docs/*.md.

The output is deterministic: the same binary and docs give the same bytes.
The date in .TH is --date, else $SOURCE_DATE_EPOCH, else the date of the last
git commit of docs/configuration.md, else a fixed date; never today.
tests/docs/test_manpage.py regenerates the page and fails when
docs/pecbatch.1 differs.

Python 3 standard library only.
"""

import argparse
import datetime
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FALLBACK_DATE = "2026-11-22"
HELP_TIMEOUT = 30

# --------------------------------------------------------------------------
# roff escaping

_FONT = {"R": "\\fR", "B": "\\fB", "I": "\\fI", "BI": "\\f(BI"}

# Typography with a named groff character (or plain ASCII), so that the page
# also renders on an ASCII terminal (LC_ALL=C man) without a warning.
_NAMED = {
    "\u2013": "\\(en", "\u2014": "\\(em", "\u2026": "...", "\u2018": "\\(oq",
    "\u2019": "\\(cq", "\u201c": "\\(lq", "\u201d": "\\(rq", "\u2192": "\\(->",
    "\u2190": "\\(<-", "\u00d7": "\\(mu", "\u2264": "\\(<=", "\u2265": "\\(>=",
    "\u00a0": "\\ ",
}


def esc(text):
    """Plain text to roff: backslashes, hyphens (as \\- so that commands
    and options copy and paste), non-ASCII as \\[uXXXX]."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\(rs")
        elif ch == "-":
            out.append("\\-")
        elif ch == "\t":
            out.append(" ")
        elif ch in _NAMED:
            out.append(_NAMED[ch])
        elif ord(ch) > 126:
            out.append("\\[u%04X]" % ord(ch))
        elif ord(ch) < 32:
            continue
        else:
            out.append(ch)
    return "".join(out)


def text_line(line):
    """A text line: never starting with a control character or a space."""
    line = line.strip()
    if line.startswith((".", "'")):
        line = "\\&" + line
    return line


def macro_arg(text):
    """A quoted macro argument from plain text."""
    return '"' + esc(text).replace('"', "\\(dq") + '"'


def bold(text):
    return "\\fB" + esc(text) + "\\fR"


def italic(text):
    return "\\fI" + esc(text) + "\\fR"


# --------------------------------------------------------------------------
# Markdown (the subset the docs use) to roff

_INLINE = re.compile(
    r"(?P<code>`+)(?P<code_text>.+?)(?P=code)"
    r"|\*\*(?P<bold>.+?)\*\*"
    r"|(?<![\w*])\*(?![\s*])(?P<italic>.+?)(?<![\s*])\*(?![\w*])"
    r"|\[(?P<link>[^\]]+)\]\((?P<url>[^)\s]+)\)"
    r"|\\(?P<escaped>[\\`*_\[\]{}()#+.!|<>-])"
)


def _combine(font, add):
    fonts = set(font.replace("BI", "B I").split()) - {"R"}
    fonts.add(add)
    return "BI" if fonts == {"B", "I"} else add


def inline(text, font="R"):
    """Markdown inline markup to roff: code and bold in bold, emphasis in
    italic, links as their text."""
    out = []
    pos = 0
    for m in _INLINE.finditer(text):
        out.append(esc(text[pos:m.start()]))
        pos = m.end()
        if m.group("code"):
            inner_font = _combine(font, "B")
            out.append(_FONT[inner_font] + esc(m.group("code_text").strip()) + _FONT[font])
        elif m.group("bold") is not None:
            inner_font = _combine(font, "B")
            out.append(_FONT[inner_font] + inline(m.group("bold"), inner_font) + _FONT[font])
        elif m.group("italic") is not None:
            inner_font = _combine(font, "I")
            out.append(_FONT[inner_font] + inline(m.group("italic"), inner_font) + _FONT[font])
        elif m.group("link") is not None:
            out.append(inline(m.group("link"), font))
        else:
            out.append(esc(m.group("escaped")))
    out.append(esc(text[pos:]))
    return "".join(out)


def plain(text):
    """Markdown inline markup removed (for headings and macro arguments)."""
    text = re.sub(r"\[([^\]]+)\]\([^)\s]+\)", r"\1", text)
    text = re.sub(r"`+(.+?)`+", r"\1", text)
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", text)
    text = re.sub(r"\\([\\`*_\[\]{}()#+.!|<>-])", r"\1", text)
    return text.strip()


def table_cells(line):
    """Cells of a Markdown table row; `\\|` is a literal bar."""
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    cells = re.split(r"(?<!\\)\|", line)
    return [c.strip().replace("\\|", "|") for c in cells]


_LIST_ITEM = re.compile(r"^(\s*)([-*+]|\d+\.)\s+(.*)$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_TABLE_RULE = re.compile(r"^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


def parse_markdown(text):
    """Blocks of a Markdown document, in order:
    ("heading", level, text), ("para", text), ("list", ordered, [items])
    (an indented paragraph after a list item's code block is a list too),
    ("code", lang, [lines]), ("table", header, [rows]), ("quote", text)."""
    lines = text.split("\n")
    blocks = []
    i = 0
    n = len(lines)

    def starts_block(line):
        return (
            _HEADING.match(line)
            or line.lstrip().startswith("```")
            or line.lstrip().startswith("|")
            or _LIST_ITEM.match(line)
            or line.startswith(">")
        )

    while i < n:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        m = _HEADING.match(line)
        if m:
            blocks.append(("heading", len(m.group(1)), m.group(2)))
            i += 1
            continue
        if line.lstrip().startswith("```"):
            indent = len(line) - len(line.lstrip())
            lang = line.strip()[3:].strip()
            code = []
            i += 1
            while i < n and not lines[i].strip().startswith("```"):
                code.append(lines[i][indent:] if lines[i][:indent].isspace() else lines[i].lstrip())
                i += 1
            i += 1  # closing fence
            blocks.append(("code", lang, code))
            continue
        if line.lstrip().startswith("|"):
            rows = []
            while i < n and lines[i].lstrip().startswith("|"):
                rows.append(lines[i])
                i += 1
            header = table_cells(rows[0])
            body = [table_cells(r) for r in rows[1:] if not _TABLE_RULE.match(r.strip())]
            blocks.append(("table", header, body))
            continue
        m = _LIST_ITEM.match(line)
        if m:
            ordered = m.group(2)[0].isdigit()
            base = len(m.group(1))
            items = []
            while i < n:
                line = lines[i]
                m = _LIST_ITEM.match(line)
                if m and len(m.group(1)) <= base + 1:
                    items.append(m.group(3).strip())
                    i += 1
                    continue
                if not line.strip():
                    # The list goes on only if the next text is another item
                    # or an indented continuation.
                    j = i
                    while j < n and not lines[j].strip():
                        j += 1
                    if j < n and (
                        (_LIST_ITEM.match(lines[j]) and len(_LIST_ITEM.match(lines[j]).group(1)) <= base + 1)
                        or (lines[j].startswith(" " * (base + 2)) and not lines[j].lstrip().startswith("```"))
                    ):
                        i = j
                        continue
                    break
                if line.lstrip().startswith("```") or _HEADING.match(line) or line.lstrip().startswith("|"):
                    break
                items[-1] += " " + line.strip()
                i += 1
            blocks.append(("list", ordered, items))
            continue
        if line.startswith(">"):
            quote = []
            while i < n and lines[i].startswith(">"):
                quote.append(lines[i][1:].strip())
                i += 1
            blocks.append(("quote", " ".join(q for q in quote if q)))
            continue
        # An indented paragraph continues a list item (after a code block).
        continues_item = line.startswith("  ")
        para = [line.strip()]
        i += 1
        while i < n and lines[i].strip() and not starts_block(lines[i]):
            para.append(lines[i].strip())
            i += 1
        blocks.append(("list", False, [" ".join(para)]) if continues_item else ("para", " ".join(para)))
    return blocks


def sections(blocks, level):
    """{heading text (plain): [blocks under it]} for headings of `level`."""
    result = {}
    current = None
    for block in blocks:
        if block[0] == "heading" and block[1] <= level:
            current = plain(block[2]) if block[1] == level else None
            if current is not None:
                result[current] = []
            continue
        if current is not None:
            result[current].append(block)
    return result


def drop_code_references(text):
    """Documentation paragraphs end with "Code: `src/...`, tests in ...":
    not for a man page."""
    text = re.split(r"\s*\bCode: `", text)[0]
    return text.strip()


def code_block(lines):
    out = [".PP", ".RS 4", ".EX"]
    for line in lines:
        out.append(text_line(esc(line.rstrip())) if line.strip() else "")
    out += [".EE", ".RE"]
    return out


def render_table(header, rows, key_section=None):
    """A table as a .TP list: the first column is the tag."""
    out = []
    names = [plain(h).lower() for h in header]
    for row in rows:
        row = row + [""] * (len(header) - len(row))
        if key_section is not None:
            # | key | type | default | meaning |
            cell = dict(zip(names, row))
            out += [".TP", "\\fB" + esc(key_section + "." + plain(cell["key"])) + "\\fR"]
            body = []
            if cell.get("meaning"):
                body.append(text_line(inline(cell["meaning"])))
                body.append(".br")
            facts = "Type: " + inline(cell.get("type", "")) + "."
            if cell.get("default"):
                facts += " Default: " + inline(cell["default"]) + "."
            body.append(text_line(facts))
            out += body
            continue
        if names[0] == "code":
            # Exit codes: | code | name | meaning | or | code | when |
            tag = "\\fB" + esc(plain(row[0])) + "\\fR"
            rest = list(zip(names[1:], row[1:]))
            if rest and rest[0][0] == "name":
                if rest[0][1]:
                    tag += " (" + esc(plain(rest[0][1])) + ")"
                rest = rest[1:]
            out += [".TP", text_line(tag)]
            out.append(text_line(" ".join(inline(v) for _, v in rest if v)))
            continue
        out += [".TP", text_line(inline(row[0]))]
        if len(row) == 2:
            out.append(text_line(inline(row[1])))
        else:
            parts = [esc(plain(h)) + ": " + inline(v) for h, v in zip(header[1:], row[1:]) if v]
            for k, part in enumerate(parts):
                if k:
                    out.append(".br")
                out.append(text_line(part))
    return out


def render_blocks(blocks, skip_lists=False, skip_code_langs=("json",)):
    """Markdown blocks to roff lines, within a .SH section: headings become
    .SS (a heading directly followed by another heading is dropped), key
    tables .TP lists named section.key."""
    out = []
    key_section = None
    for index, block in enumerate(blocks):
        kind = block[0]
        if kind == "heading":
            _, level, text = block
            m = re.search(r"\[([A-Za-z0-9_.-]+)\]", plain(text))
            if m:
                key_section = m.group(1)
            elif level <= 3:
                key_section = None
            following = blocks[index + 1] if index + 1 < len(blocks) else None
            if following is None or following[0] == "heading":
                continue
            if level == 1:
                continue
            out += [".SS " + macro_arg(plain(text))]
        elif kind == "para":
            text = drop_code_references(block[1])
            if text:
                out += [".PP", text_line(inline(text))]
        elif kind == "quote":
            out += [".PP", ".RS 4", text_line(inline(block[1])), ".RE"]
        elif kind == "list":
            if skip_lists:
                continue
            _, ordered, items = block
            for number, item in enumerate(items, 1):
                item = drop_code_references(item)
                mark = "%d." % number if ordered else "\\(bu"
                out += [".IP %s %d" % (mark, 4 if ordered else 2), text_line(inline(item))]
        elif kind == "code":
            _, lang, lines = block
            if lang in skip_code_langs:
                continue
            out += code_block(lines)
        elif kind == "table":
            _, header, rows = block
            names = [plain(h).lower() for h in header]
            is_keys = names[:1] == ["key"] and "meaning" in names and key_section
            out += render_table(header, rows, key_section if is_keys else None)
    return out


# --------------------------------------------------------------------------
# CLI11 help


class Entry:
    def __init__(self, name, desc):
        self.name = name
        self.desc = desc


class Help:
    def __init__(self):
        self.description = ""
        self.usage = ""
        self.sections = []  # [(title, [Entry])]
        self.footer = []  # raw lines

    def entries(self, title):
        for t, entries in self.sections:
            if t == title:
                return entries
        return []

    def option_entries(self):
        return [e for t, entries in self.sections if t not in ("Positionals", "Subcommands") for e in entries]


def run_help(binary, path):
    env = dict(os.environ)
    env["LC_ALL"] = "C.UTF-8"
    proc = subprocess.run(
        [binary] + path + ["--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=HELP_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(
            "gen-man: %s %s --help exited %d: %s"
            % (binary, " ".join(path), proc.returncode, proc.stderr.strip())
        )
    return proc.stdout


def _split_entry_line(line, col):
    """(name, description) of a CLI11 entry line. CLI11 pads "  NAME" to
    `col` characters and starts the description there, or, when the name
    is too long, on the next line."""
    if len(line) > col and line[col - 1] == " " and line[col] != " ":
        name = line[:col].strip()
        balanced = name.count("{") == name.count("}")
        if balanced and not re.search(r"(\bvalue in| OR|:)$", name):
            return name, line[col:].strip()
    return line.strip(), ""


def parse_help(text):
    """CLI11's help layout: description lines, "Usage: ...", then sections
    ("Positionals:", "Options:", "Subcommands:", option groups) of entries,
    then the footer (free text, examples indented)."""
    lines = text.rstrip("\n").split("\n")
    h = Help()
    i = 0
    description = []
    while i < len(lines) and not lines[i].startswith("Usage:"):
        if lines[i].strip():
            description.append(lines[i].strip())
        i += 1
    h.description = " ".join(description)
    if i < len(lines):
        h.usage = lines[i][len("Usage:"):].strip()
        i += 1
    col = 30
    for line in lines:
        m = re.match(r"^  -h,--help( +)\S", line)
        if m:
            col = m.end() - 1
            break
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        m = re.match(r"^([A-Z][\w ]*):$", line)
        if m and (m.group(1) in ("Positionals", "Options", "Subcommands") or nxt.startswith("  -")):
            title = m.group(1)
            entries = []
            i += 1
            while i < len(lines) and lines[i].strip():
                line = lines[i]
                if line.startswith(" " * col) and entries:
                    more = line.strip()
                    entries[-1].desc = (entries[-1].desc + " " + more).strip()
                else:
                    name, desc = _split_entry_line(line, col)
                    entries.append(Entry(name, desc))
                i += 1
            h.sections.append((title, entries))
            continue
        h.footer = lines[i:]
        break
    return h


def collect_commands(binary):
    """[(path, Help)] for the program ([]) and every (nested) subcommand,
    in the order of the help."""
    result = []

    def visit(path):
        h = parse_help(run_help(binary, path))
        result.append((path, h))
        for entry in h.entries("Subcommands"):
            visit(path + [entry.name.split()[0]])

    visit([])
    return result


def footer_groups(lines):
    """The footer as [("para", text) | ("label", text) | ("code", [lines])]."""
    groups = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if line.startswith(" "):
            code = []
            while i < len(lines) and lines[i].startswith(" "):
                code.append(lines[i].strip())
                i += 1
            groups.append(("code", code))
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.rstrip().endswith(":") and nxt.startswith(" "):
            groups.append(("label", line.strip()))
            i += 1
            continue
        para = []
        while i < len(lines) and lines[i].strip() and not lines[i].startswith(" "):
            if para and lines[i].rstrip().endswith(":") and i + 1 < len(lines) and lines[i + 1].startswith(" "):
                break
            para.append(lines[i].strip())
            i += 1
        groups.append(("para", " ".join(para)))
    return groups


def render_footer(groups):
    out = []
    for kind, value in groups:
        if kind == "code":
            out += code_block(value)
        else:
            out += [".PP", text_line(esc(value))]
    return out


# Options: "-f,--format FORMAT:{csv,json,html}", "--set KEY=VALUE ...",
# "--limit N:NONNEGATIVE", "--format TEXT:{auto,csv}=auto", "--failed REQUIRED",
# "--log-format FORMAT:value in {json->1,text->0} OR {1,0}".
# Positionals: "CAMPAIGN FILE REQUIRED", "FILE FILE ... REQUIRED".

_VALIDATORS = {
    "NONNEGATIVE": "a number, 0 or more",
    "POSITIVE": "a number above 0",
    "UINT": "a whole number, 0 or more",
    "INT": "a whole number",
    "FLOAT": "a number",
}


def _choices(inner):
    items = []
    tokens = inner.split(",")
    k = 0
    while k < len(tokens):
        token = tokens[k]
        if token == "" and k + 1 < len(tokens) and tokens[k + 1] == "":
            items.append(",")
            k += 2
            continue
        if token:
            items.append(token.split("->")[0])
        k += 1
    return items


def parse_entry_name(name):
    """(names, metavar, spec_sentence, repeat, required)"""
    tokens = name.split(" ")
    names = tokens[0].split(",")
    rest = " ".join(tokens[1:])
    required = False
    repeat = False
    if rest.endswith("REQUIRED"):
        required = True
        rest = rest[: -len("REQUIRED")].strip()
    if rest.endswith(" ...") or rest == "...":
        repeat = True
        rest = rest[:-3].strip()
    metavar, spec = rest, ""
    if ":" in rest:
        metavar, spec = rest.split(":", 1)
    sentence = ""
    if spec:
        default = ""
        m = re.search(r"\{([^{}]*)\}", spec)
        if m:
            tail = spec[spec.rfind("}") + 1:]
            if tail.startswith("="):
                default = tail[1:]
            values = " | ".join(bold(v) for v in _choices(m.group(1)))
            sentence = "Values: " + values
        else:
            m = re.match(r"^([A-Z]+)(?:=(.*))?$", spec)
            word = m.group(1) if m else spec
            default = (m.group(2) or "") if m else ""
            sentence = "Value: " + esc(_VALIDATORS.get(word, word))
        if default:
            sentence += " (default " + bold(default) + ")"
        sentence += "."
    else:
        m = re.match(r"^(\S+)=(\S+)$", metavar)
        if m and m.group(1).isupper() and not m.group(2).isupper():
            metavar = m.group(1)
            sentence = "Default " + bold(m.group(2)) + "."
    return names, metavar, sentence, repeat, required


def render_entry(entry, positional=False):
    names, metavar, sentence, repeat, required = parse_entry_name(entry.name)
    if positional:
        tag = italic(names[0])
    else:
        tag = ", ".join(bold(n) for n in names)
        if metavar:
            tag += " " + italic(metavar)
    if repeat:
        tag += " ..."
    body = esc(entry.desc)
    if required and "required" not in entry.desc.lower():
        body = join_sentences(body, "Required.")
    if repeat and not positional and "repeat" not in entry.desc.lower():
        body = join_sentences(body, "Repeatable.")
    if sentence:
        body = join_sentences(body, sentence)
    return [".TP", text_line(tag), text_line(body.strip())]


def join_sentences(first, second):
    first = first.strip()
    if first and first[-1] not in ".!?":
        first += "."
    return (first + " " + second).strip()


def render_usage(usage):
    parts = []
    for token in usage.split():
        if re.fullmatch(r"[a-z][\w-]*", token):
            parts.append(bold(token))
        elif token.startswith("[") and token.endswith("]"):
            parts.append("[" + italic(token[1:-1]) + "]")
        else:
            m = re.match(r"^([^.]*)(\.\.\.)?$", token)
            parts.append(italic(m.group(1)) + (m.group(2) or ""))
    return " ".join(parts)


# --------------------------------------------------------------------------
# The page


def read(path):
    return Path(path).read_text(encoding="utf-8")


def page_date(args):
    if args.date:
        datetime.date.fromisoformat(args.date)
        return args.date
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime("%Y-%m-%d")
    try:
        proc = subprocess.run(
            ["git", "-C", str(ROOT), "log", "-1", "--format=%cd", "--date=short", "--",
             "docs/configuration.md"],
            capture_output=True, text=True, timeout=30, check=False,
        )
        if proc.returncode == 0 and re.fullmatch(r"\d{4}-\d{2}-\d{2}", proc.stdout.strip()):
            return proc.stdout.strip()
    except OSError:
        pass
    return FALLBACK_DATE


def program_version(binary):
    proc = subprocess.run([binary, "--version"], capture_output=True, text=True,
                          timeout=HELP_TIMEOUT, check=False)
    words = proc.stdout.split()
    if proc.returncode != 0 or not words:
        raise SystemExit("gen-man: %s --version failed" % binary)
    return words[-1]


def readme_description(readme):
    """The README's paragraphs that say what pecbatch is: from the one that
    starts with **pecbatch** to the next heading or note."""
    blocks = parse_markdown(readme)
    out = []
    taking = False
    for block in blocks:
        if block[0] == "para" and block[1].startswith("**pecbatch**"):
            taking = True
        elif block[0] != "para":
            if taking:
                break
            continue
        if taking:
            out += [".PP", text_line(inline(block[1]))]
    return out


def generate(binary, date, docs, readme):
    commands = collect_commands(binary)
    top = commands[0][1]
    version = program_version(binary)
    footer = footer_groups(top.footer)
    out = []
    out.append('.\\" Generated by tools/gen-man.py from `pecbatch --help` and docs/*.md.')
    out.append('.\\" Do not edit: regenerate (tests/docs/test_manpage.py checks it).')
    out.append(".TH PECBATCH 1 %s %s %s" % (date, macro_arg("pecbatch " + version), macro_arg("User Commands")))

    # NAME
    summary = top.description
    m = re.match(r"^\S+\s+\S+\s+-\s+(.*)$", summary)
    if m:
        summary = m.group(1)
    out += [".SH NAME", "pecbatch \\- " + esc(summary)]

    # SYNOPSIS
    out += [".SH SYNOPSIS", ".nf"]
    out.append(bold("pecbatch") + " [" + italic("GLOBAL OPTIONS") + "] " + italic("COMMAND")
               + " [" + italic("OPTIONS") + "] [" + italic("ARGUMENTS") + "]")
    for path, h in commands[1:]:
        if h.entries("Subcommands"):
            continue
        out.append(text_line(render_usage(h.usage)))
    out.append(bold("pecbatch") + " " + bold("--help") + " | " + bold("--version"))
    out.append(".fi")

    # DESCRIPTION
    out += [".SH DESCRIPTION"]
    out += readme_description(read(readme)) if readme.exists() else []
    out += [
        ".PP",
        "A campaign is one TOML file (see " + bold("CAMPAIGN FILE") + " below); the commands that",
        "take a " + italic("CAMPAIGN") + " read it, and keep the journal, the evidence and the reports",
        "in its output directory (see " + bold("FILES") + ").",
        "Global options may be given before or after the command name.",
    ]
    for kind, value in footer:
        if kind == "para" and not value.startswith("Exit status"):
            out += [".PP", text_line(esc(value))]

    # COMMANDS
    out += [".SH COMMANDS"]
    top_footer = top.footer
    for path, h in commands[1:]:
        own_options = [e for e in h.option_entries() if not e.name.startswith("-h,")]
        own_footer = h.footer if h.footer != top_footer else []
        if h.entries("Subcommands") and not own_options and not own_footer:
            continue
        out += [".SS " + macro_arg(" ".join(path))]
        if h.description:
            out.append(text_line(esc(h.description)))
        out += [".PP", text_line(render_usage(h.usage))]
        for entry in h.entries("Positionals"):
            out += render_entry(entry, positional=True)
        for entry in own_options:
            out += render_entry(entry)
        if h.entries("Subcommands"):
            out += [".PP", "Commands: " + ", ".join(
                bold(" ".join(path) + " " + e.name.split()[0]) for e in h.entries("Subcommands")) + "."]
        out += render_footer(footer_groups(own_footer))

    # GLOBAL OPTIONS
    out += [".SH GLOBAL OPTIONS"]
    for entry in top.option_entries():
        out += render_entry(entry)
    out += [".PP", "Every command also accepts " + bold("-h") + ", " + bold("--help") + "."]

    # CAMPAIGN FILE
    configuration = parse_markdown(read(docs / "configuration.md"))
    out += [".SH CAMPAIGN FILE"]
    out += render_blocks(configuration)

    # EXIT STATUS
    out += [".SH EXIT STATUS"]
    out += render_blocks(parse_markdown(read(docs / "exit-codes.md")))

    # ENVIRONMENT
    out += [".SH ENVIRONMENT"]
    out += [
        ".TP",
        "The variable named by " + bold("account.password_env"),
        "The password of the PEC account, when the campaign names a variable, e.g.",
        bold('password_env = "PECBATCH_PASSWORD"') + ".",
        "The campaign file holds the " + italic("name") + " of the variable, never the password;",
        "the alternatives are " + bold("account.password_file") + " and " + bold("account.password_command") + ".",
    ]
    for block in configuration:
        if block[0] == "para" and "password is never accepted" in block[1]:
            out += [".IP", text_line(inline(block[1]))]
    out += [
        ".TP",
        bold("TERM"),
        "Progress is drawn in place only when standard error is a terminal and",
        bold("TERM") + " is set and not " + bold("dumb") + "; otherwise it is printed line by line.",
    ]

    # FILES
    out += [".SH FILES"]
    out += [
        ".TP",
        italic("output_dir"),
        "Everything a campaign keeps: " + bold("campaign.output_dir") + ", by default",
        bold("pecbatch-<id>") + " beside the campaign file; " + bold("--output-dir") + " overrides it.",
        ".TP",
        italic("output_dir") + esc("/lock"),
        "The campaign lock (" + bold("flock") + "(2)): a second run of the same campaign exits at",
        "once with 75. The kernel releases it when the process ends, even after " + bold("kill -9") + ".",
    ]
    journal = sections(parse_markdown(read(docs / "journal.md")), 2)
    if "Where it lives" in journal:
        out += [".SS " + macro_arg("The journal")]
        out += render_blocks(journal["Where it lives"])
    polling = sections(parse_markdown(read(docs / "polling.md")), 2)
    for title in ("Evidence layout", "Evidence archive"):
        if title in polling:
            out += [".SS " + macro_arg(title)]
            out += render_blocks(polling[title], skip_lists=True)

    # EXAMPLES
    examples = []
    for index, (kind, value) in enumerate(footer):
        if kind == "code" and index > 0 and footer[index - 1][0] == "label" \
                and footer[index - 1][1].startswith("Example"):
            examples += value
    if examples:
        out += [".SH EXAMPLES"]
        out += code_block(examples)[1:]

    # SEE ALSO
    out += [".SH SEE ALSO"]
    for doc in sorted(docs.glob("*.md")):
        title = ""
        for block in parse_markdown(read(doc)):
            if block[0] == "heading" and block[1] == 1:
                title = plain(block[2])
                break
        out += [".TP", italic("docs/" + doc.name), text_line(esc(title))]
    if readme.exists():
        out += [".TP", italic("README.md"), "Overview, quick tour, building from source."]
    out += [".PP", bold("sqlite3") + "(1), " + bold("crontab") + "(5), " + bold("flock") + "(2)"]

    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description="Generate the pecbatch(1) man page.")
    parser.add_argument("binary", help="the pecbatch executable")
    parser.add_argument("--out", help="write here instead of standard output (atomically)")
    parser.add_argument("--date", help="the date in .TH, YYYY-MM-DD (default: see the module doc)")
    parser.add_argument("--docs", default=str(ROOT / "docs"), help="the docs directory")
    parser.add_argument("--readme", default=str(ROOT / "README.md"), help="the project README")
    args = parser.parse_args()
    page = generate(args.binary, page_date(args), Path(args.docs), Path(args.readme))
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w", encoding="ascii", newline="\n") as f:
            f.write(page)
        os.replace(tmp, args.out)
    else:
        sys.stdout.buffer.write(page.encode("ascii"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

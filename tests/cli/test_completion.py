#!/usr/bin/python3
"""The bash completion (tools/completion/pecbatch.bash) against the real
binary's help.

Every command and nested command found in `pecbatch --help` and
`pecbatch <cmd> --help` must be completed, with exactly the options its
help lists, the values of options with a fixed set ({a,b,c} in the help),
and the right kind of positional (campaign files for CAMPAIGN). The
completion function runs in a real bash: COMP_WORDS/COMP_CWORD set as
readline sets them, COMPREPLY read back. So a command or an option added
without updating the completion fails here.

Global options (--log-file, ...) are accepted after every command, so
they are completed there too.
"""
import os
import pty
import re
import select
import shlex
import shutil
import subprocess
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "tools", "completion", "pecbatch.bash")
PECBATCH = os.environ.get("PECBATCH", "pecbatch")
EXAMPLE = os.path.join(ROOT, "examples", "campaign.toml")

# The states `retry --failed --states` accepts (journal::is_retryable).
RETRY_STATES = ["failed", "rejected", "delivery_failed", "failed_timeout", "no_receipt"]


def pecbatch_help(path):
    r = subprocess.run([PECBATCH, *path, "--help"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError("pecbatch %s --help: exit %d\n%s" % (" ".join(path), r.returncode,
                                                                  r.stderr))
    return r.stdout


def split_choices(inner):
    """'auto,,,;,tab' -> ['auto', ',', ';', 'tab'] (CLI11 prints ',' as is)."""
    parts = inner.split(",")
    out = []
    i = 0
    while i < len(parts):
        if parts[i] == "" and i + 1 < len(parts) and parts[i + 1] == "":
            out.append(",")
            i += 2
        else:
            out.append(parts[i])
            i += 1
    return out


class Help:
    """What CLI11's help says about one command."""

    def __init__(self, text):
        self.options = {}        # name -> (takes_value, choices or None)
        self.subcommands = []
        self.positionals = []    # (name, many)
        section = None
        for line in text.splitlines():
            if not line.strip():
                section = None
                continue
            if re.match(r"^\S.*:$", line):
                section = line[:-1]
                continue
            if section == "Options":
                # "  -f,--format TEXT:{csv,json}=csv   text", "  --out DIR REQUIRED  text"
                m = re.match(r"^  (-\S+)((?: \S+)*)(?:\s{2,}|$)", line)
                if not m:
                    continue
                names = m.group(1).split(",")
                spec = m.group(2).strip() or None
                if spec and spec.split()[0] == "REQUIRED":
                    spec = None  # a required flag: "--failed REQUIRED"
                choices = None
                if spec:
                    # "TEXT:{a,b}=a", or for a transformer
                    # "FORMAT:value in {json->1,text->0} OR {1,0}": the names
                    c = re.search(r"\{(.*?)\}(?:=|$| OR )", spec)
                    if c:
                        choices = split_choices(c.group(1))
                        if all("->" in x for x in choices):
                            choices = [x.split("->")[0] for x in choices]
                for name in names:
                    self.options[name] = (spec is not None, choices)
            elif section == "Subcommands":
                m = re.match(r"^  (\S+)", line)
                if m:
                    self.subcommands.append(m.group(1))
            elif section == "Positionals":
                m = re.match(r"^  (\S+) \S+( \.\.\.)?", line)
                if m:
                    self.positionals.append((m.group(1), m.group(2) is not None))


def all_commands():
    """Every command path with its help, depth first: [((), Help), (('send',), Help), ...]."""
    out = []
    top = Help(pecbatch_help([]))
    inherited = {name: spec for name, spec in top.options.items()
                 if name not in ("-h", "--help", "--version")}

    def walk(path):
        h = top if not path else Help(pecbatch_help(list(path)))
        if path:
            for name, spec in inherited.items():
                h.options.setdefault(name, spec)
        out.append((path, h))
        for sub in h.subcommands:
            walk(path + (sub,))

    walk(())
    return out


def complete(words, cwd, cword=None):
    """Runs the completion function on `words` (as readline splits them:
    the last word is the one being completed) and returns COMPREPLY,
    each entry unquoted as the shell would read it."""
    if cword is None:
        cword = len(words) - 1
    program = ('source "$1" || exit 90; shift; COMP_CWORD=$1; shift; COMP_WORDS=("$@"); '
               'COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}; COMPREPLY=(); '
               '_pecbatch pecbatch "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"; '
               'printf "%s\\0" "${COMPREPLY[@]}"')
    r = subprocess.run(["/bin/bash", "--norc", "--noprofile", "-c", program, "bash", SCRIPT,
                        str(cword), *words],
                       capture_output=True, text=True, cwd=cwd, timeout=30)
    if r.returncode != 0 or r.stderr:
        raise AssertionError("completion of %r: exit %d, stderr %r" % (words, r.returncode,
                                                                      r.stderr))
    out = set()
    for item in r.stdout.split("\0"):
        if item:
            unquoted = shlex.split(item)
            out.add(unquoted[0] if unquoted else item)
    return out


class Completion(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.commands = all_commands()
        cls.dir = tempfile.mkdtemp(prefix="pecbatch-completion-")
        for name in ("a.toml", "B.TOML", "b.csv", "c.xlsx", "c.pem", "r.eml", "notes.txt"):
            open(os.path.join(cls.dir, name), "w").close()
        os.mkdir(os.path.join(cls.dir, "sub"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def comp(self, *words):
        return complete(["pecbatch", *words], self.dir)

    def test_script_registers_the_function_and_passes_shellcheck(self):
        r = subprocess.run(["/bin/bash", "--norc", "--noprofile", "-c",
                            'source "$1" && complete -p pecbatch', "bash", SCRIPT],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        self.assertEqual(r.stdout.strip(), "complete -F _pecbatch pecbatch")
        if shutil.which("shellcheck"):
            r = subprocess.run(["shellcheck", "-s", "bash", SCRIPT], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_every_command_is_completed(self):
        for path, h in self.commands:
            if not h.subcommands:
                continue
            with self.subTest(command=" ".join(path) or "pecbatch"):
                got = self.comp(*path, "")
                missing = set(h.subcommands) - got
                self.assertFalse(missing, "not completed: %s" % sorted(missing))
                extra = got - set(h.subcommands)
                self.assertFalse(extra, "completed but not in --help: %s" % sorted(extra))

    def test_prefix_selects_commands(self):
        self.assertEqual(self.comp("re"), {"render", "report", "retry", "resolve", "receipt"})
        self.assertEqual(self.comp("config", "s"), {"show"})

    def test_every_option_is_completed(self):
        for path, h in self.commands:
            with self.subTest(command=" ".join(path) or "pecbatch"):
                got = self.comp(*path, "-")
                want = set(h.options)
                self.assertFalse(want - got, "options not completed: %s" % sorted(want - got))
                self.assertFalse(got - want, "completed but not in --help: %s"
                                 % sorted(got - want))

    def test_options_with_a_fixed_set_complete_its_values(self):
        checked = 0
        for path, h in self.commands:
            for name, (_, choices) in sorted(h.options.items()):
                if not choices:
                    continue
                checked += 1
                with self.subTest(command=" ".join(path), option=name):
                    self.assertEqual(self.comp(*path, name, ""), set(choices))
                    if name.startswith("--"):
                        # "--format=" reaches the function as "--format" "="
                        self.assertEqual(self.comp(*path, name, "="), set(choices))
                        first = choices[0]
                        self.assertIn(first, self.comp(*path, name, "=", first[:1]))
        self.assertGreater(checked, 0, "no option with a fixed set found in any --help")

    def test_report_format_values(self):
        report = [h for path, h in self.commands if path == ("report",)]
        if report:
            self.assertIn("--format", report[0].options)
        self.assertEqual(self.comp("report", "a.toml", "--format", ""), {"csv", "json", "html"})
        self.assertEqual(self.comp("report", "a.toml", "-f", "h"), {"html"})
        self.assertEqual(self.comp("contacts", "--format", "x"), {"xlsx", "xls"})

    def test_options_taking_a_value_consume_it(self):
        """`<cmd> OPT VALUE <TAB>`: after an option that takes a value the
        positional is still to come (its completion is offered); after a
        flag, VALUE was the positional (nothing more is offered). Checks,
        for every option of every command, that the completion agrees with
        --help on whether the option takes a value."""
        for path, h in self.commands:
            if h.subcommands or not h.positionals:
                continue
            name, many = h.positionals[0]
            positional = self.comp(*path, "")
            self.assertTrue(positional, "%s: nothing offered for %s" % (path, name))
            for option, (takes_value, _) in sorted(h.options.items()):
                if option in ("-h", "--help"):
                    continue
                with self.subTest(command=" ".join(path), option=option):
                    if many:
                        # A list of files follows either way: ask the
                        # completion's own table.
                        r = subprocess.run(
                            ["/bin/bash", "--norc", "--noprofile", "-c",
                             'source "$1" && _pecbatch_takes_value "$2" "$3"', "bash",
                             SCRIPT, " ".join(path), option],
                            capture_output=True, text=True, timeout=30)
                        self.assertEqual(r.returncode == 0, takes_value)
                        continue
                    got = self.comp(*path, option, "5", "")
                    if takes_value:
                        self.assertEqual(got, positional)
                    else:
                        self.assertEqual(got, set())

    def test_positionals(self):
        for path, h in self.commands:
            if h.subcommands or not h.positionals:
                continue
            name = h.positionals[0][0]
            with self.subTest(command=" ".join(path), positional=name):
                got = self.comp(*path, "")
                if name == "CAMPAIGN":
                    self.assertEqual(got, {"a.toml", "B.TOML", "sub"})
                elif path == ("contacts",):
                    self.assertEqual(got, {"b.csv", "c.xlsx", "sub"})
                else:
                    self.assertIn("r.eml", got)
        # One CAMPAIGN only: nothing after it.
        self.assertEqual(self.comp("send", "a.toml", ""), set())
        self.assertEqual(self.comp("send", "--yes", "--limit", "10", "a"), {"a.toml"})
        self.assertEqual(self.comp("config", "show", ""), {"a.toml", "B.TOML", "sub"})
        self.assertEqual(self.comp("receipt", "inspect", "--ca-file", ""), {"c.pem", "sub"})

    def test_file_values(self):
        self.assertEqual(self.comp("send", "a.toml", "--contacts", ""),
                         {"b.csv", "c.xlsx", "sub"})
        self.assertEqual(self.comp("send", "a.toml", "--contacts", "=", "b"), {"b.csv"})
        self.assertEqual(self.comp("send", "a.toml", "--output-dir", ""), {"sub"})
        self.assertEqual(self.comp("render", "a.toml", "--out", ""), {"sub"})
        self.assertIn("notes.txt", self.comp("send", "a.toml", "--log-file", ""))

    def test_set_completes_every_campaign_key(self):
        r = subprocess.run([PECBATCH, "config", "show", EXAMPLE], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        keys = set(re.findall(r"^([a-z_]+\.[a-z_]+)\s+=", r.stdout, re.M))
        self.assertGreater(len(keys), 30)
        got = self.comp("validate", "a.toml", "--set", "")
        self.assertEqual(got, {k + "=" for k in keys})
        self.assertEqual(self.comp("send", "--set", "provider.rate_per_m"),
                         {"provider.rate_per_minute="})

    def test_states_complete_comma_separated_lists(self):
        self.assertEqual(self.comp("retry", "a.toml", "--states", ""), set(RETRY_STATES))
        self.assertEqual(self.comp("retry", "a.toml", "--states", "fa"),
                         {"failed", "failed_timeout"})
        self.assertEqual(self.comp("retry", "a.toml", "--failed", "--states", "failed,del"),
                         {"failed,delivery_failed"})
        self.assertEqual(self.comp("retry", "a.toml", "--states", "=", "rejected,no"),
                         {"rejected,no_receipt"})
        retry = [h for path, h in self.commands if path == ("retry",)]
        if retry:
            text = pecbatch_help(["retry"])
            for state in RETRY_STATES:
                self.assertIn(state, text, "retry --help does not name state %s" % state)

    def test_delimiters_are_quoted_for_the_shell(self):
        r = subprocess.run(["/bin/bash", "--norc", "--noprofile", "-c",
                            'source "$1"; COMP_WORDS=(pecbatch contacts --delimiter ""); '
                            'COMP_CWORD=3; _pecbatch; printf "%s\\n" "${COMPREPLY[@]}"',
                            "bash", SCRIPT], capture_output=True, text=True, timeout=30)
        self.assertIn("\\;", r.stdout.split())
        self.assertNotIn(";", r.stdout.split())

    def test_in_an_interactive_bash(self):
        """The real thing: readline in a pseudo-terminal, TAB pressed."""
        typed = "pecbatch sen\ta.t\t--li\t"
        pid, fd = pty.fork()
        if pid == 0:
            os.chdir(self.dir)
            os.execve("/bin/bash", ["bash", "--norc", "--noprofile", "-i"],
                      {"PATH": "/usr/bin:/bin", "PS1": "$ ", "TERM": "dumb",
                       "HOME": self.dir, "INPUTRC": "/dev/null", "HISTFILE": "/dev/null"})
        out = b""

        def read_for(seconds):
            nonlocal out
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                ready, _, _ = select.select([fd], [], [], 0.05)
                if ready:
                    try:
                        out += os.read(fd, 65536)
                    except OSError:
                        return

        try:
            read_for(0.5)
            os.write(fd, b'source "%s"\n' % SCRIPT.encode())
            read_for(0.5)
            mark = len(out)
            for chunk in typed.split("\t")[:-1]:
                os.write(fd, chunk.encode() + b"\t")
                read_for(0.7)
            line = out[mark:].decode(errors="replace")
            os.write(fd, b"\x15exit\n")
            read_for(0.5)
        finally:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
            os.close(fd)
        # readline echoes what was typed and inserts the completions
        self.assertIn("pecbatch send a.toml --limit ", line.replace("\r", ""))


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/python3
"""The Debian package: built with cpack from the current build directory,
its control fields and contents checked, then "installed" for real into a
throwaway root with `dpkg -x` (the system's dpkg database is never
touched) and run from there.

Environment: BUILD_DIR (the CMake build directory, with CPackConfig.cmake)
and PECBATCH (the binary of that build, for its version).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_DIR = os.environ.get("BUILD_DIR", "")
PECBATCH = os.environ.get("PECBATCH", "")

# Libraries pecbatch links directly, by the Debian package that must be in
# Depends (by name prefix: libcurl4, libsqlite3-0, libgmime-3.0-0, ...).
REQUIRED_DEPENDS = ["libc6", "libstdc++6", "libcurl", "libsqlite3", "libgmime-3.0", "libssl3",
                    "libzip", "libfreexl", "libpugixml", "libcsv", "libglib2.0"]


def run(cmd, **kwargs):
    kwargs.setdefault("timeout", 120)
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)


def parse_depends(field):
    """'a (>= 1), b | c' -> [[('a', '>=', '1')], [('b', None, None), ('c', None, None)]]"""
    groups = []
    for group in field.split(","):
        group = group.strip()
        if not group:
            continue
        alternatives = []
        for alt in group.split("|"):
            m = re.match(r"^\s*([a-z0-9][a-z0-9+.-]*)(?::[a-z0-9-]+)?\s*"
                         r"(?:\(\s*([<>=]+)\s*([^)\s]+)\s*\))?\s*$", alt)
            if not m:
                raise AssertionError("unparsable dependency %r in %r" % (alt, field))
            alternatives.append((m.group(1), m.group(2), m.group(3)))
        groups.append(alternatives)
    return groups


def installed_packages():
    """name -> {'version', 'provides', 'depends'} for every installed package."""
    r = run(["dpkg-query", "-W", "-f",
             "${Package}\t${Version}\t${db:Status-Abbrev}\t${Provides}\t${Depends}, "
             "${Pre-Depends}\n"])
    packages = {}
    for line in r.stdout.splitlines():
        name, version, status, provides, depends = line.split("\t")
        if not status.startswith("ii"):
            continue
        packages[name] = {
            "version": version,
            "provides": {p.split()[0].split(":")[0] for p in provides.split(",") if p.strip()},
            "depends": parse_depends(depends),
        }
    return packages


def owner_packages(path):
    """The packages that ship `path` according to `dpkg -S` (read-only),
    trying the /lib <-> /usr/lib spellings of merged-/usr systems."""
    candidates = [path, os.path.realpath(path)]
    for p in list(candidates):
        if p.startswith("/usr/lib") or p.startswith("/usr/lib64"):
            candidates.append(p[len("/usr"):])
        elif p.startswith("/lib"):
            candidates.append("/usr" + p)
    for p in candidates:
        r = run(["dpkg", "-S", p])
        if r.returncode == 0:
            owners = set()
            for line in r.stdout.splitlines():
                names = line.rsplit(": ", 1)[0]
                for name in names.split(","):
                    owners.add(name.strip().split(":")[0])
            return owners
    return set()


class DebPackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not BUILD_DIR or not os.path.isfile(os.path.join(BUILD_DIR, "CPackConfig.cmake")):
            raise unittest.SkipTest("BUILD_DIR with CPackConfig.cmake not given")
        for tool in ("cpack", "dpkg-deb", "dpkg-shlibdeps", "readelf", "ldd"):
            if not shutil.which(tool):
                raise AssertionError("%s not found (scripts/install-deps installs it)" % tool)
        cls.tmp = tempfile.mkdtemp(prefix="pecbatch-deb-")
        out = os.path.join(cls.tmp, "out")
        r = run(["cpack", "-G", "DEB", "-B", out, "--config",
                 os.path.join(BUILD_DIR, "CPackConfig.cmake")], cwd=BUILD_DIR, timeout=600)
        if r.returncode != 0:
            raise AssertionError("cpack failed:\n" + r.stdout + r.stderr)
        debs = [f for f in os.listdir(out) if f.endswith(".deb")]
        if len(debs) != 1:
            raise AssertionError("expected one .deb in %s, found %s" % (out, debs))
        cls.deb = os.path.join(out, debs[0])
        cls.root = os.path.join(cls.tmp, "root")
        os.mkdir(cls.root)
        r = run(["dpkg-deb", "-x", cls.deb, cls.root])
        if r.returncode != 0:
            raise AssertionError("dpkg-deb -x: " + r.stderr)
        cls.binary = os.path.join(cls.root, "usr", "bin", "pecbatch")
        cls.version = run([PECBATCH, "--version"]).stdout.split()[-1] if PECBATCH else None

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("PECBATCH_KEEP_DEB"):
            print("package and extracted root kept in", cls.tmp, file=sys.stderr)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def field(self, name):
        r = run(["dpkg-deb", "-f", self.deb, name])
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    def contents(self):
        """path -> (mode string, owner) from `dpkg-deb -c`."""
        r = run(["dpkg-deb", "-c", self.deb])
        self.assertEqual(r.returncode, 0, r.stderr)
        entries = {}
        for line in r.stdout.splitlines():
            parts = line.split(None, 5)
            mode, owner, path = parts[0], parts[1], parts[5].split(" -> ")[0]
            entries[path.lstrip(".")] = (mode, owner)
        return entries

    def pecbatch(self, *args, **kwargs):
        env = {"PATH": "/usr/bin:/bin", "HOME": self.tmp, "LANG": "C.UTF-8"}
        return run([self.binary, *args], env=env, cwd=self.tmp, **kwargs)

    # -- the control file ---------------------------------------------------

    def test_control_fields(self):
        self.assertEqual(self.field("Package"), "pecbatch")
        self.assertEqual(self.field("Section"), "mail")
        self.assertEqual(self.field("Priority"), "optional")
        arch = run(["dpkg", "--print-architecture"]).stdout.strip()
        self.assertEqual(self.field("Architecture"), arch)
        if self.version:
            self.assertEqual(self.field("Version"), self.version)
            self.assertEqual(os.path.basename(self.deb),
                             "pecbatch_%s_%s.deb" % (self.version, arch))
        self.assertRegex(self.field("Maintainer"), r"^[^<>]+ <[^@<>\s]+@[^@<>\s]+>$")
        description = self.field("Description")
        synopsis, _, extended = description.partition("\n")
        self.assertIn("PEC", synopsis)
        self.assertLess(len(synopsis), 80)
        self.assertIn("certified e-mail", extended)
        for line in extended.splitlines():
            self.assertTrue(line.startswith(" "), "unindented description line %r" % line)

    def test_depends_names_the_runtime_libraries(self):
        depends = parse_depends(self.field("Depends"))
        names = {alt[0] for group in depends for alt in group}
        for prefix in REQUIRED_DEPENDS:
            self.assertTrue(any(n.startswith(prefix) for n in names),
                            "no %s* in Depends: %s" % (prefix, sorted(names)))
        # dpkg-shlibdeps writes minimum versions; this machine satisfies them
        # (an unversioned name may be a virtual package, e.g. libspdlog1.10-fmt9)
        packages = installed_packages()
        provided = {v for info in packages.values() for v in info["provides"]}
        for group in depends:
            ok = False
            for name, op, version in group:
                if name not in packages:
                    if op is None and name in provided:
                        ok = True
                        break
                    continue
                if op is None:
                    ok = True
                    break
                r = run(["dpkg", "--compare-versions", packages[name]["version"],
                         {">=": "ge", "<=": "le", "=": "eq", ">>": "gt", "<<": "lt"}[op],
                         version])
                if r.returncode == 0:
                    ok = True
                    break
            self.assertTrue(ok, "dependency %s not satisfied here" % group)

    # -- the files ----------------------------------------------------------

    def test_contents(self):
        entries = self.contents()
        want = {
            "/usr/bin/pecbatch": "-rwxr-xr-x",
            "/usr/share/bash-completion/completions/pecbatch": "-rw-r--r--",
            "/usr/share/doc/pecbatch/copyright": "-rw-r--r--",
            "/usr/share/doc/pecbatch/README.md": "-rw-r--r--",
            "/usr/share/doc/pecbatch/configuration.md": "-rw-r--r--",
            "/usr/share/doc/pecbatch/examples/campaign.toml": "-rw-r--r--",
            "/usr/share/doc/pecbatch/examples/README.md": "-rw-r--r--",
        }
        for script in ("examples/cron/pecbatch-cron.sh", "examples/ci/test-send.sh"):
            if os.path.exists(os.path.join(ROOT, script)):
                want["/usr/share/doc/pecbatch/" + script] = "-rwxr-xr-x"
        if os.path.exists(os.path.join(ROOT, "docs", "guida-rapida.md")):
            want["/usr/share/doc/pecbatch/guida-rapida.md"] = "-rw-r--r--"
        man = os.path.exists(os.path.join(ROOT, "docs", "pecbatch.1"))
        if man:
            want["/usr/share/man/man1/pecbatch.1.gz"] = "-rw-r--r--"
        for path, mode in want.items():
            self.assertIn(path, entries)
            self.assertEqual(entries[path][0], mode, path)
        for path, (mode, owner) in entries.items():
            self.assertEqual(owner, "root/root", path)
            self.assertTrue(path == "/" or path.startswith("/usr/"), path)
            self.assertNotRegex(path, r"pec-?sandbox|/tests?/|__pycache__|\.pyc$", path)
            self.assertFalse(path.startswith("/usr/local"), path)
        if not man:
            self.assertFalse([p for p in entries if "/man/" in p])

    def test_man_page_is_gzipped_reproducibly(self):
        source = os.path.join(ROOT, "docs", "pecbatch.1")
        if not os.path.exists(source):
            self.skipTest("docs/pecbatch.1 not written yet")
        gz = os.path.join(self.root, "usr", "share", "man", "man1", "pecbatch.1.gz")
        with open(gz, "rb") as f:
            header = f.read(10)
        self.assertEqual(header[:2], b"\x1f\x8b")
        self.assertEqual(header[3] & 0x08, 0, "file name stored in the gzip header")
        self.assertEqual(header[4:8], b"\0\0\0\0", "timestamp stored in the gzip header")
        r = subprocess.run(["gzip", "-dc", gz], capture_output=True, timeout=30)
        with open(source, "rb") as f:
            self.assertEqual(r.stdout, f.read())

    def test_binary_is_stripped(self):
        r = run(["readelf", "-S", "-W", self.binary])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(".debug_info", r.stdout)
        self.assertNotIn(".symtab", r.stdout)

    # -- running it from the throwaway root ---------------------------------

    def test_runs_from_the_extracted_root(self):
        r = self.pecbatch("--version")
        self.assertEqual(r.returncode, 0, r.stderr)
        if self.version:
            self.assertEqual(r.stdout.strip(), "pecbatch " + self.version)
        r = self.pecbatch("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("validate", r.stdout)

    def test_validates_the_installed_example_campaign(self):
        campaign = os.path.join(self.root, "usr", "share", "doc", "pecbatch", "examples",
                                "campaign.toml")
        r = self.pecbatch("validate", campaign, "--output-dir", os.path.join(self.tmp, "v"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"\d+ rows, \d+ valid, 0 problems")

    def test_completion_is_loadable(self):
        path = os.path.join(self.root, "usr", "share", "bash-completion", "completions",
                            "pecbatch")
        r = run(["/bin/bash", "--norc", "--noprofile", "-c",
                 'source "$1" && complete -p pecbatch', "bash", path])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("_pecbatch", r.stdout)

    def test_every_shared_library_comes_from_a_package_in_depends(self):
        """ldd lists every library loaded (also through other libraries);
        dpkg -S names the package that ships it. Libraries pecbatch links
        directly (ELF NEEDED) must come from a package named in Depends;
        the others from a package that Depends pulls in."""
        r = run(["ldd", self.binary])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("not found", r.stdout)
        loaded = {}
        for line in r.stdout.splitlines():
            m = re.match(r"^\s*(\S+) => (/\S+)", line) or re.match(r"^\s*(/\S+) \(", line)
            if m:
                name = os.path.basename(m.group(1))
                loaded[name] = m.group(m.lastindex)
        self.assertIn("libcurl.so.4", loaded)

        needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                                run(["readelf", "-d", self.binary]).stdout))
        self.assertTrue(needed)
        self.assertLessEqual(needed, set(loaded))

        packages = installed_packages()
        provided_by = {}
        for name, info in packages.items():
            for virtual in info["provides"]:
                provided_by.setdefault(virtual, set()).add(name)

        def expand(name):
            return ({name} if name in packages else set()) | provided_by.get(name, set())

        direct = set()
        for group in parse_depends(self.field("Depends")):
            for name, _, _ in group:
                direct |= expand(name)
        closure = set(direct)
        todo = list(direct)
        while todo:
            for group in packages[todo.pop()]["depends"]:
                for name, _, _ in group:
                    for p in expand(name) - closure:
                        closure.add(p)
                        todo.append(p)

        for soname, path in sorted(loaded.items()):
            owners = owner_packages(path)
            with self.subTest(library=soname):
                self.assertTrue(owners, "%s (%s) belongs to no package" % (soname, path))
                allowed = direct if soname in needed else closure
                self.assertTrue(owners & allowed, "%s comes from %s, not in %s" % (
                    soname, sorted(owners), "Depends" if soname in needed else
                    "the closure of Depends"))


if __name__ == "__main__":
    unittest.main(verbosity=2)

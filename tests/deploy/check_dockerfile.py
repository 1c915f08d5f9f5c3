#!/usr/bin/env python3
"""Checks docker/Dockerfile without a Docker engine, against this host's Debian packages.

Usage: tests/deploy/check_dockerfile.py [PATH/TO/dbrefresh]   (run from the source root; default build/dbrefresh)

What it checks (each failure is one line starting "FAIL:"; exit 1 when any, 0 when none,
77 = skipped when this host is not Debian bookworm, the release the image is built on):
  stages      both stages FROM debian:bookworm-slim; the build stage builds only --target dbrefresh
  packages    the build stage installs the -dev packages of scripts/install-deps.sh; every package of
              both stages exists in Debian (apt-cache show)
  libraries   every shared library `ldd` resolves for the binary comes from a package that the
              runtime stage's apt-get install pulls in on an empty system (apt-get -s against an
              empty dpkg status), and each library the binary links directly comes from a package
              named in that install (or libc6/libstdc++6/libgcc-s1 of the base image); no runtime
              package goes unused
  pg client   postgresql-client-$PG_CLIENT_VERSION ships pg_dump, pg_restore and psql at the paths the
              image tests and puts on PATH, where the binary looks for them (/usr/lib/postgresql/N/bin);
              the default major is at least the servers' (14)
  user        the runtime stage ends as uid 10001 (not root), WORKDIR /var/lib/dbrefresh,
              ENTRYPOINT ["dbrefresh"] with the binary copied onto PATH from the build stage's output
  context     .dockerignore lets in what the COPY lines need and keeps out build/, .git and snapshots;
              CMake configures from exactly those files and knows the dbrefresh target
  lint        a hadolint-style rule subset (no hadolint in Debian's archive); hadolint itself when it
              is on PATH; shellcheck on docker/**/*.sh when it is installed
"""
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

SOURCE_DIR = os.getcwd()
DOCKERFILE = os.path.join(SOURCE_DIR, "docker", "Dockerfile")
DOCKERIGNORE = os.path.join(SOURCE_DIR, ".dockerignore")
INSTALL_DEPS = os.path.join(SOURCE_DIR, "scripts", "install-deps.sh")
BASE_IMAGE = "debian:bookworm-slim"
RUNTIME_USER = "10001"
WORKDIR = "/var/lib/dbrefresh"
MIN_SERVER_MAJOR = 14  # SPEC section 8: the service runs PostgreSQL 14 on RDS
# In debian:bookworm-slim already (apt needs them), so the image need not name them.
BASE_PACKAGES = {"libc6", "libstdc++6", "libgcc-s1"}
SKIP = 77

failures = []


def fail(message):
    failures.append(message)
    print("FAIL: " + message)


def ok(message):
    print("ok:   " + message)


def run(argv, **kwargs):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


# ----------------------------------------------------------------------------------------------
# Dockerfile parsing: logical lines, stages, ARG defaults, apt-get install arguments.

class Instruction:
    def __init__(self, keyword, args, line, directives):
        self.keyword, self.args, self.line, self.directives = keyword, args, line, directives


class Stage:
    def __init__(self, image, name, line):
        self.image, self.name, self.line = image, name, line
        self.instructions = []
        self.args = {}

    def all(self, keyword):
        return [i for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(path):
    """Returns (global_args, stages). Comment lines are dropped, `# hadolint ignore=` kept per instruction."""
    global_args, stages = {}, []
    pending, start, directives = "", 0, []
    with open(path) as f:
        lines = f.read().split("\n")
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if not pending and stripped.startswith("#"):
            m = re.match(r"#\s*hadolint\s+ignore=(\S+)", stripped)
            if m:
                directives += m.group(1).split(",")
            continue
        if pending and stripped.startswith("#"):
            continue  # comment inside a continued instruction
        if not pending:
            if not stripped:
                continue
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        text = (pending + stripped).strip()
        pending = ""
        keyword, _, args = text.partition(" ")
        keyword = keyword.upper()
        instruction = Instruction(keyword, args.strip(), start, directives)
        directives = []
        if keyword == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", instruction.args, re.I)
            stages.append(Stage(m.group(1), m.group(2), start))
            continue
        if keyword == "ARG":
            name, _, default = instruction.args.partition("=")
            (stages[-1].args if stages else global_args)[name.strip()] = default.strip().strip('"')
        if stages:
            stages[-1].instructions.append(instruction)
    return global_args, stages


def substitute(text, variables):
    def value(m):
        name = m.group(1) or m.group(2)
        return variables.get(name, m.group(0))
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, text)


def shell_segments(command):
    """Splits a RUN command into simple commands at &&, ||, ; and |."""
    return [s.strip() for s in re.split(r"&&|\|\||;|\|", command) if s.strip()]


def apt_install_packages(stage, variables):
    """The package arguments of every `apt-get install` in the stage's RUN lines."""
    packages = []
    for run_line in stage.all("RUN"):
        for segment in shell_segments(run_line.args):
            words = shlex.split(segment)
            while words and re.match(r"^\w+=", words[0]):
                words.pop(0)  # VAR=value prefix
            if len(words) < 2 or words[0] != "apt-get" or "install" not in words:
                continue
            for word in words[words.index("install") + 1:]:
                if not word.startswith("-"):
                    packages.append(substitute(word, variables))
    return packages


def install_deps_packages():
    with open(INSTALL_DEPS) as f:
        text = f.read()
    m = re.search(r"^packages=\((.*?)\)", text, re.S | re.M)
    if not m:
        fail("scripts/install-deps.sh: no packages=( ... ) list found")
        return set()
    body = "\n".join(line.split("#", 1)[0] for line in m.group(1).splitlines())
    return set(body.split())


# ----------------------------------------------------------------------------------------------
# Debian facts.

def apt_lists_present():
    lists = "/var/lib/apt/lists"
    return os.path.isdir(lists) and any(n.endswith("_Packages") or "_Packages." in n for n in os.listdir(lists))


def ensure_apt_lists():
    if apt_lists_present():
        return True
    if os.geteuid() == 0:
        print("note: no apt package lists; running apt-get update")
        run(["apt-get", "update", "-q"])
    if not apt_lists_present():
        fail("apt has no package lists: run `apt-get update` (scripts/install-deps.sh does when it installs)")
        return False
    return True


def existing_packages(names):
    """The subset of names that apt-cache knows (one call: each apt-cache start costs seconds)."""
    result = run(["apt-cache", "show", "--no-all-versions"] + sorted(set(names)))
    return set(re.findall(r"^Package: (\S+)$", result.stdout, re.M))


def install_closure(packages):
    """Every package `apt-get install --no-install-recommends packages` installs on an empty system."""
    with tempfile.NamedTemporaryFile() as empty_status:
        result = run(["apt-get", "-s", "-o", "Dir::State::status=" + empty_status.name,
                      "install", "--no-install-recommends"] + packages)
    if result.returncode != 0:
        fail("apt-get -s install %s failed: %s" % (" ".join(packages), result.stderr.strip()[-400:]))
        return set()
    return {line.split()[1] for line in result.stdout.splitlines() if line.startswith("Inst ")}


def owning_packages(paths):
    """{path: Debian package owning it, or None}. Tries the path, its target, with and without /usr
    (merged /usr: dpkg knows each file under one of the two names). One dpkg -S call for all."""
    candidates = {}
    for path in paths:
        names = [path, os.path.realpath(path)]
        names += [n[4:] if n.startswith("/usr/") else "/usr" + n for n in list(names)]
        candidates[path] = names
    result = run(["dpkg", "-S"] + sorted({n for names in candidates.values() for n in names}))
    owner = {}
    for line in result.stdout.splitlines():
        package, _, file = line.partition(": ")
        owner[file.strip()] = package.split(",")[0].split(":")[0].strip()
    return {path: next((owner[n] for n in names if n in owner), None) for path, names in candidates.items()}


def resolved_libraries(binary):
    """{soname: path} as ldd resolves them; a missing one is a failure."""
    result = run(["ldd", binary])
    if result.returncode != 0:
        fail("ldd %s: %s" % (binary, result.stderr.strip()))
        return {}
    libraries = {}
    for line in result.stdout.splitlines():
        line = line.strip()
        if "not found" in line:
            fail("ldd: %s" % line)
        m = re.match(r"(\S+)\s+=>\s+(/\S+)", line)
        if m:
            libraries[m.group(1)] = m.group(2)
        elif line.startswith("/"):
            libraries[os.path.basename(line.split()[0])] = line.split()[0]
    return libraries


def needed_sonames(binary):
    result = run(["objdump", "-p", binary])
    return {line.split()[1] for line in result.stdout.splitlines() if line.strip().startswith("NEEDED")}


# ----------------------------------------------------------------------------------------------
# .dockerignore, as Docker (moby/patternmatcher) applies it: last matching pattern wins, a pattern
# that matches a parent directory matches everything below it, `**` spans directories.

def read_dockerignore():
    patterns = []
    with open(DOCKERIGNORE) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = os.path.normpath(line[1:] if negate else line).lstrip("/")
            patterns.append((negate, pattern))
    return patterns


def pattern_regex(pattern):
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        else:
            c = pattern[i]
            out += "[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c)
            i += 1
    return re.compile("^" + out + "$")


def excluded(path, patterns):
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    result = False
    for negate, pattern in patterns:
        regex = pattern_regex(pattern)
        if any(regex.match(p) for p in prefixes):
            result = not negate
    return result


# ----------------------------------------------------------------------------------------------
# The checks.

def check_stages(stages):
    if len(stages) < 2:
        fail("Dockerfile: expected a build stage and a runtime stage, found %d stage(s)" % len(stages))
        return None, None
    for s in stages:
        if s.image != BASE_IMAGE:
            fail("Dockerfile line %d: FROM %s, expected %s" % (s.line, s.image, BASE_IMAGE))
    build, runtime = stages[0], stages[-1]
    runs = " ".join(i.args for i in build.all("RUN"))
    if "--target dbrefresh" not in runs:
        fail("build stage: no `cmake --build ... --target dbrefresh`")
    ok("stages: %s" % ", ".join("%s (%s)" % (s.name, s.image) for s in stages))
    return build, runtime


def check_packages(build, runtime, variables):
    build_pkgs = apt_install_packages(build, {**variables, **build.args})
    runtime_pkgs = apt_install_packages(runtime, {**variables, **runtime.args})
    deps = install_deps_packages()
    wanted = {p for p in deps if p.endswith("-dev")} | {"build-essential", "cmake", "pkg-config"}
    for p in sorted(wanted - set(build_pkgs)):
        fail("build stage does not install %s (scripts/install-deps.sh does)" % p)
    for p in sorted(set(build_pkgs) - deps):
        fail("build stage installs %s, which scripts/install-deps.sh does not: keep the two in step" % p)
    known = existing_packages([p for p in build_pkgs + runtime_pkgs if "$" not in p])
    for p in build_pkgs + runtime_pkgs:
        if "$" in p:
            fail("package name %s has an undefined variable" % p)
        elif p not in known:
            fail("apt-cache show %s: no such package in this Debian release" % p)
    ok("packages: build %s" % " ".join(build_pkgs))
    ok("packages: runtime %s" % " ".join(runtime_pkgs))
    return runtime_pkgs


def check_libraries(binary, runtime_pkgs):
    closure = install_closure(runtime_pkgs)
    if not closure:
        return
    needed = needed_sonames(binary)
    used = set()
    libraries = resolved_libraries(binary)
    owners = owning_packages(libraries.values())
    for soname, path in sorted(libraries.items()):
        if re.match(r"lib(asan|ubsan|tsan|lsan)\.", soname):
            print("note: %s comes from a sanitizer build, not the image's build; not checked" % soname)
            continue
        package = owners[path]
        if not package:
            fail("%s (%s): no Debian package owns it (built by hand?)" % (soname, path))
            continue
        used.add(package)
        if package not in closure and package not in BASE_PACKAGES:
            fail("%s comes from %s, which the runtime stage does not install" % (soname, package))
        if soname in needed and package not in runtime_pkgs and package not in BASE_PACKAGES:
            fail("the binary links %s directly, from %s: name that package in the runtime stage" % (soname, package))
    for p in runtime_pkgs:
        if not p.startswith("postgresql-client-") and p not in used:
            fail("runtime package %s provides no library the binary needs" % p)
    ok("libraries: %d resolved by ldd, all from the runtime stage's %d-package closure; direct: %s"
       % (len(used), len(closure), ", ".join(sorted(needed))))


def check_pg_client(runtime, runtime_pkgs, variables):
    version = {**variables, **runtime.args}.get("PG_CLIENT_VERSION")
    if not version or not version.isdigit():
        fail("runtime stage: no ARG PG_CLIENT_VERSION with a numeric default")
        return
    if int(version) < MIN_SERVER_MAJOR:
        fail("PG_CLIENT_VERSION %s is older than the servers' PostgreSQL %d" % (version, MIN_SERVER_MAJOR))
    client = "postgresql-client-" + version
    if client not in runtime_pkgs:
        fail("runtime stage does not install %s" % client)
    bindir = "/usr/lib/postgresql/%s/bin" % version
    listing = run(["dpkg", "-L", client])
    if listing.returncode != 0:
        fail("dpkg -L %s: not installed on this host (scripts/install-deps.sh installs it)" % client)
        return
    files = set(listing.stdout.split())
    text = "\n".join(substitute(i.args, {**variables, **runtime.args}) for i in runtime.instructions)
    for tool in ("pg_dump", "pg_restore", "psql"):
        path = bindir + "/" + tool
        if path not in files:
            fail("%s does not ship %s" % (client, path))
        if ("test -x \"%s\"" % path) not in text and ("test -x %s" % path) not in text:
            fail("runtime stage does not test -x %s after installing" % path)
    env_lines = [substitute(i.args, {**variables, **runtime.args}) for i in runtime.all("ENV")]
    if not any(("PATH=\"" + bindir) in e or ("PATH=" + bindir) in e for e in env_lines):
        fail("runtime stage: PATH does not start with %s" % bindir)
    with open(os.path.join(SOURCE_DIR, "src", "process", "pg_tools.cc")) as f:
        if '"/usr/lib/postgresql"' not in f.read():
            fail("src/process/pg_tools.cc no longer looks in /usr/lib/postgresql/<major>/bin: update the image")
    ok("pg client: %s ships %s/{pg_dump,pg_restore,psql}; >= PostgreSQL %d" % (client, bindir, MIN_SERVER_MAJOR))


def check_user_and_entrypoint(build, runtime):
    users = runtime.all("USER")
    user = users[-1].args.split(":")[0] if users else "root"
    if user in ("root", "0"):
        fail("runtime stage runs as root (no USER, or USER root)")
    elif user != RUNTIME_USER:
        fail("runtime stage USER %s, expected uid %s (the manifests' runAsUser)" % (user, RUNTIME_USER))
    runs = " ".join(i.args for i in runtime.all("RUN"))
    if ("--uid %s" % RUNTIME_USER) not in runs:
        fail("runtime stage creates no user with --uid %s" % RUNTIME_USER)
    workdirs = runtime.all("WORKDIR")
    if not workdirs or workdirs[-1].args != WORKDIR:
        fail("runtime stage WORKDIR is not %s" % WORKDIR)
    entry = runtime.all("ENTRYPOINT")
    if not entry or entry[-1].args.replace(" ", "") != '["dbrefresh"]':
        fail('runtime stage ENTRYPOINT is not ["dbrefresh"] (exec form)')
    copies = [i.args for i in runtime.all("COPY") if i.args.startswith("--from=")]
    build_workdir = (build.all("WORKDIR") or [Instruction("WORKDIR", "/", 0, [])])[-1].args
    expected_src = os.path.join(build_workdir, "build", "dbrefresh")
    if not any(c.split()[1] == expected_src and c.split()[2] in ("/usr/local/bin/dbrefresh", "/usr/bin/dbrefresh")
               for c in copies if len(c.split()) == 3):
        fail("runtime stage does not COPY --from=build %s to /usr/local/bin/dbrefresh" % expected_src)
    ok("user %s, WORKDIR %s, ENTRYPOINT [\"dbrefresh\"], binary from %s" % (user, WORKDIR, expected_src))


def copy_sources(stages):
    sources = []
    for s in stages:
        for i in s.all("COPY"):
            words = [w for w in i.args.split() if not w.startswith("--")]
            if not i.args.startswith("--from="):
                sources += words[:-1]
    return sources


def check_context(stages):
    if not os.path.exists(DOCKERIGNORE):
        fail(".dockerignore missing")
        return
    patterns = read_dockerignore()
    for p in ("build/dbrefresh", "build/CMakeCache.txt", ".git/config", "dbrefresh-snapshots/preprod-20250101T000000Z.db",
              "snapshots/x.db", "src/stray.db", "tests/x.seed.sql", "x.dropped.sql", "x.report.json"):
        if not excluded(p, patterns):
            fail(".dockerignore lets %s into the build context" % p)
    sources = copy_sources(stages)
    context_files = []
    for source in sources:
        full = os.path.join(SOURCE_DIR, source)
        if not os.path.exists(full):
            fail("COPY %s: no such file in the repository" % source)
            continue
        if os.path.isdir(full):
            for root, _, files in os.walk(full):
                for name in files:
                    rel = os.path.relpath(os.path.join(root, name), SOURCE_DIR)
                    if rel.endswith((".cc", ".h", ".sql", ".txt", ".sh")) and not excluded(rel, patterns):
                        context_files.append(rel)
                    elif rel.endswith((".cc", ".h")):
                        fail(".dockerignore excludes %s, which the build needs" % rel)
        elif excluded(source.rstrip("/"), patterns):
            fail(".dockerignore excludes %s, which COPY needs" % source)
        else:
            context_files.append(source)
    ok(".dockerignore: keeps out build/, .git, snapshots; lets in %s" % " ".join(sources))
    check_configure(context_files)


def check_configure(context_files):
    """CMake configures from exactly the files the build stage COPYs, and knows the dbrefresh target."""
    with tempfile.TemporaryDirectory(prefix="dbrefresh-docker-context-") as tmp:
        for rel in context_files:
            os.makedirs(os.path.join(tmp, os.path.dirname(rel)), exist_ok=True)
            shutil.copy2(os.path.join(SOURCE_DIR, rel), os.path.join(tmp, rel))
        configure = run(["cmake", "-S", tmp, "-B", os.path.join(tmp, "build"), "-DCMAKE_BUILD_TYPE=RelWithDebInfo"])
        if configure.returncode != 0:
            fail("cmake configure from the Docker build context failed: %s" % configure.stderr.strip()[-600:])
            return
        targets = run(["cmake", "--build", os.path.join(tmp, "build"), "--target", "help"])
        if not re.search(r"^\.\.\. dbrefresh$", targets.stdout, re.M):
            fail("cmake from the Docker build context has no dbrefresh target")
            return
    ok("context: cmake configures from the %d copied files and has the dbrefresh target" % len(context_files))


def check_lint(stages):
    """A subset of hadolint's rules, with their numbers."""
    problems = 0
    for s in stages:
        for i in s.instructions:
            def rule(code, condition, message):
                nonlocal problems
                if condition and code not in i.directives:
                    problems += 1
                    fail("lint %s (line %d): %s" % (code, i.line, message))
            if i.keyword == "RUN":
                segments = shell_segments(i.args)
                installs = [x for x in segments if re.search(r"\bapt-get\b.*\binstall\b", x)]
                rule("DL3027", re.search(r"(^|[\s;&|])apt\s", i.args), "use apt-get, not apt")
                rule("DL3014", any(" -y" not in x and "--yes" not in x for x in installs), "apt-get install without -y")
                rule("DL3015", any("--no-install-recommends" not in x for x in installs),
                     "apt-get install without --no-install-recommends")
                rule("DL3009", "apt-get update" in i.args and "rm -rf /var/lib/apt/lists" not in i.args,
                     "apt-get update without removing /var/lib/apt/lists in the same RUN")
                rule("DL3008", any(re.search(r"\s[a-z0-9.+-]+=[0-9]", x) is None for x in installs),
                     "apt-get install without pinned versions")
                rule("DL3003", any(x.startswith("cd ") for x in segments), "use WORKDIR instead of cd")
                rule("DL4006", "|" in i.args.replace("||", "") and "pipefail" not in i.args,
                     "a pipe without `set -o pipefail`")
            rule("DL3020", i.keyword == "ADD", "use COPY, not ADD")
            rule("DL3025", i.keyword in ("ENTRYPOINT", "CMD") and not i.args.startswith("["), "use the JSON (exec) form")
        rule_image = s.image.split(":")
        if len(rule_image) < 2 or rule_image[1] == "latest":
            problems += 1
            fail("lint DL3006/DL3007 (line %d): FROM %s: tag the base image with a release" % (s.line, s.image))
    if problems == 0:
        ok("lint: hadolint rules DL3003, DL3006/7, DL3008 (ignored with reason), DL3009, "
           "DL3014, DL3015, DL3020, DL3025, DL3027, DL4006 (DL3002, last USER not root: above)")
    hadolint = shutil.which("hadolint")
    if hadolint:
        result = run([hadolint, DOCKERFILE])
        if result.returncode != 0:
            fail("hadolint: %s" % (result.stdout + result.stderr).strip())
        else:
            ok("hadolint: clean")
    else:
        print("note: hadolint is not installed (Debian's archive has no package for it); used the rule subset above")
    shellcheck = shutil.which("shellcheck")
    scripts = sorted(os.path.relpath(p, SOURCE_DIR)
                     for p in glob.glob(os.path.join(SOURCE_DIR, "docker", "**", "*.sh"), recursive=True))
    if shellcheck and scripts:
        result = run([shellcheck] + scripts)
        if result.returncode != 0:
            fail("shellcheck %s:\n%s" % (" ".join(scripts), result.stdout.strip()))
        else:
            ok("shellcheck: %s" % " ".join(scripts))
    elif scripts:
        print("note: shellcheck not installed; docker/**/*.sh not linted")


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(SOURCE_DIR, "build", "dbrefresh")
    release = ""
    if os.path.exists("/etc/os-release"):
        with open("/etc/os-release") as f:
            m = re.search(r"^VERSION_CODENAME=(\S+)", f.read(), re.M)
            release = m.group(1) if m else ""
    if release != "bookworm" or not shutil.which("apt-cache") or not shutil.which("dpkg"):
        print("SKIP: this host is not Debian bookworm (%s): its packages say nothing about the image" % (release or "?"))
        return SKIP
    if not os.access(binary, os.X_OK):
        fail("no binary at %s (build it: make -C build dbrefresh)" % binary)
        return 1
    global_args, stages = parse_dockerfile(DOCKERFILE)
    build, runtime = check_stages(stages)
    if build is None:
        return 1
    if ensure_apt_lists():
        runtime_pkgs = check_packages(build, runtime, global_args)
        check_libraries(binary, runtime_pkgs)
        check_pg_client(runtime, runtime_pkgs, global_args)
    check_user_and_entrypoint(build, runtime)
    check_context(stages)
    check_lint(stages)
    print("%d failed" % len(failures) if failures else "Dockerfile checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

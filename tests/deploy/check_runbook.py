#!/usr/bin/env python3
"""Checks that the commands in docs/runbook.md can be pasted: they fit the manifests and the binary.

Usage: tests/deploy/check_runbook.py [PATH/TO/dbrefresh]   (run from the source root; default build/dbrefresh)

For every command in the runbook's code blocks:
  dbrefresh   every dbrefresh command line (typed locally, `kubectl exec ... -- dbrefresh ...`, `docker run
              IMAGE ...`, or given to docker/k8s/run-job.sh) parses with the binary's own option parser:
              not exit 2 against an unreachable server, exit 2 with an unknown option added, and every
              option it uses in the command's --help
  run-job.sh  the script itself runs (with a stand-in kubectl that serves the CronJob from docker/k8s/ and
              captures what would be created); the Job it makes carries exactly the given arguments
  names       the objects the kubectl commands name (cronjob/..., pod/..., job/..., container=..., the
              secrets, the exec'd pod) are the ones the manifests define; docker/ and tests/ paths exist;
              paths a command uses inside a pod are on one of that pod's volumes
  jq          every jq filter compiles and runs on a sample of the input it is given (real JSON log lines
              from the binary, a report shaped as src/refresh/refresh_report.cc writes it, a secret)
  exit codes  the runbook's exit code table has a row for every code in src/common/exit_code.h
"""
import copy
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_manifests as manifests  # noqa: E402  (shares the parse check and the loader)

SOURCE_DIR = os.getcwd()
RUNBOOK = os.path.join(SOURCE_DIR, "docs", "runbook.md")
SAMPLE_SNAPSHOT = "/var/lib/dbrefresh/snapshots/preprod-20250106T080000Z.db"
SHELL_VALUES = {
    "NS": "my-service-prod", "PREPROD_NS": "my-service-preprod", "REGISTRY": "registry.example.com/team",
    "TAG": "0.1.0", "JOB": "dbrefresh-manual-1700000000", "SNAP": SAMPLE_SNAPSHOT,
    "SEED": SAMPLE_SNAPSHOT[:-3] + ".seed.sql", "PWD": "/home/someone",
}

FAKE_KUBECTL = r'''#!/usr/bin/env python3
# Stand-in for kubectl: serves what docker/k8s/run-job.sh asks of a cluster, from the manifests.
import json, os, sys, yaml
argv = sys.argv[1:]
if argv[:1] == ["-n"]:
    argv = argv[2:]
if argv[:2] == ["create", "job"]:
    name = argv[2]
    source = [a for a in argv if a.startswith("--from=cronjob/")][0].split("/", 1)[1]
    assert "--dry-run=client" in argv and argv[argv.index("-o") + 1] == "json", argv
    for path in os.environ["FAKE_KUBECTL_MANIFESTS"].split(":"):
        for doc in yaml.safe_load_all(open(path)):
            if doc and doc.get("kind") == "CronJob" and doc["metadata"]["name"] == source:
                job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
                       "spec": doc["spec"]["jobTemplate"]["spec"]}
                print(json.dumps(job))
                sys.exit(0)
    print("Error from server (NotFound): cronjobs.batch \"%s\" not found" % source, file=sys.stderr)
    sys.exit(1)
if argv[:1] == ["patch"]:
    assert "--local" in argv and "--type=json" in argv, argv
    doc = json.load(open(argv[argv.index("-f") + 1]))
    ops = json.loads(argv[argv.index("-p") + 1])
    for op in ops:
        assert op["op"] == "replace", op
        keys = op["path"].strip("/").split("/")
        target = doc
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target[key]
        last = keys[-1]
        if isinstance(target, list):
            target[int(last)] = op["value"]
        else:
            target[last] = op["value"]
    print(json.dumps(doc))
    sys.exit(0)
if argv[:3] == ["create", "-f", "-"]:
    data = sys.stdin.read()
    with open(os.environ["FAKE_KUBECTL_OUT"], "a") as out:
        out.write(data.strip().replace("\n", " ") + "\n")
    print("job.batch/%s created" % json.loads(data)["metadata"]["name"])
    sys.exit(0)
print("fake kubectl: unexpected call %r" % (argv,), file=sys.stderr)
sys.exit(64)
'''


def fail(where, message):
    manifests.fail(where, message)


def ok(message):
    manifests.ok(message)


# ----------------------------------------------------------------------------------------------
# Reading the runbook.

def code_blocks(text):
    """[(first line number, [logical lines])] of the fenced shell blocks (no language, sh, bash);
    continuation lines joined."""
    blocks, current, start, in_block, language = [], [], 0, False, ""
    for number, line in enumerate(text.split("\n"), 1):
        if line.strip().startswith("```"):
            if in_block and language in ("", "sh", "bash", "shell"):
                blocks.append((start, current))
            if not in_block:
                language = line.strip()[3:].strip()
            in_block, current, start = not in_block, [], number + 1
            continue
        if in_block:
            current.append((number, line))
    out = []
    for start, lines in blocks:
        logical, pending, pending_line = [], "", 0
        for number, line in lines:
            if not pending:
                pending_line = number
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            logical.append((pending_line, (pending + line).strip()))
            pending = ""
        out.append((start, [(n, l) for n, l in logical if l and not l.startswith("#")]))
    return out


def expand(line):
    """Shell variables -> sample values; $(UPPER) (Kubernetes) kept; $(date ...) -> a number."""
    line = re.sub(r"\$\(date \+%s\)", "1700000000", line)
    return re.sub(r"\$\{?([A-Za-z_]\w*)\}?", lambda m: SHELL_VALUES.get(m.group(1), m.group(0)), line)


def words_of(line):
    try:
        return shlex.split(line, comments=True)
    except ValueError:
        return None  # not shell (e.g. an unbalanced quote in prose): nothing to check


def pipeline_parts(line):
    """Splits a command line at unquoted | (keeps quoted | of jq filters)."""
    parts, current, quote = [], "", None
    for c in line:
        if quote:
            current += c
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
            current += c
        elif c == "|":
            parts.append(current.strip())
            current = ""
        else:
            current += c
    parts.append(current.strip())
    return parts


# ----------------------------------------------------------------------------------------------
# The manifests, by name.

class Objects:
    def __init__(self):
        self.docs = [d for _, d in manifests.load_documents()]
        self.by_kind = {}
        for d in self.docs:
            self.by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
        self.secrets = set()
        for d in self.docs:
            pod = manifests.pod_spec_of(d)
            for c in (pod or {}).get("initContainers", []) + (pod or {}).get("containers", []):
                for e in c.get("env", []):
                    ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                    if ref:
                        self.secrets.add(ref["name"])

    def named(self, kind, name):
        return self.by_kind.get(kind, {}).get(name)

    def containers(self, kind, name):
        d = self.named(kind, name)
        pod = manifests.pod_spec_of(d) if d else None
        return {c["name"]: c for c in (pod or {}).get("initContainers", []) + (pod or {}).get("containers", [])}

    def cronjob_container(self):
        cronjob = next(iter(self.by_kind.get("CronJob", {}).values()))
        return manifests.pod_spec_of(cronjob)["containers"][0]


KIND_OF = {"cronjob": "CronJob", "job": "Job", "pod": "Pod", "pvc": "PersistentVolumeClaim",
           "persistentvolumeclaim": "PersistentVolumeClaim"}


def check_names(where, words, objects):
    if not words or words[0] != "kubectl":
        return
    for i, w in enumerate(words):
        m = re.match(r"^(?:--from=)?(cronjob|job|pod|pvc)/([\w.-]+)$", w)
        if m and "$" not in m.group(2):
            kind, name = KIND_OF[m.group(1)], m.group(2)
            if kind == "Job" and name.startswith("dbrefresh-manual-"):
                continue  # made from the CronJob by `create job --from`
            if not objects.named(kind, name):
                fail(where, "names %s/%s, which no manifest in docker/k8s defines" % (m.group(1), name))
        if w == "image" and i > 0 and words[i - 1] == "set" and i + 2 < len(words):
            kind_name, assignment = words[i + 1], words[i + 2]
            kind, _, name = kind_name.partition("/")
            container = assignment.split("=", 1)[0]
            if container not in objects.containers(KIND_OF.get(kind, kind), name):
                fail(where, "sets the image of container %s, which %s has not" % (container, kind_name))
    if "secret" in words:
        for w in words[words.index("secret") + 1:]:
            if w.startswith("-"):
                break
            if w not in objects.secrets and words[1:3] != ["-n", SHELL_VALUES["PREPROD_NS"]]:
                fail(where, "names secret %s, which the manifests do not read" % w)
    if "exec" in words:
        pod = next((w for w in words[words.index("exec") + 1:] if not w.startswith("-")), None)
        if pod and not objects.named("Pod", pod):
            fail(where, "execs into pod %s, which no manifest defines" % pod)


def check_paths(where, line):
    for path in re.findall(r"(?<![\w/])((?:docker|tests|docs|scripts)/[\w./-]+)", line):
        if not os.path.exists(os.path.join(SOURCE_DIR, path.rstrip("."))):
            fail(where, "mentions %s, which does not exist" % path)


# ----------------------------------------------------------------------------------------------
# dbrefresh command lines.

def dbrefresh_invocations(words, objects):
    """[(context container, argv starting with 'dbrefresh')] in one command."""
    found = []
    if words[0] == "dbrefresh":
        found.append((objects.cronjob_container(), words))
    if words[0] == "kubectl" and "exec" in words and "--" in words:
        after = words[words.index("--") + 1:]
        pod = next((w for w in words[words.index("exec") + 1:] if not w.startswith("-")), None)
        if after and after[0] == "dbrefresh" and objects.named("Pod", pod):
            found.append((list(objects.containers("Pod", pod).values())[0], after))
    if words[:2] == ["docker", "run"]:
        image = next((i for i, w in enumerate(words) if re.search(r"/dbrefresh:|^dbrefresh:", w)), None)
        if image is not None:
            found.append((objects.cronjob_container(), ["dbrefresh"] + words[image + 1:]))
    return found


def check_dbrefresh(where, context, argv, parser):
    container = copy.deepcopy(context)
    container["command"], container["args"] = argv, []
    parser.check_dbrefresh(where, container)
    for word in argv:
        if word.startswith("/var/lib/dbrefresh") or word.startswith("/tmp"):
            if not any(word.startswith(m["mountPath"].rstrip("/") + "/") for m in context.get("volumeMounts", [])):
                fail(where, "uses %s, which is on no volume of the pod" % word)


def check_run_job(where, words, objects, parser, fake_dir):
    out = os.path.join(fake_dir, "created.jsonl")
    if os.path.exists(out):
        os.remove(out)
    env = dict(os.environ, PATH=fake_dir + ":" + os.environ.get("PATH", ""), FAKE_KUBECTL_OUT=out,
               FAKE_KUBECTL_MANIFESTS=":".join(sorted(glob.glob(os.path.join(manifests.MANIFEST_DIR, "*.yaml")))))
    script = os.path.join(SOURCE_DIR, words[0])
    result = subprocess.run(["bash", script] + words[1:], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, timeout=60)
    if result.returncode != 0 or not os.path.exists(out):
        fail(where, "%s failed (exit %d): %s" % (words[0], result.returncode, (result.stderr or result.stdout).strip()[-300:]))
        return
    job = json.loads(open(out).read().splitlines()[-1])
    container = job["spec"]["template"]["spec"]["containers"][0]
    if container.get("args") != words[2:]:
        fail(where, "run-job.sh made args %r from %r" % (container.get("args"), words[2:]))
        return
    if not re.match(r"^dbrefresh-[\w-]+-\d+$", job["metadata"]["name"]) or len(job["metadata"]["name"]) > 63:
        fail(where, "run-job.sh named the Job %r" % job["metadata"]["name"])
    parser.check_dbrefresh(where + " (via run-job.sh)", container)


# ----------------------------------------------------------------------------------------------
# jq filters, on samples of what they read.

def sample_inputs(parser, objects):
    """Real JSON log lines of the binary (a failed connection), a plain stdout line, a report, a secret."""
    container = objects.cronjob_container()
    mounts = parser.mapped_mounts(container)
    env = parser.dummy_env(container, mounts)
    argv = parser.argv(container, env, mounts)
    argv[0] = parser.binary
    run = parser.run(argv, env)
    log = run.stderr + "snapshot     /var/lib/dbrefresh/snapshots/x.db\n"
    step = {"name": "snapshot", "status": "ok", "started_at": "2025-01-06T08:00:01Z", "seconds": 1.5,
            "warnings": ["w"], "counts": {}}
    table = {"table": "users", "inserted": 1, "updated": 0, "matched_by_key": 0, "already_present": 0,
             "to_seed_sql": 0, "columns_copied": ["id"], "columns_dropped": [], "columns_defaulted": []}
    report = {"dbrefresh_version": "0.1.0", "started_at": "t", "finished_at": "t", "exit_code": 0, "strategy": "schema",
              "source": "s", "target": "t", "steps": [step], "tables": [table], "snapshot": SAMPLE_SNAPSHOT,
              "seed_sql": None, "dropped_sql": None, "warnings": [], "error": None, "resume": None,
              "paths": {"snapshot": SAMPLE_SNAPSHOT, "seed_sql": None, "dropped_sql": None, "report": "r"}}
    with open(os.path.join(SOURCE_DIR, "src", "refresh", "refresh_report.cc")) as f:
        source = f.read()
    for key in ("exit_code", "steps", "tables", "snapshot", "seed_sql", "dropped_sql", "warnings", "error", "resume"):
        if '"%s"' % key not in source:
            fail("src/refresh/refresh_report.cc", "the report no longer has %s: update the runbook" % key)
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": "x", "uid": "u"},
              "data": {"database_name": "eA=="}}
    return {"log": log, "report": json.dumps(report), "secret": json.dumps(secret)}


def check_jq(where, line, samples):
    parts = pipeline_parts(line)
    for i, part in enumerate(parts):
        words = words_of(part)
        if not words or words[0] != "jq":
            continue
        previous = parts[i - 1] if i else ""
        source = "log" if " logs " in " %s " % previous else "secret" if " secret " in previous else "report"
        result = subprocess.run(words, input=samples[source], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, timeout=30)
        if result.returncode != 0:
            fail(where, "jq filter fails on a sample %s: %s" % (source, result.stderr.strip()[:200]))
        elif not result.stdout.strip():
            fail(where, "jq filter prints nothing for a sample %s" % source)
        else:
            ok("%s: jq on a sample %s: %s" % (where, source, result.stdout.strip().splitlines()[0][:100]))


def check_exit_codes(text):
    with open(os.path.join(SOURCE_DIR, "src", "common", "exit_code.h")) as f:
        codes = [int(c) for c in re.findall(r"k\w+\s*=\s*(\d+)", f.read())]
    missing = [c for c in codes if not re.search(r"^\|\s*%d\s*\|" % c, text, re.M)]
    if missing:
        fail("docs/runbook.md", "the exit code table has no row for %s" % ", ".join(map(str, missing)))
    else:
        ok("docs/runbook.md: exit code table covers %s" % ", ".join(map(str, codes)))


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(SOURCE_DIR, "build", "dbrefresh")
    if not os.access(binary, os.X_OK):
        print("FAIL: no binary at %s" % binary)
        return 1
    with open(RUNBOOK) as f:
        text = f.read()
    objects = Objects()
    parser = manifests.ParseRun(binary)
    fake_dir = tempfile.mkdtemp(prefix="dbrefresh-fake-kubectl-")
    with open(os.path.join(fake_dir, "kubectl"), "w") as f:
        f.write(FAKE_KUBECTL)
    os.chmod(os.path.join(fake_dir, "kubectl"), 0o755)
    have_jq = shutil.which("jq") is not None
    samples = sample_inputs(parser, objects) if have_jq else {}
    commands = run_jobs = 0
    for _, lines in code_blocks(text):
        for number, raw in lines:
            where = "docs/runbook.md:%d" % number
            check_paths(where, raw)
            line = expand(raw)
            assignment = re.match(r"^\w+=\$\((.*)\)$", line)
            if assignment:
                line = assignment.group(1)  # VAR=$(command): check the command
            if have_jq and "jq " in line:
                check_jq(where, line, samples)
            for part in pipeline_parts(line):
                words = words_of(part)
                if not words or re.match(r"^\w+=", words[0]):
                    continue
                check_names(where, words, objects)
                if words[0].endswith("run-job.sh"):
                    check_run_job(where, words, objects, parser, fake_dir)
                    run_jobs += 1
                for context, argv in dbrefresh_invocations(words, objects):
                    check_dbrefresh(where, context, argv, parser)
                    commands += 1
    # run-job.sh must pass any argument through unchanged: quotes, backslashes, spaces, $(VAR).
    tricky = ["docker/k8s/run-job.sh", "ns", "restore-users", '/var/lib/dbrefresh/a "b" \\ c\\d $(X).db',
              "--log-format", "json"]
    check_run_job("run-job.sh with quotes, backslashes and spaces", tricky, objects, parser, fake_dir)
    if not have_jq:
        print("note: jq not installed; the runbook's jq filters are not checked")
    check_exit_codes(text)
    shutil.rmtree(fake_dir, ignore_errors=True)
    shutil.rmtree(parser.tmp, ignore_errors=True)
    if commands + run_jobs == 0:
        fail("docs/runbook.md", "no dbrefresh command found")
    failures = manifests.failures
    print("%d failed" % len(failures) if failures else
          "runbook checks passed: %d dbrefresh command lines and %d run-job.sh calls parse" % (commands, run_jobs))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

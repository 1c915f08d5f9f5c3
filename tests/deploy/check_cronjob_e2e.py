#!/usr/bin/env python3
"""Runs the CronJob's own command line, as its pod would, against the two test clusters.

Usage: tests/deploy/check_cronjob_e2e.py [PATH/TO/dbrefresh]   (from the source root, with the
environment of `scripts/testbed.sh` sourced, as scripts/test.sh does; else it is skipped, exit 77)

From docker/k8s/cronjob.yaml it takes the container's args (with $(VAR) expanded as Kubernetes does),
its env (each secretKeyRef filled from a stand-in secret: the production one -> a fresh copy of the
"prod" test database, read through the read-only role; the preprod one -> a fresh copy of "preprod",
with every known failure of SPEC section 1 in it) and its volumes (temp directories). Three things
differ from the cluster, on purpose: DB_PORT / DB_PORT_PREPROD are added (RDS listens on 5432, the
test clusters do not), PGSSLMODE is `disable` (the test clusters have no TLS), and TMPDIR points at
the /tmp volume. Then it checks what the runbook promises:
  - exit 0 or 5; every stderr line is a JSON object with time, level and msg; steps 1/9 to 9/9 logged
  - on the volume: <db>-<time>.db (mode 0600), .report.json, .dropped.sql, and last-report.json with
    the same exit code; the report's paths are the files that exist
  - the runbook's next step (section 9/10) from the toolbox pod's env: `restore-users "$SNAP"
    --on-conflict update` exits 0 or 5, and a second run inserts nothing (idempotent)
  - the runbook's jq filters run on this real log and report
"""
import copy
import glob
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile


sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_manifests as manifests  # noqa: E402
import check_runbook as runbook  # noqa: E402

SKIP = 77
REQUIRED = ["DBREFRESH_TEST_HOST", "DBREFRESH_TEST_PROD_PORT", "DBREFRESH_TEST_PREPROD_PORT", "DBREFRESH_TEST_USER",
            "DBREFRESH_TEST_PASSWORD", "DBREFRESH_TEST_SUPERUSER", "DBREFRESH_TEST_SUPERPASSWORD",
            "DBREFRESH_TEST_READER", "DBREFRESH_TEST_READER_PASSWORD", "DBREFRESH_TEST_TEMPLATE"]


def fail(message):
    manifests.fail("cronjob end to end", message)


def ok(message):
    manifests.ok(message)


class Clusters:
    def __init__(self, env):
        self.env = env
        self.host = env["DBREFRESH_TEST_HOST"]
        self.ports = {"prod": env["DBREFRESH_TEST_PROD_PORT"], "preprod": env["DBREFRESH_TEST_PREPROD_PORT"]}
        bin_dir = env.get("DBREFRESH_TEST_PG_BIN") or "/usr/lib/postgresql/15/bin"
        self.psql = os.path.join(bin_dir, "psql") if os.path.exists(os.path.join(bin_dir, "psql")) else "psql"

    def super_sql(self, cluster, sql, db="postgres"):
        env = dict(os.environ, PGPASSWORD=self.env["DBREFRESH_TEST_SUPERPASSWORD"], PGSSLMODE="disable")
        return subprocess.run([self.psql, "-X", "-v", "ON_ERROR_STOP=1", "-At", "-h", self.host, "-p", self.ports[cluster],
                               "-U", self.env["DBREFRESH_TEST_SUPERUSER"], "-d", db, "-c", sql],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)

    def fresh(self, cluster, name):
        result = self.super_sql(cluster, 'CREATE DATABASE "%s" TEMPLATE "%s" OWNER "%s"'
                                % (name, self.env["DBREFRESH_TEST_TEMPLATE"], self.env["DBREFRESH_TEST_USER"]))
        if result.returncode != 0:
            raise RuntimeError("cannot create %s on %s: %s" % (name, cluster, result.stderr.strip()))

    def drop(self, cluster, name):
        self.super_sql(cluster, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)


def secrets_for(clusters, db):
    e = clusters.env
    return {
        "rds-postgresql-instance-output": {"rds_instance_address": clusters.host, "database_name": db,
                                           "database_username": e["DBREFRESH_TEST_READER"],
                                           "database_password": e["DBREFRESH_TEST_READER_PASSWORD"]},
        "rds-postgresql-instance-output-preprod": {"rds_instance_address": clusters.host, "database_name": db,
                                                   "database_username": e["DBREFRESH_TEST_USER"],
                                                   "database_password": e["DBREFRESH_TEST_PASSWORD"]},
    }


def pod_env(container, secrets, clusters, mounts):
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": mounts.get("/var/lib/dbrefresh", "/nonexistent"),
           "LANG": "C.UTF-8"}
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = str(e["value"])
            continue
        ref = e["valueFrom"]["secretKeyRef"]
        if ref["name"] not in secrets:
            raise RuntimeError("the manifest reads secret %s; this test knows %s" % (ref["name"], ", ".join(secrets)))
        env[e["name"]] = secrets[ref["name"]][ref["key"]]
    env.update({"DB_PORT": clusters.ports["prod"], "DB_PORT_PREPROD": clusters.ports["preprod"],
                "PGSSLMODE": "disable"})
    if "PGHOST" in env:
        env["PGPORT"] = clusters.ports["preprod"]
    if "/tmp" in mounts:
        env["TMPDIR"] = mounts["/tmp"]
    return env


def expand(word, env, mounts):
    word = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), word)
    for path in sorted(mounts, key=len, reverse=True):
        if word == path or word.startswith(path + "/"):
            return mounts[path] + word[len(path):]
    return word


def run(binary, container, env, mounts, extra=()):
    argv = [binary] + [expand(str(w), env, mounts) for w in container.get("args", [])] + list(extra)
    return subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=900)


def check_log(stderr):
    records = []
    for line in stderr.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            fail("a stderr line is not JSON (--log-format json): %s" % line[:160])
            continue
        if not {"time", "level", "msg"} <= set(record):
            fail("a log record lacks time/level/msg: %s" % line[:160])
        records.append(record)
    steps = [r["msg"] for r in records if re.match(r"^step \d+/\d+: ", r.get("msg", ""))]
    if not steps or not steps[0].startswith("step 1/9: guard") or not steps[-1].startswith("step 9/9"):
        fail("the log does not tell steps 1/9 to 9/9: %s" % steps)
    else:
        ok("log: %d JSON records; %s" % (len(records), ", ".join(s.split(": ", 1)[1] for s in steps)))
    return records


def check_volume(volume, db, exit_code):
    snapshots = os.path.join(volume, "snapshots")
    runs = sorted(glob.glob(os.path.join(snapshots, db + "-*.db")))
    if len(runs) != 1:
        fail("expected one snapshot %s-<time>.db in the snapshot dir, found %s" % (db, os.listdir(snapshots)))
        return None
    snap = runs[0]
    mode = stat.S_IMODE(os.stat(snap).st_mode)
    if mode != 0o600:
        fail("snapshot %s has mode %o, expected 600" % (snap, mode))
    stem = snap[:-3]
    for suffix in (".report.json", ".dropped.sql"):
        if not os.path.exists(stem + suffix):
            fail("no %s beside the snapshot" % (os.path.basename(stem) + suffix))
    last = os.path.join(volume, "last-report.json")
    if not os.path.exists(last):
        fail("no last-report.json (--report)")
        return snap
    report = json.load(open(last))
    if report.get("exit_code") != exit_code:
        fail("last-report.json says exit_code %r, the process exited %d" % (report.get("exit_code"), exit_code))
    for key in ("snapshot", "seed_sql", "dropped_sql"):
        if report.get(key) and not os.path.exists(report[key]):
            fail("the report's %s %s does not exist" % (key, report[key]))
    if report.get("snapshot") != snap:
        fail("the report's snapshot is %r, the file is %s" % (report.get("snapshot"), snap))
    ok("volume: %s (0600), .report.json, .dropped.sql%s, last-report.json (exit_code %d)"
       % (os.path.basename(snap), ", .seed.sql" if report.get("seed_sql") else "", exit_code))
    return snap


def check_restore_users_again(binary, objects, secrets, clusters, mounts, snap):
    toolbox = copy.deepcopy(list(objects.containers("Pod", "dbrefresh-toolbox").values())[0])
    env = pod_env(toolbox, secrets, clusters, mounts)
    volume = mounts["/var/lib/dbrefresh"]
    snap = "/var/lib/dbrefresh/" + os.path.relpath(snap, volume)  # the path as the pod sees it: `$SNAP`
    counts = []
    for attempt in (1, 2):
        toolbox["args"] = ["restore-users", snap, "--on-conflict", "update", "--json", "--log-format", "json"]
        result = run(binary, toolbox, env, mounts)
        if result.returncode not in (0, 5):
            fail("restore-users --on-conflict update (run %d) exited %d: %s"
                 % (attempt, result.returncode, result.stderr.strip()[-300:]))
            return
        tables = json.loads(result.stdout)["tables"]
        counts.append({t["table"]: t["inserted"] for t in tables})
    if any(counts[1].values()):
        fail("a second restore-users inserted rows again: %s" % counts[1])
    else:
        ok("restore-users from the kept snapshot with the toolbox's env: inserted %s, then nothing" % counts[0])


def check_runbook_jq(log_text, report_text):
    with open(runbook.RUNBOOK) as f:
        text = f.read()
    samples = {"log": log_text, "report": report_text, "secret": "{}"}
    checked = 0
    for _, lines in runbook.code_blocks(text):
        for number, raw in lines:
            line = runbook.expand(raw)
            assignment = re.match(r"^\w+=\$\((.*)\)$", line)
            line = assignment.group(1) if assignment else line
            if "jq " in line and " secret " not in line:
                runbook.check_jq("docs/runbook.md:%d (real output)" % number, line, samples)
                checked += 1
    return checked


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.getcwd(), "build", "dbrefresh")
    missing = [v for v in REQUIRED if not os.environ.get(v)]
    if missing:
        print("SKIP: no test clusters (%s unset): run through scripts/test.sh" % ", ".join(missing))
        return SKIP
    clusters = Clusters(os.environ)
    objects = runbook.Objects()
    cronjob = objects.cronjob_container()
    db = "deploy_e2e_%d" % os.getpid()
    tmp = tempfile.mkdtemp(prefix="dbrefresh-cronjob-e2e-")
    created = []
    try:
        for cluster in ("prod", "preprod"):
            clusters.fresh(cluster, db)
            created.append(cluster)
        mounts = {}
        for m in cronjob.get("volumeMounts", []):
            mounts[m["mountPath"].rstrip("/")] = os.path.join(tmp, m["name"])
            os.makedirs(mounts[m["mountPath"].rstrip("/")], mode=0o700, exist_ok=True)
        secrets = secrets_for(clusters, db)
        env = pod_env(cronjob, secrets, clusters, mounts)
        result = run(binary, cronjob, env, mounts)
        print("note: refresh exited %d; stdout: %s" % (result.returncode, " | ".join(result.stdout.strip().splitlines())))
        if result.returncode not in (0, 5):
            fail("the CronJob's refresh exited %d: %s" % (result.returncode, result.stderr.strip()[-600:]))
        check_log(result.stderr)
        volume = mounts.get("/var/lib/dbrefresh")
        snap = check_volume(volume, db, result.returncode) if volume else None
        if snap:
            check_restore_users_again(binary, objects, secrets, clusters, mounts, snap)
            last = os.path.join(volume, "last-report.json")
            if shutil.which("jq") and os.path.exists(last):
                check_runbook_jq(result.stderr + result.stdout, open(last).read())
    except RuntimeError as e:
        fail(str(e))
    finally:
        for cluster in created:
            clusters.drop(cluster, db)
        shutil.rmtree(tmp, ignore_errors=True)
    failures = manifests.failures
    print("%d failed" % len(failures) if failures else "the CronJob's command line refreshed the test preprod")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

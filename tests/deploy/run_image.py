#!/usr/bin/env python3
"""Runs the real dbrefresh image as docker/k8s's manifests run it, against the two test clusters.

Called by scripts/image-test.sh (which builds the image and starts the clusters); not a ctest test.
  run_image.py --image        prints the CronJob's image (the tag the script builds)
  run_image.py                runs every check; env: IMAGE_TEST_PODMAN (the podman command, a JSON list),
                              IMAGE_TEST_WORK (a scratch directory), DBREFRESH_TEST_* (scripts/testbed.sh's env),
                              IMAGE_TEST_PASSED / IMAGE_TEST_FAILED (the script's own counts, added to the total)

Each pod is taken from its manifest, not copied here: image, command, args ($(VAR) expanded as Kubernetes
does), env (each secretKeyRef filled from a stand-in secret pointing at a fresh copy of the test databases,
fieldRef metadata.name from the pod's name), the pod's runAsUser/runAsGroup/fsGroup, the container's
readOnlyRootFilesystem, capabilities, allowPrivilegeEscalation and memory limit, its volumeMounts (a host
directory per volume, shared by the pod's containers, owned by group fsGroup with the setgid bit as the
kubelet leaves it) and terminationGracePeriodSeconds. What the test clusters need otherwise is listed
("changed for the test clusters: ..."). Env reaches podman through an --env-file (mode 0600), so no
password is on a command line. Prints "ok:", "FAIL:" and "note:" lines, then "N passed, M failed".
"""
import json
import os
import re
import secrets as random_secrets
import shlex
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_cronjob_e2e as e2e  # noqa: E402
import check_manifests as manifests  # noqa: E402
import check_runbook as runbook  # noqa: E402

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
POLL = 0.2  # seconds between two looks at a condition


class Results:
    def __init__(self):
        self.passed = int(os.environ.get("IMAGE_TEST_PASSED", "0"))
        self.failed = int(os.environ.get("IMAGE_TEST_FAILED", "0"))

    def check(self, condition, what, detail=""):
        if condition:
            self.passed += 1
            print("ok: %s" % what, flush=True)
        else:
            self.failed += 1
            print("FAIL: %s%s" % (what, (": " + detail) if detail else ""), flush=True)
        return condition


def note(text):
    print("note: %s" % text, flush=True)


def wait_for(condition, timeout):
    """Polls `condition` until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL)


def memory_bytes(quantity):
    m = re.match(r"^(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?$", str(quantity))
    if not m:
        raise RuntimeError("cannot read the memory quantity %r" % quantity)
    scale = {None: 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
             "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}[m.group(2)]
    return int(m.group(1)) * scale


# ---------------------------------------------------------------------------------------------
# The clusters: fresh databases, people, locks.

class Clusters(e2e.Clusters):
    def sql(self, cluster, db, sql):
        result = self.super_sql(cluster, sql, db=db)
        if result.returncode != 0:
            raise RuntimeError("SQL on %s/%s failed: %s" % (cluster, db, result.stderr.strip()[-300:]))
        return result.stdout

    def people_or_error(self, db):
        try:
            return self.people(db)
        except RuntimeError as e:
            return e

    def people(self, db):
        """Every preprod person, role and qualification, by username (as the reliability tests count them)."""
        return {
            "users": set(self.sql("preprod", db, "SELECT delius_username FROM users").splitlines()),
            "roles": set(self.sql("preprod", db, "SELECT u.delius_username || '/' || r.role FROM user_role_assignments r "
                                                 "JOIN users u ON u.id = r.user_id").splitlines()),
            "quals": set(self.sql("preprod", db, "SELECT u.delius_username || '/' || q.qualification "
                                                 "FROM user_qualification_assignments q JOIN users u ON u.id = q.user_id")
                         .splitlines()),
        }

    def server_major(self, cluster):
        return int(self.sql(cluster, "postgres", "SHOW server_version_num").strip()) // 10000

    def hold_read_lock(self, db, table):
        """A session (psql on a pipe) holding a lock on `table` until release() is called on the result."""
        env = dict(os.environ, PGPASSWORD=self.env["DBREFRESH_TEST_SUPERPASSWORD"], PGSSLMODE="disable")
        p = subprocess.Popen([self.psql, "-X", "-q", "-At", "-h", self.host, "-p", self.ports["preprod"],
                              "-U", self.env["DBREFRESH_TEST_SUPERUSER"], "-d", db],
                             env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        p.stdin.write("BEGIN;\nSELECT 'locked', count(*) FROM %s;\n" % table)
        p.stdin.flush()
        line = p.stdout.readline()
        if not line.startswith("locked"):
            p.kill()
            raise RuntimeError("could not lock %s: %s" % (table, line.strip()))

        def release():
            p.stdin.write("COMMIT;\n")
            p.stdin.close()
            p.wait(timeout=60)
        return release


def compare_people(results, what, before, after):
    if isinstance(after, Exception):
        results.check(False, "%s: every preprod person is there" % what, "cannot count them: %s" % after)
        return
    missing = {k: sorted(before[k] - after[k]) for k in before}
    lost = {k: v[:5] for k, v in missing.items() if v}
    results.check(not lost, "%s: every preprod person is there (%d users, %d roles, %d qualifications)"
                  % (what, len(before["users"]), len(before["roles"]), len(before["quals"])),
                  "missing %s" % lost)


# ---------------------------------------------------------------------------------------------
# A pod of the manifests, run with podman.

class Pod:
    def __init__(self, podman, work, doc, secrets, clusters, name):
        self.podman, self.doc, self.secrets, self.clusters = podman, doc, secrets, clusters
        self.spec = manifests.pod_spec_of(doc)
        self.name = name
        self.dir = os.path.join(work, name)
        self.grace = int(self.spec.get("terminationGracePeriodSeconds", 30))
        self.volumes = {}
        pod_sc = self.spec.get("securityContext", {})
        self.fs_group = pod_sc.get("fsGroup")
        for v in self.spec.get("volumes", []):
            path = os.path.join(self.dir, v["name"])
            os.makedirs(path)
            # As the kubelet leaves a volume with fsGroup: group fsGroup, group-writable, setgid;
            # an emptyDir is world-writable (0777) to begin with, a fresh PVC's root is 0755.
            mode = 0o777 if "emptyDir" in v else 0o755
            if self.fs_group is not None:
                os.chown(path, 0, int(self.fs_group))
                mode |= 0o2070
            os.chmod(path, mode)
            self.volumes[v["name"]] = path
        self.env_dir = os.path.join(self.dir, "env")
        os.makedirs(self.env_dir, mode=0o700)
        self.said = set()

    def containers(self):
        return self.spec.get("initContainers", []) + self.spec.get("containers", [])

    def container(self, name=None):
        for c in self.containers():
            if name is None or c["name"] == name:
                return c
        raise RuntimeError("no container %s in the manifest" % name)

    def env_of(self, container):
        """The container's env as the kubelet makes it, and the changes the test clusters need."""
        env, side_of_var = {}, {}
        for e in container.get("env", []):
            if "value" in e:
                env[e["name"]] = str(e["value"])
                continue
            ref = e["valueFrom"]
            if "secretKeyRef" in ref:
                secret = ref["secretKeyRef"]
                if secret["name"] not in self.secrets:
                    raise RuntimeError("the manifest reads secret %s; this test knows %s"
                                       % (secret["name"], ", ".join(self.secrets)))
                env[e["name"]] = self.secrets[secret["name"]][secret["key"]]
                side_of_var[e["name"]] = "preprod" if secret["name"].endswith("-preprod") else "prod"
            elif ref.get("fieldRef", {}).get("fieldPath") == "metadata.name":
                env[e["name"]] = self.name
            else:
                raise RuntimeError("env %s: %s is not emulated" % (e["name"], ref))
        changes = []
        if "DB_HOST" in env:
            env["DB_PORT"] = self.clusters.ports["prod"]
            changes.append("DB_PORT=%s added (RDS listens on 5432)" % env["DB_PORT"])
        if "DB_HOST_PREPROD" in env:
            env["DB_PORT_PREPROD"] = self.clusters.ports["preprod"]
            changes.append("DB_PORT_PREPROD=%s added" % env["DB_PORT_PREPROD"])
        if "PGHOST" in env:
            env["PGPORT"] = self.clusters.ports[side_of_var.get("PGHOST", "prod")]
            changes.append("PGPORT=%s added" % env["PGPORT"])
        if env.get("PGSSLMODE", "disable") != "disable":
            changes.append("PGSSLMODE=disable instead of %s (no TLS on the test clusters)" % env["PGSSLMODE"])
            env["PGSSLMODE"] = "disable"
        return env, changes

    def args_of(self, container, env):
        def expand(word):  # Kubernetes: $(VAR) from the container's env, $$ is a literal $
            return re.sub(r"\$\$|\$\((\w+)\)",
                          lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), str(word))
        return [expand(w) for w in container.get("args", [])]

    def run_argv(self, container, cname, env, entrypoint=None, args=None, detach=False):
        sc_pod = self.spec.get("securityContext", {})
        sc = container.get("securityContext", {})
        argv = list(self.podman) + ["run", "--name", cname, "--hostname", self.name, "--network", "host",
                                    "--pull", "never", "--log-driver", "k8s-file"]
        if detach:
            argv.append("--detach")
        user = sc.get("runAsUser", sc_pod.get("runAsUser"))
        group = sc.get("runAsGroup", sc_pod.get("runAsGroup"))
        if user is not None:
            argv += ["--user", "%s:%s" % (user, group) if group is not None else str(user)]
        if self.fs_group is not None:
            argv += ["--group-add", str(self.fs_group)]
        if sc.get("readOnlyRootFilesystem"):
            argv += ["--read-only", "--read-only-tmpfs=false"]  # Kubernetes mounts no tmpfs of its own
        for cap in sc.get("capabilities", {}).get("drop", []):
            argv += ["--cap-drop", cap]
        for cap in sc.get("capabilities", {}).get("add", []):
            argv += ["--cap-add", cap]
        if sc.get("allowPrivilegeEscalation") is False:
            argv += ["--security-opt", "no-new-privileges"]
        limit = container.get("resources", {}).get("limits", {}).get("memory")
        if limit:
            argv += ["--memory", str(memory_bytes(limit)), "--memory-swap", str(memory_bytes(limit))]
        for m in container.get("volumeMounts", []):
            argv += ["--volume", "%s:%s%s" % (self.volumes[m["name"]], m["mountPath"], ":ro" if m.get("readOnly") else "")]
        env_file = os.path.join(self.env_dir, cname)
        fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            for k, v in env.items():
                f.write("%s=%s\n" % (k, v))
        argv += ["--env-file", env_file]
        command = entrypoint if entrypoint is not None else container.get("command")
        if command:
            argv += ["--entrypoint", json.dumps([str(c) for c in command])]
        argv.append(container["image"])
        argv += self.args_of(container, env) if args is None else args
        return argv

    def say_changes(self, container, changes):
        if container["name"] not in self.said:
            self.said.add(container["name"])
            note("%s/%s: changed for the test clusters: %s" % (self.name, container["name"],
                                                                "; ".join(changes) if changes else "nothing"))

    def run(self, container, cname, entrypoint=None, args=None, env_update=None, timeout=900):
        env, changes = self.env_of(container)
        env.update(env_update or {})
        self.say_changes(container, changes)
        argv = self.run_argv(container, cname, env, entrypoint, args)
        try:
            return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
        finally:
            subprocess.run(list(self.podman) + ["rm", "--force", "--ignore", cname],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self, container, cname):
        env, changes = self.env_of(container)
        self.say_changes(container, changes)
        result = subprocess.run(self.run_argv(container, cname, env, detach=True),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError("podman run --detach failed: %s" % result.stderr.strip()[-400:])
        return Running(self.podman, cname)

    def volume_path(self, container, path):
        """The host path of `path` as `container` sees it."""
        for m in sorted(container.get("volumeMounts", []), key=lambda m: len(m["mountPath"]), reverse=True):
            mount = m["mountPath"].rstrip("/")
            if path == mount or path.startswith(mount + "/"):
                return self.volumes[m["name"]] + path[len(mount):]
        return None


class Running:
    """A detached container: its log read as it grows, stopped and waited for."""

    def __init__(self, podman, name):
        self.podman, self.name = podman, name

    def logs(self):
        r = subprocess.run(list(self.podman) + ["logs", self.name], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=60)
        return r.stdout, r.stderr

    def state(self):
        r = subprocess.run(list(self.podman) + ["inspect", "--format", "{{.State.Status}}", self.name],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=60)
        return r.stdout.strip()

    def stop(self, grace):
        return subprocess.run(list(self.podman) + ["stop", "--time", str(grace), self.name],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=grace + 60)

    def wait(self):
        r = subprocess.run(list(self.podman) + ["wait", self.name], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=900)
        return int(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else -1

    def remove(self):
        subprocess.run(list(self.podman) + ["rm", "--force", "--ignore", self.name],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def json_records(stderr):
    records = []
    for line in stderr.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            records.append({"level": "?", "msg": line})
    return records


def step_lines(stderr):
    return [r.get("msg", "") for r in json_records(stderr) if re.match(r"^step \d+/\d+: ", r.get("msg", ""))]


def tail(text, n=6):
    return " | ".join(text.strip().splitlines()[-n:])


# ---------------------------------------------------------------------------------------------
# The scenarios.

class ImageTest:
    def __init__(self):
        self.results = Results()
        self.podman = json.loads(os.environ["IMAGE_TEST_PODMAN"])
        self.work = os.environ["IMAGE_TEST_WORK"]
        self.clusters = Clusters(os.environ)
        self.objects = runbook.Objects()
        self.created = []
        self.run_id = "%d" % os.getpid()

    # -- helpers --

    def fresh_pair(self, label):
        db = "image_%s_%s" % (label, self.run_id)
        for cluster in ("prod", "preprod"):
            self.clusters.fresh(cluster, db)
            self.created.append((cluster, db))
        return db

    def drop_all(self):
        for cluster, db in self.created:
            self.clusters.drop(cluster, db)

    def cronjob_pod(self, db, label, secrets=None):
        cronjob = next(iter(self.objects.by_kind["CronJob"].values()))
        return Pod(self.podman, self.work, cronjob, secrets or e2e.secrets_for(self.clusters, db), self.clusters,
                   "dbrefresh-%s-%s" % (label, self.run_id))

    def no_password(self, what, text, extra=()):
        env = self.clusters.env
        words = [env["DBREFRESH_TEST_PASSWORD"], env["DBREFRESH_TEST_READER_PASSWORD"],
                 env["DBREFRESH_TEST_SUPERPASSWORD"]] + list(extra)
        leaked = [i for i, w in enumerate(words) if w and w in text]
        self.results.check(not leaked, "%s: no password in the container's output" % what,
                           "password number %s of the test's found" % leaked)

    def check_refresh_run(self, what, pod, container, result, db, people_before, runs_expected):
        r = self.results
        ok = r.check(result.returncode in (0, 5), "%s: exit %d" % (what, result.returncode), tail(result.stderr))
        steps = step_lines(result.stderr)
        r.check(bool(steps) and steps[0].startswith("step 1/") and steps[-1].startswith("step 9/9"),
                "%s: the log tells steps 1/9 to 9/9 as JSON lines" % what, "steps: %s" % steps)
        self.no_password(what, result.stdout + result.stderr)
        compare_people(r, what, people_before, self.clusters.people_or_error(db))
        snapshots_dir = pod.volume_path(container, "/var/lib/dbrefresh/snapshots")
        snaps = sorted(f for f in os.listdir(snapshots_dir) if f.endswith(".db")) if os.path.isdir(snapshots_dir) else []
        r.check(len(snaps) == runs_expected, "%s: %d snapshot(s) on the volume" % (what, runs_expected), "found %s" % snaps)
        report_path = pod.volume_path(container, "/var/lib/dbrefresh/last-report.json")
        report = json.load(open(report_path)) if os.path.exists(report_path) else {}
        r.check(report.get("exit_code") == result.returncode,
                "%s: last-report.json on the volume, exit_code %s" % (what, report.get("exit_code")))
        paths = report.get("paths") or {k: report.get(k) for k in ("snapshot", "seed_sql", "dropped_sql")}
        missing = [p for p in paths.values() if p and not os.path.exists(pod.volume_path(container, p) or "/nonexistent")]
        r.check(paths.get("snapshot") and not missing, "%s: the report's files exist on the volume" % what,
                "missing %s" % missing)
        return ok

    # -- the CronJob --

    def cronjob(self):
        db = self.fresh_pair("cron")
        pod = self.cronjob_pod(db, "cron")
        container = pod.container()
        people = self.clusters.people(db)
        note("cronjob: preprod %s holds %d people; image %s; args %s"
             % (db, len(people["users"]), container["image"], " ".join(pod.args_of(container, pod.env_of(container)[0]))))
        for attempt in (1, 2):
            what = "cronjob run %d (same volume)" % attempt
            result = pod.run(container, "%s-%d" % (pod.name, attempt))
            if not self.check_refresh_run(what, pod, container, result, db, people, attempt):
                return
        self.memory_limit(pod, container)

    def memory_limit(self, pod, container):
        limit = container.get("resources", {}).get("limits", {}).get("memory")
        script = ("cat /sys/fs/cgroup/memory.max 2>/dev/null && echo v2 || "
                  "{ cat /sys/fs/cgroup/memory/memory.limit_in_bytes && echo v1; }")
        result = pod.run(container, pod.name + "-memory", entrypoint=["sh", "-c"], args=[script])
        words = result.stdout.split()
        if result.returncode != 0 or len(words) != 2:
            self.results.check(False, "memory limit: read the container's cgroup", tail(result.stdout + result.stderr))
            return
        value, version = words
        expected = str(memory_bytes(limit))
        if value == expected:
            self.results.check(True, "memory limit %s applies inside the container (cgroup %s %s = %s)"
                               % (limit, version, "memory.max" if version == "v2" else "memory.limit_in_bytes", value))
        else:
            note("memory limit %s does NOT apply on this machine: the container's cgroup %s says %s "
                 "(memory.max is cgroup v2's file; this host has %s)" % (limit, version, value, version))

    # -- versions --

    def versions(self):
        container = next(iter(self.objects.by_kind["CronJob"].values()))
        image = manifests.pod_spec_of(container)["containers"][0]["image"]
        def run(program, *args):
            r = subprocess.run(list(self.podman) + ["run", "--rm", "--network", "host", "--pull", "never", "--entrypoint",
                                                    program, image] + list(args),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
            return r.stdout.strip() or r.stderr.strip()
        version = open(os.path.join(SOURCE_DIR, "CMakeLists.txt")).read()
        source_version = re.search(r"project\(dbrefresh VERSION ([\d.]+)", version).group(1)
        dbrefresh = run("dbrefresh", "--version")
        self.results.check(dbrefresh == "dbrefresh " + source_version,
                           "image's dbrefresh --version: %s (source %s)" % (dbrefresh, source_version))
        servers = {c: self.clusters.server_major(c) for c in ("prod", "preprod")}
        for program in ("pg_dump", "pg_restore", "psql"):
            text = run(program, "--version")
            m = re.search(r"\(PostgreSQL\) (\d+)", text)
            major = int(m.group(1)) if m else 0
            self.results.check(major >= max(servers.values()), "image's %s: %s; servers: prod %d, preprod %d"
                               % (program, text, servers["prod"], servers["preprod"]))

    # -- a wrong password --

    def wrong_password(self):
        db = self.fresh_pair("pw")
        secrets = e2e.secrets_for(self.clusters, db)
        wrong = "Wr0ng-" + random_secrets.token_hex(8)
        secrets["rds-postgresql-instance-output"]["database_password"] = wrong
        pod = self.cronjob_pod(db, "pw", secrets)
        result = pod.run(pod.container(), pod.name)
        self.results.check(result.returncode == 3, "wrong password in the production secret: exit %d (documented: 3)"
                           % result.returncode, tail(result.stderr))
        self.no_password("wrong password", result.stdout + result.stderr, [wrong])

    # -- stopped runs --

    def stopped(self, label, step, hold):
        """Stops the CronJob's container during `step` (held there by `hold`), then resumes with the same command."""
        r = self.results
        db = self.fresh_pair(label)
        pod = self.cronjob_pod(db, label)
        container = pod.container()
        people = self.clusters.people(db)
        what = "stopped during %s" % step
        release = hold(db)
        running = pod.start(container, pod.name + "-stopped")
        try:
            reached = wait_for(lambda: any(s.split(": ", 1)[1].startswith(step) for s in step_lines(running.logs()[1])
                                           if ": " in s) and self.held(db), 300)
            if not r.check(reached, "%s: the run reached the step and waits there" % what,
                           "state %s; log: %s" % (running.state(), tail(running.logs()[1]))):
                return
            stop = running.stop(pod.grace)
            code = running.wait()
            out, err = running.logs()
        finally:
            release()
            running.remove()
        r.check(stop.returncode == 0 and code not in (137, -1),
                "%s: podman stop -t %d ended it with SIGTERM (exit %d), no SIGKILL needed" % (what, pod.grace, code),
                stop.stderr.strip())
        last = json_records(err)[-1] if err.strip() else {}
        r.check(last.get("level") == "error" and "interrupted" in last.get("msg", ""),
                "%s: the last log line says it was interrupted and what resumes it" % what, json.dumps(last)[:400])
        note("%s: exit %d, last line: %s" % (what, code, last.get("msg", "")[:300]))
        self.no_password(what, out + err)
        snapshots_dir = pod.volume_path(container, "/var/lib/dbrefresh/snapshots")
        snaps = [f for f in os.listdir(snapshots_dir) if f.endswith(".db")] if os.path.isdir(snapshots_dir) else []
        r.check(len(snaps) == 1, "%s: the snapshot is kept on the volume" % what, "found %s" % snaps)
        result = pod.run(container, pod.name + "-resume")
        if not r.check(result.returncode in (0, 5), "%s: the same container command resumes: exit %d"
                       % (what, result.returncode), tail(result.stderr, 2)):
            # What the last line names instead (the runbook's resume), to tell a lost person from a refusal.
            at = last.get("msg", "").rfind(": dbrefresh ")
            if at < 0:
                return
            args = shlex.split(last["msg"][at + len(": dbrefresh "):])
            note("%s: resuming with the command the last line names instead: dbrefresh %s" % (what, " ".join(args)))
            result = pod.run(container, pod.name + "-resume2", args=args)
            r.check(result.returncode in (0, 5), "%s: the command the last line names resumes: exit %d"
                    % (what, result.returncode), tail(result.stderr, 2))
        compare_people(r, what + ", then resumed", people, self.clusters.people_or_error(db))

    def held(self, db):
        """A session of the run is waiting (on the lock this test holds, or in the restore's pg_sleep)."""
        rows = self.clusters.sql("preprod", "postgres",
                                 "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' AND "
                                 "(wait_event_type = 'Lock' OR wait_event = 'PgSleep')" % db)
        return int(rows.strip() or 0) > 0

    def hold_clear(self, db):
        return self.clusters.hold_read_lock(db, "users")

    def hold_restore(self, db):
        # An event trigger holds pg_restore (only pg_restore creates public.users) in pg_sleep until cancelled.
        self.clusters.sql("preprod", db, """
            CREATE SCHEMA image_test_hold;
            CREATE FUNCTION image_test_hold.hold() RETURNS event_trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() WHERE object_identity = 'public.users') THEN
                PERFORM pg_sleep(300);
              END IF;
            END $$;
            CREATE EVENT TRIGGER image_test_hold ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
              EXECUTE FUNCTION image_test_hold.hold();""")

        def release():
            self.clusters.sql("preprod", db, "DROP EVENT TRIGGER image_test_hold; DROP SCHEMA image_test_hold CASCADE")
        return release

    # -- the pipeline-steps Job --

    def pipeline(self):
        r = self.results
        db = self.fresh_pair("pipe")
        scenario = os.path.join(SOURCE_DIR, "testdata", "scenarios", "no-blocking-objects.sql")
        self.clusters.sql("preprod", db, open(scenario).read())
        note("pipeline: preprod after testdata/scenarios/no-blocking-objects.sql (today's pg_restore --clean, the "
             "manifest's step 3, fails on the objects it removes, as the manifest says)")
        job = self.objects.named("Job", "dbrefresh-pipeline")
        pod = Pod(self.podman, self.work, job, e2e.secrets_for(self.clusters, db), self.clusters,
                  "dbrefresh-pipeline-%s" % self.run_id)
        people = self.clusters.people(db)
        for container in pod.containers():
            result = pod.run(container, "%s-%s" % (pod.name, container["name"]))
            allowed = (0, 5) if container is pod.containers()[-1] else (0,)
            self.no_password("pipeline %s" % container["name"], result.stdout + result.stderr)
            if not r.check(result.returncode in allowed, "pipeline %s: exit %d" % (container["name"], result.returncode),
                           tail(result.stderr)):
                return  # as Kubernetes: a failed init container stops the pod
        snapshot = pod.volume_path(pod.container("dbrefresh-snapshot"), "/var/lib/dbrefresh/pipeline-%s.db" % pod.name)
        r.check(os.path.exists(snapshot), "pipeline: the snapshot pipeline-<pod>.db is on the volume")
        compare_people(r, "pipeline", people, self.clusters.people_or_error(db))

    def run_all(self):
        scenarios = [("versions", self.versions), ("cronjob", self.cronjob), ("pipeline", self.pipeline),
                     ("wrong password", self.wrong_password),
                     ("stop during clear", lambda: self.stopped("stopclear", "clear", self.hold_clear)),
                     ("stop during restore", lambda: self.stopped("stoprestore", "restore", self.hold_restore))]
        only = os.environ.get("IMAGE_TEST_ONLY")
        try:
            for name, scenario in scenarios:
                if only and name not in only.split(","):
                    continue
                started = time.monotonic()
                try:
                    scenario()
                except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as e:
                    self.results.check(False, name, "%s: %s" % (type(e).__name__, e))
                note("%s took %.0f s" % (name, time.monotonic() - started))
        finally:
            self.drop_all()
        print("%d passed, %d failed" % (self.results.passed, self.results.failed), flush=True)
        return 1 if self.results.failed else 0


def main():
    if sys.argv[1:] == ["--image"]:
        print(runbook.Objects().cronjob_container()["image"])
        return 0
    return ImageTest().run_all()


if __name__ == "__main__":
    sys.exit(main())

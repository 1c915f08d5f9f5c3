#!/usr/bin/env python3
"""Checks every Kubernetes manifest in docker/k8s/ against the dbrefresh binary it runs.

Usage: tests/deploy/check_manifests.py [PATH/TO/dbrefresh]   (run from the source root; default build/dbrefresh)

For every YAML document (duplicate keys are an error: PyYAML alone would keep the last one):
  shape       known kinds and apiVersions; the fields of CronJob, Job, Pod, Container, ... are ones
              Kubernetes has (catches a misspelt `activeDeadlineSecond` that kubectl might only warn about)
  CronJob     schedule "0 8 * * 1", concurrencyPolicy Forbid, backoffLimit 0, activeDeadlineSeconds,
              restartPolicy Never; every Job likewise backoffLimit 0, a deadline, restartPolicy Never
  pods        non-root (runAsNonRoot, runAsUser 10001 = the image's user, fsGroup for the volume),
              every container with cpu/memory requests and a memory limit, no privilege escalation;
              every volumeMount names a volume; every PVC claim is one defined in docker/k8s/
  env         every variable on a dbrefresh container is one the binary reads (DBREFRESH_*_URL,
              DB_HOST/PORT/NAME/USER/PASS[_PREPROD], TMPDIR, libpq's PG* variables as libpq.so.5
              itself lists them) or one that only feeds a $(VAR) in that container's args; on a
              pg_dump/pg_restore/psql container, only libpq's variables
  secrets     secretKeyRef keys are the four of the RDS secrets, each into the matching variable
              (rds_instance_address -> *HOST, database_name -> *NAME/PGDATABASE, ...); the source
              (DB_*) and the target (DB_*_PREPROD) come from two different secrets, each from one
  args        every $(VAR) refers to a variable the container defines; refresh has --confirm-target
              $(DB_NAME_PREPROD), --keep-snapshots, --report, --snapshot-dir on a PVC, --log-format json
  parser      each dbrefresh command line parses with the binary's own option parser: run with the
              manifest's args ($(VAR) replaced by dummies, mount paths by temp dirs) and env (secrets
              replaced by dummies, the server 127.0.0.1 port 1: unreachable), the exit code must not
              be 2 (usage); the same args plus an unknown option must give 2 (so the parser is strict);
              every option used appears in `dbrefresh <command> --help`. pg_dump / pg_restore
              containers' options are checked against the installed client's parser likewise
  two-step    the pipeline Job takes `snapshot` in an init container before `restore-users`, both on
              the same file on the same PVC
"""
import ctypes
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

SOURCE_DIR = os.getcwd()
MANIFEST_DIR = os.path.join(SOURCE_DIR, "docker", "k8s")
RUNTIME_UID = 10001
SECRET_KEYS = {"rds_instance_address": "HOST", "database_name": "NAME", "database_username": "USER",
               "database_password": "PASS"}
LIBPQ_KEY_VARS = {"HOST": "PGHOST", "NAME": "PGDATABASE", "USER": "PGUSER", "PASS": "PGPASSWORD"}
PG_CLIENT_PROGRAMS = ("pg_dump", "pg_restore", "psql")

failures = []


def fail(where, message):
    failures.append(message)
    print("FAIL: %s: %s" % (where, message))


def ok(message):
    print("ok:   " + message)


# ----------------------------------------------------------------------------------------------
# What the binary reads.

def libpq_env_vars():
    """The environment variables libpq reads, as libpq itself lists them (PQconndefaults), plus
    the few it documents outside the connection options."""
    names = {"PGSERVICEFILE", "PGSYSCONFDIR", "PGDATESTYLE", "PGTZ", "PGGEQO", "PGLOCALEDIR", "PGREQUIRESSL"}

    class Option(ctypes.Structure):
        _fields_ = [("keyword", ctypes.c_char_p), ("envvar", ctypes.c_char_p), ("compiled", ctypes.c_char_p),
                    ("val", ctypes.c_char_p), ("label", ctypes.c_char_p), ("dispchar", ctypes.c_char_p),
                    ("dispsize", ctypes.c_int)]
    try:
        libpq = ctypes.CDLL("libpq.so.5")
    except OSError as e:
        fail("libpq", "cannot load libpq.so.5 to list its variables: %s" % e)
        return names
    libpq.PQconndefaults.restype = ctypes.POINTER(Option)
    options = libpq.PQconndefaults()
    i = 0
    while options[i].keyword:
        if options[i].envvar:
            names.add(options[i].envvar.decode())
        i += 1
    libpq.PQconninfoFree(options)
    return names


def dbrefresh_env_vars():
    """The variables src/connect/connection_spec.cc builds connections from, checked against the source
    so that a rename there fails here; TMPDIR for the dump's scratch directory (std::filesystem)."""
    base = ["DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASS"]
    urls = ["DBREFRESH_SOURCE_URL", "DBREFRESH_TARGET_URL"]
    with open(os.path.join(SOURCE_DIR, "src", "connect", "connection_spec.cc")) as f:
        source = f.read()
    for name in base + urls + ["_PREPROD"]:
        if '"%s' % name not in source:
            fail("src/connect/connection_spec.cc", "no longer mentions %s: update this check and the manifests" % name)
    scratch = os.path.join(SOURCE_DIR, "src", "refresh", "scratch_dir.cc")
    if os.path.exists(scratch) and "temp_directory_path" not in open(scratch).read():
        fail("src/refresh/scratch_dir.cc", "no longer uses temp_directory_path (TMPDIR)")
    return set(base + [b + "_PREPROD" for b in base] + urls + ["TMPDIR"])


# ----------------------------------------------------------------------------------------------
# Loading.

class UniqueKeyLoader(yaml.SafeLoader):
    pass


def construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, "duplicate key %r" % key, key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping_original(node, deep)


UniqueKeyLoader.construct_mapping_original = yaml.SafeLoader.construct_mapping
UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)


def load_documents():
    docs = []
    files = sorted(glob.glob(os.path.join(MANIFEST_DIR, "*.yaml")) + glob.glob(os.path.join(MANIFEST_DIR, "*.yml")))
    if not files:
        fail("docker/k8s", "no manifests")
    for path in files:
        rel = os.path.relpath(path, SOURCE_DIR)
        try:
            with open(path) as f:
                for n, doc in enumerate(yaml.load_all(f, Loader=UniqueKeyLoader)):
                    if doc is not None:
                        docs.append(("%s#%d" % (rel, n + 1) if n else rel, doc))
        except yaml.YAMLError as e:
            fail(rel, "not valid YAML: %s" % e)
    return docs


# ----------------------------------------------------------------------------------------------
# Shape: the fields Kubernetes (batch/v1, core/v1) defines at each level these manifests use.

KNOWN_FIELDS = {
    "object": {"apiVersion", "kind", "metadata", "spec"},
    "metadata": {"name", "namespace", "labels", "annotations", "generateName"},
    "cronjob.spec": {"schedule", "timeZone", "concurrencyPolicy", "startingDeadlineSeconds", "suspend",
                     "successfulJobsHistoryLimit", "failedJobsHistoryLimit", "jobTemplate"},
    "jobtemplate": {"metadata", "spec"},
    "job.spec": {"backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished", "completions", "parallelism",
                 "template", "suspend", "podFailurePolicy", "backoffLimitPerIndex", "completionMode", "selector",
                 "manualSelector", "podReplacementPolicy", "maxFailedIndexes"},
    "podtemplate": {"metadata", "spec"},
    "pod.spec": {"restartPolicy", "securityContext", "containers", "initContainers", "volumes", "serviceAccountName",
                 "automountServiceAccountToken", "terminationGracePeriodSeconds", "nodeSelector", "affinity",
                 "tolerations", "imagePullSecrets", "priorityClassName", "activeDeadlineSeconds",
                 "enableServiceLinks", "topologySpreadConstraints", "dnsPolicy", "hostname", "shareProcessNamespace"},
    "pod.securityContext": {"runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup", "fsGroupChangePolicy",
                            "seccompProfile", "supplementalGroups", "sysctls", "seLinuxOptions"},
    "container": {"name", "image", "imagePullPolicy", "command", "args", "env", "envFrom", "resources",
                  "securityContext", "volumeMounts", "workingDir", "restartPolicy", "stdin", "tty",
                  "terminationMessagePolicy", "terminationMessagePath", "ports", "lifecycle"},
    "container.securityContext": {"allowPrivilegeEscalation", "readOnlyRootFilesystem", "runAsNonRoot",
                                  "runAsUser", "runAsGroup", "capabilities", "privileged", "seccompProfile"},
    "env": {"name", "value", "valueFrom"},
    "valueFrom": {"secretKeyRef", "configMapKeyRef", "fieldRef", "resourceFieldRef"},
    "resources": {"requests", "limits", "claims"},
    "volumeMount": {"name", "mountPath", "readOnly", "subPath", "subPathExpr", "mountPropagation"},
    "volume": {"name", "persistentVolumeClaim", "emptyDir", "secret", "configMap", "projected", "ephemeral"},
    "pvc.spec": {"accessModes", "resources", "storageClassName", "volumeMode", "volumeName", "selector", "dataSource"},
}
KINDS = {"CronJob": "batch/v1", "Job": "batch/v1", "Pod": "v1", "PersistentVolumeClaim": "v1"}


def known(where, obj, level):
    if not isinstance(obj, dict):
        fail(where, "%s is not a mapping" % level)
        return {}
    for key in obj:
        if key not in KNOWN_FIELDS[level]:
            fail(where, "unknown field %r in %s" % (key, level))
    return obj


# ----------------------------------------------------------------------------------------------
# Containers.

def effective_command(container):
    """The argv the container runs: the image's ENTRYPOINT is dbrefresh unless command overrides it."""
    command = container.get("command") or ["dbrefresh"]
    return [str(x) for x in command] + [str(x) for x in container.get("args", [])]


def is_dbrefresh_image(container):
    return re.search(r"(^|/)dbrefresh(:|@|$)", str(container.get("image", ""))) is not None


def referenced_vars(container):
    refs = set()
    for word in effective_command(container):
        refs |= set(re.findall(r"\$\((\w+)\)", word))
    return refs


def side_of(var):
    """('source'|'target', 'HOST'|'NAME'|...) for DB_* / PG* variables, else None."""
    m = re.match(r"^DB_(HOST|NAME|USER|PASS|PORT)(_PREPROD)?$", var)
    if m:
        return ("target" if m.group(2) else "source"), m.group(1)
    for part, pg in LIBPQ_KEY_VARS.items():
        if var == pg:
            return "libpq", part
    return None


def check_env(where, container, allowed_dbrefresh, allowed_libpq, program, secrets_by_side):
    names = [e.get("name") for e in container.get("env", [])]
    for e in container.get("env", []):
        known(where, e, "env")
    for dup in {n for n in names if names.count(n) > 1}:
        fail(where, "env %s set twice" % dup)
    refs = referenced_vars(container)
    allowed = allowed_libpq | (allowed_dbrefresh if program == "dbrefresh" else set())
    for e in container.get("env", []):
        name = e["name"]
        if name not in allowed and name not in refs:
            reader = "dbrefresh" if program == "dbrefresh" else program + " (libpq)"
            fail(where, "env %s is not a variable %s reads (nor used in a $(VAR) of its args)" % (name, reader))
        ref = (e.get("valueFrom") or {})
        if ref:
            known(where, ref, "valueFrom")
        secret = ref.get("secretKeyRef")
        if secret is None:
            continue
        key = secret.get("key")
        if key not in SECRET_KEYS:
            fail(where, "env %s takes secret key %r; the RDS secrets have %s" % (name, key, ", ".join(sorted(SECRET_KEYS))))
            continue
        side = side_of(name)
        if side is None or side[1] != SECRET_KEYS[key]:
            holds = {"HOST": "host", "NAME": "database name", "USER": "user name", "PASS": "password"}[SECRET_KEYS[key]]
            fail(where, "env %s takes secret key %s, which holds the %s" % (name, key, holds))
            continue
        side_name = side[0] if side[0] != "libpq" else "libpq:" + where
        secrets_by_side.setdefault(side_name, set()).add(secret.get("name"))
    for ref in sorted(refs):
        if ref not in names:
            fail(where, "$(%s) in args, but the container defines no %s: Kubernetes would pass it literally" % (ref, ref))


def check_container_basics(where, container, volumes):
    known(where, container, "container")
    resources = known(where, container.get("resources", {}), "resources")
    requests, limits = resources.get("requests", {}), resources.get("limits", {})
    for r in ("cpu", "memory"):
        if r not in requests:
            fail(where, "no %s request" % r)
    if "memory" not in limits:
        fail(where, "no memory limit")
    sc = known(where, container.get("securityContext", {}), "container.securityContext")
    if sc.get("allowPrivilegeEscalation") is not False:
        fail(where, "securityContext.allowPrivilegeEscalation is not false")
    if sc.get("runAsUser", RUNTIME_UID) == 0:
        fail(where, "runs as root")
    for mount in container.get("volumeMounts", []):
        known(where, mount, "volumeMount")
        if mount.get("name") not in volumes:
            fail(where, "volumeMount %s names no volume of the pod" % mount.get("name"))


# ----------------------------------------------------------------------------------------------
# Running the binary's own parser.

class ParseRun:
    def __init__(self, binary):
        self.binary = binary
        self.tmp = tempfile.mkdtemp(prefix="dbrefresh-manifest-check-")
        self.help_cache = {}
        self.parsed = 0

    def dummy_env(self, container, mounts):
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": self.tmp, "LANG": "C.UTF-8"}
        for e in container.get("env", []):
            name = e["name"]
            if "value" in e:
                env[name] = str(e["value"])
                continue
            side = side_of(name)
            part = side[1] if side else None
            env[name] = {"HOST": "127.0.0.1", "NAME": "dbrefresh_manifest_check", "USER": "check",
                         "PASS": "not-a-password"}.get(part, "dummy-" + name.lower().replace("_", "-"))
        # Unreachable on purpose: a connection error (exit 3) proves the command line was accepted.
        env.update({"DB_PORT": "1", "DB_PORT_PREPROD": "1", "PGPORT": "1", "PGCONNECT_TIMEOUT": "5"})
        if "/tmp" in mounts:
            env["TMPDIR"] = mounts["/tmp"]
        return env

    def mapped_mounts(self, container):
        mounts = {}
        for m in container.get("volumeMounts", []):
            local = os.path.join(self.tmp, "volume-" + m["name"])
            os.makedirs(local, exist_ok=True)
            mounts[m["mountPath"].rstrip("/")] = local
        return mounts

    def argv(self, container, env, mounts):
        out = []
        for word in effective_command(container):
            word = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), word)
            for path in sorted(mounts, key=len, reverse=True):
                if word == path or word.startswith(path + "/"):
                    word = mounts[path] + word[len(path):]
                    break
                m = re.match(r"^(--[\w-]+=)(.*)$", word)
                if m and (m.group(2) == path or m.group(2).startswith(path + "/")):
                    word = m.group(1) + mounts[path] + m.group(2)[len(path):]
                    break
            out.append(word)
        return out

    def run(self, argv, env):
        return subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)

    def help_text(self, subcommand):
        if subcommand not in self.help_cache:
            self.help_cache[subcommand] = self.run([self.binary, subcommand, "--help"], {"PATH": "/usr/bin:/bin"}).stdout
        return self.help_cache[subcommand]

    def check_dbrefresh(self, where, container):
        mounts = self.mapped_mounts(container)
        env = self.dummy_env(container, mounts)
        argv = self.argv(container, env, mounts)
        argv[0] = self.binary
        subcommand = argv[1] if len(argv) > 1 else ""
        result = self.run(argv, env)
        last = (result.stderr.strip().splitlines() or [""])[-1]
        if result.returncode == 2:
            fail(where, "`dbrefresh %s` rejects the manifest's command line (exit 2): %s" % (subcommand, last))
        elif result.returncode == 0:
            fail(where, "`dbrefresh %s` exited 0 against an unreachable server: the check proves nothing" % subcommand)
        else:
            self.parsed += 1
            ok("%s: `dbrefresh %s` accepts the manifest's options (exit %d against the unreachable server: %s)"
               % (where, subcommand, result.returncode, last[:140]))
        control = self.run(argv + ["--no-such-option-dbrefresh-check"], env)
        if control.returncode != 2:
            fail(where, "`dbrefresh %s` accepted an unknown option (exit %d): the parse check above is void"
                 % (subcommand, control.returncode))
        help_text = self.help_text(subcommand)
        for word in effective_command(container)[2:]:
            m = re.match(r"^(--[\w-]+)", word)
            if m and m.group(1) not in help_text:
                fail(where, "`dbrefresh %s --help` does not list %s" % (subcommand, m.group(1)))

    def check_pg_program(self, where, container):
        program = effective_command(container)[0]
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/" + program), key=lambda p: int(p.split("/")[4]))
        if not bins:
            print("note: %s: no %s on this host; its options are not checked" % (where, program))
            return
        mounts = self.mapped_mounts(container)
        env = self.dummy_env(container, mounts)
        argv = self.argv(container, env, mounts)
        argv[0] = bins[-1]
        result = self.run(argv, env)
        usage = re.search(r"invalid option|unrecognized option|Try \"%s --help\"" % program, result.stderr)
        if usage:
            fail(where, "%s rejects the manifest's options: %s" % (program, result.stderr.strip().splitlines()[0]))
        else:
            ok("%s: %s accepts the manifest's options (exit %d: %s)"
               % (where, program, result.returncode, (result.stderr.strip().splitlines() or [""])[0][:120]))


# ----------------------------------------------------------------------------------------------
# Objects.

def pod_spec_of(doc):
    kind = doc.get("kind")
    if kind == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if kind == "Job":
        return doc["spec"]["template"]["spec"]
    if kind == "Pod":
        return doc["spec"]
    return None


def check_cronjob(where, doc):
    spec = known(where, doc.get("spec", {}), "cronjob.spec")
    expect = {"schedule": "0 8 * * 1", "concurrencyPolicy": "Forbid"}
    for key, value in expect.items():
        if spec.get(key) != value:
            fail(where, "spec.%s is %r, expected %r" % (key, spec.get(key), value))
    template = known(where, spec.get("jobTemplate", {}), "jobtemplate")
    check_job_spec(where + " jobTemplate", template.get("spec", {}))


def check_job_spec(where, spec):
    known(where, spec, "job.spec")
    if spec.get("backoffLimit") != 0:
        fail(where, "backoffLimit is %r, expected 0 (a failed refresh is not retried blindly)" % spec.get("backoffLimit"))
    deadline = spec.get("activeDeadlineSeconds")
    if not isinstance(deadline, int) or deadline <= 0:
        fail(where, "no activeDeadlineSeconds")
    template = known(where, spec.get("template", {}), "podtemplate")
    if template.get("metadata"):
        known(where, template["metadata"], "metadata")


def check_pod(where, pod, claims, context):
    known(where, pod, "pod.spec")
    if pod.get("restartPolicy") != "Never":
        fail(where, "restartPolicy is %r, expected Never" % pod.get("restartPolicy"))
    sc = known(where, pod.get("securityContext", {}), "pod.securityContext")
    if sc.get("runAsNonRoot") is not True:
        fail(where, "securityContext.runAsNonRoot is not true")
    if sc.get("runAsUser") != RUNTIME_UID:
        fail(where, "securityContext.runAsUser is %r, expected %d (the image's user)" % (sc.get("runAsUser"), RUNTIME_UID))
    volumes = {}
    for v in pod.get("volumes", []):
        known(where, v, "volume")
        volumes[v["name"]] = v
        claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
        if claim is not None:
            if claim not in claims:
                fail(where, "volume %s claims %s, which no manifest in docker/k8s defines" % (v["name"], claim))
            elif "fsGroup" not in sc:
                fail(where, "a PVC is mounted but securityContext.fsGroup is unset: uid %d may not write it" % RUNTIME_UID)
    init = pod.get("initContainers", [])
    containers = init + pod.get("containers", [])
    if not pod.get("containers"):
        fail(where, "no containers")
    secrets_by_side = {}
    steps = []
    for index, c in enumerate(containers):
        cwhere = "%s container %s" % (where, c.get("name"))
        check_container_basics(cwhere, c, volumes)
        argv = effective_command(c)
        program = os.path.basename(argv[0])
        if program not in ("dbrefresh",) + PG_CLIENT_PROGRAMS and is_dbrefresh_image(c):
            program = "dbrefresh"  # e.g. a toolbox pod: its env serves `kubectl exec ... dbrefresh`
        if program not in ("dbrefresh",) + PG_CLIENT_PROGRAMS:
            fail(cwhere, "runs %s: neither dbrefresh nor a PostgreSQL client program" % argv[0])
            continue
        check_env(cwhere, c, context["dbrefresh_vars"], context["libpq_vars"], program, secrets_by_side)
        if program == "dbrefresh" and os.path.basename(argv[0]) == "dbrefresh":
            check_dbrefresh_args(cwhere, c, volumes)
            context["parser"].check_dbrefresh(cwhere, c)
            steps.append((index, index < len(init), argv[1] if len(argv) > 1 else "", c))
        elif program in PG_CLIENT_PROGRAMS and os.path.basename(argv[0]) == program:
            context["parser"].check_pg_program(cwhere, c)
    for side, names in secrets_by_side.items():
        if len(names) != 1:
            fail(where, "the %s variables come from several secrets: %s" % (side, ", ".join(sorted(names))))
    source, target = secrets_by_side.get("source", set()), secrets_by_side.get("target", set())
    if source and source == target:
        fail(where, "source (DB_*) and target (DB_*_PREPROD) come from the same secret %s" % ", ".join(source))
    check_two_step(where, steps)
    return steps


def check_dbrefresh_args(where, container, volumes):
    argv = effective_command(container)
    sub = argv[1] if len(argv) > 1 else ""

    def value(flag):
        for i, word in enumerate(argv):
            if word == flag and i + 1 < len(argv):
                return argv[i + 1]
            if word.startswith(flag + "="):
                return word[len(flag) + 1:]
        return None
    if sub in ("preflight", "snapshot", "restore-users", "seed-sql", "refresh") and value("--log-format") != "json":
        fail(where, "dbrefresh %s without --log-format json (the pod log is read as JSON lines)" % sub)
    if sub != "refresh":
        return
    if value("--confirm-target") != "$(DB_NAME_PREPROD)":
        fail(where, "refresh --confirm-target is %r, expected $(DB_NAME_PREPROD) (the target's own name)"
             % value("--confirm-target"))
    keep = value("--keep-snapshots")
    if keep is None or not keep.isdigit() or int(keep) < 1:
        fail(where, "refresh without --keep-snapshots N")
    if value("--report") is None:
        fail(where, "refresh without --report FILE.json")
    snapshot_dir = value("--snapshot-dir")
    pvc_mounts = [m["mountPath"] for m in container.get("volumeMounts", [])
                  if "persistentVolumeClaim" in volumes.get(m["name"], {})]
    if not snapshot_dir or not any(snapshot_dir == p or snapshot_dir.startswith(p.rstrip("/") + "/") for p in pvc_mounts):
        fail(where, "refresh --snapshot-dir %r is not on a mounted PersistentVolumeClaim" % snapshot_dir)


def check_two_step(where, steps):
    snapshots = [s for s in steps if s[2] == "snapshot"]
    restores = [s for s in steps if s[2] == "restore-users"]
    if not snapshots and not restores:
        return
    if not snapshots or not restores:
        fail(where, "has %s without %s" % ("snapshot" if snapshots else "restore-users",
                                            "restore-users" if snapshots else "snapshot"))
        return
    snap_index, snap_is_init, _, snap = snapshots[0]
    restore_index, _, _, restore = restores[0]
    if not (snap_is_init and snap_index < restore_index):
        fail(where, "snapshot must run in an init container before restore-users")
    argv = effective_command(snap)
    out = next((argv[i + 1] for i, w in enumerate(argv) if w == "--out" and i + 1 < len(argv)), None)
    restore_argv = effective_command(restore)
    positional = [w for i, w in enumerate(restore_argv[2:], 2)
                  if not w.startswith("-") and not restore_argv[i - 1].startswith("--")]
    if out is None or out not in positional:
        fail(where, "restore-users does not read the file snapshot --out writes (%s)" % out)
        return
    for c in (snap, restore):
        if not any(out.startswith(m["mountPath"].rstrip("/") + "/") for m in c.get("volumeMounts", [])):
            fail(where, "container %s does not mount the volume holding %s" % (c.get("name"), out))
    ok("%s: snapshot (init) -> ... -> restore-users on %s" % (where, out))


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(SOURCE_DIR, "build", "dbrefresh")
    if not os.access(binary, os.X_OK):
        print("FAIL: no binary at %s" % binary)
        return 1
    context = {"libpq_vars": libpq_env_vars(), "dbrefresh_vars": dbrefresh_env_vars(), "parser": ParseRun(binary)}
    docs = load_documents()
    claims = {d["metadata"]["name"] for _, d in docs if d.get("kind") == "PersistentVolumeClaim"}
    kinds = {}
    for where, doc in docs:
        known(where, doc, "object")
        known(where, doc.get("metadata", {}), "metadata")
        kind = doc.get("kind")
        kinds[kind] = kinds.get(kind, 0) + 1
        if kind not in KINDS:
            fail(where, "unexpected kind %r" % kind)
            continue
        if doc.get("apiVersion") != KINDS[kind]:
            fail(where, "%s with apiVersion %r, expected %s" % (kind, doc.get("apiVersion"), KINDS[kind]))
        if kind == "PersistentVolumeClaim":
            known(where, doc.get("spec", {}), "pvc.spec")
            continue
        if kind == "CronJob":
            check_cronjob(where, doc)
        elif kind == "Job":
            check_job_spec(where, doc.get("spec", {}))
        check_pod(where, pod_spec_of(doc), claims, context)
    if "CronJob" not in kinds:
        fail("docker/k8s", "no CronJob")
    shutil.rmtree(context["parser"].tmp, ignore_errors=True)
    if context["parser"].parsed == 0:
        fail("docker/k8s", "no dbrefresh command line was checked with the binary's parser")
    print("%d failed" % len(failures) if failures else
          "manifest checks passed: %d documents (%s), %d dbrefresh command lines parsed by %s"
          % (len(docs), ", ".join("%d %s" % (n, k) for k, n in sorted(kinds.items())), context["parser"].parsed, binary))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Summarises scripts/bench.sh's measurements: medians, ratios, targets, peak RSS; writes the results JSON and
prints a table. Python 3 standard library only.

    report.py --runs RUNS.tsv --meta META.tsv --work WORKDIR --out RESULTS.json

RUNS.tsv: section, contender, pair, scale, seconds, max RSS kB, exit code (one line per timed run).
META.tsv: key, value.
WORKDIR/breakdown-*.log: the preprod server's log during the untimed breakdown runs (statement durations,
auto_explain plans); WORKDIR/refresh-report-*.json: dbrefresh refresh --report files, if refresh ran.
"""
import argparse
import glob
import json
import os
import re
import statistics
import sys

TARGETS = {
    # section: (baseline contender, target ratio dbrefresh/baseline, label)
    "snapshot": ("psql_copy_to", 1.2, "psql \\copy to"),
    "restore_users": ("psql_copy_from", 2.0, "psql \\copy from"),
}
RSS_LIMIT_MB = 100.0
RSS_FLAT_RATIO = 1.25


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def median(values):
    return statistics.median(values) if values else None


def fmt(x, digits=2):
    return "-" if x is None else f"{x:.{digits}f}"


PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[\d+\] ")
DURATION = re.compile(r"duration: ([0-9.]+) ms  (statement|execute [^:]*|plan|parse [^:]*|bind [^:]*):\s?(.*)", re.S)


def parse_server_log(path):
    """Statement durations and auto_explain plans from a slice of the server log."""
    if not os.path.exists(path):
        return None
    records, current = [], None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if PREFIX.match(line):
                if current is not None:
                    records.append(current)
                current = PREFIX.sub("", line, count=1)
            elif current is not None:
                current += line
    if current is not None:
        records.append(current)
    statements, plans, temp_files = [], [], []
    for r in records:
        m = DURATION.search(r)
        if m:
            ms, kind, text = float(m.group(1)), m.group(2), m.group(3).strip()
            if kind == "plan":
                query = re.search(r"Query Text: (.*)", text)
                plans.append({"ms": ms, "query": (query.group(1).strip() if query else "")[:300], "plan": text})
            elif kind == "statement" or kind.startswith("execute"):
                statements.append({"ms": ms, "sql": " ".join(text.split())})
            continue
        t = re.search(r"temporary file: path \"([^\"]*)\", size (\d+)", r)
        if t:
            temp_files.append(int(t.group(2)))
    total = sum(s["ms"] for s in statements)
    top = sorted(statements, key=lambda s: -s["ms"])[:15]
    return {
        "statements": len(statements),
        "server_ms_total": round(total, 1),
        "top_statements": [{"ms": round(s["ms"], 1), "share": round(s["ms"] / total, 3) if total else None,
                            "sql": s["sql"][:240]} for s in top],
        "plans": plans,
        "temp_files": len(temp_files),
        "temp_file_bytes": sum(temp_files),
    }


def unavailable_window(report_path):
    """From a dbrefresh refresh --report: the seconds from the clear (or swap/rename) step to the end of the
    restore-users step, and the steps themselves. Best effort: the step names are dbrefresh's."""
    if not os.path.exists(report_path):
        return None
    try:
        with open(report_path, encoding="utf-8") as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        return {"error": f"unreadable report: {e}"}
    steps = report.get("steps") or []
    names = [str(s.get("name", "")) for s in steps]
    out = {"steps": [{"name": s.get("name"), "seconds": s.get("seconds"), "status": s.get("status")} for s in steps],
           "exit_code": report.get("exit_code")}
    out["strategy"] = report.get("strategy")
    swap = next((i for i, n in enumerate(names) if re.search(r"^(swap|rename)", n, re.I)), None)
    start = next((i for i, n in enumerate(names) if re.search(r"^clear", n, re.I)), None)
    end = next((i for i, n in enumerate(names) if re.search(r"restore.?users", n, re.I)), None)
    span = None
    if swap is not None and (report.get("strategy") in (None, "swap")):
        # swap: clear, restore and restore-users work on a new database; preprod is only without its people
        # (or without anything) while the new database is renamed into place
        span = [steps[swap]]
    elif start is not None and end is not None and end >= start:
        span = steps[start:end + 1]
    if span:
        out["window_seconds"] = round(sum(float(s.get("seconds") or 0) for s in span), 3)
        out["window_steps"] = [s.get("name") for s in span]
    return out


def lock_windows(work):
    """From every refresh --report of the run: the catch-up's lock window (SPEC section 5, issue 13) of the
    clear step (schema, clean) or the swap step, with the rows caught up; the median per strategy."""
    found = {}
    for path in sorted(glob.glob(os.path.join(work, "refresh", "*.report.json"))):
        try:
            with open(path, encoding="utf-8") as f:
                report = json.load(f)
        except (OSError, ValueError):
            continue
        for step in report.get("steps") or []:
            counts = step.get("counts") or {}
            if step.get("name") in ("clear", "swap") and "lock_window_seconds" in counts:
                found.setdefault(report.get("strategy") or "schema", []).append(
                    (float(counts["lock_window_seconds"]), int(counts.get("caught_up_rows") or 0)))
    return {strategy: {"median_seconds": round(statistics.median(w for w, _ in runs), 3),
                       "max_seconds": round(max(w for w, _ in runs), 3), "runs": len(runs),
                       "rows_caught_up": [r for _, r in runs]}
            for strategy, runs in found.items()}


def cpu_medians(contenders):
    """Per contender: the median CPU seconds of its runs (each server's processes and the command's own),
    and the median busy cores (CPU seconds over wall seconds). On a machine where the servers and the
    commands share the cores, wall time follows this work once the cores are saturated."""
    out = {}
    for who, rs in contenders:
        rs = [r for r in rs if "cpu_seconds" in r]
        if not rs:
            continue
        entry = {k: median([r["cpu_seconds"][k] for r in rs]) for k in ("prod_server", "preprod_server", "command", "total")}
        entry["busy_cores"] = round(median([r["cpu_seconds"]["total"] / r["seconds"] for r in rs if r["seconds"]]), 2)
        out[who] = entry
    return out


def refresh_step_medians(work, prefix=""):
    """Median seconds per step over the timed refresh runs' reports (WORK/refresh/<prefix><pair>.report.json)."""
    per_step, order = {}, []
    folder = os.path.join(work, "refresh")
    if not os.path.isdir(folder):
        return None
    for name in sorted(os.listdir(folder)):
        if not re.fullmatch(re.escape(prefix) + r"\d+\.report\.json", name):
            continue
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                steps = json.load(f).get("steps") or []
        except (OSError, ValueError):
            continue
        for s in steps:
            n = str(s.get("name"))
            if n not in per_step:
                per_step[n] = []
                order.append(n)
            per_step[n].append(float(s.get("seconds") or 0))
    return [{"step": n, "median_seconds": round(statistics.median(per_step[n]), 3), "seconds": per_step[n]} for n in order] or None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    meta = {k: v for k, v in (row[:2] for row in read_tsv(args.meta) if len(row) >= 2)}
    scale, rss_scale = meta.get("scale"), meta.get("rss_scale")
    runs = []
    for row in read_tsv(args.runs):
        section, who, pair, sc, seconds, rss_kb, rc = row[:7]
        run = {"section": section, "contender": who, "pair": int(pair), "scale": sc,
               "seconds": float(seconds), "rss_mb": round(int(rss_kb or 0) / 1024, 1), "exit_code": int(rc)}
        if len(row) >= 10:  # CPU seconds of prod's server, preprod's server, the command and its children
            prod, preprod, command = (float(x or 0) for x in row[7:10])
            run["cpu_seconds"] = {"prod_server": prod, "preprod_server": preprod, "command": command,
                                  "total": round(prod + preprod + command, 2)}
        runs.append(run)

    def series(section, who, sc=scale):
        return [r for r in runs if r["section"] == section and r["contender"] == who and r["scale"] == sc]

    def rss_entry(section):
        main_runs = series(section, "dbrefresh")
        other = series(section, "dbrefresh", rss_scale)
        a = max((r["rss_mb"] for r in main_runs), default=None)
        b = max((r["rss_mb"] for r in other), default=None)
        entry = {f"scale_{scale}": a, f"scale_{rss_scale}": b}
        if a is not None and b is not None:
            lo, hi = (a, b) if float(scale) <= float(rss_scale) else (b, a)
            entry["growth"] = round(hi / lo, 3) if lo else None
            entry["pass"] = max(a, b) < RSS_LIMIT_MB and (hi / lo if lo else 99) <= RSS_FLAT_RATIO
        return entry

    rows, operations = [], []
    for section, (baseline, target, label) in TARGETS.items():
        d = series(section, "dbrefresh")
        b = series(section, baseline)
        md, mb = median([r["seconds"] for r in d]), median([r["seconds"] for r in b])
        ratio = md / mb if md and mb else None
        op = {
            "operation": section.replace("_", "-"), "baseline": label,
            "dbrefresh_seconds": [r["seconds"] for r in d], "baseline_seconds": [r["seconds"] for r in b],
            "median_dbrefresh": md, "median_baseline": mb, "ratio": round(ratio, 3) if ratio else None,
            "target_ratio": target, "pass": (ratio is not None and ratio <= target) if d or b else None,
            "dbrefresh_rss_mb": rss_entry(section),
            "baseline_rss_mb": max((r["rss_mb"] for r in b), default=None),
            "failed_runs": sum(1 for r in d + b if r["exit_code"] != 0),
        }
        operations.append(op)
        rows.append((op["operation"], label, md, mb, ratio, f"<= {target}x", op["pass"], op["dbrefresh_rss_mb"]))

    refresh = {"status": meta.get("refresh_status", "skipped"), "reason": meta.get("refresh_reason", "")}
    if refresh["status"] in ("run", "baselines"):
        d = series("refresh", "dbrefresh")
        ok = [r for r in d if r["exit_code"] in (0, 5)]
        md = median([r["seconds"] for r in ok]) if ok and len(ok) == len(d) else None
        refresh["dbrefresh_seconds"] = [r["seconds"] for r in d]
        refresh["dbrefresh_exit_codes"] = [r["exit_code"] for r in d]
        refresh["median_dbrefresh"] = md
        refresh["dbrefresh_rss_mb"] = rss_entry("refresh")
        for who, target, label, cmp in (("current_job", 1.0, "current-job.sh", "<"), ("pgcopydb", 1.2, "pgcopydb clone", "<=")):
            b = series("refresh", who)
            if not b:
                continue
            mb = median([r["seconds"] for r in b])
            ratio = md / mb if md and mb else None
            passed = None if not d else (ratio is not None and (ratio < target if cmp == "<" else ratio <= target))
            refresh[who] = {"seconds": [r["seconds"] for r in b], "exit_codes": [r["exit_code"] for r in b],
                            "median": mb, "ratio": round(ratio, 3) if ratio else None, "target_ratio": target,
                            "pass": passed, "rss_mb": max((r["rss_mb"] for r in b), default=None)}
            operations.append({"operation": "refresh", "baseline": label, "median_dbrefresh": md, "median_baseline": mb,
                               "ratio": refresh[who]["ratio"], "target_ratio": target, "pass": passed,
                               "dbrefresh_rss_mb": refresh["dbrefresh_rss_mb"]})
            rows.append(("refresh", label, md, mb, ratio, f"{cmp} {target}x", passed, refresh["dbrefresh_rss_mb"]))
        # The first refresh (preprod holds only its own people) against the same pgcopydb runs.
        first = series("refresh", "dbrefresh_first")
        clone = series("refresh", "pgcopydb")
        if first and clone:
            ok = [r for r in first if r["exit_code"] in (0, 5)]
            mf = median([r["seconds"] for r in ok]) if len(ok) == len(first) else None
            mb = median([r["seconds"] for r in clone])
            ratio = mf / mb if mf and mb else None
            passed = ratio is not None and ratio <= 1.2
            refresh["first_refresh"] = {"seconds": [r["seconds"] for r in first],
                                        "exit_codes": [r["exit_code"] for r in first], "median": mf,
                                        "pgcopydb_median": mb, "ratio": round(ratio, 3) if ratio else None,
                                        "target_ratio": 1.2, "pass": passed,
                                        "step_medians": refresh_step_medians(args.work, "first-")}
            operations.append({"operation": "first refresh", "baseline": "pgcopydb clone", "median_dbrefresh": mf,
                               "median_baseline": mb, "ratio": refresh["first_refresh"]["ratio"],
                               "target_ratio": 1.2, "pass": passed})
            rows.append(("first refresh", "pgcopydb clone", mf, mb, ratio, "<= 1.2x", passed, {}))
        refresh["cpu_seconds"] = cpu_medians([("dbrefresh", d), ("dbrefresh_first", first)] +
                                             [(who, series("refresh", who)) for who in ("current_job", "pgcopydb")])
        refresh["step_medians"] = refresh_step_medians(args.work)
        swap = series("refresh_swap", "dbrefresh")
        refresh["swap_seconds"] = [r["seconds"] for r in swap]
        refresh["lock_window"] = lock_windows(args.work)
        refresh["unavailable_window"] = {
            "schema": unavailable_window(os.path.join(args.work, "refresh-report-schema.json")),
            "swap": unavailable_window(os.path.join(args.work, "refresh-report-swap.json")),
        }
    else:
        rows.append(("refresh", "current-job.sh / pgcopydb", None, None, None, "< 1x / <= 1.2x", None, {}))

    breakdown = {
        "restore_users": parse_server_log(os.path.join(args.work, "breakdown-restore-users.log")),
        "snapshot": parse_server_log(os.path.join(args.work, "breakdown-snapshot.log")),
    }

    sizes = {k[len("bytes_"):]: int(v) for k, v in meta.items() if k.startswith("bytes_") and v.isdigit()}
    result = {
        "machine": {"nproc": int(meta.get("nproc", 0)), "cpu": meta.get("cpu"),
                    "mem_total_mb": int(meta.get("mem_total_kb", 0)) // 1024,
                    "load_start": meta.get("load_start"), "load_end": meta.get("load_end")},
        "started_at": meta.get("started_at"), "finished_at": meta.get("finished_at"),
        "total_seconds": float(meta.get("total_seconds", 0)),
        "scale": float(scale), "rss_scale": float(rss_scale), "pairs": int(meta.get("pairs", 0)),
        "rows": {t: int(meta.get(f"rows_{t}", 0)) for t in ("users", "user_role_assignments", "user_qualification_assignments")},
        "rss_rows": {t: int(meta.get(f"rss_rows_{t}", 0)) for t in ("users", "user_role_assignments", "user_qualification_assignments")},
        "sizes_bytes": sizes,
        "versions": {"dbrefresh": meta.get("dbrefresh_version"), "dbrefresh_binary": meta.get("dbrefresh"),
                     "dbrefresh_mtime": meta.get("dbrefresh_mtime"), "dbrefresh_sha256": meta.get("dbrefresh_sha256"), "postgres": meta.get("postgres_version"),
                     "pgcopydb": meta.get("pgcopydb_version")},
        "commands": {k[len("cmd_"):]: v for k, v in meta.items() if k.startswith("cmd_")},
        "targets": {"snapshot_ratio": 1.2, "restore_users_ratio": 2.0, "refresh_vs_current_job": "< 1.0",
                    "refresh_vs_pgcopydb": 1.2, "rss_limit_mb": RSS_LIMIT_MB, "rss_flat_ratio": RSS_FLAT_RATIO},
        "operations": operations,
        "refresh": refresh,
        "breakdown": breakdown,
        "runs": runs,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
        f.write("\n")

    # ---- the table ----
    m = result["machine"]
    print(f"\ndbrefresh benchmark: scale {scale} ({result['rows']['users']:,} users, "
          f"{result['rows']['user_role_assignments']:,} roles, {result['rows']['user_qualification_assignments']:,} "
          f"qualifications), {result['pairs']} pairs interleaved, {m['nproc']} cores, load {m['load_start']} -> {m['load_end']}")
    head = ("operation", "baseline", "dbrefresh s", "baseline s", "ratio", "target", "result",
            f"RSS MB @{scale}", f"RSS MB @{rss_scale}")
    table = [head]
    for op, label, md, mb, ratio, target, passed, rss in rows:
        table.append((op, label, fmt(md), fmt(mb), fmt(ratio), target,
                      "skipped" if passed is None else ("pass" if passed else "FAIL"),
                      fmt((rss or {}).get(f"scale_{scale}"), 1), fmt((rss or {}).get(f"scale_{rss_scale}"), 1)))
    widths = [max(len(str(r[i])) for r in table) for i in range(len(head))]
    for i, r in enumerate(table):
        print("  ".join(str(c).ljust(w) if j < 2 or j == 5 or j == 6 else str(c).rjust(w) for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for op in operations:
        rss = op.get("dbrefresh_rss_mb") or {}
        if "growth" in rss and op["baseline"] in ("psql \\copy to", "psql \\copy from", "current-job.sh"):
            print(f"memory {op['operation']}: peak RSS {rss.get(f'scale_{scale}')} MB at scale {scale}, "
                  f"{rss.get(f'scale_{rss_scale}')} MB at scale {rss_scale}: growth {rss['growth']}x "
                  f"(target < {RSS_LIMIT_MB:.0f} MB and <= {RSS_FLAT_RATIO}x): {'pass' if rss.get('pass') else 'FAIL'}")
    if refresh["status"] != "run":
        print(f"refresh: dbrefresh skipped: {refresh['reason']}"
              + (" (the baselines were timed alone: --refresh-baselines)" if refresh["status"] == "baselines" else ""))
    else:
        for who, c in (refresh.get("cpu_seconds") or {}).items():
            print(f"refresh CPU work, {who}: {c['total']:.1f} core-s (median; prod server {c['prod_server']:.1f}, "
                  f"preprod server {c['preprod_server']:.1f}, the command {c['command']:.1f}), {c['busy_cores']} busy cores")
        if refresh.get("step_medians"):
            print("refresh steps, weekly (median s over the timed runs): " +
                  ", ".join(f"{s['step']} {s['median_seconds']:.2f}" for s in refresh["step_medians"]))
        if (refresh.get("first_refresh") or {}).get("step_medians"):
            print("refresh steps, first (median s over the timed runs): " +
                  ", ".join(f"{s['step']} {s['median_seconds']:.2f}" for s in refresh["first_refresh"]["step_medians"]))
        for strategy, w in (refresh.get("lock_window") or {}).items():
            print(f"catch-up lock window ({strategy}): median {w['median_seconds']} s, max {w['max_seconds']} s over "
                  f"{w['runs']} run(s) (target <= 1 s at scale 1), rows caught up {w['rows_caught_up']}")
        if not refresh.get("lock_window"):
            print("catch-up lock window: not found in the reports")
        for strategy, w in (refresh.get("unavailable_window") or {}).items():
            if w and "window_seconds" in w:
                print(f"unavailable window ({strategy}): {w['window_seconds']} s ({' + '.join(map(str, w['window_steps']))})")
            else:
                print(f"unavailable window ({strategy}): not found in the report")
    bd = breakdown.get("restore_users")
    if bd:
        print(f"\nrestore-users breakdown (one extra run, auto_explain on): {bd['statements']} statements, "
              f"{bd['server_ms_total'] / 1000:.2f} s in the server; the largest:")
        for s in bd["top_statements"][:8]:
            print(f"  {s['ms'] / 1000:7.2f} s  {s['sql'][:110]}")
    bd = breakdown.get("snapshot")
    if bd:
        print(f"snapshot breakdown: {bd['server_ms_total'] / 1000:.2f} s in the server; the largest:")
        for s in bd["top_statements"][:3]:
            print(f"  {s['ms'] / 1000:7.2f} s  {s['sql'][:110]}")
    print(f"\nresults: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Load benchmark for the class hub (loopback only, bounded, stops by itself; run as root).

N students (default 30) sign in, start their servers, fetch, save their work and submit, all at once.
Then the instructor collects and grades with `iome autograde`. Prints hub response times (median and
95th percentile per step), memory per student server, and checks that every submission arrived intact
(sha256 of the notebook in the student's home == the collected copy) and was graded.

    python scripts/bench_hub.py [--students 30] [--deadline 900]

Prints figures only; nothing is asserted on time.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import shutil
import statistics
import sys
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import nbformat  # noqa: E402
import psutil  # noqa: E402

from iome import hub  # noqa: E402

ASSIGNMENT = "health-economics"
NB = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=30, help="students at once (1-60)")
    ap.add_argument("--deadline", type=float, default=900, help="seconds before the benchmark gives up")
    args = ap.parse_args()
    n = max(1, min(60, args.students))
    students = [f"bench{i:02d}" for i in range(1, n + 1)]
    instructor = "benchprof"
    password = uuid.uuid4().hex
    state = ROOT / ".hub" / f"bench-{uuid.uuid4().hex[:8]}"
    roster = state.parent / f"{state.name}-roster.csv"
    roster.parent.mkdir(parents=True, exist_ok=True)
    roster.write_text("student_id,name,role\n" + f"{instructor},Bench Instructor,Instructor\n"
                      + "".join(f"{s},Student {s[-2:]},Student\n" for s in students))
    started = time.monotonic()
    t0 = time.perf_counter()
    settings = hub.start(roster, state, auth="trial", port=0, password=password)
    print(f"hub started in {time.perf_counter() - t0:.1f} s on 127.0.0.1:{settings['port']} ({n} students)")
    base = f"http://127.0.0.1:{settings['port']}"
    course = Path(settings["course_dir"])
    try:
        hub.as_instructor(state, hub.iome_cmd(settings) + ["release", ASSIGNMENT, "--course", str(course)])
        hub.as_instructor(state, hub.nbgrader_cmd(settings) + ["release_assignment", ASSIGNMENT, "--force"])
        source = nbformat.read(ROOT / "exercises/source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
        solutions = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
                     if c.metadata.get("nbgrader", {}).get("solution")}

        timings: dict[str, list] = {}

        def one(name: str) -> str:
            s = hub.Session(base, name, password, timings.setdefault(name, []))
            if not s.login():
                raise hub.HubError(f"{name}: sign-in refused")
            s.start_server(wait=max(30.0, args.deadline - (time.monotonic() - started)))
            s.action("fetch", ASSIGNMENT)
            nb = s.read(NB)["content"]
            for cell in nb["cells"]:
                gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                if gid in solutions:
                    cell["source"] = solutions[gid] + f"\n# {name}"  # each submission differs
            s.write_notebook(NB, nb)
            r = s.action("submit", ASSIGNMENT)
            if r.get("success") is False:
                raise hub.HubError(f"{name}: submit failed: {r.get('value')}")
            return name

        t0 = time.perf_counter()
        failed = []
        with ThreadPoolExecutor(max_workers=n) as pool:
            futures = {pool.submit(one, s): s for s in students}
            for f in as_completed(futures, timeout=args.deadline):
                try:
                    f.result()
                except Exception as exc:  # noqa: BLE001 - report every student's failure
                    failed.append(f"{futures[f]}: {exc}")
        wall = time.perf_counter() - t0
        print(f"{n - len(failed)}/{n} students signed in, started, fetched and submitted in {wall:.1f} s (wall)")
        for line in failed:
            print("  FAILED", line)

        # memory per student server: RSS of each server process (no kernels are running)
        rss = []
        for p in psutil.process_iter(["username", "cmdline", "memory_info"]):
            if p.info["username"] in students and any("jupyterhub-singleuser" in a for a in p.info["cmdline"] or []):
                rss.append(p.info["memory_info"].rss / 2**20)

        by_step = defaultdict(list)
        for rows in timings.values():
            for method, url, dt, code in rows:
                path = url.split(str(settings["port"]), 1)[-1]
                step = {"/hub/login": f"{method} sign-in", "/hub/api/users/<user>/server": "start server (request)",
                        "/user/<user>/assignments/fetch": "fetch", "/user/<user>/assignments/submit": "submit",
                        "/user/<user>/lab": "open JupyterLab", "/user/<user>/assignments": "list assignments"
                        }.get(path)
                if path.startswith("/user/<user>/api/contents"):
                    step = f"{method} notebook"
                if step:
                    by_step[step].append(dt * 1000)
        everything = [dt * 1000 for rows in timings.values() for _, url, dt, _ in rows if not url.endswith("/hub/api/users/<user>")]
        print("\nhub response times (ms), all students at once:")
        print(f"  {'step':28} {'n':>4} {'median':>8} {'p95':>8} {'max':>8}")
        for step, vals in sorted(by_step.items()):
            print(f"  {step:28} {len(vals):4d} {statistics.median(vals):8.0f} {pct(vals, 95):8.0f} {max(vals):8.0f}")
        print(f"  {'every request':28} {len(everything):4d} {statistics.median(everything):8.0f} "
              f"{pct(everything, 95):8.0f} {max(everything):8.0f}")
        if rss:
            print(f"\nmemory per student server (RSS, MB): median {statistics.median(rss):.0f}, max {max(rss):.0f}, "
                  f"all {len(rss)} servers {sum(rss):.0f}")

        # collect, check checksums, grade
        t0 = time.perf_counter()
        hub.as_instructor(state, hub.nbgrader_cmd(settings) + ["collect", ASSIGNMENT])
        print(f"\ncollect: {time.perf_counter() - t0:.1f} s")
        intact = 0
        digests = []
        for s in students:
            mine = state / "home" / s / NB
            got = course / "submitted" / s / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
            if mine.is_file() and got.is_file():
                a, b = hashlib.sha256(mine.read_bytes()).hexdigest(), hashlib.sha256(got.read_bytes()).hexdigest()
                intact += a == b
                digests.append(b)
        print(f"submissions intact (sha256 home == collected): {intact}/{n}; distinct: {len(set(digests))}")
        t0 = time.perf_counter()
        hub.grade_as_root(state, ASSIGNMENT)
        hub.as_instructor(state, hub.iome_cmd(settings) + ["export", ASSIGNMENT, "--course", str(course)])
        grades = list(csv.DictReader((course / "exports" / ASSIGNMENT / "grades.csv").open()))
        full = sum(1 for g in grades if g["auto_score"] and float(g["auto_score"]) == float(
            max(float(x["auto_score"]) for x in grades)))
        print(f"graded with iome autograde in {time.perf_counter() - t0:.1f} s: {len(grades)}/{n} in the gradebook, "
              f"{full} with the top auto score ({max(float(x['auto_score']) for x in grades):g})")
        return 0 if (intact == n and len(grades) == n and not failed) else 1
    finally:
        hub.stop(state)
        hub.remove_accounts(students + [instructor])
        shutil.rmtree(state, ignore_errors=True)
        roster.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: stock sequential `nbgrader autograde` against `iome autograde` on the same cohort.

    python scripts/bench_grading.py [--students 60] [--workers 2] [--assignment health-economics]

Builds a cohort of generated submissions of mixed quality from the assignment's source (solution)
and release notebooks: per question, the solution, a targeted wrong answer (tests/wrong_answers/)
or the untouched stub. Grades it twice on two scratch copies of the course: once with stock
`nbgrader autograde` (sequential, the student code in the grader's own kernel) and once with
`iome autograde` (sandboxed, parallel). Prints both wall times, the speed ratio and the median
seconds per submission, and checks the two gradebooks hold identical auto-graded scores.
Reports numbers; it does not pass or fail on time.
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def course_copy(target: Path) -> Path:
    target.mkdir(parents=True)
    shutil.copy2(ROOT / "exercises" / "nbgrader_config.py", target / "nbgrader_config.py")
    shutil.copytree(ROOT / "exercises" / "source", target / "source")
    return target


def run(cmd: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return proc


def cohort(course: Path, assignment: str, n: int, seed: int = 6) -> dict[str, nbformat.NotebookNode]:
    (src,) = sorted((course / "source" / assignment).glob("*.ipynb"))
    source = nbformat.read(src, as_version=4)
    release = nbformat.read(course / "release" / assignment / src.name, as_version=4)
    wrong_file = ROOT / "tests" / "wrong_answers" / f"{assignment}.yml"
    wrong = {w["answer"]: w["code"] for w in (yaml.safe_load(wrong_file.read_text()) if wrong_file.exists() else [])}
    stubs = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in release.cells}
    answers = [c.metadata["nbgrader"]["grade_id"] for c in source.cells
               if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]
    rng = random.Random(seed)
    out = {}
    for i in range(n):
        nb = copy.deepcopy(source)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in answers:
                roll = rng.random()
                if roll < 0.2:
                    cell.source = stubs.get(gid, cell.source)
                elif roll < 0.45 and gid in wrong:
                    cell.source = wrong[gid]
            elif cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution"):
                cell.source = stubs.get(gid, cell.source) if rng.random() < 0.3 else \
                    "A written answer of about the right length. " * 10
        out[f"s{i:03d}"] = nb
    return out


def submit(course: Path, assignment: str, notebooks: dict, name: str) -> None:
    for student, nb in notebooks.items():
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / name)
        (folder / "timestamp.txt").write_text("2026-11-20 10:00:00.000000 UTC")


def scores(course: Path, assignment: str) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook
    out = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for sub in gb.find_assignment(assignment).submissions:
            out[sub.student.id] = {g.name: g.auto_score for nb in sub.notebooks for g in nb.grades
                                   if g.auto_score is not None or not g.needs_manual_grade}
    return out


def stock_times(log: str, students: list[str], end: float) -> list[float]:
    """Per-submission seconds from nbgrader's log (each student starts with 'Creating/updating student')."""
    starts = {}
    for line in log.splitlines():
        m = re.match(r"^(\d+\.\d+) .*Creating/updating student with ID '([^']+)'", line)
        if m:
            starts.setdefault(m.group(2), float(m.group(1)))
    ordered = sorted((t, s) for s, t in starts.items() if s in students)
    times = [b[0] - a[0] for a, b in zip(ordered, ordered[1:])]
    if ordered:
        times.append(end - ordered[-1][0])
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--students", type=int, default=60)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--assignment", default="health-economics")
    ap.add_argument("--keep", action="store_true", help="keep the scratch courses (printed)")
    args = ap.parse_args()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    tmp = Path(tempfile.mkdtemp(prefix="iome-bench-"))
    try:
        stock, new = course_copy(tmp / "stock"), course_copy(tmp / "iome")
        for course in (stock, new):
            run([str(BIN / "nbgrader"), "generate_assignment", args.assignment, "--force"], course, env)
        (src,) = sorted((stock / "source" / args.assignment).glob("*.ipynb"))
        notebooks = cohort(stock, args.assignment, args.students)
        for course in (stock, new):
            submit(course, args.assignment, notebooks, src.name)
        print(f"cohort: {len(notebooks)} generated submissions of {args.assignment} "
              f"({os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f})", flush=True)

        t0 = time.time()
        proc = run([str(BIN / "nbgrader"), "autograde", args.assignment, "--force",
                    "--Application.log_format=%(created).3f [%(name)s | %(levelname)s] %(message)s"], stock, env)
        stock_wall = time.time() - t0
        per_stock = stock_times(proc.stderr, list(notebooks), t0 + stock_wall)
        print(f"stock nbgrader autograde (sequential): {stock_wall:7.1f} s", flush=True)

        t0 = time.time()
        run([str(BIN / "iome"), "autograde", args.assignment, "--course", str(new), "--workers", str(args.workers)],
            new, env)
        new_wall = time.time() - t0
        sys.path.insert(0, str(ROOT / "src"))
        from iome.autograde import results
        per_new = [r["seconds"] for r in results(new, args.assignment)]
        print(f"iome autograde ({args.workers} workers, sandboxed): {new_wall:7.1f} s", flush=True)

        a, b = scores(stock, args.assignment), scores(new, args.assignment)
        diff = [(s, a.get(s), b.get(s)) for s in sorted(set(a) | set(b)) if a.get(s) != b.get(s)]
        totals = sorted(sum(v for v in a[s].values() if v) for s in a)
        print(f"speed ratio (stock / iome): {stock_wall / new_wall:.2f}x")
        print(f"median per submission: stock {statistics.median(per_stock):.2f} s "
              f"(sequential, {len(per_stock)} timed); iome {statistics.median(per_new):.2f} s inside a worker "
              f"(both sandboxed runs), {new_wall / len(notebooks):.2f} s of wall time per submission overall")
        print(f"auto-graded totals: min {totals[0]:g}, median {statistics.median(totals):g}, max {totals[-1]:g}")
        if diff:
            print(f"SCORES DIFFER for {len(diff)} students, e.g. {diff[:3]}")
            sys.exit(1)
        print(f"identical auto-graded scores for all {len(a)} students")
    finally:
        if args.keep:
            print(f"scratch courses kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

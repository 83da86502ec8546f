"""Benchmark: stock `nbgrader autograde` against `iome autograde` (default mode) on one cohort.

The cohort mixes function-style answers (nbgrader's own example course ps1, students hacker and
bitdiddle, from the installed nbgrader package) and the answer-type corpus of tests/corpus.py
(functions, classes, generators, figures, numpy/pandas types, big objects, in-place changes), each
student with a different, seeded mix of right and wrong answers. Both graders run on identical
copies; the script checks that every cell's score is identical, then prints the figures:

* wall-clock ratio  = stock wall time / iome wall time (iome with --workers processes);
* per-core ratio    = stock wall time / (iome wall time x workers): throughput per core used;
* CPU-time ratio    = CPU seconds (all processes) stock / iome.

No pass/fail on time: figures only. Usage:
    python scripts/bench_grading.py [--students 12] [--workers 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import nbformat  # noqa: E402

import corpus  # noqa: E402
from parity import CONFIG, clone, scores  # noqa: E402

from iome import autograde, grading  # noqa: E402


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def build(base: Path, students: int) -> Path:
    import nbgrader
    docs = Path(nbgrader.__file__).parent / "docs" / "source" / "user_guide"
    course = base / "stock"
    course.mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(CONFIG)
    shutil.copytree(docs / "source" / "ps1", course / "source" / "ps1")
    (course / "source" / "types").mkdir(parents=True)
    nbformat.write(corpus.source(), course / "source" / "types" / "types.ipynb")
    for assignment in ("ps1", "types"):
        grading.nbgrader("generate_assignment", assignment, "--force", course=course)
    release = nbformat.read(course / "release" / "types" / "types.ipynb", as_version=4)
    rng = random.Random(12)
    ids = [gid for gid, *_ in corpus.ANSWERS]
    for i in range(students):
        name = f"s{i:03d}"
        shutil.copytree(docs / "submitted" / ("hacker" if i % 2 else "bitdiddle") / "ps1",
                        course / "submitted" / name / "ps1")
        wrong = set(rng.sample(ids, rng.randint(0, len(ids) // 2)))
        folder = course / "submitted" / name / "types"
        folder.mkdir(parents=True)
        nbformat.write(corpus.submission(release, wrong, written="A reason."), folder / "types.ipynb")
    return course


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, default=12)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", type=Path, help="keep the two course copies in this folder")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="iome-bench-")) if not args.keep else args.keep
    stock = build(base, args.students)
    mine = clone(stock, base / "iome")
    notebooks = args.students * 3

    t0, c0 = time.monotonic(), _cpu()
    for assignment in ("ps1", "types"):
        grading.nbgrader("autograde", assignment, "--force", course=stock)
    stock_wall, stock_cpu = time.monotonic() - t0, _cpu() - c0

    t0, c0 = time.monotonic(), _cpu()
    for assignment in ("ps1", "types"):
        autograde.autograde(assignment, course=mine, workers=args.workers)
    iome_wall, iome_cpu = time.monotonic() - t0, _cpu() - c0

    diff = []
    for assignment in ("ps1", "types"):
        a, b = scores(stock, assignment), scores(mine, assignment)
        diff += [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    print(f"cohort: {args.students} students x 3 notebooks = {notebooks} notebooks "
          f"(ps1: problem1, problem2; answer-type corpus: {len(corpus.ANSWERS)} answers)")
    print(f"scores identical cell by cell: {'yes' if not diff else 'NO'} "
          f"({sum(len(scores(stock, a)) for a in ('ps1', 'types'))} grades compared)")
    for k, x, y in diff[:20]:
        print(f"  differs: {k}: stock {x}, iome {y}")
    print(f"stock nbgrader : wall {stock_wall:7.1f} s  ({stock_wall / notebooks:.2f} s/notebook), CPU {stock_cpu:7.1f} s")
    print(f"iome autograde : wall {iome_wall:7.1f} s  ({iome_wall / notebooks:.2f} s/notebook), CPU {iome_cpu:7.1f} s, "
          f"{args.workers} workers")
    print(f"wall-clock ratio: {stock_wall / iome_wall:.2f}x   per-core ratio: "
          f"{stock_wall / (iome_wall * args.workers):.2f}x   CPU-time ratio: {stock_cpu / iome_cpu:.2f}x")
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())

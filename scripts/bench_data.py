#!/usr/bin/env python3
"""How fast the book's datasets load: every resource in data/, median of several runs, cold and cached.

    .venv/bin/python scripts/bench_data.py [--runs 7]

- cold:   the loader's caches are emptied before each run, so the time includes reading the CSV,
          validating every column against the schema, checking keys and the foreign key to countries
          (which loads and validates countries.csv too);
- warm:   caches emptied, then countries.csv loaded untimed: the realistic first load of a dataset
          in a notebook that has already loaded another one (the country table is shared);
- cached: the same call again in the same process (the loader returns a copy of its validated frame,
          and re-reads the file only if it changed on disk).

With --build it also times `iome data build` from ../shared/data into a scratch folder, and how much of
that is the validation before the swap (the loader's checks and frictionless on every resource).

It prints figures and ratios only; it passes or fails nothing (timings depend on the machine).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from iome import data  # noqa: E402


def clear_caches() -> None:
    data._load.cache_clear()
    data._package.cache_clear()


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per resource (default 7)")
    parser.add_argument("--build", action="store_true", help="also time a full build and its validation")
    args = parser.parse_args()
    if args.build:
        bench_build()

    t0 = time.perf_counter()
    names = data.resource_names()
    rows = []
    for name in names:
        cold, warm, cached = [], [], []
        for _ in range(args.runs):
            clear_caches()
            cold.append(timed(lambda: data.load(name)))
            cached.append(timed(lambda: data.load(name)))
            clear_caches()
            data.load("countries")
            warm.append(timed(lambda: data.load(name)))
        rows.append((name, len(data.load(name)), statistics.median(cold), statistics.median(cached),
                     statistics.median(warm)))

    clear_caches()
    everything_cold = timed(lambda: [data.load(n) for n in names])
    everything_cached = timed(lambda: [data.load(n) for n in names])

    width = max(len(n) for n in names)
    print(f"{'resource':<{width}}  {'rows':>7}  {'cold ms':>8}  {'warm ms':>8}  {'cached ms':>9}  "
          f"{'cold/cached':>11}")
    for name, n, c, k, w in rows:
        print(f"{name:<{width}}  {n:>7,}  {c * 1e3:>8.1f}  {w * 1e3:>8.1f}  {k * 1e3:>9.2f}  {c / k:>10.0f}x")
    colds = [r[2] for r in rows]
    print(f"\n{len(rows)} resources, {args.runs} runs each (median).")
    print(f"cold:   median {statistics.median(colds) * 1e3:.1f} ms, slowest {max(colds) * 1e3:.1f} ms "
          f"({max(rows, key=lambda r: r[2])[0]})")
    print(f"warm:   median {statistics.median(r[4] for r in rows) * 1e3:.1f} ms")
    print(f"cached: median {statistics.median(r[3] for r in rows) * 1e3:.2f} ms")
    print(f"all {len(names)} resources in one go: cold {everything_cold * 1e3:.0f} ms, "
          f"cached {everything_cached * 1e3:.0f} ms")
    print(f"slowest cold load: {max(colds):.3f} s, i.e. {max(colds) * 100:.0f}% of one second")
    print(f"(benchmark took {time.perf_counter() - t0:.1f} s)")


def bench_build() -> None:
    import tempfile

    from iome import databuild

    root = Path(__file__).resolve().parents[1]
    raw = root.parent / "shared" / "data"
    if not (raw / "MANIFEST.csv").is_file():
        print(f"--build: {raw} not found, skipped")
        return
    spent = []
    real = databuild.validate

    def timed_validate(folder, names=None):
        start = time.perf_counter()
        real(folder, names)
        spent.append(time.perf_counter() - start)

    databuild.validate = timed_validate
    try:
        with tempfile.TemporaryDirectory() as tmp:
            total = timed(lambda: databuild.build(raw, Path(tmp) / "data", curated=root / "data"))
    finally:
        databuild.validate = real
    print(f"build: {total:.1f} s in all, of which validation before the swap {spent[0]:.1f} s "
          f"({spent[0] / total:.0%}: loader checks + frictionless on every resource)\n")


if __name__ == "__main__":
    main()

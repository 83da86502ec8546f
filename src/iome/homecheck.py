"""``iome check``: do the instructor's own solutions earn full marks for the configured home country?

For each assignment, in a scratch copy of the nbgrader course (``_build/iome-check/``), real nbgrader
generates the student version and autogrades the *source* notebook as if a student had handed in
the solutions, with the settings of ``course.yml``. The report gives, per graded question, the points
earned and, for every dataset the question uses, the home country's latest year (or "no data"), so a
data-sparse home country (Somalia, South Sudan...) is visible before students meet the question.
Results are cached by the settings, the data and the source notebooks.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from . import data
from .grading import GradingError, assignments, course_dir, nbgrader
from .settings import load_course, repo_root

STUDENT = "home-check"
_STRING = re.compile(r"""["']([a-z0-9_]+)["']""")


@dataclass
class Question:
    assignment: str
    cell: str  # nbgrader grade_id of the graded cell
    kind: str  # "auto" (tests) or "manual" (written answer, graded by the instructor)
    points: float
    score: float | None = None  # None: written answer, or the notebook could not be graded
    error: str = ""  # first line of the error the solution or its tests raised
    home_data: dict[str, int | None] = field(default_factory=dict)  # dataset -> home's latest year

    @property
    def full_marks(self) -> bool:
        return self.kind == "manual" or (self.score is not None and self.score >= self.points)

    @property
    def missing_data(self) -> list[str]:
        return [name for name, year in self.home_data.items() if year is None]


def _key(course: Path, name: str, base: str) -> str:
    h = hashlib.sha256(base.encode() + name.encode())
    for nb in sorted((course / "source" / name).glob("*.ipynb")):
        h.update(nb.read_bytes())
    h.update((course / "nbgrader_config.py").read_bytes())
    return h.hexdigest()[:20]


def _base_key() -> str:
    """Settings and data: what every assignment's result depends on besides its own notebooks."""
    h = hashlib.sha256(load_course().digest.encode())
    for path in sorted((repo_root() / "data").rglob("*")):
        if path.is_file() and path.suffix in (".csv", ".json"):
            h.update(path.read_bytes())
    return h.hexdigest()


def _home_years(names: set[str]) -> dict[str, int | None]:
    home = load_course().home
    out = {}
    for name in sorted(names):
        frame = data.load(name)
        if "iso3" not in frame or "year" not in frame:
            continue
        values = [c for c in ("value",) if c in frame]
        rows = frame[frame["iso3"] == home]
        if values:
            rows = rows.dropna(subset=values)
        out[name] = int(rows["year"].max()) if len(rows) else None
    return out


def _error_of(cell) -> str:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            text = f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".strip()
            return text.splitlines()[0][:160]
    return ""


def check_assignment(name: str, course: Path, work: Path) -> list[Question]:
    """Autograde the source notebook(s) of one assignment with stock nbgrader in ``work``."""
    if work.exists():
        shutil.rmtree(work)
    (work / "source").mkdir(parents=True)
    shutil.copy2(course / "nbgrader_config.py", work / "nbgrader_config.py")
    shutil.copytree(course / "source" / name, work / "source" / name)
    nbgrader("generate_assignment", name, "--force", course=work)
    submitted = work / "submitted" / STUDENT / name
    shutil.copytree(course / "source" / name, submitted)
    resources = set(data.resource_names()) - {"countries"}
    questions = []
    try:
        nbgrader("autograde", name, "--student", STUDENT, "--create", "--force", course=work)
        graded_ok = True
    except GradingError:
        graded_ok = False
    from nbgrader.api import Gradebook
    scores = {}
    if graded_ok:
        with Gradebook(f"sqlite:///{work / 'gradebook.db'}") as gb:
            for source_nb in sorted((course / "source" / name).glob("*.ipynb")):
                sub = gb.find_submission_notebook(source_nb.stem, name, STUDENT)
                scores.update({g.name: g.score for g in sub.grades})
    for source_nb in sorted((course / "source" / name).glob("*.ipynb")):
        graded_path = work / "autograded" / STUDENT / name / source_nb.name
        nb = nbformat.read(graded_path if graded_path.is_file() else source_nb, as_version=4)
        since_last: list = []
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            since_last.append(cell)
            if not meta.get("grade"):
                continue
            text = "\n".join(c.source for c in since_last)
            errors = [e for e in (_error_of(c) for c in since_last if c.cell_type == "code") if e]
            manual = cell.cell_type == "markdown" or meta.get("solution")
            questions.append(Question(
                assignment=name, cell=meta.get("grade_id", "?"), kind="manual" if manual else "auto",
                points=float(meta.get("points", 0) or 0),
                score=None if manual else scores.get(meta.get("grade_id")),
                error="" if manual else (errors[0] if errors else ("" if graded_ok else "nbgrader could not grade "
                                                                   "the notebook")),
                home_data=_home_years({m for m in _STRING.findall(text) if m in resources})))
            since_last = []
    return questions


def check_dir() -> Path:
    """Where results and scratch courses go: the repository's _build/, or, where the package is a
    read-only copy (the class hub's runtime for instructors), a private temporary folder."""
    base = repo_root() / "_build" / "iome-check"
    try:
        base.mkdir(parents=True, exist_ok=True)
        return base
    except OSError:
        private = Path(tempfile.gettempdir()) / f"iome-check-{os.getuid()}"
        private.mkdir(mode=0o700, parents=True, exist_ok=True)
        return private


def run_check(names: list[str] | None = None, course: Path | None = None, workers: int = 2,
              use_cache: bool = True, progress=None) -> list[Question]:
    """Check ``names`` (default: every assignment) and return one Question per graded cell."""
    course = Path(course or course_dir())
    names = list(names or assignments(course))
    base = check_dir()
    common = _base_key()
    cached = {n: base / f"{n}-{_key(course, n, common)}.json" for n in names}  # one result per assignment
    results: dict[str, list[Question]] = {}
    for n, path in cached.items():
        if use_cache and path.is_file():
            results[n] = [Question(**q) for q in json.loads(path.read_text(encoding="utf-8"))]
    todo = [n for n in names if n not in results]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(check_assignment, n, course, base / "work" / n): n for n in todo}
        for future in (progress(list(futures), "home check") if progress and futures else futures):
            n = futures[future]
            results[n] = future.result()
            cached[n].parent.mkdir(parents=True, exist_ok=True)
            cached[n].write_text(json.dumps([asdict(q) for q in results[n]], indent=1), encoding="utf-8")
    return [q for n in names for q in results[n]]


def report_lines(questions: list[Question], verbose: bool = True) -> list[str]:
    """Plain-text report: one line per assignment, and per question when verbose (or when it lost points)."""
    home = load_course().home
    lines = []
    by_assignment: dict[str, list[Question]] = {}
    for q in questions:
        by_assignment.setdefault(q.assignment, []).append(q)
    for name, qs in by_assignment.items():
        auto = [q for q in qs if q.kind == "auto"]
        got = sum(q.score or 0 for q in auto)
        total = sum(q.points for q in auto)
        lost = [q for q in auto if not q.full_marks]
        manual = sum(q.points for q in qs if q.kind == "manual")
        mark = "ok  " if not lost else "LOST"
        lines.append(f"{mark} {name}: solutions score {got:g}/{total:g} auto points for {home}"
                     + (f" (+{manual:g} written, graded by the instructor)" if manual else ""))
        for q in qs:
            if not (verbose or not q.full_marks):
                continue
            score = "written answer" if q.kind == "manual" else f"{q.score if q.score is not None else 0:g}/{q.points:g}"
            have = ", ".join(f"{d} {y}" if y else f"{d} NO DATA" for d, y in q.home_data.items())
            lines.append(f"     {q.cell}: {score}" + (f"; {home} data: {have}" if have else "")
                         + (f"; {q.error}" if q.error else ""))
    return lines

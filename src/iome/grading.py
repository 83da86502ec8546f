"""The nbgrader course in ``exercises/``: release, autograde, feedback, export, and the student
copies embedded in the book. Every step runs real nbgrader in the course directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat

from .settings import repo_root

SKIP = "skip-execution"  # myst-nb: show the cell on the site, never run it there


class GradingError(RuntimeError):
    pass


def course_dir() -> Path:
    return repo_root() / "exercises"


def assignments(course: Path | None = None) -> list[str]:
    source = (course or course_dir()) / "source"
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def nbgrader(*args: str, course: Path | None = None, env: dict | None = None, quiet: bool = True):
    """Run one nbgrader command in the course directory; raise GradingError with its log on failure."""
    course = course or course_dir()
    bin_dir = str(Path(sys.executable).parent)
    # nbgrader calls `alembic` from PATH when it creates the gradebook
    full_env = {**os.environ, **(env or {}), "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    cmd = [str(Path(bin_dir) / "nbgrader"), *args]
    proc = subprocess.run(cmd, cwd=course, env=full_env, capture_output=quiet, text=True)
    if proc.returncode != 0:
        log = (proc.stderr or "")[-4000:] if quiet else ""
        raise GradingError(f"`nbgrader {' '.join(args)}` failed in {course} (exit {proc.returncode}).\n{log}")
    return proc


def release(assignment: str, course: Path | None = None) -> Path:
    """Generate the student version (solutions and hidden tests removed) in release/<assignment>/."""
    nbgrader("generate_assignment", assignment, "--force", course=course)
    return (course or course_dir()) / "release" / assignment


def book_copy(assignment: str, book: Path | None = None, course: Path | None = None) -> Path:
    """Copy the released notebook into book/exercises/ for the site.

    Context cells (data, charts, explorers) run during the book build; answer and test cells are
    shown but not run (an empty answer raises NotImplementedError by design).
    """
    course = course or course_dir()
    released = sorted((course / "release" / assignment).glob("*.ipynb"))
    if len(released) != 1:
        raise GradingError(f"{course / 'release' / assignment}: expected one notebook, found {len(released)}; "
                           f"run `iome release {assignment}` first")
    nb = nbformat.read(released[0], as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("solution") or meta.get("grade")):
            tags = cell.metadata.setdefault("tags", [])
            if SKIP not in tags:
                tags.append(SKIP)
    target = (book or repo_root() / "book") / "exercises" / f"{assignment}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target

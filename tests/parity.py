"""Helpers for parity tests: grade one cohort with stock nbgrader and with `iome autograde`,
read both gradebooks cell by cell."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

CONFIG = """c = get_config()
c.CourseDirectory.course_id = "parity"
c.CourseDirectory.root = __file__.rsplit("/", 1)[0]
c.CourseDirectory.db_url = "sqlite:///" + c.CourseDirectory.root + "/gradebook.db"
"""


def make_course(target: Path, assignment: str, source: Path, submissions: dict[str, Path], config: str = CONFIG):
    """A course folder with one assignment's source notebooks (and files) and submitted folders."""
    target.mkdir(parents=True, exist_ok=True)
    (target / "nbgrader_config.py").write_text(config)
    shutil.copytree(source, target / "source" / assignment)
    for student, folder in submissions.items():
        shutil.copytree(folder, target / "submitted" / student / assignment)
    return target


def clone(course: Path, target: Path) -> Path:
    shutil.copytree(course, target, ignore=shutil.ignore_patterns("autograded", "feedback"))
    return target


def scores(course: Path, assignment: str) -> dict:
    """{(student, notebook, grade_id): (auto_score, needs_manual_grade)} from the gradebook."""
    db = sqlite3.connect(course / "gradebook.db")
    try:
        rows = db.execute(
            "select st.id, nb.name, c.name, g.auto_score, g.needs_manual_grade from grade g "
            "join base_cell c on g.cell_id = c.id join submitted_notebook sn on g.notebook_id = sn.id "
            "join notebook nb on sn.notebook_id = nb.id join submitted_assignment sa on sn.assignment_id = sa.id "
            "join student st on sa.student_id = st.id join assignment a on sa.assignment_id = a.id "
            "where a.name = ?", (assignment,)).fetchall()
    finally:
        db.close()
    return {(s, n, c): auto for s, n, c, auto, _ in rows}

"""Exercise sources are reviewable and valid: one .ipynb per assignment, outputs stripped, unique
grade ids, points on every graded cell, and `nbgrader validate` passes on the solution."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT
from iome import grading

SOURCES = [nb for a in grading.assignments(ROOT / "exercises")
           for nb in sorted((ROOT / "exercises" / "source" / a).glob("*"))]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.parent.name)
def test_source_is_one_stripped_notebook(path):
    assert path.suffix == ".ipynb", f"{path}: only the notebook belongs here (other files are released to students)"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path}: strip outputs before committing"
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids)), f"{path}: duplicate grade_id"
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded and all(c.metadata["nbgrader"].get("points", 0) > 0 for c in graded)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.parent.name)
def test_nbgrader_validate_passes_on_the_solution(path):
    proc = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "validate", str(path)],
                          capture_output=True, text=True, cwd=ROOT / "exercises")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Success! Your notebook passes all the tests." in out, out[-2000:]


# --- outcome tags: every graded cell names what it assesses; every TOC chapter outcome is assessed --

def _chapter_outcomes() -> dict[str, int]:
    """Chapter stem -> number of declared outcomes, for every chapter file in the book."""
    from iome import chapters
    return {ch.path.stem: len(ch.outcomes) for ch in chapters.load_chapters(ROOT / "book")}


def _toc_chapters() -> list[str]:
    """Stems of the chapters the TOC includes (a school may drop chapters by editing _toc.yml)."""
    import yaml

    def files(node):
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                yield node["file"]
            for value in node.values():
                yield from files(value)
        elif isinstance(node, list):
            for item in node:
                yield from files(item)

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return [Path(f).stem for f in files(toc) if Path(f).parts[1:2] in (("iome",), ("global-health",), ("bridge",))]


def _tags() -> dict[str, list[str]]:
    """'<assignment>/<grade_id>' -> outcome tags, for every graded cell of every source notebook."""
    found = {}
    for path in SOURCES:
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade"):
                found[f"{path.parent.name}/{meta['grade_id']}"] = cell.metadata.get("iome", {}).get("outcomes")
    return found


def tag_problems(tags: dict, declared: dict[str, int]) -> list[str]:
    problems = []
    for cell, outcomes in tags.items():
        if not outcomes or not isinstance(outcomes, list):
            problems.append(f"{cell}: no iome.outcomes metadata (a list such as ['health-economics#2'])")
            continue
        for tag in outcomes:
            stem, _, n = str(tag).partition("#")
            if stem not in declared:
                problems.append(f"{cell}: {tag!r} names no chapter in book/ (use the chapter file's stem)")
            elif not n.isdigit() or not 1 <= int(n) <= declared[stem]:
                problems.append(f"{cell}: {tag!r}: {stem} declares outcomes 1..{declared[stem]}")
    return problems


def unassessed(tags: dict, declared: dict[str, int], toc: list[str]) -> list[str]:
    assessed = {t for outcomes in tags.values() for t in (outcomes or [])}
    return [f"{stem}#{n}" for stem in toc for n in range(1, declared[stem] + 1) if f"{stem}#{n}" not in assessed]


def test_every_graded_cell_names_existing_outcomes():
    problems = tag_problems(_tags(), _chapter_outcomes())
    assert not problems, "\n".join(problems)


def test_every_outcome_of_every_toc_chapter_is_assessed():
    missing = unassessed(_tags(), _chapter_outcomes(), _toc_chapters())
    assert not missing, f"outcomes no graded cell assesses (tag a cell with them): {missing}"


def test_outcome_checks_can_fail():
    """An untagged cell, an unknown chapter, an outcome number out of range and an outcome nothing
    assesses are each caught; a chapter dropped from the TOC needs no assessment."""
    declared = {"alpha": 2, "beta": 1}
    tags = {"a/q1": ["alpha#1"], "a/q2": None, "a/q3": ["gamma#1"], "a/q4": ["alpha#3"], "a/q5": ["beta#1"]}
    problems = tag_problems(tags, declared)
    assert [p.split(":")[0] for p in problems] == ["a/q2", "a/q3", "a/q4"]
    assert unassessed(tags, declared, ["alpha", "beta"]) == ["alpha#2"]
    assert unassessed(tags, declared, ["beta"]) == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.parent.name)
def test_points_in_headings_and_intro_match_the_cells(path):
    """'## Question N (P points...' and the intro's '**Points:** T (A auto-graded, M ...)' agree with
    the graded cells, so students and instructors read the points nbgrader will give."""
    import re
    nb = nbformat.read(path, as_version=4)
    auto = manual = 0
    heading = None
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        found = re.match(r"## Question \d+ \((\d+) points?", cell.source) if cell.cell_type == "markdown" else None
        if found:
            heading = int(found.group(1))
        if meta.get("grade"):
            assert heading == meta["points"], f"{path.name}: {meta['grade_id']} gives {meta['points']} points, its heading says {heading}"
            heading = None
            if cell.cell_type == "markdown":
                manual += meta["points"]
            else:
                auto += meta["points"]
    want = f"**Points:** {auto + manual} ({auto} auto-graded, {manual} graded by your instructor)"
    assert want in nb.cells[0].source, f"{path.name}: the intro should say {want}"


def test_chapters_name_existing_assignments():
    from iome import chapters
    have = set(grading.assignments(ROOT / "exercises"))
    for ch in chapters.load_chapters(ROOT / "book"):
        assert ch.exercise is None or ch.exercise in have, f"{ch.path}: exercise {ch.exercise!r} has no source notebook"


def test_no_data_helpers():
    from iome.exercise_helpers import NO_DATA, same, value_of
    import pandas as pd
    frame = pd.DataFrame({"iso3": ["AAA", "BBB"], "value": [1.5, float("nan")]})
    assert value_of(frame, "AAA") == 1.5 and value_of(frame, "BBB") is NO_DATA and value_of(frame, "CCC") is NO_DATA
    assert same(NO_DATA, NO_DATA) and not same(0.0, NO_DATA) and not same(NO_DATA, 1.0) and same(1.0, 1.0 + 1e-12)
    assert not same(float("nan"), 1.0)

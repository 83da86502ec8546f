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

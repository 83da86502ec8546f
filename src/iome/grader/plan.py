"""The assignment's plan, read from the instructor's source notebook: what each cell is (locked,
answer, test, written answer, task), the points, and the names each answer defines for the tests."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"



def _nbg(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def cell_kind(cell) -> str:
    m = _nbg(cell)
    if cell.get("cell_type") != "code":
        if m.get("solution") and m.get("grade"):
            return "manual"
        if m.get("task"):
            return "task"
        return "markdown"
    if m.get("grade") and not m.get("solution"):
        return "test"
    if m.get("solution"):
        return "answer"
    if not m:  # no nbgrader metadata: the student's own copy runs (as in stock nbgrader), never as setup
        return "free"
    return "locked"


def _stored_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _loaded_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


@dataclass
class Plan:
    assignment: str
    notebook: str                  # notebook name without .ipynb
    source: nbformat.NotebookNode
    answer_names: dict[str, list[str]] = field(default_factory=dict)   # answer grade_id -> names
    tests: dict[str, float] = field(default_factory=dict)              # test grade_id -> points
    manual: dict[str, float] = field(default_factory=dict)             # manual grade_id -> points
    stubs: dict[str, str] = field(default_factory=dict)  # answer id -> the release's text (no solution)

    @property
    def all_names(self) -> list[str]:
        return sorted({n for names in self.answer_names.values() for n in names})


def plan(source_path: Path, assignment: str) -> Plan:
    nb = nbformat.read(source_path, as_version=4)
    p = Plan(assignment, source_path.stem, nb)
    test_loads = set()
    for cell in nb.cells:
        kind, m = cell_kind(cell), _nbg(cell)
        if kind == "test":
            p.tests[m["grade_id"]] = float(m.get("points", 0))
            test_loads |= _loaded_names(cell.source)
        elif kind in ("manual", "task") and m.get("grade"):
            p.manual[m["grade_id"]] = float(m.get("points", 0))
    for cell in nb.cells:
        if cell_kind(cell) == "answer":
            p.answer_names[_nbg(cell)["grade_id"]] = sorted(_stored_names(cell.source) & test_loads)
    released = source_path.parents[2] / "release" / assignment / source_path.name
    if released.is_file():
        for cell in nbformat.read(released, as_version=4).cells:
            if cell_kind(cell) in ("answer", "manual", "task"):
                p.stubs[_nbg(cell).get("grade_id")] = cell.source
    return p


NO_ANSWER = {"code": "# (no answer was submitted for this cell)", "markdown": "*(no answer was submitted)*"}

"""Reading a submission: validation (a clear reason when it cannot be graded) and, for the
answers-as-data mode, merging its answer cells onto the source notebook's skeleton."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from .plan import Plan, _nbg, cell_kind

MAX_NOTEBOOK_BYTES = 30 * 1024 * 1024



class Ungradable(Exception):
    """The submitted file cannot be graded; the message says why and what the student can do."""


def read_submission(path: Path) -> nbformat.NotebookNode:
    size = path.stat().st_size
    if size == 0:
        raise Ungradable(f"{path.name} is empty (0 bytes): the notebook was not saved before submitting")
    if size > MAX_NOTEBOOK_BYTES:
        raise Ungradable(f"{path.name} is {size / 1e6:.0f} MB, over the {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB "
                         "limit: clear the outputs (Kernel > Restart and clear output) and submit again")
    raw = path.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Ungradable(f"{path.name} is not a notebook: not valid JSON ({exc}); "
                         "it may be damaged or saved in another format") from None
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise Ungradable(f"{path.name} is JSON but not a Jupyter notebook (no cells)")
    major = data.get("nbformat")
    if major not in (3, 4):
        raise Ungradable(f"{path.name} says nbformat {major!r}; only Jupyter notebook format 4 (or 3) "
                         "can be graded: open and save it with Jupyter")
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except Exception as exc:  # noqa: BLE001 - any reader failure makes it ungradable
        raise Ungradable(f"{path.name}: not a readable notebook ({type(exc).__name__}: {exc})"[:500]) from None
    for cell in nb.cells:
        if not isinstance(cell.get("source", ""), str):
            raise Ungradable(f"{path.name}: a cell's source is not text")
    return nb


def merge(plan_: Plan, student: nbformat.NotebookNode) -> tuple[list[dict], dict, list[str]]:
    """Cells to run for the student (source order), student text per answer id, and notes.

    Locked and test cells always come from the source notebook; answer cells (and cells the
    student added) from the submission. Edited, deleted, duplicated or retyped test/locked
    cells therefore change nothing.
    """
    notes = []
    known = {_nbg(c).get("grade_id"): cell_kind(c) for c in plan_.source.cells if _nbg(c).get("grade_id")}
    answers: dict[str, object] = {}
    extras: dict[str | None, list[str]] = {}
    anchor = None
    seen = set()
    last = {}  # as nbgrader's DeduplicateIds: the LAST copy of a cell id keeps it; earlier copies
    for i, cell in enumerate(student.cells):  # become ordinary cells, run where they are
        if _nbg(cell).get("grade_id") in known:
            last[_nbg(cell)["grade_id"]] = i
    for i, cell in enumerate(student.cells):
        gid = _nbg(cell).get("grade_id")
        kind = known.get(gid)
        if gid and kind and last.get(gid) != i:
            notes.append(f"cell {gid!r} appears more than once; as nbgrader does, the last copy counts and "
                         "earlier ones run as ordinary cells")
            if cell.get("cell_type") == "code" and kind in ("answer", "locked") and cell.source.strip():
                extras.setdefault(anchor, []).append(cell.source)
            continue
        if gid and kind:
            seen.add(gid)
            if kind in ("answer", "manual", "task"):
                answers[gid] = cell
            anchor = gid
        elif cell.get("cell_type") == "code" and cell.source.strip():
            extras.setdefault(anchor, []).append(cell.source)
    for gid, kind in known.items():
        if gid not in seen and kind in ("answer", "manual", "test"):
            what = {"answer": "answer cell", "manual": "written answer", "test": "test cell"}[kind]
            notes.append(f"{what} {gid!r} is missing from the submission"
                         + (" (the source copy is used)" if kind == "test" else ""))
    if not seen:
        # no nbgrader metadata at all (the work was pasted into a new notebook): run the student's
        # cells as they are, in order; the tests still come from the source
        notes.append("the notebook has none of the assignment's cell ids (was it copied into a new notebook?): "
                     "its code cells were run in order")
        code = [c.source for c in student.cells if c.get("cell_type") == "code" and c.source.strip()]
        run = [{"kind": "extra", "id": None, "source": src} for src in code]
        run.append({"kind": "answer", "id": None, "source": "", "capture": plan_.all_names})
        return run, answers, [n for n in notes if "is missing from the submission" not in n]
    run = [{"kind": "extra", "source": s, "id": None} for s in extras.get(None, [])]
    for cell in plan_.source.cells:
        gid, kind = _nbg(cell).get("grade_id"), cell_kind(cell)
        if kind == "locked":
            run.append({"kind": "locked", "id": gid, "source": cell.source})
        elif kind == "answer":
            mine = answers.get(gid)
            if mine is None:
                src = ""
            elif mine.get("cell_type") != "code":
                notes.append(f"answer cell {gid!r} was changed to {mine.get('cell_type')}; it is not run")
                src = ""
            else:
                src = mine.source
            run.append({"kind": "answer", "id": gid, "source": src, "capture": plan_.answer_names.get(gid, [])})
        for extra in extras.get(gid, []) if gid else []:
            run.append({"kind": "extra", "id": None, "source": extra})
    if any(c["kind"] == "extra" for c in run):
        notes.append("cells you added were run in place")
    return run, answers, notes

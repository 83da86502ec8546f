"""Default mode, both sides: the job a worker runs (:func:`grade`) and what the main process does
before (:func:`prepare`) and after it (:func:`record`)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from . import flags, nbrun

NOT_RUN = "iome: this test did not run: {why}"


def _jsonable_config(config) -> dict:
    out = {}
    for section, values in config.items():
        try:
            json.dumps(values)
        except (TypeError, ValueError):
            continue
        out[section] = values
    return out


def prepare(nb, course: Path, assignment: str, notebook: str, student: str, config) -> tuple:
    """Sanitize with nbgrader's own preprocessors; return (trusted notebook, resources, job part)."""
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    resources = nbrun.resources_for(course, assignment, notebook, student, db_url)
    trusted = nbrun.sanitize(nb, resources, config)
    job = {"mode": "nbgrader", "nb": trusted, "config": _jsonable_config(config),
           "resources": {"nbgrader": dict(resources["nbgrader"])}}
    return trusted, resources, job


def grade(job: dict, server, limits, common: dict) -> dict:
    """In a worker: run nbgrader's execute chain in one sandbox; collect what came back."""
    # the notebook (test cells, hidden ones included) travels as a payload the sandbox's client reads
    # only after it has forked the kernel: student code never has it in memory before the tests run
    spec = {"config": job["config"], "resources": job["resources"], "allowed": job.get("allowed", [])}
    payload = json.dumps(job["nb"]).encode()
    out = server.run("nbgrader", spec, limits, payload=payload, **common)
    if _did_not_start(out):  # a kernel that died before its first reply: start it once more, and say so
        out = server.run("nbgrader", spec, limits, payload=payload, **common)
        retried = True
    else:
        retried = False
    result = {"mode": "nbgrader", "cells": {}, "events": [], "final": None, "exit": out.exit,
              "isolation": out.isolation, "started": None, "leftover": out.leftover,
              "problems": ["the kernel did not start on the first try (died before its first reply); it was "
                           "started again"] if retried else []}
    for kind, data in out.frames:
        if kind == "start" and isinstance(data, int):
            result["started"] = data
        elif kind == "cell" and isinstance(data, dict) and isinstance(data.get("i"), int):
            result["cells"][str(data["i"])] = {"outputs": data.get("outputs", []),
                                               "execution_count": data.get("execution_count")}
        elif kind == "events" and isinstance(data, list):
            result["events"] += [e for e in data if isinstance(e, list) and len(e) == 2][:500]
        elif kind == "notebook" and isinstance(data, dict):
            result["final"] = data
        elif kind == "sandbox-error":
            result["problems"].append(f"grader error: the sandbox failed: {str(data)[:300]}")
    return result


def _did_not_start(out) -> bool:
    cells = any(kind == "cell" for kind, _ in out.frames)
    final = next((d for k, d in out.frames if k == "notebook" and isinstance(d, dict)), None)
    return not cells and bool(final) and "before replying" in str(final.get("error", ""))


def _is_test(cell) -> bool:
    m = cell.get("metadata", {}).get("nbgrader", {})
    return cell.cell_type == "code" and bool(m.get("grade")) and not m.get("solution")


def _texts(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _texts(v)
    elif isinstance(value, list):
        for v in value:
            yield from _texts(v)


def _redact_hidden(nb) -> list[str]:
    """A student cell run after a hidden test can print it (``In``, ``_ih``, history): such output
    never reaches the graded notebook or the feedback."""
    from ..feedback import BEGIN, hidden_lines, plain, quotes_any
    secret = [line for c in nb.cells if c.cell_type == "code" for line in hidden_lines(c.source)]
    if not secret:
        return []
    hit = False
    for cell in nb.cells:
        if cell.cell_type != "code" or BEGIN in cell.source:
            continue  # cells holding hidden tests are filtered by iome.feedback when feedback is made
        kept = []
        for out in cell.get("outputs", []):
            if quotes_any(plain("\n".join(_texts(dict(out)))), secret):
                hit = True
                kept.append(nbformat.v4.new_output("stream", name="stdout",
                                                   text="[output removed: it quoted the instructor's hidden tests]\n"))
            else:
                kept.append(out)
        cell.outputs = kept
    return ["look at: printed the instructor's hidden tests (output removed)"] if hit else []


def record(trusted, resources: dict, config, result: dict | None, limits, why_none: str = "") -> list[str]:
    """Put the outputs on the trusted notebook, mark tests that never ran, save grades with
    nbgrader's own preprocessors. Returns the problems to report (flags included)."""
    problems: list[str] = []
    result = result or {}
    final = result.get("final")
    cells = [None] * len(trusted.cells)
    for i, c in (result.get("cells") or {}).items():
        if i.isdigit() and int(i) < len(cells):
            cells[int(i)] = c
    if final and isinstance(final.get("cells"), list) and len(final["cells"]) == len(cells):
        for i, c in enumerate(final["cells"]):
            if cells[i] is not None and isinstance(c, dict):
                cells[i] = c  # LimitOutput's version of a cell that ran
    why = why_none
    if final and final.get("error"):
        why = f"the kernel stopped: {final['error']}" + (
            f" (kernel exit status {final['kernel_exit']})" if final.get("kernel_exit") is not None else "")
        died = [d for k, d in result.get("events", []) if k == "kernel-error"]
        if died:
            why += f" ({died[0]})"
    elif not final:
        exit_ = result.get("exit", "")
        where = ""
        started = result.get("started")
        if isinstance(started, int) and 0 <= started < len(trusted.cells):
            gid = trusted.cells[started].get("metadata", {}).get("nbgrader", {}).get("grade_id")
            where = f" in cell {gid!r}" if gid else f" in cell {started + 1}"
        why = why or {"timeout": f"the notebook ran longer than {limits.wall_seconds:g} s{where} and was stopped "
                                 "(look at: hit the notebook time limit)",
                      "output-limit": f"the notebook sent more than {limits.output_mb} MB of output{where} "
                                      "(look at: hit the output limit)"}.get(
            exit_, f"the grading sandbox ended early ({exit_}){where}")
    if why:
        problems.append(why + "; tests that did not run score 0")
    for i, cell in enumerate(trusted.cells):
        if trusted.cells[i].cell_type != "code":
            continue
        got = cells[i]
        if got is None:
            trusted.cells[i].outputs = []
            if _is_test(cell):
                cells[i] = {"outputs": [{"output_type": "error", "ename": "NotRun",
                                         "evalue": NOT_RUN.format(why=why or "the notebook stopped"),
                                         "traceback": [NOT_RUN.format(why=why or "the notebook stopped")]}],
                            "execution_count": None}
            else:
                cells[i] = {"outputs": [], "execution_count": None}
    problems += nbrun.merge_outputs(trusted, {"cells": [c or {} for c in cells]})
    problems += _redact_hidden(trusted)
    problems += result.get("problems", [])
    problems += flags.from_events(result.get("events", []))
    problems += flags.from_outputs([c for c in cells if c])
    if result.get("leftover"):
        problems.append(f"look at: left {result['leftover']} process(es) running after the notebook ended "
                        "(killed)")
    if final and final.get("leftover"):
        problems.append(f"look at: left {final['leftover']} process(es) running after the notebook ended "
                        "(killed)")
    events = {k for k, _ in result.get("events", [])}
    if final and not final.get("error") and any(_is_test(c) for c in trusted.cells):
        if "tests-ready" not in events:
            problems.append("look at: the grader's guard did not answer before the tests (removed or broken by "
                            "the notebook's code)")
        elif "end" not in events:
            problems.append("look at: the grader's audit channel was closed by the notebook's code")
    nbrun.save(trusted, resources, config)
    return problems

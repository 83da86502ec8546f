"""Answers-as-data mode (a per-assignment opt-in, see :mod:`iome.grader.modes`): two sandboxed runs.

1. **Student run.** The submission's cells run in an IPython shell (no kernel); after each answer
   cell the names the tests use are encoded as plain data (:mod:`iome.answers`).
2. **Test run.** A fresh interpreter (forked from the clean worker, never touched by student code)
   runs the source notebook's setup cells, decodes the answers and runs every test cell from the
   *source* notebook, hidden tests included. The score is decided here, so kernel hooks, patched
   ``assert`` or always-equal objects in the submission gain nothing.

An answer that cannot be carried over as data makes the whole submission fall back to the default
mode (:mod:`iome.grader.default`), with the reason noted.
"""

from __future__ import annotations

import ast
import json
import sys
import time
import traceback

from . import pool
from .plan import HIDDEN_BEGIN, HIDDEN_END

TEXT_CAP = 20_000          # characters of a cell's stdout/stderr kept for feedback
MIME_CAP = 300_000         # bytes of one rich output kept



def _make_shell():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config
    cfg = Config()
    cfg.HistoryManager.enabled = False
    cfg.HistoryManager.hist_file = ":memory:"
    cfg.InteractiveShell.colors = "nocolor"
    cfg.InteractiveShell.xmode = "Plain"
    return InteractiveShell.instance(config=cfg)


class _Capped:
    """A text stream that keeps the first TEXT_CAP characters and counts the rest."""

    def __init__(self):
        self.parts, self.n, self.dropped = [], 0, 0

    def write(self, s):
        s = str(s)
        room = TEXT_CAP - self.n
        if room > 0:
            self.parts.append(s[:room])
            self.n += min(len(s), room)
        self.dropped += max(0, len(s) - max(room, 0))
        return len(s)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pass

    def isatty(self):
        return False

    def text(self):
        t = "".join(self.parts)
        if self.dropped:
            t += f"\n[... {self.dropped} more characters not kept]\n"
        return t


def _cap_bundle(data) -> dict:
    out = {}
    if not isinstance(data, dict):
        return out
    for mime, value in data.items():
        try:
            text = value if isinstance(value, str) else json.dumps(value)
        except (TypeError, ValueError):
            continue
        if len(text) <= MIME_CAP:
            out[str(mime)] = value
        elif mime == "text/plain":
            out[mime] = text[:2000] + " [...]"
    if not out:
        out["text/plain"] = "[output too large to keep]"
    return out


def _run_cell(shell, source: str, silent: bool = False) -> dict:
    """Run one cell in the IPython shell; return its outputs (capped) and error."""
    from IPython.core.displaypub import CapturingDisplayPublisher

    class Hook:
        def __init__(self):
            self.result = None

        def __call__(self, value=None):
            if value is None or silent:
                return
            shell.user_ns["_"] = value
            fmt, md = shell.display_formatter.format(value)
            self.result = {"data": fmt, "metadata": md}

    out, err = _Capped(), _Capped()
    pub = CapturingDisplayPublisher()
    hook = Hook()
    errors = []
    saved = (sys.stdout, sys.stderr, shell.display_pub, shell.display_trap.hook, shell._showtraceback)
    shell.display_pub = pub
    shell.display_trap.hook = hook
    shell._showtraceback = lambda etype, evalue, stb: errors.append(stb)
    sys.stdout, sys.stderr = out, err
    try:
        res = shell.run_cell(source, store_history=False, silent=silent)
    finally:
        sys.stdout, sys.stderr, shell.display_pub, shell.display_trap.hook, shell._showtraceback = saved
    outputs = []
    if out.n or out.dropped:
        outputs.append({"output_type": "stream", "name": "stdout", "text": out.text()})
    if err.n or err.dropped:
        outputs.append({"output_type": "stream", "name": "stderr", "text": err.text()})
    for item in pub.outputs[:20]:
        outputs.append({"output_type": "display_data", "data": _cap_bundle(item.get("data")), "metadata": {}})
    if hook.result:
        outputs.append({"output_type": "execute_result", "data": _cap_bundle(hook.result["data"]),
                        "metadata": {}, "execution_count": None})
    exc = res.error_in_exec or res.error_before_exec
    error = None
    if exc is not None:
        stb = [str(line)[:2000] for line in (errors[-1] if errors else [])][-30:]
        error = {"ename": type(exc).__name__, "evalue": str(exc)[:2000], "traceback": stb}
        outputs.append({"output_type": "error", **error})
    return {"outputs": outputs, "error": error}


def student_run(job: dict, emit) -> None:
    """Sandbox target 1: run the student's cells; emit their outputs and encoded answers."""
    from .. import answers
    shell = pool.shell()
    dumps = answers.dumps
    names = job["names"]
    for i, cell in enumerate(job["cells"]):
        emit("start", i)
        if not cell["source"].strip():
            result = {"outputs": [], "error": None}
        else:
            result = _run_cell(shell, cell["source"], silent=cell["kind"] == "locked")
        if cell["kind"] != "locked":
            emit("cell", {"i": i, **result})
        if cell["kind"] == "answer":
            ns = shell.user_ns
            emit("answers", dumps({n: ns[n] for n in names if n in ns}))
    ns = shell.user_ns
    emit("answers", dumps({n: ns[n] for n in names if n in ns}))
    emit("done", None)


def _hidden_ranges(source: str) -> set[int]:
    lines, inside, hidden = source.splitlines(), False, set()
    for n, line in enumerate(lines, 1):
        if HIDDEN_BEGIN in line:
            inside = True
        elif HIDDEN_END in line:
            inside = False
        elif inside:
            hidden.add(n)
    return hidden


def _run_test(shell, gid: str, source: str, points: float) -> dict:
    """Run one test cell (instructor code) in the test interpreter; decide its score."""
    out, err = _Capped(), _Capped()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    filename = f"<test {gid}>"
    value = None
    try:
        code = shell.transform_cell(source)
        tree = ast.parse(code, filename)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        ns = shell.user_ns
        exec(compile(tree, filename, "exec"), ns)  # noqa: S102 - instructor's test code
        if last is not None:
            value = eval(compile(ast.Expression(last.value), filename, "eval"), ns)  # noqa: S307
        error = None
    except BaseException as exc:  # noqa: BLE001 - a failing test may raise anything
        lineno = None
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename == filename:
                lineno = frame.lineno
        hidden = lineno in _hidden_ranges(source) if lineno else True
        lines = source.splitlines()
        where = ("iome: a hidden test failed" if hidden else
                 f"iome: visible test failed (line {lineno}): {lines[lineno - 1].strip()}")
        error = {"ename": type(exc).__name__, "evalue": str(exc)[:1000], "hidden": hidden,
                 "traceback": [where, f"{type(exc).__name__}: {str(exc)[:1000]}"]}
    finally:
        sys.stdout, sys.stderr = saved
    outputs = []
    if out.n:
        outputs.append({"output_type": "stream", "name": "stdout", "text": out.text()})
    if err.n:  # shown, but never costs points
        outputs.append({"output_type": "stream", "name": "stderr", "text": err.text()})
    if error:
        score = 0.0
        outputs.append({"output_type": "error", "ename": error["ename"], "evalue": error["evalue"],
                        "traceback": error["traceback"]})
    elif value is not None:
        text = repr(value)
        outputs.append({"output_type": "execute_result", "data": {"text/plain": text[:2000]}, "metadata": {},
                        "execution_count": None})
        score = partial_grade(text, points)
    else:
        score = points
    return {"id": gid, "score": score, "points": points, "outputs": outputs, "error": error}


def partial_grade(text: str, points: float) -> float:
    """nbgrader's rule for a test cell whose last line is a value: a number in [0, points] is the
    score; anything else (or a negative number) means full credit. Over the maximum: capped."""
    try:
        grade = float(text)
    except ValueError:
        return points
    return min(grade, points) if grade >= 0 else points


def test_run(job: dict, emit) -> None:
    """Sandbox target 2: instructor's setup + tests on decoded answers, in a clean interpreter."""
    from .. import answers
    shell = pool.shell()
    values, problems = ({}, {}) if job["answers"] is None else answers.loads(job["answers"])
    emit("unreadable", problems)
    ns = shell.user_ns
    for cell in job["cells"]:
        if cell["kind"] == "locked":
            res = _run_cell(shell, cell["source"], silent=True)
            if res["error"]:
                emit("setup-error", {"id": cell["id"], "error": res["error"]["ename"] + ": " +
                                     res["error"]["evalue"]})
        elif cell["kind"] == "answer":
            for name in cell["names"]:
                if name in values:
                    ns[name] = values[name]
                else:
                    ns.pop(name, None)
        elif cell["kind"] == "test":
            emit("test", _run_test(shell, cell["id"], cell["source"], cell["points"]))
    emit("done", None)


def grade(job: dict, server, slot: int, limits, common: dict, start: float) -> dict:
    """In a worker: the student run, then the test run, each in its own sandbox."""
    result = {"student": job["student"], "notebook": job["notebook"], "problems": [], "cells": {}}

    one = server.run("student", {"cells": job["cells"], "names": job["names"]}, limits, **common)
    last_answers, started, done = None, None, False
    for kind, data in one.frames:
        if kind == "start" and isinstance(data, int):
            started = data
        elif kind == "cell" and isinstance(data, dict) and isinstance(data.get("i"), int):
            result["cells"][str(data["i"])] = {"outputs": data.get("outputs", [])}
        elif kind == "answers" and isinstance(data, str):
            last_answers = data
        elif kind == "done":
            done = True
        elif kind == "sandbox-error":
            result["problems"].append(f"the grader's sandbox failed: {str(data)[:300]}")
    result["isolation"] = one.isolation
    if not done:
        where = ""
        if started is not None and 0 <= started < len(job["cells"]):
            c = job["cells"][started]
            where = f" in cell {c['id']!r}" if c["id"] else f" in a cell you added ({c['source'][:40]!r}...)"
        why = {"timeout": f"the notebook ran longer than {limits.wall_seconds:g} s{where} and was stopped",
               "output-limit": f"the notebook printed more than {limits.output_mb} MB{where} and was stopped"
               }.get(one.exit, f"the notebook's Python process ended ({one.exit}){where}")
        result["problems"].append(why + "; answers up to that point were graded")

    two = server.run("test", {"cells": job["test_cells"], "answers": last_answers}, limits, **common)
    tests, finished = {}, False
    for kind, data in two.frames:
        if kind == "test" and isinstance(data, dict):
            tests[data["id"]] = data
        elif kind == "unreadable" and isinstance(data, dict):
            for name, why in data.items():
                if not str(name).startswith("_"):  # helpers like _tmp are the student's business
                    result["problems"].append(f"answer {name!r} could not be graded: {why}")
        elif kind == "setup-error":
            result["problems"].append(f"grader error: setup cell {data.get('id')!r} failed: {data.get('error')}")
            result["grader_error"] = True
        elif kind == "done":
            finished = True
    if not finished:
        result["problems"].append(f"grader error: the test run ended early ({two.exit})")
        result["grader_error"] = True
    result["tests"] = tests
    result["seconds"] = time.monotonic() - start
    return result


# ----------------------------------------------------------------------------------------------
# Main process: batch, gradebook, autograded notebooks
# ----------------------------------------------------------------------------------------------

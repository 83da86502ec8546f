"""Hardened, parallel autograding of an nbgrader assignment.

Each submitted notebook is graded in two sandboxed runs (:mod:`iome.sandbox`), in a pool of
worker processes that have already imported pandas, Altair, IPython and loaded the course data:

1. **Student run.** The notebook's code runs as an unprivileged user in fresh namespaces (no
   network, the course folder and gradebook hidden, a small private disk), with memory, file-size,
   process and wall-clock limits. Locked cells come from the instructor's source notebook, answer
   cells from the submission; *test cells are not run here*. After each answer cell the answers
   the tests use are encoded as plain data (:mod:`iome.answers`).
2. **Test run.** A fresh interpreter (forked from the clean worker, never touched by student code)
   runs the source notebook's own setup cells, decodes the answers and runs every test cell from
   the *source* notebook, hidden tests included. The score is decided here, so kernel hooks,
   patched ``assert`` or always-equal objects in the submission gain nothing, and warnings on
   stderr do not zero a question.

Workers never touch the gradebook: the main process writes each result (autograded notebook,
scores, flags) into ``gradebook.db`` one submission at a time, in one transaction each, so the
SQLite gradebook always has a single writer. A broken submission is recorded as ungradable with
its reason; it never stops the batch.
"""

from __future__ import annotations

import ast
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from . import sandbox
from .grading import GradingError, course_dir, release
from .settings import repo_root

MAX_NOTEBOOK_BYTES = 30 * 1024 * 1024
TEXT_CAP = 20_000          # characters of a cell's stdout/stderr kept for feedback
MIME_CAP = 300_000         # bytes of one rich output kept
HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


# ----------------------------------------------------------------------------------------------
# The assignment's plan, from the instructor's source notebook
# ----------------------------------------------------------------------------------------------

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


# ----------------------------------------------------------------------------------------------
# Reading a submission: validation and merging onto the source skeleton
# ----------------------------------------------------------------------------------------------

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
    for cell in student.cells:
        gid = _nbg(cell).get("grade_id")
        kind = known.get(gid)
        if gid and kind:
            if gid in seen:
                notes.append(f"cell {gid!r} appears more than once; only the first copy counts")
                continue
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


# ----------------------------------------------------------------------------------------------
# Inside the sandbox (worker process)
# ----------------------------------------------------------------------------------------------

_SHELL = None


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
    from . import answers
    shell = _SHELL or _make_shell()
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
    from . import answers
    shell = _SHELL or _make_shell()
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


# worker state -------------------------------------------------------------------------------

_SLOT = 0


def _init_worker(slot: int, preload_data: bool = True):
    global _SHELL, _SLOT
    _SLOT = slot
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    import altair  # noqa: F401  (pre-load: every sandbox is forked from this process)
    import numpy  # noqa: F401
    import pandas  # noqa: F401

    from . import answers, charts, data, explore  # noqa: F401
    if preload_data:
        for name in data.resource_names():
            try:
                data.load(name)
            except Exception:  # noqa: BLE001 - a bad file fails later, inside the notebook
                pass
    # default mode: what nbgrader's execute chain and a kernel need, loaded once (never started)
    import ipykernel.ipkernel  # noqa: F401
    import ipykernel.kernelapp  # noqa: F401
    import ipykernel.zmqshell  # noqa: F401
    import jupyter_client.manager  # noqa: F401
    import nbclient  # noqa: F401
    import nbconvert.preprocessors  # noqa: F401
    import nbgrader.preprocessors  # noqa: F401

    from .grader import guard, nbrun  # noqa: F401
    _SHELL = _make_shell()
    global _SERVER
    # every sandbox is forked from this clean copy, made before the worker has seen any job
    sandbox.can_isolate()  # probe once, before the fork server copies this process
    _SERVER = sandbox.ForkServer({"student": student_run, "test": test_run, "nbgrader": nbrun.execute_target})


_SERVER = None


def worker_main(slot: int) -> None:
    """`python -m iome.autograde <slot>`: read jobs (JSON lines) on stdin, answer (JSON lines) on stdout."""
    sandbox._libc.prctl(sandbox.PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)  # never outlive the grader
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything printed by libraries goes to stderr, never into the protocol
    sys.stdout = sys.stderr
    _init_worker(slot)
    out.write(json.dumps({"ready": slot}) + "\n")
    for line in sys.stdin:
        job = json.loads(line)
        try:
            reply = {"result": grade_job(job)}
        except Exception as exc:  # noqa: BLE001 - reported per job, the worker carries on
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(reply) + "\n")
    out.flush()
    _SERVER.close()
    os._exit(0)  # nothing to clean up: skip the slow interpreter teardown


def run_pool(jobs: list[dict], workers: int, slot_base: int = 0):
    """Grade jobs in N worker processes (each pre-loaded once); yield (job, result, error) as they end.

    A worker that dies is replaced and its job reported as a grader error; the batch goes on.
    """
    n = max(1, min(workers, len(jobs)))
    pending = list(enumerate(jobs))[::-1]
    sel = selectors.DefaultSelector()
    procs = {}

    def start(slot):
        proc = subprocess.Popen([sys.executable, "-m", "iome.autograde", str(slot_base + slot)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, bufsize=1, cwd=str(repo_root()))
        procs[slot] = {"proc": proc, "job": None, "ready": False}
        sel.register(proc.stdout, selectors.EVENT_READ, slot)

    def feed(slot):
        if pending:
            idx, job = pending.pop()
            procs[slot]["job"] = (idx, job)
            procs[slot]["proc"].stdin.write(json.dumps(job) + "\n")
            procs[slot]["proc"].stdin.flush()

    for slot in range(n):
        start(slot)
    remaining = len(jobs)
    try:
        while remaining:
            for key, _ in sel.select(timeout=1.0):
                slot = key.data
                state = procs[slot]
                line = state["proc"].stdout.readline()
                if not line:  # the worker died: report its job, start a fresh one
                    sel.unregister(state["proc"].stdout)
                    state["proc"].wait()
                    if state["job"]:
                        remaining -= 1
                        yield state["job"][1], None, f"grading worker died (exit {state['proc'].returncode})"
                    if pending:
                        start(slot)
                    continue
                msg = json.loads(line)
                if "ready" in msg:
                    state["ready"] = True
                else:
                    idx, job = state["job"]
                    state["job"] = None
                    remaining -= 1
                    yield job, msg.get("result"), msg.get("error")
                feed(slot)
    finally:
        for state in procs.values():
            proc = state["proc"]
            if proc.poll() is None:
                proc.stdin.close()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        sel.close()


def _env(course_file: Path, agg: bool = True) -> dict:
    bin_dir = str(Path(sys.executable).parent)
    env = {"PATH": bin_dir + ":/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
           "IOME_COURSE_FILE": "/tmp/work/.iome/course.yml" if sandbox.can_isolate() else str(course_file),
           "NBGRADER_EXECUTION": "autograde", "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    if agg:  # answers-as-data mode; the default mode's kernel picks its backend as stock ipykernel does
        env["MPLBACKEND"] = "Agg"
    return env


def grade_job(job: dict) -> dict:
    """Grade one notebook of one student (runs in a pool worker)."""
    start = time.monotonic()
    limits = sandbox.Limits(**job["limits"])
    course_file = Path(job["course_file"])
    files = {".iome/course.yml": course_file.read_bytes()}
    files.update({k: bytes.fromhex(v) for k, v in job.get("files", {}).items()})
    common = dict(slot=_SLOT, hide=job["hide"], keep=job["keep"], files=files,
                  env=_env(course_file, job.get("mode") != "nbgrader"))
    if job.get("mode") == "nbgrader":
        from .grader import default
        result = default.grade(job, _SERVER, limits, common)
        result["seconds"] = time.monotonic() - start
        return result
    result = {"student": job["student"], "notebook": job["notebook"], "problems": [], "cells": {}}

    one = _SERVER.run("student", {"cells": job["cells"], "names": job["names"]}, limits, **common)
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

    two = _SERVER.run("test", {"cells": job["test_cells"], "answers": last_answers}, limits, **common)
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

@dataclass
class Submission:
    student: str
    notebook: str
    path: Path | None
    status: str = "pending"      # graded | graded-with-problems | ungradable | missing
    problems: list = field(default_factory=list)
    score: float = 0.0
    max_score: float = 0.0
    seconds: float = 0.0
    mode: str = "nbgrader"


def submitted_students(course: Path, assignment: str) -> list[str]:
    root = course / "submitted"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / assignment).is_dir())


def _find_notebook(folder: Path, name: str, expected: set[str], notes: list) -> Path | None:
    path = folder / f"{name}.ipynb"
    if path.is_file():
        return path
    others = sorted(p for p in folder.glob("*.ipynb") if p.stem not in expected)
    if len(others) == 1 and len(expected) == 1:
        notes.append(f"expected {name}.ipynb, found {others[0].name}: graded it as {name}.ipynb")
        return others[0]
    if others:
        notes.append(f"expected {name}.ipynb; found {', '.join(p.name for p in others)} (not graded: "
                     "rename the right one)")
    return None


def _timestamp(folder: Path):
    ts = folder / "timestamp.txt"
    if ts.is_file():
        from nbgrader.utils import parse_utc
        try:
            return parse_utc(ts.read_text().strip())
        except Exception:  # noqa: BLE001 - a bad timestamp is ignored, as nbgrader does
            return None
    return None


def _hide_paths(course: Path) -> list[str]:
    paths = {str(course.resolve())}
    root = repo_root()
    # the sandbox sees the repository only for Python, src/ and data/: everything else is covered
    # (.git and exercises/ hold solutions; book/, _build/ and tests/ hold copies of notebooks)
    paths |= {str(root / name) for name in (".git", "exercises", "book", "_build", "tests", "scripts")}
    return sorted(paths)


def _keep_paths() -> list[str]:
    """The allow-list beyond system folders (see :func:`iome.sandbox.allowed_paths`): Python's
    standard library and executables, the venv, and of the course repository only the package
    (src/), data/ and course.yml. Never exercises/, .git, tests/, the build or anything else."""
    root = repo_root()
    base = Path(sys.base_prefix)
    paths = [str(base / "bin"), *(str(p) for p in sorted(base.glob("lib*")) if p.is_dir()), sys.prefix]
    import iome
    package = Path(iome.__file__).resolve().parent
    paths += [str(package), str(root / "data"), str(root / "course.yml")]
    return list(dict.fromkeys(os.path.realpath(p) for p in paths))


def _defuse(source: str) -> str:
    """Student text must not carry nbgrader's hidden-test markers into the graded notebook
    (nbgrader's feedback step refuses a hidden-test region outside a test cell)."""
    return source.replace(HIDDEN_BEGIN, "BEGIN HIDDEN-TESTS (student text)").replace(
        HIDDEN_END, "END HIDDEN-TESTS (student text)")


def _autograded_notebook(p: Plan, student_nb, run_cells: list, answers_cells: dict, result: dict):
    """The autograded notebook nbgrader's feedback/formgrader read: source skeleton + the student's
    answers and outputs + test cells (from source) with the outputs of the test run."""
    nb = nbformat.v4.new_notebook(metadata=p.source.metadata)
    outputs_by_id = {}
    for i, cell in enumerate(run_cells):
        if cell["kind"] == "answer":
            outputs_by_id[cell["id"]] = result.get("cells", {}).get(str(i), {}).get("outputs", [])
    tests = result.get("tests", {})
    extras: dict = {}
    anchor = None
    for i, cell in enumerate(run_cells):
        if cell["kind"] == "extra":
            outs = result.get("cells", {}).get(str(i), {}).get("outputs", [])
            extras.setdefault(anchor, []).append((cell["source"], outs))
        else:
            anchor = cell["id"]

    def added(after):
        for source, outs in extras.get(after, []):
            new = nbformat.v4.new_code_cell(_defuse(source))
            new.outputs = [nbformat.from_dict(o) for o in outs]
            nb.cells.append(new)

    added(None)
    for src in p.source.cells:
        cell = nbformat.from_dict(json.loads(json.dumps(src)))
        gid, kind = _nbg(src).get("grade_id"), cell_kind(src)
        if kind in ("answer", "manual", "task"):  # never the solution: the student's text or the stub
            if gid in answers_cells:
                cell.source = _defuse(answers_cells[gid].get("source", ""))
            else:
                cell.source = p.stubs.get(gid, NO_ANSWER.get(cell.cell_type, ""))
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            if kind == "answer":
                cell.outputs = [nbformat.from_dict(o) for o in outputs_by_id.get(gid, [])]
            elif kind == "test" and gid in tests:
                cell.outputs = [nbformat.from_dict(o) for o in tests[gid]["outputs"]]
        nb.cells.append(cell)
        if gid and kind in ("locked", "answer"):
            added(gid)
    return nb


def _record(gb, p: Plan, sub: Submission, result: dict | None, answers_cells: dict, timestamp):
    """Write one submission's scores in one transaction (single writer: the main process)."""
    from nbgrader.utils import compute_checksum
    gb.update_or_create_student(sub.student)
    gb.update_or_create_submission(p.assignment, sub.student, **({"timestamp": timestamp} if timestamp else {}))
    nb_sub = gb.find_submission_notebook(p.notebook, p.assignment, sub.student)
    tests = (result or {}).get("tests", {})
    grader_error = bool((result or {}).get("grader_error"))
    released = {c.name: c.checksum for c in gb.find_notebook(p.notebook, p.assignment).source_cells}
    total = 0.0
    for grade in nb_sub.grades:
        if grade.name in p.tests:
            if result is None or grade.name not in tests:
                auto = 0.0
            else:
                auto = float(tests[grade.name]["score"])
            grade.auto_score = auto
            grade.needs_manual_grade = grade.manual_score is not None or grader_error
        else:  # a written answer: zero if untouched, otherwise a grader decides
            cell = answers_cells.get(grade.name)
            blank = cell is None or released.get(grade.name) == _checksum(cell, p, grade.name, compute_checksum)
            grade.auto_score = 0.0 if blank else None
            grade.needs_manual_grade = not blank
        total += grade.auto_score or 0
    for comment in nb_sub.comments:
        cell = answers_cells.get(comment.name)
        blank = cell is None or released.get(comment.name) == _checksum(cell, p, comment.name, compute_checksum)
        comment.auto_comment = "No response." if blank else None
    nb_sub.flagged = sub.status != "graded"
    gb.db.commit()
    return total


def _checksum(student_cell, p: Plan, gid: str, compute_checksum):
    """nbgrader's checksum of the student's cell, using the source's metadata (not the student's)."""
    src = next(c for c in p.source.cells if _nbg(c).get("grade_id") == gid)
    cell = nbformat.from_dict(json.loads(json.dumps(src)))
    cell.source = student_cell.get("source", "")
    if cell.cell_type == "code":
        cell.outputs = []
    return compute_checksum(cell)


def autograde(assignment: str, course: Path | None = None, students: list[str] | None = None,
              workers: int = 2, limits: sandbox.Limits | None = None, progress=None,
              slot_base: int | None = None) -> list[Submission]:
    """Grade every submission of ASSIGNMENT (or the listed students) into the course's gradebook.

    The assignment's mode (:mod:`iome.grader.modes`) decides how: nbgrader semantics by default,
    answers-as-data where the course opts in (a submission whose answers cannot be carried over as
    data is then graded the default way, with the reason noted).

    ``progress(total)`` may return a callable advanced once per graded notebook. Worker i runs its
    sandboxes as uid ``sandbox.UID_BASE + slot_base + i``; by default slot_base is derived from
    this process id, so two batches running at once never share a uid (or its process limit).
    """
    if slot_base is None:
        slot_base = 64 * (os.getpid() % 400)
    from nbgrader.api import Gradebook, MissingEntry

    from .grader import default, modes, nbrun
    course = (course or course_dir()).resolve()
    limits = limits or sandbox.Limits()
    sources = sorted((course / "source" / assignment).glob("*.ipynb"))
    if not sources:
        raise GradingError(f"{course / 'source' / assignment}: no source notebook; check the assignment name "
                           f"(known: {', '.join(_names(course)) or 'none'})")
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    with Gradebook(db_url) as gb:
        try:
            gb.find_assignment(assignment)
            for src in sources:
                gb.find_notebook(src.stem, assignment)
        except MissingEntry:
            release(assignment, course=course)
    config = nbrun.course_config(course)
    mode = modes.mode(course, assignment, config)
    plans = [plan(src, assignment) for src in sources]
    expected = {p.notebook for p in plans}
    course_file = _course_file()
    extra_files = {}
    for f in sorted((course / "source" / assignment).rglob("*")):
        if f.is_file() and f.suffix != ".ipynb" and f.stat().st_size < 5_000_000:
            extra_files[str(f.relative_to(course / "source" / assignment))] = f.read_bytes().hex()
    common = {"limits": limits.as_dict(), "course_file": str(course_file), "hide": _hide_paths(course),
              "keep": _keep_paths(), "files": extra_files, "allowed": _keep_paths()}

    subs, jobs, merged = [], [], {}
    for student in students if students is not None else submitted_students(course, assignment):
        folder = course / "submitted" / student / assignment
        notes = []
        paths = {p.notebook: _find_notebook(folder, p.notebook, expected, notes) if folder.is_dir() else None
                 for p in plans}
        if folder.is_dir():
            used = {path.name for path in paths.values() if path is not None}
            listed = ({f.name for f in folder.iterdir()} - used - {f"{n}.ipynb" for n in expected} - {"timestamp.txt"}
                      - {name.split("/")[0] for name in extra_files})  # the assignment's own files
            if listed:
                notes.append(f"extra files not graded: {', '.join(sorted(listed))}")
        for p in plans:
            path = paths[p.notebook]
            sub = Submission(student, p.notebook, path, problems=list(notes),
                             max_score=sum(p.tests.values()) + sum(p.manual.values()), mode=mode)
            subs.append(sub)
            merged[(student, p.notebook)] = {"plan": p, "nb": None, "run": [], "answers": {}}
            if path is None:
                sub.status = "missing"
                sub.problems.append(f"no {p.notebook}.ipynb submitted")
                continue
            try:
                nb = read_submission(path)
            except Ungradable as exc:
                sub.status = "ungradable"
                sub.problems.append(str(exc))
                continue
            m = merged[(student, p.notebook)]
            m["answers"] = {_nbg(c).get("grade_id"): c for c in nb.cells if _nbg(c).get("grade_id")}
            if mode == modes.DEFAULT:
                job = _default_job(default, nb, course, assignment, p, student, config, sub, m, common)
                if job:
                    jobs.append(job)
                continue
            run_cells, answer_cells, merge_notes = merge(p, nb)
            sub.problems.extend(merge_notes)
            m.update(nb=nb, run=run_cells, answers=answer_cells, raw=nb)
            test_cells = []
            for src in p.source.cells:
                kind, gid = cell_kind(src), _nbg(src).get("grade_id")
                if kind == "locked":
                    test_cells.append({"kind": "locked", "id": gid, "source": src.source})
                elif kind == "answer":
                    test_cells.append({"kind": "answer", "id": gid, "names": p.answer_names.get(gid, [])})
                elif kind == "test":
                    test_cells.append({"kind": "test", "id": gid, "source": src.source, "points": p.tests[gid]})
            jobs.append({"student": student, "notebook": p.notebook, "cells": run_cells, "names": p.all_names,
                         "test_cells": test_cells, **common})

    by_key = {(s.student, s.notebook): s for s in subs}
    advance = progress(len(subs)) if progress else (lambda: None)
    autograded = course / "autograded"

    gb = None

    def finish(sub: Submission, result: dict | None):
        m = merged[(sub.student, sub.notebook)]
        p = m["plan"]
        folder = autograded / sub.student / assignment
        sub_folder = course / "submitted" / sub.student / assignment
        timestamp = _timestamp(sub_folder)
        target = folder / f"{sub.notebook}.ipynb"
        old_answers = _previous_answers(target)
        if result is not None:
            sub.seconds += result.get("seconds", 0.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbgrader's own add_submission emits SQLAlchemy SAWarnings
            try:
                if result is not None and result.get("mode") == "nbgrader" and m.get("trusted") is not None:
                    gb.update_or_create_student(sub.student)
                    gb.update_or_create_submission(assignment, sub.student,
                                                   **({"timestamp": timestamp} if timestamp else {}))
                    gb.db.commit()
                    sub.problems.extend(default.record(m["trusted"], m["resources"], config, result, limits))
                    gb.db.expire_all()
                    out = m["trusted"]
                else:
                    if result is not None:
                        sub.problems.extend(result["problems"])
                    _record(gb, p, sub, result, m["answers"] if m["nb"] is not None else {}, timestamp)
                    if result is not None and m["nb"] is not None:
                        out = _autograded_notebook(p, m["nb"], m["run"], m["answers"], result)
                    else:  # nothing gradable: the release's cells, so feedback can still explain the zero
                        out = _autograded_notebook(p, None, [], {}, {})
                sub.status = _status(sub, result)
                sub.score = _review(gb, p, sub, assignment, _answer_sources(out), old_answers)
            except Exception:
                gb.db.rollback()  # this student's transaction only; earlier students stay committed
                raise
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(out, target)
        for name, data in extra_files.items():  # as nbgrader does: the source folder's other files
            dest = folder / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(bytes.fromhex(data))
        if (sub_folder / "timestamp.txt").is_file():
            shutil.copy2(sub_folder / "timestamp.txt", folder / "timestamp.txt")
        report = {"student": sub.student, "assignment": assignment, "notebook": sub.notebook,
                  "status": sub.status, "problems": sub.problems, "score": sub.score, "mode": sub.mode,
                  "max_score": sub.max_score, "seconds": round(sub.seconds, 3),
                  "isolation": (result or {}).get("isolation"),
                  "tests": _test_report(gb, p, sub, assignment),
                  "graded_at": datetime.now(timezone.utc).isoformat()}
        _merge_result_file(results_dir(course, assignment) / f"{sub.student}.json", report)
        advance()

    fallback = []
    with Gradebook(db_url) as gb:  # the only writer of the gradebook during the batch
        for sub in subs:
            if sub.status in ("missing", "ungradable"):
                finish(sub, None)
        for job, result, error in run_pool(jobs, workers, slot_base) if jobs else []:
            sub = by_key[(job["student"], job["notebook"])]
            m = merged[(sub.student, sub.notebook)]
            if error:
                sub.status = "grader-error"
                sub.problems.append(f"grader error: {error}"[:500])
            elif job.get("mode") != "nbgrader" and result is not None and _needs_fallback(result):
                # answers-as-data could not carry an answer: grade this submission the nbgrader way
                why = [x for x in result["problems"] if "could not be graded" in x or "grader error" in x]
                sub.problems.append("answers-as-data could not grade this submission ("
                                    + "; ".join(why)[:400] + "): graded with nbgrader semantics instead")
                sub.seconds += result.get("seconds", 0.0)
                fb = _default_job(default, m["raw"], course, assignment, m["plan"], sub.student, config, sub, m,
                                  common)
                if fb:
                    fallback.append(fb)
                    continue
            finish(sub, result)
        for job, result, error in run_pool(fallback, workers, slot_base) if fallback else []:
            sub = by_key[(job["student"], job["notebook"])]
            if error:
                sub.status = "grader-error"
                sub.problems.append(f"grader error: {error}"[:500])
            finish(sub, result)
    return subs


def _default_job(default, nb, course, assignment, p, student, config, sub, m, common):
    try:
        trusted, resources, part = default.prepare(nb, course, assignment, p.notebook, student, config)
    except Exception as exc:  # noqa: BLE001 - nbgrader refused the notebook's cells
        sub.status = "ungradable"
        sub.problems.append(f"nbgrader could not prepare the notebook: {type(exc).__name__}: {exc}"[:500])
        m["nb"] = None
        return None
    m.update(trusted=trusted, resources=resources, nb=trusted)
    sub.mode = "nbgrader"
    return {"student": student, "notebook": p.notebook, **part, **common}


def _needs_fallback(result: dict) -> bool:
    return bool(result.get("grader_error")) or any("could not be graded" in x for x in result.get("problems", []))


BENIGN = ("cells you added", "appears more than once", "missing from the submission (the source copy",
          "extra files", "graded it as", "graded with nbgrader semantics instead")


def _status(sub: Submission, result: dict | None) -> str:
    if sub.status in ("missing", "ungradable", "grader-error"):
        return sub.status
    if result is not None and result.get("grader_error"):
        return "grader-error"
    if any(not any(b in x for b in BENIGN) for x in sub.problems):
        return "graded-with-problems"
    return "graded"


def _answer_sources(nb) -> dict:
    return {_nbg(c).get("grade_id"): c.get("source", "") for c in nb.cells
            if _nbg(c).get("solution") or _nbg(c).get("task")}


def _previous_answers(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return _answer_sources(nbformat.read(path, as_version=4))
    except Exception:  # noqa: BLE001 - an unreadable old copy means: treat every answer as changed
        return None


def _review(gb, p: Plan, sub: Submission, assignment: str, new: dict, old: dict | None) -> float:
    """Manual grading after autograding (both modes): task cells always go to a grader; a manual
    grade given earlier is kept when its answer is unchanged, reopened when it changed.
    Returns the auto-graded total."""
    nb_sub = gb.find_submission_notebook(p.notebook, assignment, sub.student)
    total = 0.0
    for grade in nb_sub.grades:
        kind = _kind_of(p, grade.name)
        if kind == "task":
            grade.auto_score = None
            grade.needs_manual_grade = grade.manual_score is None
        elif kind != "test" and grade.manual_score is not None:
            if old is not None and old.get(grade.name) == new.get(grade.name):
                grade.needs_manual_grade = False
            else:
                grade.manual_score = None
                grade.needs_manual_grade = grade.auto_score is None
        total += grade.auto_score or 0
    nb_sub.flagged = sub.status != "graded"
    gb.db.commit()
    return total


def _kind_of(p: Plan, gid: str) -> str:
    for cell in p.source.cells:
        if _nbg(cell).get("grade_id") == gid:
            return cell_kind(cell)
    return ""


def _test_report(gb, p: Plan, sub: Submission, assignment: str) -> dict:
    try:
        nb_sub = gb.find_submission_notebook(p.notebook, assignment, sub.student)
    except Exception:  # noqa: BLE001
        return {}
    return {g.name: {"score": g.auto_score, "points": g.max_score} for g in nb_sub.grades if g.name in p.tests}


def results_dir(course: Path, assignment: str) -> Path:
    """Per-student grading reports (status, reasons, per-test scores): instructor-only, outside
    autograded/ (nbgrader copies every file there into the student's feedback)."""
    return course / "exports" / assignment / "results"


def _merge_result_file(path: Path, report: dict):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {}
    if path.is_file():
        try:
            data = json.loads(path.read_text())
        except ValueError:
            data = {}
    data[report["notebook"]] = report
    path.write_text(json.dumps(data, indent=1))


def _names(course: Path) -> list[str]:
    src = course / "source"
    return sorted(p.name for p in src.iterdir() if p.is_dir()) if src.is_dir() else []


def _course_file() -> Path:
    from .settings import course_file
    return course_file()


def results(course: Path, assignment: str) -> list[dict]:
    """The per-notebook grading reports written by :func:`autograde`."""
    out = []
    for f in sorted(results_dir(course, assignment).glob("*.json")):
        try:
            out.extend(json.loads(f.read_text()).values())
        except ValueError:
            continue
    return out


if __name__ == "__main__":
    worker_main(int(sys.argv[1]))

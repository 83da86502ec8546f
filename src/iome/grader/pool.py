"""Worker processes: each imports pandas, Altair, IPython, ipykernel, nbgrader's preprocessors and
the course data once, then forks every sandbox from a clean copy of itself (``sandbox.ForkServer``).
The main process hands out jobs (JSON lines) and collects results as they end."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

from .. import sandbox
from ..settings import repo_root

_SHELL = None


def shell():
    """The worker's pre-made IPython shell (answers-as-data mode), or a new one."""
    from . import answers_run
    return _SHELL or answers_run._make_shell()


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

    from .. import answers, charts, data, explore  # noqa: F401
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

    from . import answers_run, guard, nbrun  # noqa: F401
    _SHELL = answers_run._make_shell()
    global _SERVER
    # every sandbox is forked from this clean copy, made before the worker has seen any job
    sandbox.can_isolate()  # probe once, before the fork server copies this process
    _SERVER = sandbox.ForkServer({"student": answers_run.student_run, "test": answers_run.test_run,
                                  "nbgrader": nbrun.execute_target})


_SERVER = None


def worker_main(slot: int) -> None:
    """`python -m iome.grader.worker <slot>`: read jobs (JSON lines) on stdin, answer (JSON lines) on stdout."""
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
        proc = subprocess.Popen([sys.executable, "-m", "iome.grader.worker", str(slot_base + slot)], stdin=subprocess.PIPE,
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
        from . import default
        result = default.grade(job, _SERVER, limits, common)
        result["seconds"] = time.monotonic() - start
        return result
    from . import answers_run
    return answers_run.grade(job, _SERVER, _SLOT, limits, common, start)

"""Default mode: grade a notebook exactly as stock nbgrader does, with nbgrader's own preprocessors.

nbgrader's ``autograde`` runs two preprocessor chains on each notebook. Here they are split by trust:

* **sanitize** (main process, reads the gradebook): ``ClearOutput``, ``DeduplicateIds``,
  ``OverwriteKernelspec``, ``OverwriteCells``, ``CheckCellMetadata`` — :func:`sanitize`;
* **execute** (inside a sandbox forked from a pre-warmed worker): ``Execute``, ``IgnorePattern``,
  ``ClearMetadataPreprocessor``, ``LimitOutput`` — :func:`execute_target`. The kernel is forked
  from the already-loaded sandbox process (no interpreter start, no ``import pandas``) and drops
  to the sandbox uid; nbgrader's ``Execute`` (nbclient) runs as the sandbox's root client in the
  same namespaces and talks to it over Unix sockets. Before each test cell the client asks the
  kernel to restore builtins and IPython's hooks (:mod:`iome.grader.guard`);
* **save** (main process, the gradebook's single writer): ``SaveAutoGrades``,
  ``AssignLatePenalties``, ``CheckCellMetadata`` — :func:`save`.

The course's ``nbgrader_config.py`` configures every preprocessor, as it does for stock nbgrader.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import signal
import threading
import time
from pathlib import Path

import nbformat

from .guard import FINAL, RESTORE  # noqa: E402  (answered by the kernel before any transformer)
EVENTS_FD = 200  # the kernel's end of the audit pipe (low numbers get reused by its libraries)


def course_config(course: Path):
    """The course's nbgrader configuration (``nbgrader_config.py``), as nbgrader itself loads it."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader
    path = course / "nbgrader_config.py"
    if not path.is_file():
        return Config()
    return PyFileConfigLoader(path.name, path=str(course)).load_config()


def resources_for(course: Path, assignment: str, notebook: str, student: str, db_url: str) -> dict:
    return {"nbgrader": {"student": student, "assignment": assignment, "notebook": notebook, "db_url": db_url},
            "metadata": {"path": str(course)}}


def sanitize(nb, resources: dict, config):
    """nbgrader's sanitize chain on a submitted notebook (no student code runs)."""
    from nbgrader.preprocessors import (CheckCellMetadata, ClearOutput, DeduplicateIds, OverwriteCells,
                                        OverwriteKernelspec)
    for cls in (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata):
        nb, resources = cls(config=config)(nb, resources)
        if cls is DeduplicateIds:
            # DeduplicateIds leaves earlier copies of a cell id with empty nbgrader metadata, which
            # CheckCellMetadata then rejects as "an old metadata format", failing the whole notebook
            # in stock nbgrader; an empty dict means "an ordinary cell", as DeduplicateIds intends
            for cell in nb.cells:
                if cell.get("metadata", {}).get("nbgrader", None) == {}:
                    del cell.metadata["nbgrader"]
    return nb


def save(nb, resources: dict, config):
    """nbgrader's saving chain: scores into the gradebook (main process only)."""
    from nbgrader.preprocessors import AssignLatePenalties, CheckCellMetadata, SaveAutoGrades
    for cls in (SaveAutoGrades, AssignLatePenalties, CheckCellMetadata):
        nb, resources = cls(config=config)(nb, resources)
    return nb


def merge_outputs(trusted, executed: dict) -> list[str]:
    """Copy outputs (and execution counts) from the sandbox's notebook onto the trusted sanitized
    notebook, cell by cell; cell sources and metadata always stay the trusted ones."""
    problems = []
    cells = executed.get("cells") if isinstance(executed, dict) else None
    if not isinstance(cells, list) or len(cells) != len(trusted.cells):
        return ["grader error: the executed notebook came back with the wrong cells"]
    for mine, theirs in zip(trusted.cells, cells):
        if mine.cell_type != "code" or not isinstance(theirs, dict):
            continue
        try:
            mine.outputs = [nbformat.from_dict(o) for o in theirs.get("outputs", [])]
            nbformat.validator.validate(nbformat.v4.new_notebook(cells=[mine]))
        except Exception:  # noqa: BLE001 - untrusted data: a malformed output is dropped
            mine.outputs = [nbformat.v4.new_output("stream", name="stderr",
                                                   text="[output not kept: malformed]\n")]
        count = theirs.get("execution_count")
        mine.execution_count = count if isinstance(count, int) else None
    return problems


# ----------------------------------------------------------------------------------------------
# Inside the sandbox
# ----------------------------------------------------------------------------------------------

def _adopted_manager():
    """A jupyter_client kernel manager for a kernel this process forked itself."""
    from jupyter_client.manager import AsyncKernelManager

    class Adopted(AsyncKernelManager):
        kernel_pid = 0
        exit_status = None

        @property
        def has_kernel(self) -> bool:
            return True

        def _alive(self) -> bool:
            if self.exit_status is not None:
                return False
            try:
                pid, status = os.waitpid(self.kernel_pid, os.WNOHANG)
            except ChildProcessError:
                self.exit_status = -1
                return False
            if pid:
                self.exit_status = status
                return False
            return True

        async def _async_is_alive(self) -> bool:
            return self._alive()

        is_alive = _async_is_alive

        async def _async_interrupt_kernel(self) -> None:
            if self._alive():
                os.kill(self.kernel_pid, signal.SIGINT)

        interrupt_kernel = _async_interrupt_kernel

    return Adopted


def _guarded_execute():
    from nbgrader import utils
    from nbgrader.preprocessors import Execute

    class GuardedExecute(Execute):
        """nbgrader's Execute; before each test cell the kernel restores what the tests rely on."""

        emit = None

        def preprocess_cell(self, cell, resources, index):
            if cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell):
                self._silent(RESTORE)
            if self.emit and cell.cell_type == "code":
                self.emit("start", index)
            cell, resources = super().preprocess_cell(cell, resources, index)
            if self.emit and cell.cell_type == "code":
                self.emit("cell", {"i": index, "outputs": _capped(cell.get("outputs", [])),
                                   "execution_count": cell.get("execution_count")})
            return cell, resources

        def _silent(self, code: str) -> None:
            try:
                msg_id = self.kc.execute(code, silent=True, store_history=False, allow_stdin=False)
                self.wait_for_reply(msg_id, timeout=30)
            except Exception:  # noqa: BLE001 - a missing reply shows as a missing guard event
                pass

    return GuardedExecute


def _kernel_child(conn: str, events_fd: int, jail, allowed: tuple) -> None:
    """The forked kernel: unprivileged, limited, audited; never returns."""
    code = 0
    try:
        os.dup2(events_fd, EVENTS_FD)
        os.closerange(3, EVENTS_FD)
        os.closerange(EVENTS_FD + 1, 65536)
        os.set_blocking(EVENTS_FD, False)
        # the kernel runs several threads; glibc would reserve a 64 MB malloc arena per thread, all
        # counted against the address-space limit: two arenas are plenty
        import ctypes
        ctypes.CDLL(None).mallopt(-8, 2)  # M_ARENA_MAX
        jail.drop()
        from IPython.core.interactiveshell import InteractiveShell
        InteractiveShell.clear_instance()  # the worker's own shell (answers-as-data mode)
        from ipykernel.kernelapp import IPKernelApp

        from . import guard
        app = IPKernelApp.instance()
        app.initialize(["-f", conn, "--HistoryManager.hist_file=:memory:"])
        guard.install(app.shell, app.kernel, EVENTS_FD, jail.work, allowed)
        app.start()
    except BaseException as exc:  # noqa: BLE001
        code = 75
        try:
            os.write(EVENTS_FD, (json.dumps(["kernel-error", f"{type(exc).__name__}: {exc}"[:300]]) + "\n").encode())
        except OSError:
            pass
    finally:
        os._exit(code)


class _Events(threading.Thread):
    """Reads the kernel's audit events (newline-delimited JSON) until told to stop."""

    def __init__(self, fd: int):
        super().__init__(daemon=True)
        self.fd, self.buf, self.stop = fd, bytearray(), False
        self.emit, self.sent = None, 0

    def run(self):
        while not self.stop:
            if select.select([self.fd], [], [], 0.05)[0]:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    return
                if not chunk:
                    return
                if len(self.buf) < 256_000:
                    self.buf += chunk
                if self.emit is not None and b"\n" in chunk and self.sent < 500:
                    batch = self.take()[: 500 - self.sent]
                    self.sent += len(batch)
                    if batch:
                        self.emit("events", batch)  # as they come: a run killed later keeps them

    def take(self) -> list:
        """Events complete so far, not returned before."""
        data = bytes(self.buf)
        end = data.rfind(b"\n") + 1
        del self.buf[:end]
        return self._decode(data[:end])

    def events(self) -> list:
        return self._decode(bytes(self.buf))

    @staticmethod
    def _decode(data: bytes) -> list:
        out = []
        for line in data.splitlines():
            try:
                kind, detail = json.loads(line)
                out.append([str(kind)[:40], str(detail)[:300]])
            except Exception:  # noqa: BLE001 - untrusted bytes
                continue
        return out


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _capped(outputs: list, cap: int = 300_000) -> list:
    """Outputs of one cell as sent back while running (the final notebook has LimitOutput's)."""
    out, size = [], 0
    for o in outputs:
        n = len(json.dumps(o))
        if size + n > cap:
            out.append({"output_type": "stream", "name": "stderr", "text": "[more output not kept]\n"})
            break
        out.append(o)
        size += n
    return out


def _namespace_processes(skip: set[int]) -> int:
    n = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) not in skip:
            try:
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                n += 1
    return n


def execute_target(job: dict, emit, jail) -> None:
    """Sandbox target (runs as the sandbox's root client): fork the kernel, run nbgrader's execute
    chain, emit the executed notebook and what the kernel reported."""
    from jupyter_client.connect import write_connection_file
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import IgnorePattern, LimitOutput
    from traitlets.config import Config

    kdir = os.path.join(jail.scratch, "kernel-" + secrets.token_hex(4))
    os.mkdir(kdir, 0o700)
    conn = os.path.join(kdir, "kernel.json")
    write_connection_file(conn, transport="ipc", ip=os.path.join(kdir, "k"), key=secrets.token_hex(32).encode())
    if jail.isolated:
        os.chown(kdir, jail.uid, jail.uid)
        os.chown(conn, jail.uid, jail.uid)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _kernel_child(conn, w, jail, tuple(job.get("allowed", ())))
    os.close(w)
    jail.limit_self()
    lock = threading.Lock()
    raw_emit = emit

    def emit(kind, data):  # two threads send frames: one frame at a time
        with lock:
            raw_emit(kind, data)
    reader = _Events(r)
    reader.emit = emit
    reader.start()
    config = Config(job["config"])
    nb = nbformat.from_dict(json.loads(_read_all(job["payload_fd"])) if "payload_fd" in job else job["nb"])
    resources = job["resources"]
    resources["metadata"] = {"path": jail.work}
    km = _adopted_manager()(connection_file=conn, transport="ipc")
    km.load_connection_file()
    km.kernel_pid = pid
    ex = _guarded_execute()(config=config)
    ex.emit = emit
    emit("kernel", {"started": True})
    error = None
    try:
        nb, resources = ex.preprocess(nb, resources, km=km)
        ex._silent(FINAL)
    except Exception as exc:  # noqa: BLE001 - DeadKernelError, start-up failure, ...
        error = f"{type(exc).__name__}: {exc}"[:500]
    time.sleep(0.05)
    leftover = _namespace_processes({os.getpid(), pid})
    reader.stop = True
    reader.join(1)
    for cls in (IgnorePattern, ClearMetadataPreprocessor, LimitOutput):
        nb, resources = cls(config=config)(nb, resources)
    status = km.exit_status
    emit("events", reader.events()[: max(0, 500 - reader.sent)])
    emit("notebook", {"cells": [{"outputs": c.get("outputs", []), "execution_count": c.get("execution_count")}
                                if c.cell_type == "code" else {} for c in nb.cells],
                      "error": error, "leftover": leftover,
                      "kernel_exit": None if status is None else os.waitstatus_to_exitcode(status)
                      if status >= 0 else -1})
    emit("done", None)


execute_target.privileged = True

"""Run one piece of untrusted work in a throw-away sandbox, from a pre-loaded worker process.

``run(target, job, limits, uid)`` forks the calling (pre-loaded) process. The child:

* starts its own session (process group) and enters new **PID, network, mount, IPC and UTS
  namespaces** (``unshare(2)``; needs root). Its own child becomes PID 1 of the new PID namespace,
  so when it ends or is killed *every* process it started dies with it, including ones that called
  ``setsid`` or double-forked. The network namespace has no interfaces up: no internet, and not
  even the host's loopback services.
* mounts empty read-only tmpfs over the paths it must not see (the nbgrader course directory with
  the gradebook, source notebooks, other submissions; the repository's ``.git``; ``/run`` with the
  host's Unix sockets; any folder above Python or the course that other users may not enter, such
  as ``/root``, with only the needed folders bound back), a small private
  tmpfs as its working directory, ``/tmp``, ``/var/tmp`` and ``/dev/shm`` (so a disk fill stops at a
  few MB), and a fresh ``/proc``;
* sets resource limits: address space, file size, processes (per unprivileged uid), open files, CPU
  time, no core dumps;
* drops to an unprivileged uid/gid with no supplementary groups, then calls ``target(job, emit)``.

``emit(kind, data)`` sends a length-prefixed JSON frame to the parent over a pipe. The parent reads
frames until the child ends or the wall-clock limit passes, then kills the whole tree (SIGKILL to
the session leader; PID 1 of the namespace follows through PR_SET_PDEATHSIG and the kernel kills the
rest). The frames are *untrusted data*: the caller must validate them.

Without root (or on a kernel that refuses namespaces) the same code runs with resource limits, a
process group and a wall-clock kill only, and the result says ``isolation: "limits-only"``.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import resource
import select
import shutil
import signal
import socket
import struct
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 16384, 1 << 18
MS_BIND, MS_REMOUNT = 4096, 32
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
REAP_SECONDS = 20.0  # how long the fork server waits for a finished sandbox's last processes
MAGIC = b"IOME"
UID_BASE = 61000  # sandbox uids: UID_BASE + slot (no /etc/passwd entry needed)

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass
class Limits:
    wall_seconds: float = 120.0     # per notebook, all cells together
    memory_mb: int = 1024           # address space the submission may add
    file_mb: int = 32               # largest file it may write
    disk_mb: int = 64               # its whole writable space (tmpfs)
    processes: int = 64             # processes + threads of the sandbox uid
    open_files: int = 256
    output_mb: int = 16             # bytes it may send back to the grader

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Outcome:
    frames: list = field(default_factory=list)   # [(kind, data), ...] decoded JSON frames
    exit: str = ""           # "ok", "exit N", "signal NAME", "timeout", "output-limit"
    seconds: float = 0.0
    isolation: str = "namespaces"
    note: str = ""
    leftover: int = 0        # processes still alive when the sandbox was reaped (killed then)


_ISOLATE: bool | None = None


def can_isolate() -> bool:
    """True when this process may create the namespaces and mounts (root, and a kernel/container
    that allows them). Probed once, in a throw-away child."""
    global _ISOLATE
    if _ISOLATE is None:
        _ISOLATE = False
        if os.geteuid() == 0 and Path("/proc/self/ns/pid").exists():
            pid = os.fork()
            if pid == 0:
                try:
                    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS),
                           "unshare")
                    _mount("none", "/", None, MS_REC | MS_PRIVATE)
                    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m")
                    os._exit(0)
                except BaseException:  # noqa: BLE001
                    os._exit(1)
            _, status = os.waitpid(pid, 0)
            _ISOLATE = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    return _ISOLATE


def _check(ret: int, what: str):
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None):
    _check(_libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None,
                       ctypes.c_ulong(flags), data.encode() if data else None), f"mount {target}")


def _vm_size() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def _setlimits(limits: Limits, isolated: bool):
    mb = 1024 * 1024
    extra = limits.memory_mb * mb
    as_limit = _vm_size() + extra
    resource.setrlimit(resource.RLIMIT_AS, (as_limit, as_limit))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * mb, limits.file_mb * mb))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    cpu = int(limits.wall_seconds) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    if isolated:  # per-uid count: only meaningful for our private sandbox uid
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))


# The allow-list: what a sandbox sees. Everything else on the machine (home folders, other checkouts
# or backups of the course, the gradebook, /var, /srv, /opt, /run's sockets, ...) does not exist in
# it. System folders, read-only:
SYSTEM = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/usr/bin", "/usr/sbin", "/usr/lib",
          "/usr/lib32", "/usr/lib64", "/usr/libexec")
# of /etc, only the files libraries read (users, time zone, certificates, fonts, the loader's cache)
ETC = ("passwd", "group", "nsswitch.conf", "hosts", "host.conf", "gai.conf", "protocols", "services", "localtime",
       "timezone", "ssl", "ca-certificates", "fonts", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "mime.types",
       "locale.alias", "locale.conf", "os-release", "alternatives", "matplotlibrc")
# of /usr/share, only what programs read at run time (time zones, fonts, certificates, locales)
SHARE = ("zoneinfo", "fonts", "fontconfig", "ca-certificates", "locale", "mime", "misc", "terminfo")
ROOT = "/tmp/.iome-sandbox-root"  # an empty folder each sandbox mounts its own root on (privately)


def _wait(pid: int) -> int:
    """waitpid that survives our own SIGALRM interrupting it."""
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except InterruptedError:
            continue


def allowed_paths(keep: list[str]) -> list[str]:
    """Every folder bound into a sandbox: system folders, then the caller's ``keep`` list (the
    Python installation's lib/ and bin/, the venv, the course package and data)."""
    out = [p for p in SYSTEM if os.path.lexists(p)]
    out += [f"/usr/share/{name}" for name in SHARE if os.path.isdir(f"/usr/share/{name}")]
    out += [f"/etc/{name}" for name in ETC if os.path.lexists(f"/etc/{name}")]
    for path in keep:
        if os.path.exists(path) and path not in out:
            out.append(path)
    return out


def _bind(root: str, path: str, writable: bool = False):
    target = root + path
    if os.path.islink(path):  # e.g. /lib -> usr/lib on merged-/usr systems
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.lexists(target):
            os.symlink(os.readlink(path), target)
        real = os.path.realpath(path)
        if real != path and not os.path.lexists(root + real):
            _bind(root, real, writable)
        return
    if os.path.isdir(path):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(path, target, None, MS_BIND | MS_REC)
    if not writable:
        _mount("none", target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _setup_mounts(hide: list[str], keep: list[str], limits: Limits, files: dict[str, bytes], uid: int) -> str:
    """In the new mount namespace: build a root holding only the allow-list; chroot into it.
    (``hide`` is kept for callers; nothing outside the allow-list is visible anyway.)"""
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    os.makedirs(ROOT, mode=0o700, exist_ok=True)
    _mount("tmpfs", ROOT, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    for path in allowed_paths(keep):
        _bind(ROOT, path)
    for path in ("/dev",):
        _bind(ROOT, path, writable=True)
    for path in ("/proc", "/tmp", "/var/tmp", "/dev/shm"):
        os.makedirs(ROOT + path, exist_ok=True)
    _mount("tmpfs", ROOT + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={limits.disk_mb}m,mode=1777")
    for path in ("/var/tmp", "/dev/shm"):  # world-writable places: tiny private ones
        _mount("tmpfs", ROOT + path, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=1777")
    _mount("none", ROOT, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)  # the skeleton
    os.chroot(ROOT)
    os.chdir("/")
    work = "/tmp/work"
    os.mkdir(work, 0o700)
    for name, content in files.items():
        target = os.path.join(work, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as fh:
            fh.write(content)
    for dirpath, dirnames, filenames in os.walk(work):
        for n in [dirpath] + [os.path.join(dirpath, f) for f in dirnames + filenames]:
            os.chown(n, uid, uid)
    return work


class Jail:
    """What a privileged sandbox target needs to start its untrusted part."""

    def __init__(self, limits: Limits, uid: int, isolated: bool, work: str, scratch: str, emit_fd: int):
        self.limits, self.uid, self.isolated, self.work, self.scratch = limits, uid, isolated, work, scratch
        self.emit_fd = emit_fd

    def drop(self):
        """In a forked child: no way back to the grader, resource limits, the sandbox uid."""
        try:
            os.close(self.emit_fd)
        except OSError:
            pass
        _setlimits(self.limits, self.isolated)
        if self.isolated:
            os.setgroups([])
            os.setgid(self.uid)
            os.setuid(self.uid)
        os.chdir(self.work)

    def limit_self(self):
        """Bounds for the trusted client itself (memory for the outputs it collects, CPU)."""
        mb = 1024 * 1024
        as_limit = _vm_size() + (self.limits.memory_mb + self.limits.output_mb * 4) * mb
        resource.setrlimit(resource.RLIMIT_AS, (as_limit, as_limit))
        cpu = int(self.limits.wall_seconds) + 5
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _writer(fd: int, budget: int):
    sent = [0]

    def emit(kind: str, data) -> None:
        payload = json.dumps([kind, data]).encode()
        sent[0] += len(payload)
        if sent[0] > budget:
            raise MemoryError("output limit reached")
        msg = MAGIC + struct.pack(">Q", len(payload)) + payload
        view = memoryview(msg)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    return emit


def _parse(buf: bytes) -> list:
    frames, pos = [], 0
    while pos + 12 <= len(buf):
        if buf[pos:pos + 4] != MAGIC:
            break
        (n,) = struct.unpack(">Q", buf[pos + 4:pos + 12])
        if pos + 12 + n > len(buf):
            break
        try:
            kind, data = json.loads(buf[pos + 12:pos + 12 + n])
            frames.append((str(kind), data))
        except Exception:  # noqa: BLE001 - untrusted bytes
            break
        pos += 12 + n
    return frames


def _child(target, job, limits: Limits, uid: int, hide: list[str], keep: list[str], files: dict, env: dict,
           w: int, isolated: bool):
    """Runs in the forked child (session leader). Never returns."""
    code = 70
    emit = _writer(w, limits.output_mb * 1024 * 1024)
    try:
        os.setsid()
        if isolated:
            _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS),
                   "unshare")
            work = _setup_mounts(hide, keep, limits, files, uid)
            pid = os.fork()  # PID 1 of the new PID namespace
            if pid:
                os.close(w)
                # a deadline of its own, in case whoever reads our output dies first
                signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, signal.SIGKILL))
                signal.alarm(int(limits.wall_seconds) + 10)
                status = _wait(pid)
                os._exit(os.waitstatus_to_exitcode(status) & 0xFF if os.WIFEXITED(status) else
                         128 + (os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0))
            _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
            # (PID 1 of a new namespace sees getppid() == 0; if the leader died before prctl, the
            # parent's killpg of the leader's process group still reaches this process)
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        else:
            work = os.path.join(env["IOME_SCRATCH"], "work")
            os.makedirs(work, exist_ok=True)
            for name, content in files.items():
                Path(work, name).write_bytes(content)
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        if getattr(target, "privileged", False):
            # a trusted client (e.g. nbgrader's Execute) that stays root inside the namespaces and
            # forks the untrusted part through jail.drop()
            os.chdir(work)
            os.environ.clear()
            os.environ.update(env, HOME=work, TMPDIR=work, PWD=work)
            jail = Jail(limits, uid, isolated, work, os.path.dirname(work) if isolated else env["IOME_SCRATCH"], w)
            target(job, emit, jail)
            os._exit(0)
        _setlimits(limits, isolated)
        if isolated:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        os.chdir(work)
        os.environ.clear()
        os.environ.update(env, HOME=work, TMPDIR=work, PWD=work)
        target(job, emit)
        code = 0
    except BaseException as exc:  # noqa: BLE001 - anything the work raised ends the sandbox
        code = 72
        try:
            emit("sandbox-error", f"{type(exc).__name__}: {exc}"[:2000])
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(code)


def run(target, job, limits: Limits, slot: int = 0, hide: list[str] | None = None,
        keep: list[str] | None = None, files: dict[str, bytes] | None = None, env: dict | None = None,
        scratch: str | None = None) -> Outcome:
    """Run ``target(job, emit)`` in a sandbox forked from *this* process; return what it emitted.

    The sandbox inherits this process's memory: use :class:`ForkServer` when this process has
    seen data the sandboxed code must not (hidden tests, other students' answers)."""
    isolated = can_isolate()
    env = dict(env or {})
    if not isolated:
        env["IOME_SCRATCH"] = scratch or "/tmp"
    r, w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _child(target, job, limits, UID_BASE + slot, list(hide or []), list(keep or []), dict(files or {}), env,
               w, isolated)
    os.close(w)

    def poll(block: bool):
        done, st = os.waitpid(pid, 0 if block else os.WNOHANG)
        return st if done else None
    return _collect(pid, r, poll, None, limits, start, isolated)


def _collect(pid: int, r: int, poll, extra_fd, limits: Limits, start: float, isolated: bool) -> Outcome:
    """Read frames from the sandbox until it ends or its time is up; kill its tree; decode."""
    out = Outcome(isolation="namespaces" if isolated else "limits-only")
    buf = bytearray()
    deadline = start + limits.wall_seconds
    cap = limits.output_mb * 1024 * 1024 + 1024
    status = None
    eof = False
    try:
        while True:
            if status is None:
                status = poll(False)
            if status is not None and eof:
                break
            now = time.monotonic()
            if now > deadline:
                out.exit = "timeout"
                break
            watch = ([] if eof else [r]) + ([extra_fd] if extra_fd is not None and status is None else [])
            if not watch:
                time.sleep(0.005)
                continue
            ready, _, _ = select.select(watch, [], [], min(0.05, max(0.0, deadline - now)))
            if r in ready:
                chunk = os.read(r, 1 << 20)
                if not chunk:
                    eof = True
                    continue
                buf += chunk
                if len(buf) > cap:
                    out.exit = "output-limit"
                    break
            elif not ready and status is not None:
                break  # child gone and nothing more to read (a writer may linger outside isolation)
    finally:
        if status is None:
            for target_pid in (-pid, pid):
                try:
                    os.kill(target_pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            status = poll(True)
        else:
            try:  # the process group, in case a child outlived it without namespaces
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        os.close(r)
    out.seconds = time.monotonic() - start
    out.frames = _parse(bytes(buf))
    if not out.exit:
        if os.WIFSIGNALED(status):
            out.exit = f"signal {signal.Signals(os.WTERMSIG(status)).name}"
        else:
            code = os.waitstatus_to_exitcode(status)
            out.exit = "ok" if code == 0 else (
                f"signal {signal.Signals(code - 128).name}" if 128 < code < 128 + 65 else f"exit {code}")
    return out


class ForkServer:
    """Fork sandboxes from a clean copy of this process, made before it saw any job.

    The server process ("zygote") is forked at construction, after the caller has imported what
    every sandbox needs. It only ever receives the *path* of a job file (root-only folder) and the
    write end of a result pipe; the sandbox child reads the job after the fork and deletes it. So
    a sandbox's memory holds its own job and nothing from earlier jobs: no other student's
    answers, and no hidden tests unless its own job carries them (the test run)."""

    def __init__(self, targets: dict):
        self.jobdir = tempfile.mkdtemp(prefix="iome-jobs-")  # mode 0700, owner: the grader
        self.ctrl, theirs = socket.socketpair()
        self.pid = os.fork()
        if self.pid == 0:
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # never outlive the worker
            # orphans of a sandbox (its namespace's PID 1 once the session leader is killed) come
            # back here to be reaped, so a finished sandbox leaves no process behind
            _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
            keep_fd = theirs.fileno()
            os.closerange(3, keep_fd)
            os.closerange(keep_fd + 1, 65536)  # not even the worker's pipes to the grader
            null = os.open("/dev/null", os.O_RDWR)
            os.dup2(null, 0)
            os.close(null)
            _serve(theirs, targets)
        theirs.close()
        self._buf = b""

    def _line(self, timeout: float | None = None) -> str | None:
        while b"\n" not in self._buf:
            if timeout is not None and not select.select([self.ctrl], [], [], timeout)[0]:
                return None
            chunk = self.ctrl.recv(4096)
            if not chunk:
                raise RuntimeError("sandbox fork server died")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode()

    def run(self, target: str, job, limits: Limits, slot: int = 0, hide=None, keep=None, files=None,
            env=None, payload: bytes | None = None) -> Outcome:
        """``payload`` (optional) reaches the target as an open file descriptor, ``job["payload_fd"]``,
        never in the sandbox's memory until the target reads it (e.g. after forking the untrusted
        part, which then never holds it)."""
        isolated = can_isolate()
        env = dict(env or {})
        if not isolated:
            env["IOME_SCRATCH"] = self.jobdir
        spec = {"target": target, "job": job, "limits": limits.as_dict(), "slot": slot, "hide": list(hide or []),
                "keep": list(keep or []), "files": {k: v.hex() for k, v in (files or {}).items()}, "env": env}
        if payload is not None:
            pfd, ppath = tempfile.mkstemp(dir=self.jobdir, suffix=".payload")
            with os.fdopen(pfd, "wb") as fh:
                fh.write(payload)
            spec["payload"] = ppath
        fd, path = tempfile.mkstemp(dir=self.jobdir, suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(spec, fh)
        spec_payload = spec.get("payload")
        del spec
        r, w = os.pipe()
        start = time.monotonic()
        socket.send_fds(self.ctrl, [path.encode() + b"\n"], [w])
        os.close(w)
        pid = int(self._line().split()[1])
        state = {}

        def poll(block: bool):
            if "status" not in state:
                line = self._line(None if block else 0)
                if line is not None:
                    parts = line.split()
                    state["status"] = int(parts[1])
                    state["left"] = int(parts[2]) if len(parts) > 2 else 0
            return state.get("status")
        try:
            out = _collect(pid, r, poll, self.ctrl, limits, start, isolated)
            if "status" not in state:  # _collect stopped early (timeout, output limit): the reap report
                poll(True)
            out.leftover = state.get("left", 0)
            return out
        finally:
            for leftover in (path, spec_payload):
                if leftover and os.path.exists(leftover):
                    os.unlink(leftover)

    def close(self):
        try:
            self.ctrl.close()
            os.waitpid(self.pid, 0)
        except (OSError, ChildProcessError):
            pass
        shutil.rmtree(self.jobdir, ignore_errors=True)


def _serve(sock, targets: dict):
    """The zygote's loop: one request at a time; never reads job contents itself."""
    try:
        while True:
            msg, fds, _, _ = socket.recv_fds(sock, 4096, 1)
            if not msg:
                break
            path, w = msg.decode().strip(), fds[0]
            pid = os.fork()
            if pid == 0:
                sock.close()
                try:
                    with open(path) as fh:
                        spec = json.load(fh)
                    os.unlink(path)
                    if spec.get("payload"):
                        spec["job"]["payload_fd"] = os.open(spec["payload"], os.O_RDONLY)
                        os.unlink(spec["payload"])
                except BaseException:  # noqa: BLE001
                    os._exit(73)
                _child(targets[spec["target"]], spec["job"], Limits(**spec["limits"]), UID_BASE + spec["slot"],
                       spec["hide"], spec["keep"], {k: bytes.fromhex(v) for k, v in spec["files"].items()},
                       spec["env"], w, can_isolate())
            os.close(w)
            sock.sendall(f"pid {pid}\n".encode())
            status = _wait(pid)
            left = _reap_all(REAP_SECONDS)
            sock.sendall(f"status {status} {left}\n".encode())
    finally:
        os._exit(0)


def _reap_all(seconds: float) -> int:
    """In the fork server (a child subreaper): wait until every process a finished sandbox left
    behind has ended and been reaped, so its end is deterministic. The namespace's PID 1 is killed
    with its session leader (PR_SET_PDEATHSIG, asynchronously) and, being orphaned, is reparented
    here; its exit waits for the rest of its PID namespace. Returns how many children were still
    alive after ``seconds`` (they are killed; 0 is the normal case)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            done, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return 0  # no child left at all
        except InterruptedError:
            continue
        if done:
            continue
        if time.monotonic() > deadline:
            left = _children()
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return len(left)
        time.sleep(0.005)


def _children() -> list[int]:
    me = os.getpid()
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == me:
                out.append(int(entry.name))
    return out


def wait_gone(slot: int, seconds: float = 30.0) -> list[int]:
    """Wait (up to ``seconds``) until no process runs as this slot's sandbox uid; return those left."""
    deadline = time.monotonic() + seconds
    while True:
        left = no_leftovers(slot)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def no_leftovers(slot: int) -> list[int]:
    """PIDs still running as this slot's sandbox uid (should be none)."""
    uid = UID_BASE + slot
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    found.append(int(entry.name))
            except FileNotFoundError:
                continue
    return found


__all__ = ["Limits", "Outcome", "ForkServer", "run", "can_isolate", "no_leftovers", "wait_gone", "errno"]

"""Inside the student's kernel (default mode): watch what the submission does, and put the grader's
world back before every test cell.

Installed in the kernel process after it has dropped to the sandbox uid and *before* any notebook
code runs:

* an audit hook (``sys.addaudithook``; it cannot be removed) that reports, on a pipe only the
  grader reads, every hook installed, trace/profile function set, process started, socket used,
  path denied and directory listed outside the sandbox's own work folder;
* a snapshot of what tests rely on: builtins, IPython's input transformers, AST transformers, event
  callbacks, display and exception hooks, and the shell's and kernel's methods.

Before each test cell the grader runs ``restore()`` (a silent request): everything in the snapshot
is put back and any difference is reported. Student code shares this process, so a determined
submission can still get round it; what it does on the way is what the audit hook reports.
"""

from __future__ import annotations

import builtins
import json
import os
import sys

_FD: int | None = None
_SNAP: dict = {}
_SEEN: set = set()
_WORK = ""
_ALLOWED: tuple = ()
_LISTABLE: tuple = ()  # where listing folders is ordinary: Python's own folders and the work folder
_MAX_EVENTS = 200
# builtins ipykernel and IPython replace themselves while running a request
KERNEL_MANAGED = {"input", "raw_input", "exit", "quit", "getpass", "get_ipython", "display", "__IPYTHON__"}
_QUIET = 0  # >0 while the guard itself works

# audit events worth reporting, and how to name them
_WATCH = {
    "sys.addaudithook": "hook", "sys.settrace": "trace", "sys.setprofile": "trace",
    "os.fork": "fork", "os.forkpty": "fork", "os.posix_spawn": "process", "os.spawn": "process",
    "os.exec": "process", "os.system": "process", "subprocess.Popen": "process", "pty.spawn": "process",
    "socket.connect": "socket", "socket.bind": "socket", "socket.sendto": "socket",
    "socket.getaddrinfo": "socket", "os.kill": "signal", "os.killpg": "signal",
    "ctypes.dlopen": "native", "sys._current_frames": "introspection",
    "os.listdir": "listing", "os.scandir": "listing", "glob.glob": "listing", "os.walk": "listing",
}


def send(kind: str, detail: str = "") -> None:
    """One event to the grader (newline-delimited JSON); never raises, never blocks."""
    global _QUIET
    if _FD is None or _QUIET:
        return
    key = (kind, detail[:200])
    if key in _SEEN or len(_SEEN) >= _MAX_EVENTS:
        return
    _SEEN.add(key)
    _QUIET += 1
    try:
        os.write(_FD, (json.dumps([kind, detail[:300]]) + "\n").encode())
    except OSError:
        pass
    finally:
        _QUIET -= 1


def _inside(path: str, roots) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _audit(event: str, args) -> None:
    if _QUIET:
        return
    what = _WATCH.get(event)
    if event == "open":
        path = args[0] if args else None
        if isinstance(path, (bytes, str)) and not isinstance(path, int):
            path = os.fsdecode(path)
            if path.startswith("/") and not _inside(path, _ALLOWED):
                try:
                    if not os.path.exists(path):
                        send("denied path", path)
                    elif not os.access(path, os.R_OK):
                        send("denied path", path)
                except (OSError, ValueError):
                    pass
        return
    if what is None:
        return
    if what == "listing":
        path = args[0] if args else "."
        try:
            path = os.path.abspath(os.fsdecode(path)) if isinstance(path, (str, bytes)) else str(path)
        except (TypeError, ValueError):
            path = str(path)
        if not _inside(path, _LISTABLE):
            send("filesystem search", path)
        return
    if what == "socket" and event == "socket.getaddrinfo":
        send("socket", f"name lookup {args[0]!r}"[:200] if args else "name lookup")
        return
    if what == "native" and args and "libc" not in str(args[0]):
        return
    send(what, event + (f" {args[0]!r}" if args and what in ("process", "socket", "signal") else ""))


def _callables(obj) -> dict:
    return {k: v for k, v in vars(obj).items() if callable(v)}


def install(shell, kernel, fd: int, work: str, allowed: tuple) -> None:
    """Take the snapshot and start auditing (called once, before any notebook code)."""
    global _FD, _WORK, _ALLOWED, _LISTABLE
    _wrap_execute(kernel)
    _FD, _WORK, _ALLOWED = fd, work, tuple(allowed) + (work, "/tmp")  # /tmp: the sandbox's private one
    _LISTABLE = tuple({sys.prefix, sys.base_prefix, work, *(p for p in sys.path if p.startswith("/"))})
    itm = shell.input_transformer_manager
    _SNAP.update(
        builtins=dict(vars(builtins)),
        cleanup=list(shell.input_transformers_cleanup), post=list(shell.input_transformers_post),
        itm_cleanup=list(itm.cleanup_transforms), itm_line=list(itm.line_transforms),
        itm_tokens=list(itm.token_transformers), ast=list(shell.ast_transformers),
        events={k: list(v) for k, v in shell.events.callbacks.items()},
        displayhook=sys.displayhook, excepthook=sys.excepthook, breakpointhook=sys.breakpointhook,
        shell_attrs=set(vars(shell)), kernel_attrs=set(vars(kernel)),
        shell_callables=_callables(shell), kernel_callables=_callables(kernel),
        custom_exceptions=shell.custom_exceptions, CustomTB=shell.CustomTB,
        shell_displayhook=shell.displayhook, display_pub=shell.display_pub,
        shell_cls=type(shell), kernel_cls=type(kernel),
    )
    _SNAP["shell"], _SNAP["kernel"] = shell, kernel
    sys.addaudithook(_audit)


RESTORE, FINAL = "#iome-guard:restore", "#iome-guard:final"


def _wrap_execute(kernel) -> None:
    """The grader's requests are answered before any input transformer or shell hook sees them."""
    original = kernel.do_execute

    async def do_execute(code, silent, *args, **kw):
        if code == RESTORE:
            restore()
            return {"status": "ok", "execution_count": kernel.execution_count, "payload": [], "user_expressions": {}}
        if code == FINAL:
            final()
            return {"status": "ok", "execution_count": kernel.execution_count, "payload": [], "user_expressions": {}}
        return await original(code, silent, *args, **kw)

    kernel.do_execute = do_execute


def restore() -> None:
    """Put back what the tests rely on; report each difference as a "restored" event."""
    global _QUIET
    s = _SNAP
    if not s:
        return
    shell, kernel = s["shell"], s["kernel"]
    changed = []
    _QUIET += 1
    try:
        if sys.gettrace() is not None or sys.getprofile() is not None:
            changed.append("trace/profile function")
        sys.settrace(None)
        sys.setprofile(None)
        import threading
        threading.settrace(None)
        threading.setprofile(None)
        b = vars(builtins)
        for name, value in s["builtins"].items():
            if name in KERNEL_MANAGED:
                continue
            if b.get(name, _missing) is not value:
                changed.append(f"builtins.{name}")
                b[name] = value
        itm = shell.input_transformer_manager
        for label, current, saved in (
                ("input transformers", shell.input_transformers_cleanup, s["cleanup"]),
                ("input transformers", shell.input_transformers_post, s["post"]),
                ("input transformers", itm.cleanup_transforms, s["itm_cleanup"]),
                ("input transformers", itm.line_transforms, s["itm_line"]),
                ("input transformers", itm.token_transformers, s["itm_tokens"]),
                ("AST transformers", shell.ast_transformers, s["ast"])):
            if current != saved:
                changed.append(label)
                current[:] = saved
        if type(shell) is not s["shell_cls"]:
            changed.append("the shell's class")
            shell.__class__ = s["shell_cls"]
        if type(kernel) is not s["kernel_cls"]:
            changed.append("the kernel's class")
            kernel.__class__ = s["kernel_cls"]
        cb = shell.events.callbacks
        for event in set(cb) | set(s["events"]):
            if cb.get(event) != s["events"].get(event):
                changed.append(f"event hook {event}")
                cb[event] = list(s["events"].get(event, []))
        # (sys.displayhook and sys.excepthook are swapped by IPython itself around each request;
        # the shell's own display hooks below are what decide the cell's outputs)
        for label, value in (("sys.breakpointhook", "breakpointhook"),):
            if getattr(sys, value) is not s[value]:
                changed.append(label)
                setattr(sys, value, s[value])
        if shell.custom_exceptions != s["custom_exceptions"] or shell.CustomTB != s["CustomTB"]:
            changed.append("custom exception handler")
            shell.custom_exceptions, shell.CustomTB = s["custom_exceptions"], s["CustomTB"]
        if shell.displayhook is not s["shell_displayhook"] or shell.display_pub is not s["display_pub"]:
            changed.append("display hooks")
            shell.displayhook, shell.display_pub = s["shell_displayhook"], s["display_pub"]
        for obj, attrs, calls, label in ((shell, s["shell_attrs"], s["shell_callables"], "shell"),
                                         (kernel, s["kernel_attrs"], s["kernel_callables"], "kernel")):
            d = vars(obj)
            for name in [n for n in d if n not in attrs and callable(d[n]) and not n.startswith(("_sys_", "_save_"))]:
                changed.append(f"{label}.{name}")
                del d[name]
            for name, value in calls.items():
                if name.startswith(("_sys_", "_save_")):
                    continue  # ipykernel swaps these itself around each request
                if d.get(name) is not value:
                    changed.append(f"{label}.{name}")
                    d[name] = value
    finally:
        _QUIET -= 1
    for what in sorted(set(changed)):
        send("restored", what)
    send("tests-ready", "")


def final() -> None:
    """The last request of the run: proves the audit channel stayed open to the end."""
    send("end", "")


class _Missing:
    pass


_missing = _Missing()

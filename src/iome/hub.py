"""The class hub on one machine: JupyterHub + configurable-http-proxy + nbgrader's exchange.

`iome hub start` (run as root) turns the roster into Unix accounts, lays out the state folder, and
starts JupyterHub with hub/jupyterhub_config.py. What a student can reach (see book/instructors/hub.md):

* their own home, <state>/home/<id> (mode 700);
* the repository's .venv (the Python that runs their server) and nothing else of the repository: the
  repository folder becomes traverse-only and every other top-level entry loses its "other" bits
  (an allow-list: exercises/source with solutions and hidden tests, .git, tests/ stay unreadable);
* a read-only copy of the course package, data/ and course.yml in <state>/runtime;
* nbgrader's exchange, <state>/exchange, with nbgrader's own permissions (inbound: write-only).

The instructor's course folder (source/, gradebook.db, submitted/, autograded/, feedback/) is
<state>/home/<instructor>/course, inside the instructor's home (mode 700).
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .collect import CollectError, Roster

UNIX_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
GROUP = "iome-hub"
INSTRUCTOR_ROLES = {"instructor", "teacher", "teacherenrollment", "editingteacher", "ta", "taenrollment",
                    "manager", "coursecreator", "designer"}
DEFAULT_LIMITS = {"memory_mb": 3072, "nproc": 256, "nofile": 4096, "fsize_mb": 512}


class HubError(RuntimeError):
    """A problem with the hub's set-up, named with the file or account and what to do."""


def repo_root() -> Path:
    from .settings import repo_root as root
    return root()


def default_state() -> Path:
    return Path(os.environ.get("IOME_HUB_STATE") or repo_root() / ".hub")


# ---- roster ----------------------------------------------------------------------------------------

@dataclass
class People:
    students: list[str]
    instructors: list[str]


def read_people(roster: Path, instructors: list[str] = ()) -> People:
    """Students and instructors from the LMS roster CSV (the one `iome collect --roster` reads).

    An optional `role` column marks instructors (Instructor, Teacher, TA, Moodle's editingteacher...);
    `--instructor NAME` adds instructors who are not in the roster."""
    try:
        rows = Roster.read(roster).rows
    except CollectError as exc:
        raise HubError(str(exc)) from None
    except FileNotFoundError:
        raise HubError(f"{roster}: no such roster file") from None
    students, staff = [], list(instructors)
    for i, row in enumerate(rows, 2):
        sid = row["student_id"]
        if not UNIX_NAME.match(sid):
            raise HubError(f"{roster}, row {i}: student_id {sid!r} cannot be a hub account name (lower-case "
                           "letters, digits, '_' and '-', starting with a letter, at most 32 characters)")
        role = re.sub(r"[^a-z]", "", row.get("role", "").lower())
        (staff if role in INSTRUCTOR_ROLES else students).append(sid)
    for name in instructors:
        if not UNIX_NAME.match(name):
            raise HubError(f"--instructor {name!r} cannot be a hub account name (lower-case letters, digits, "
                           "'_' and '-', starting with a letter)")
    if not staff:
        raise HubError(f"{roster}: no instructor (no row with role Instructor/Teacher/TA): pass --instructor NAME")
    dup = sorted({s for s in students if students.count(s) > 1} | (set(students) & set(staff)))
    if dup:
        raise HubError(f"{roster}: {', '.join(dup)} listed more than once")
    return People(students, list(dict.fromkeys(staff)))


# ---- Unix accounts -----------------------------------------------------------------------------------

def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise HubError(f"{' '.join(cmd)} failed: {proc.stderr.strip() or proc.stdout.strip()}")


def ensure_accounts(people: People, homes: Path) -> None:
    """One Unix account per person (group iome-hub), home <homes>/<name> with mode 700.
    An existing account outside the group is never taken over."""
    try:
        grp.getgrnam(GROUP)
    except KeyError:
        _run(["groupadd", "--system", GROUP])
    members = set(grp.getgrnam(GROUP).gr_mem)
    for name in people.instructors + people.students:
        home = homes / name
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            _run(["useradd", "--home-dir", str(home), "--no-create-home", "--shell", "/bin/bash",
                  "--user-group", "--groups", GROUP, name])
            pw = pwd.getpwnam(name)
        else:
            if name not in members:
                raise HubError(f"account {name!r} already exists on this machine and is not a hub account "
                               f"(group {GROUP}); rename the student in the roster or remove that account")
            if Path(pw.pw_dir) != home:
                _run(["usermod", "--home", str(home), name])
        home.mkdir(parents=True, exist_ok=True)
        os.chown(home, pw.pw_uid, pw.pw_gid)
        home.chmod(0o700)


def remove_accounts(names: list[str]) -> None:
    """Delete hub accounts (only members of group iome-hub); their homes stay in the state folder."""
    members = set(grp.getgrnam(GROUP).gr_mem) if _group_exists() else set()
    for name in names:
        if name in members:
            subprocess.run(["userdel", name], capture_output=True)


def _group_exists() -> bool:
    try:
        grp.getgrnam(GROUP)
        return True
    except KeyError:
        return False


# ---- state folder -------------------------------------------------------------------------------------

def _copy_tree(src: Path, dst: Path) -> None:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints"))


def _readable(tree: Path) -> None:
    for folder, dirs, files in os.walk(tree):
        os.chmod(folder, 0o755)
        for f in files:
            os.chmod(os.path.join(folder, f), 0o644)


def prepare_state(repo: Path, state: Path, people: People, course_id: str = "iome") -> Path:
    """Lay out the state folder; return the instructor's course folder."""
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o711)
    (state / "home").mkdir(exist_ok=True)
    (state / "home").chmod(0o711)
    owner = pwd.getpwnam(people.instructors[0])

    # what every server may read: the course package, data, catalogues, settings, jupyter config
    runtime = state / "runtime"
    runtime.mkdir(exist_ok=True)
    _copy_tree(repo / "src" / "iome", runtime / "src" / "iome")
    _copy_tree(repo / "data", runtime / "data")
    if (repo / "locales").is_dir():  # the exercises' catalogues: a release in the course language
        _copy_tree(repo / "locales", runtime / "locales")
    shutil.copy2(os.environ.get("IOME_COURSE_FILE") or repo / "course.yml", runtime / "course.yml")
    _copy_tree(repo / "hub" / "jupyter", runtime / "jupyter")
    _readable(runtime)

    # nbgrader's exchange: root 1777 as nbgrader expects (sticky: nobody removes another's folder); the
    # course folder is created now, by the instructor's account, so no student can claim its name
    exchange = state / "exchange"
    exchange.mkdir(exist_ok=True)
    os.chown(exchange, owner.pw_uid, owner.pw_gid)
    exchange.chmod(0o1777)
    course_x = exchange / course_id
    course_x.mkdir(exist_ok=True)
    os.chown(course_x, owner.pw_uid, owner.pw_gid)
    course_x.chmod(0o755)

    # the instructor's course folder: nbgrader config + sources, copied once (later edits are theirs)
    course = state / "home" / people.instructors[0] / "course"
    course.mkdir(parents=True, exist_ok=True)
    if not (course / "nbgrader_config.py").exists():
        shutil.copy2(repo / "exercises" / "nbgrader_config.py", course / "nbgrader_config.py")
    for src in sorted((repo / "exercises" / "source").iterdir()):
        if src.is_dir() and not (course / "source" / src.name).exists():
            shutil.copytree(src, course / "source" / src.name)
    _chown_tree(course, owner.pw_uid, owner.pw_gid)
    return course


def _chown_tree(tree: Path, uid: int, gid: int) -> None:
    os.chown(tree, uid, gid)
    for folder, dirs, files in os.walk(tree):
        for name in dirs + files:
            os.lchown(os.path.join(folder, name), uid, gid)


def _reachable(path: Path) -> bool:
    """Can an account that is not root's, nor in root's group, reach PATH (o+x on every folder above)?"""
    return all(folder.stat().st_mode & 0o001 for folder in [path.resolve(), *path.resolve().parents]
               if folder.is_dir())


def view_plan(repo: Path, state: Path) -> dict:
    """What a hub account's processes see of this machine's folders (applied by enter_view).

    The repository is hidden (an empty tmpfs over it): exercises/source with solutions and hidden tests,
    .git and tests/ are simply not there. Put back, read-only for the accounts: the repository's .venv
    (the Python their servers run) and the state folder. When .venv's interpreter lives where other
    accounts cannot go (pyenv under /root), that folder is hidden the same way and the interpreter alone
    is put back."""
    venv = repo / ".venv"
    cfg = dict(line.split(" = ", 1) for line in (venv / "pyvenv.cfg").read_text().splitlines() if " = " in line)
    base = Path(cfg["home"]).resolve().parent
    hide, keep = [str(repo)], [str(venv)]
    if state == repo or repo in state.parents:
        keep.append(str(state))
    elif not _reachable(state):
        raise HubError(f"{state}: other accounts cannot reach it; choose a --state whose parent folders are "
                       "world-traversable (chmod o+x)")
    if not _reachable(base):
        blocked = next(f for f in [*reversed(base.parents), base] if not f.stat().st_mode & 0o001)
        hide.append(str(blocked))
        keep.append(str(base))
    return {"hide": hide, "keep": keep}


def enter_view(plan: dict) -> None:
    """In a child process, as root, before it drops to the hub account: a private mount namespace
    where plan['hide'] folders are empty and plan['keep'] folders are bound back in."""
    from .sandbox import CLONE_NEWNS, MS_BIND, MS_NODEV, MS_NOSUID, MS_PRIVATE, MS_REC, _check, _libc, _mount
    os.umask(0o022)  # the folders made inside the tmpfs must be traversable
    _check(_libc.unshare(CLONE_NEWNS), "unshare")
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    fds = [(p, os.open(p, os.O_PATH | os.O_DIRECTORY)) for p in plan["keep"]]  # opened in the new namespace
    for folder in plan["hide"]:
        _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k")
    for path, fd in fds:
        os.makedirs(path, mode=0o755, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)


def drop_to(name: str):
    """A preexec_fn: enter the course view, then become NAME (groups, gid, uid), umask 077."""
    pw = pwd.getpwnam(name)
    groups = os.getgrouplist(name, pw.pw_gid)

    def become(plan: dict):
        enter_view(plan)
        os.setgroups(groups)
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
        os.umask(0o077)
    return become


# ---- start / stop / status ----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def settings_path(state: Path) -> Path:
    return state / "hub.json"


def load_settings(state: Path) -> dict:
    path = settings_path(state)
    if not path.is_file():
        raise HubError(f"{path}: no hub set up in {state}; run `iome hub start --roster <csv>` first")
    return json.loads(path.read_text())


def running_pid(state: Path) -> int | None:
    pidfile = state / "jupyterhub.pid"
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def api(settings: dict, path: str, method: str = "GET", body: dict | None = None, timeout: float = 30):
    req = urllib.request.Request(f"http://127.0.0.1:{settings['port']}/hub/api{path}", method=method,
                                 headers={"Authorization": f"token {settings['api_token']}"},
                                 data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        text = resp.read()
        return json.loads(text) if text else None


def start(roster: Path, state: Path | None = None, instructors: list[str] = (), auth: str = "trial",
          ip: str = "127.0.0.1", port: int = 8000, password: str | None = None, limits: dict | None = None,
          wait: float = 90) -> dict:
    if os.geteuid() != 0:
        raise HubError("`iome hub start` must run as root: it creates one Unix account per student and the hub "
                       "starts each student's server as that account")
    repo = repo_root()
    state = (state or default_state()).resolve()
    if running_pid(state):
        raise HubError(f"a hub is already running from {state}; `iome hub stop` first")
    proxy = repo / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
    if not proxy.exists():
        raise HubError(f"{proxy}: not installed; run `bash hub/setup.sh` (scripts/build.sh does it)")
    if auth == "trial" and not ip.startswith("127."):
        raise HubError("trial sign-in (one shared password) is for 127.0.0.1 only; use --auth native for a class")
    people = read_people(Path(roster), list(instructors))
    ensure_accounts(people, state / "home")
    course = prepare_state(repo, state, people)
    view = view_plan(repo, state)
    old = json.loads(settings_path(state).read_text()) if settings_path(state).is_file() else {}
    settings = {
        "repo": str(repo), "state": str(state), "runtime": str(state / "runtime"), "venv": str(repo / ".venv"), "view": view,
        "proxy": str(proxy), "course": "iome", "course_dir": str(course),
        "ip": ip, "port": port or free_port(), "hub_port": free_port(), "proxy_api_port": free_port(),
        "auth": auth, "password": password or old.get("password") or secrets.token_urlsafe(9),
        "api_token": old.get("api_token") or secrets.token_hex(32),
        "students": people.students, "instructors": people.instructors,
        "limits": {**DEFAULT_LIMITS, **(limits or {})},
    }
    path = settings_path(state)
    path.write_text(json.dumps(settings, indent=1))
    path.chmod(0o600)
    log = open(state / "jupyterhub.log", "ab")
    env = {**os.environ, "IOME_HUB_SETTINGS": str(path),
           "PATH": f"{repo / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"}
    proc = subprocess.Popen([str(repo / ".venv" / "bin" / "jupyterhub"), "-f", str(repo / "hub" / "jupyterhub_config.py")],
                            cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise HubError(f"JupyterHub stopped at start-up (exit {proc.returncode}); read {state / 'jupyterhub.log'}")
        try:
            api(settings, "/", timeout=2)
            return settings
        except OSError:
            time.sleep(0.5)
    stop(state)
    raise HubError(f"JupyterHub did not answer within {wait:.0f} s; read {state / 'jupyterhub.log'}")


def stop(state: Path | None = None, wait: float = 30) -> bool:
    state = (state or default_state()).resolve()
    pid = running_pid(state)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)  # JupyterHub stops the student servers and the proxy it started
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if running_pid(state) is None:
            break
        time.sleep(0.3)
    else:
        os.killpg(pid, signal.SIGKILL)
    return True


def status(state: Path | None = None) -> dict:
    state = (state or default_state()).resolve()
    settings = load_settings(state)
    pid = running_pid(state)
    out = {"state": str(state), "url": f"http://{settings['ip']}:{settings['port']}/", "pid": pid,
           "auth": settings["auth"], "students": len(settings["students"]),
           "instructors": settings["instructors"], "servers_running": None}
    if pid:
        try:
            users = api(settings, "/users")
            out["servers_running"] = sum(1 for u in users if u.get("server"))
        except OSError as exc:
            out["error"] = f"the hub does not answer: {exc}"
    return out


# ---- instructor steps, run as the instructor's account in their course folder ---------------------------

def as_instructor(state: Path, args: list[str], check: bool = True) -> subprocess.CompletedProcess:
    settings = load_settings(state)
    return run_as(settings, settings["instructors"][0], args, check)


def run_as(settings: dict, who: str, args: list[str], check: bool = True) -> subprocess.CompletedProcess:
    """Run ARGS as hub account WHO, seeing what its server sees, in the instructor's course folder
    (instructor) or the account's home (anyone else)."""
    pw = pwd.getpwnam(who)
    runtime = Path(settings["runtime"])
    env = {"HOME": pw.pw_dir, "USER": who, "LOGNAME": who, "LANG": os.environ.get("LANG", "C.UTF-8"),
           "PATH": f"{settings['venv']}/bin:/usr/local/bin:/usr/bin:/bin",
           "PYTHONPATH": str(runtime / "src"), "IOME_COURSE_FILE": str(runtime / "course.yml"),
           "IOME_HUB_ROLE": "instructor" if who in settings["instructors"] else "student", "IOME_HUB_EXCHANGE": str(Path(settings["state"]) / "exchange"),
           "IOME_HUB_COURSE": settings["course"], "JUPYTER_CONFIG_PATH": f"{runtime / 'jupyter' / 'instructor'}:{runtime / 'jupyter' / 'common'}"
           if who in settings["instructors"] else f"{runtime / 'jupyter' / 'student'}:{runtime / 'jupyter' / 'common'}"}
    become = drop_to(who)
    cwd = settings["course_dir"] if who == settings["instructors"][0] else pw.pw_dir
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          preexec_fn=lambda: become(settings["view"]))
    if check and proc.returncode:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise HubError(f"`{' '.join(args)}` (as {who}) failed:\n{tail}")
    return proc


def grade_as_root(state: Path, assignment: str, options: list[str] = ()) -> subprocess.CompletedProcess:
    """`iome autograde` on the hub's course folder, as root (the grader's full sandbox: namespaces and a
    separate account per notebook), then the course folder is handed back to the instructor."""
    settings = load_settings(state)
    course = Path(settings["course_dir"])
    env = {**os.environ, "IOME_COURSE_FILE": str(Path(settings["runtime"]) / "course.yml"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"}
    proc = subprocess.run([sys.executable, "-m", "iome.cli", "autograde", assignment, "--course", str(course),
                           *options], cwd=course, env=env, capture_output=True, text=True)
    pw = pwd.getpwnam(settings["instructors"][0])
    _chown_tree(course, pw.pw_uid, pw.pw_gid)
    if proc.returncode:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise HubError(f"iome autograde {assignment} failed:\n{tail}")
    return proc


def copy_submission_secrets(state: Path, assignment: str) -> list[str]:
    """nbgrader's release_feedback files each feedback under a hash that includes the submission's secret
    (submission_secret.txt, written by nbgrader submit); put that file next to each student's feedback.
    A submission without one (not made by nbgrader submit) gets a random secret, so release_feedback
    still runs for everyone; nobody can fetch that feedback. Returns those students."""
    settings = load_settings(state)
    course = Path(settings["course_dir"])
    pw = pwd.getpwnam(settings["instructors"][0])
    missing = []
    for fb in sorted(course.glob(f"feedback/*/{assignment}")):
        secret = course / "submitted" / fb.parent.name / assignment / "submission_secret.txt"
        if secret.is_file():
            shutil.copy2(secret, fb / "submission_secret.txt")
        else:
            (fb / "submission_secret.txt").write_text(secrets.token_hex(64))
            missing.append(fb.parent.name)
        os.chown(fb / "submission_secret.txt", pw.pw_uid, pw.pw_gid)
    return missing


def iome_cmd(settings: dict) -> list[str]:
    return [f"{settings['venv']}/bin/python", "-m", "iome.cli"]


def nbgrader_cmd(settings: dict) -> list[str]:
    return [f"{settings['venv']}/bin/python", "-m", "nbgrader"]


# ---- a student's (or instructor's) browser session over HTTP: used by the tests and the load benchmark ----

class Session:
    """Sign in to the hub, start the server and call nbgrader's assignment-list API, as a browser does."""

    def __init__(self, base: str, name: str, password: str, timings: list | None = None):
        import requests
        self.base, self.name, self.password = base.rstrip("/"), name, password
        self.http = requests.Session()
        self.timings = timings if timings is not None else []

    def _timed(self, method: str, url: str, **kw):
        start = time.perf_counter()
        resp = self.http.request(method, url, timeout=kw.pop("timeout", 180), **kw)
        self.timings.append((method, url.split("?")[0].replace(self.name, "<user>"), time.perf_counter() - start,
                             resp.status_code))
        return resp

    def xsrf(self, path: str = "/hub/") -> str:
        for c in self.http.cookies:
            if c.name == "_xsrf" and path.startswith(c.path or "/") and (c.path or "/") != "/":
                return c.value
        return self.http.cookies.get("_xsrf", "")

    def login(self) -> bool:
        self._timed("GET", f"{self.base}/hub/login")
        r = self._timed("POST", f"{self.base}/hub/login", allow_redirects=False,
                        data={"username": self.name, "password": self.password, "_xsrf": self.xsrf("/hub/")})
        return r.status_code == 302 and "login" not in r.headers.get("Location", "login")

    def start_server(self, wait: float = 180) -> None:
        r = self._timed("POST", f"{self.base}/hub/api/users/{self.name}/server",
                        headers={"X-XSRFToken": self.xsrf("/hub/")})
        if r.status_code not in (201, 202, 400):  # 400: already running
            raise HubError(f"{self.name}: server did not start: {r.status_code} {r.text[:200]}")
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            r = self._timed("GET", f"{self.base}/hub/api/users/{self.name}")
            if r.status_code == 200 and (r.json().get("servers", {}).get("", {}) or {}).get("ready"):
                break
            time.sleep(1)
        else:
            raise HubError(f"{self.name}: server not ready within {wait:.0f} s")
        # the browser's first visit: OAuth between hub and server sets the server's cookie
        r = self._timed("GET", f"{self.base}/user/{self.name}/lab")
        if r.status_code != 200 or f"/user/{self.name}/" not in r.url:
            raise HubError(f"{self.name}: could not open the server: {r.status_code} {r.url}")

    def user_api(self, method: str, path: str, **kw):
        url = f"{self.base}/user/{self.name}/{path.lstrip('/')}"
        headers = {"X-XSRFToken": self.xsrf(f"/user/{self.name}/")}
        return self._timed(method, url, headers=headers, **kw)

    def assignments(self, course: str = "iome") -> list[dict]:
        r = self.user_api("GET", f"assignments?course_id={course}")
        r.raise_for_status()
        return r.json()["value"]

    def action(self, action: str, assignment: str, course: str = "iome") -> dict:
        r = self.user_api("POST", f"assignments/{action}", data={"assignment_id": assignment, "course_id": course})
        r.raise_for_status()
        return r.json()

    def validate(self, path: str) -> dict:
        r = self.user_api("POST", "assignments/validate", data={"path": path})
        r.raise_for_status()
        return r.json()

    def read(self, path: str) -> dict:
        r = self.user_api("GET", f"api/contents/{path}?content=1")
        r.raise_for_status()
        return r.json()

    def write_notebook(self, path: str, nb: dict) -> None:
        r = self.user_api("PUT", f"api/contents/{path}", json={"type": "notebook", "format": "json", "content": nb})
        r.raise_for_status()

    def run_code(self, code: str, timeout: float = 120) -> str:
        """Run CODE in a new kernel of this user's server (over the kernel websocket, as JupyterLab does)
        and return what it printed (stdout, stderr and error names)."""
        import uuid

        import websocket
        r = self.user_api("POST", "api/kernels", json={"name": "python3"})
        r.raise_for_status()
        kid = r.json()["id"]
        url = self.base.replace("http", "ws", 1) + f"/user/{self.name}/api/kernels/{kid}/channels"
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)
        ws = websocket.create_connection(url, cookie=cookie, timeout=timeout,
                                         header=[f"X-XSRFToken: {self.xsrf(f'/user/{self.name}/')}"])
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({"header": {"msg_id": msg_id, "msg_type": "execute_request", "username": self.name,
                                       "session": uuid.uuid4().hex, "version": "5.3"},
                            "parent_header": {}, "metadata": {}, "channel": "shell",
                            "content": {"code": code, "silent": False, "store_history": False,
                                        "user_expressions": {}, "allow_stdin": False}}))
        out = []
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                msg = json.loads(ws.recv())
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    out.append(content["text"])
                elif kind == "error":
                    out.append(f"{content['ename']}: {content['evalue']}\n")
                elif kind == "status" and content["execution_state"] == "idle":
                    break
        finally:
            ws.close()
            self.user_api("DELETE", f"api/kernels/{kid}")
        return "".join(out)

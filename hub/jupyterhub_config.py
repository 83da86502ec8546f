"""JupyterHub configuration for the class hub (`iome hub start` runs JupyterHub with this file).

Everything that varies per installation (state folder, ports, sign-in mode, roster, limits) comes from
the settings file `iome hub start` writes to <state>/hub.json and names in IOME_HUB_SETTINGS; this file
holds the choices that do not vary. Read book/instructors/hub.md for what each part does.
"""

import json
import os
import re
import resource
from pathlib import Path

from iome.hub import enter_view
from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Dict

c = get_config()  # noqa: F821 (provided by JupyterHub)
S = json.loads(Path(os.environ["IOME_HUB_SETTINGS"]).read_text())
state = Path(S["state"])
runtime = Path(S["runtime"])

# ---- network: the public proxy port, the hub and the proxy's API on loopback only ----------------------
c.JupyterHub.ip = S["ip"]
c.JupyterHub.port = S["port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = S["hub_port"]
c.ConfigurableHTTPProxy.command = [S["proxy"]]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{S['proxy_api_port']}"
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
c.ConfigurableHTTPProxy.debug = False

# ---- state: database, cookie secret, pid file in the state folder -------------------------------------
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True
c.JupyterHub.shutdown_on_logout = True

# ---- who may sign in: the roster's students and the instructors ---------------------------------------
roster = set(S["students"]) | set(S["instructors"])
c.Authenticator.admin_users = set(S["instructors"])
c.Authenticator.delete_invalid_users = True  # a student dropped from the roster loses hub access
c.JupyterHub.admin_access = False            # admins manage the hub; they do not open students' servers

if S["auth"] == "trial":
    # Trial mode: any roster name with one shared password. Refuse anything but loopback.
    if not S["ip"].startswith("127."):
        raise SystemExit("trial sign-in (shared password) listens on 127.0.0.1 only; use --auth native for a class")
    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.password = S["password"]
    c.Authenticator.allowed_users = roster
    banner = ("TRIAL MODE: every roster name signs in with the one shared password printed by "
              "`iome hub start`. For a real class restart with --auth native.")
else:
    import nativeauthenticator

    c.JupyterHub.authenticator_class = "native"
    c.JupyterHub.template_paths = [str(Path(nativeauthenticator.__file__).parent / "templates")]
    # Only roster ids can sign up or sign in (username_pattern); each student's sign-up waits for the
    # instructor's approval at /hub/authorize (NativeAuthenticator pre-approves allowed_users, so the
    # roster goes in the pattern, not in allowed_users); instructors are approved at sign-up.
    c.Authenticator.allow_all = True
    c.Authenticator.username_pattern = "^(" + "|".join(re.escape(n) for n in sorted(roster)) + ")$"
    c.NativeAuthenticator.open_signup = False
    c.NativeAuthenticator.minimum_password_length = 10
    c.NativeAuthenticator.check_common_password = True
    c.NativeAuthenticator.allowed_failed_logins = 5
    c.NativeAuthenticator.seconds_before_next_try = 60
    banner = ("First time here? Sign up with the student id your instructor gave you; "
              "your instructor then approves the account.")
c.JupyterHub.template_vars = {"announcement_login": banner}

# A service token for the `iome hub` command (status, the tests and the load benchmark).
c.JupyterHub.services = [{"name": "iome-cli", "api_token": S["api_token"]}]
c.JupyterHub.load_roles = [{
    "name": "iome-cli",
    "scopes": ["list:users", "read:users", "admin:users", "admin:servers", "read:servers"],
    "services": ["iome-cli"],
}]


# ---- spawner: one Unix account per person, limits set before the server drops to that account ---------
class CourseSpawner(LocalProcessSpawner):
    """LocalProcessSpawner plus per-user rlimits and the course's environment."""

    limits = Dict(help="rlimits applied to the user's server and everything it starts").tag(config=True)

    def make_preexec_fn(self, name):
        drop_privileges = super().make_preexec_fn(name)
        limits = dict(self.limits)

        def preexec():
            mb = 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mb"] * mb,) * 2)
            resource.setrlimit(resource.RLIMIT_NPROC, (limits["nproc"],) * 2)
            resource.setrlimit(resource.RLIMIT_NOFILE, (limits["nofile"],) * 2)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limits["fsize_mb"] * mb,) * 2)
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            enter_view(S["view"])  # the repository hidden; .venv and the state folder visible
            os.umask(0o077)
            drop_privileges()

        return preexec

    def get_env(self):
        env = super().get_env()
        role = "instructor" if self.user.name in S["instructors"] else "student"
        jupyter = runtime / "jupyter"
        env.update({
            "IOME_HUB_ROLE": role,
            "IOME_HUB_EXCHANGE": str(state / "exchange"),
            "IOME_HUB_COURSE": S["course"],
            # the course package and data/ (a read-only copy), ahead of anything else
            "PYTHONPATH": str(runtime / "src"),
            "IOME_COURSE_FILE": str(runtime / "course.yml"),
            "PATH": f"{S['venv']}/bin:/usr/local/bin:/usr/bin:/bin",
            # nbgrader and JupyterLab settings: students get the assignment list only
            # the instructor's server lets JupyterLab show the formgrader in a frame (same origin only)
            "JUPYTER_CONFIG_PATH": (f"{jupyter / 'instructor'}:{jupyter / 'common'}" if role == "instructor"
                                    else f"{jupyter / 'student'}:{jupyter / 'common'}"),
        })
        return env


c.JupyterHub.spawner_class = CourseSpawner
c.CourseSpawner.limits = S["limits"]
c.Spawner.cmd = [f"{S['venv']}/bin/jupyterhub-singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.env_keep = ["LANG", "LC_ALL", "TZ"]

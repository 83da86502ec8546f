"""The grading sandbox shows a submission only its allow-list (system libraries, Python and the venv,
the course package, data/ and course.yml, a private scratch space): a copy of the course placed
anywhere else on the machine — however unusual the path — is not visible from inside."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import pytest

from iome import autograde, sandbox

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not sandbox.can_isolate(), reason="the sandbox needs root for namespaces")

PLACES = ["/var/lib", "/usr/local/share", "/usr/share", "/opt", "/srv", "/home", "/mnt", "/var/backups", "/etc/opt"]


def _look(job, emit):
    """Inside the sandbox: try each planted path, then walk everything visible for the marker."""
    found = [p for p in job["paths"] if os.path.exists(p)]
    for top in ("/",):
        for dirpath, dirnames, filenames in os.walk(top):
            if dirpath in ("/proc", "/sys", "/dev"):
                dirnames[:] = []
                continue
            if job["marker"] in dirnames or job["marker"] in filenames:
                found.append(dirpath)
    repo = job["repo"]
    visible = sorted(os.listdir(repo)) if os.path.isdir(repo) else []
    emit("result", {"found": found, "repo": visible, "uid": os.getuid(), "cwd": os.getcwd(),
                    "can_write_tmp": _can_write("/tmp/work/x"), "can_write_venv": _can_write(job["venv"] + "/x")})


def _can_write(path):
    try:
        with open(path, "w") as fh:
            fh.write("x")
        return True
    except OSError:
        return False


@pytest.fixture
def planted():
    marker = "iome-course-copy-" + secrets.token_hex(4)
    made = []
    for place in PLACES:
        target = Path(place) / marker
        try:
            shutil.copytree(ROOT / "exercises", target, ignore=shutil.ignore_patterns("release", "autograded",
                                                                                     "feedback", "submitted"))
            (target / "gradebook.db").write_bytes(b"SQLite format 3\0")
            target.chmod(0o755)
            made.append(str(target))
        except OSError:
            continue
    yield marker, made
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


def test_course_copies_elsewhere_are_invisible(planted):
    marker, made = planted
    assert len(made) >= 5, made
    keep = autograde._keep_paths()
    out = sandbox.run(_look, {"paths": made, "marker": marker, "repo": str(ROOT), "venv": os.path.realpath(
        os.sys.prefix)}, sandbox.Limits(wall_seconds=60), slot=29_990, keep=keep)
    result = dict(out.frames).get("result")
    assert result, (out.exit, out.frames)
    assert result["found"] == [], f"visible from the sandbox: {result['found']}"
    assert set(result["repo"]) <= {"src", "data", "course.yml", ".venv"}, result["repo"]
    assert result["uid"] == sandbox.UID_BASE + 29_990 and result["cwd"] == "/tmp/work"
    assert result["can_write_tmp"] and not result["can_write_venv"]

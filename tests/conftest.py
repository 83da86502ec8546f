"""Shared fixtures: the repository, a scratch copy of the nbgrader course, a second home country."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"

# nbgrader calls `alembic` from PATH when it creates a gradebook
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def site() -> Path:
    if not (SITE / "index.html").is_file():
        pytest.fail(f"{SITE} has no built site: run `bash scripts/build.sh` first (the README's first command).")
    return SITE


def copy_course(target: Path) -> Path:
    """A scratch nbgrader course (config + sources) so tests never touch exercises/ itself."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "exercises" / "nbgrader_config.py", target / "nbgrader_config.py")
    shutil.copytree(ROOT / "exercises" / "source", target / "source")
    return target


def course_file(tmp: Path, home: str, peers: list[str]) -> Path:
    """A course.yml for another school (home country + peers)."""
    path = tmp / f"course-{home}.yml"
    path.write_text(f"school: Test school\nhome: {home}\npeers: [{', '.join(peers)}]\nlanguage: en\n")
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (--dist loadgroup), keep every test of one graded cohort on one worker,
    so each (assignment, home country) pipeline runs once.

    pytest-xdist 3.8 marks an `xdist_group` by rewriting `item._nodeid` (in its own hook, which runs
    inside this wrapper), but pytest 9 reads node ids from `item._id`: without the copy below,
    `--dist loadgroup` ignored every group and both workers rebuilt each module's graded cohort, hub
    and browser."""
    for item in items:
        spec = getattr(item, "callspec", None)
        if spec is not None and "graded" in spec.params:
            item.add_marker(pytest.mark.xdist_group(name="-".join(spec.params["graded"])))
    yield
    from _pytest.nodeid import coerce_node_id
    for item in items:
        suffixed = item.__dict__.get("_nodeid")
        if suffixed and suffixed != item.nodeid:
            item._id = coerce_node_id(suffixed)

"""The class hub, end to end on this machine: a real JupyterHub behind configurable-http-proxy, real Unix
accounts, nbgrader's exchange, `iome autograde`. An instructor and three students go through the
whole cycle over HTTP exactly as the browser's JupyterLab does (sign-in form, hub API, nbgrader's
assignment-list API, kernels over websockets); tests/test_hub_browser.py clicks the same in Chromium.

Needs root (it creates Unix accounts) and hub/node_modules (scripts/build.sh runs hub/setup.sh).
"""

from __future__ import annotations

import copy
import csv
import json
import os
import shutil
import uuid
from pathlib import Path

import nbformat
import pytest
import yaml

from iome import hub

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "health-economics"
NB = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
INSTRUCTOR, STUDENTS = "hubprof", ["hubann", "hubben", "hubcyd"]
PASSWORD = "trial-" + uuid.uuid4().hex[:8]

pytestmark = pytest.mark.xdist_group("hub")  # one hub for the module's cycle, on one worker
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the class hub creates Unix accounts: run as root")
needs_proxy = pytest.mark.skipif(not (ROOT / "hub/node_modules/.bin/configurable-http-proxy").exists(),
                                 reason="run bash hub/setup.sh (scripts/build.sh does)")


def write_roster(path: Path, students=STUDENTS, instructor=INSTRUCTOR) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["student_id", "name", "email", "role"])
        w.writerow([instructor, "Ada Lovelace", "ada@example.org", "Instructor"])
        for s in students:
            w.writerow([s, s.title(), f"{s}@example.org", "Student"])
    return path


# ---- roster and start-up checks (no hub needed) -------------------------------------------------------

def test_roster_gives_students_and_instructor(tmp_path):
    people = hub.read_people(write_roster(tmp_path / "r.csv"))
    assert people.instructors == [INSTRUCTOR] and people.students == STUDENTS


def test_roster_bad_id_names_file_row_and_rule(tmp_path):
    path = write_roster(tmp_path / "r.csv", students=["good1", "Bad.Name"])
    with pytest.raises(hub.HubError, match=r"r\.csv, row 4: student_id 'Bad.Name' cannot be a hub account name"):
        hub.read_people(path)


def test_roster_without_instructor_asks_for_one(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("student_id,name\nabc,Abc\n")
    with pytest.raises(hub.HubError, match="--instructor"):
        hub.read_people(path)
    assert hub.read_people(path, ["teach1"]).instructors == ["teach1"]


@needs_root
def test_trial_mode_refuses_a_public_address(tmp_path):
    with pytest.raises(hub.HubError, match="127.0.0.1 only"):
        hub.start(write_roster(tmp_path / "r.csv"), tmp_path / "state", auth="trial", ip="0.0.0.0")


# ---- the whole cycle -----------------------------------------------------------------------------------

def notebook_with(answers: dict[str, str], release: dict) -> dict:
    nb = copy.deepcopy(release)
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell["source"] = answers[gid]
    return nb


@pytest.fixture(scope="module")
def cycle(tmp_path_factory):
    """Start a hub, release, let three students work and submit, collect, grade, return feedback."""
    if os.geteuid() != 0:
        pytest.skip("the class hub creates Unix accounts: run as root")
    if not (ROOT / "hub/node_modules/.bin/configurable-http-proxy").exists():
        pytest.skip("run bash hub/setup.sh (scripts/build.sh does)")
    tmp = tmp_path_factory.mktemp("hub")
    state = ROOT / ".hub" / f"test-{uuid.uuid4().hex[:8]}"
    settings = hub.start(write_roster(tmp / "roster.csv"), state, auth="trial", port=0, password=PASSWORD)
    base = f"http://127.0.0.1:{settings['port']}"
    out = {"settings": settings, "state": state, "base": base}
    try:
        hub.as_instructor(state, hub.iome_cmd(settings) + ["release", ASSIGNMENT, "--course", settings["course_dir"]])
        hub.as_instructor(state, hub.nbgrader_cmd(settings) + ["release_assignment", ASSIGNMENT, "--force"])

        source = nbformat.read(ROOT / "exercises/source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
        solutions = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
                     if c.metadata.get("nbgrader", {}).get("solution")}
        points = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"].get("points", 0) for c in source.cells
                  if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"
                  and not c.metadata["nbgrader"].get("solution")}
        wrong = yaml.safe_load((ROOT / "tests/wrong_answers" / f"{ASSIGNMENT}.yml").read_text())[0]
        out["max_auto"] = sum(points.values())
        out["expected"] = {"hubann": sum(points.values()), "hubben": 0,
                           "hubcyd": sum(points.values()) - sum(points[c] for c in wrong["loses"])}

        users = {name: hub.Session(base, name, PASSWORD) for name in STUDENTS + [INSTRUCTOR]}
        out["users"] = users
        for u in users.values():
            assert u.login(), f"{u.name} could not sign in"
            u.start_server()
        ann, ben, cyd = (users[s] for s in STUDENTS)
        out["listed"] = ann.assignments()
        for u in (ann, ben, cyd):
            u.action("fetch", ASSIGNMENT)
        release = ann.read(NB)["content"]

        # hubben: a wrongly named notebook is refused with nbgrader's message; then the untouched release
        ben.user_api("PATCH", f"api/contents/{NB}", json={"path": f"{ASSIGNMENT}/my-work.ipynb"})
        out["wrong_name"] = ben.action("submit", ASSIGNMENT)
        ben.user_api("PATCH", f"api/contents/{ASSIGNMENT}/my-work.ipynb", json={"path": NB})
        ben.action("submit", ASSIGNMENT)

        # hubann: submits the untouched release first, then the solution (the newest must count)
        ann.action("submit", ASSIGNMENT)
        ann.write_notebook(NB, notebook_with(solutions, release))
        out["validate_ann"] = ann.validate(NB)
        ann.action("submit", ASSIGNMENT)

        # hubann tries to submit as hubben with nbgrader's own --student option
        out["forged"] = ann.run_code(
            "import subprocess, sys\n"
            f"p = subprocess.run([sys.executable, '-m', 'nbgrader', 'submit', '{ASSIGNMENT}', '--student=hubben'],"
            " capture_output=True, text=True, cwd='.')\nprint(p.returncode)")

        # the due date passes; hubcyd submits late, with one wrong answer
        hub.as_instructor(state, hub.nbgrader_cmd(settings) + [
            "db", "assignment", "add", ASSIGNMENT, "--duedate=" + _utc_now()])
        cyd.write_notebook(NB, notebook_with({**solutions, wrong["answer"]: wrong["code"]}, release))
        cyd.action("submit", ASSIGNMENT)
        # ... and then slips a copy into the exchange by hand, claiming a time before the due date
        hub.run_as(settings, "hubcyd", [f"{settings['venv']}/bin/python", "-c", BACKDATE])

        # what a student's own code can reach (run in hubben's kernel)
        out["probe"] = json.loads(ben.run_code(PROBE.format(
            repo=ROOT, state=state, course=settings["course_dir"], instructor=INSTRUCTOR)).strip().splitlines()[-1])

        out["collect"] = hub.as_instructor(state, hub.nbgrader_cmd(settings) + ["collect", ASSIGNMENT])
        hub.grade_as_root(state, ASSIGNMENT)
        hub.as_instructor(state, hub.iome_cmd(settings) + ["feedback", ASSIGNMENT, "--course", settings["course_dir"]])
        out["no_secret"] = hub.copy_submission_secrets(state, ASSIGNMENT)
        hub.as_instructor(state, hub.nbgrader_cmd(settings) + ["release_feedback", ASSIGNMENT])
        hub.as_instructor(state, hub.iome_cmd(settings) + ["export", ASSIGNMENT, "--course", settings["course_dir"]])
        for u in (ann, ben, cyd):
            u.action("fetch_feedback", ASSIGNMENT)
        out["feedback"] = {}
        for u in (ann, ben, cyd):
            r = u.user_api("GET", f"api/contents/{ASSIGNMENT}/feedback")
            out["feedback"][u.name] = r.json() if r.status_code == 200 else {"status": r.status_code}
        yield out
    finally:
        hub.stop(state)
        hub.remove_accounts(STUDENTS + [INSTRUCTOR])
        shutil.rmtree(state, ignore_errors=True)


def _utc_now() -> str:
    from datetime import datetime, timezone
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


BACKDATE = """
import os, shutil
claim = '2020-01-01 00:00:00.000000 UTC'
dst = os.path.join(os.environ['IOME_HUB_EXCHANGE'], 'iome', 'inbound', f'hubcyd+health-economics+{claim}+backdated')
shutil.copytree(os.path.expanduser('~/health-economics'), dst, ignore=shutil.ignore_patterns('.*'))
open(os.path.join(dst, 'timestamp.txt'), 'w').write(claim)
for folder, dirs, files in os.walk(dst):
    os.chmod(folder, 0o755)
    for f in files:
        os.chmod(os.path.join(folder, f), 0o644)
"""

PROBE = """
import json, os
def can(path):
    try:
        os.listdir(path) if os.path.isdir(path) else open(path, 'rb').read(1)
        return True
    except OSError:
        return False
print(json.dumps({{
  "own_home": can(os.path.expanduser('~')),
  "other_home": can('{state}/home/hubann'),
  "instructor_home": can('{state}/home/{instructor}'),
  "source": can('{course}/source'),
  "gradebook": can('{course}/gradebook.db'),
  "repo_source": can('{repo}/exercises/source'),
  "repo_git": can('{repo}/.git'),
  "inbound_listing": can('{state}/exchange/iome/inbound'),
  "feedback_listing": can('{state}/exchange/iome/feedback'),
  "course_data": __import__('iome.data', fromlist=['x']) is not None,
}}))
"""


def grades(cycle) -> dict:
    path = Path(cycle["settings"]["course_dir"]) / "exports" / ASSIGNMENT / "grades.csv"
    return {r["student_id"]: r for r in csv.DictReader(path.open())}


def test_students_see_the_released_assignment(cycle):
    assert [a["assignment_id"] for a in cycle["listed"] if a["status"] == "released"] == [ASSIGNMENT]


def test_the_solution_validates(cycle):
    v = cycle["validate_ann"]
    assert v["success"], v
    assert not v["value"].get("failed") and not v["value"].get("errors"), v


def test_wrong_notebook_name_is_refused_with_a_clear_message(cycle):
    r = cycle["wrong_name"]
    assert r["success"] is False
    assert "missing notebooks" in r["value"] and f"{ASSIGNMENT}.ipynb: MISSING" in r["value"], r


def test_gradebook_scores_are_what_the_submissions_deserve(cycle):
    g = grades(cycle)
    assert set(g) == set(STUDENTS)
    for student, expected in cycle["expected"].items():
        assert float(g[student]["auto_score"]) == pytest.approx(expected), (student, g[student])
    assert cycle["expected"]["hubann"] > cycle["expected"]["hubcyd"] > 0


def test_resubmission_keeps_the_newest(cycle):
    # hubann's first submission (the untouched release) would score 0
    assert float(grades(cycle)["hubann"]["auto_score"]) == cycle["max_auto"]


def test_late_submission_is_marked_late(cycle):
    from nbgrader.api import Gradebook
    course = Path(cycle["settings"]["course_dir"])
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        late = {s: gb.find_submission(ASSIGNMENT, s).total_seconds_late for s in STUDENTS}
    assert late["hubcyd"] > 0 and late["hubann"] == 0 and late["hubben"] == 0, late


def test_a_backdated_submission_gets_its_arrival_time(cycle):
    log = cycle["collect"].stdout + cycle["collect"].stderr
    assert "claims it was submitted at 2020-01-01 00:00:00" in log, log
    stamp = (Path(cycle["settings"]["course_dir"]) / "submitted/hubcyd" / ASSIGNMENT / "timestamp.txt").read_text()
    assert not stamp.startswith("2020"), stamp
    assert cycle["no_secret"] == ["hubcyd"]  # made by hand, not by Submit: no secret, feedback not fetchable


def test_a_submission_under_another_students_name_is_refused(cycle):
    assert cycle["forged"].strip().splitlines()[-1] == "0"  # nbgrader itself let it into the exchange
    log = cycle["collect"].stdout + cycle["collect"].stderr
    assert "REFUSED" in log and "names student hubben but was submitted by hubann" in log, log
    # hubben's collected work is their own untouched release (auto score 0), not hubann's
    assert float(grades(cycle)["hubben"]["auto_score"]) == 0


def test_a_student_reaches_only_their_own_work(cycle):
    p = cycle["probe"]
    assert p["own_home"] and p["course_data"]
    for what in ("other_home", "instructor_home", "source", "gradebook", "repo_source", "repo_git",
                 "inbound_listing", "feedback_listing"):
        assert p[what] is False, f"a student can read {what}: {p}"


def test_feedback_reaches_only_its_student(cycle):
    # hubcyd's graded submission is the copy made by hand (no secret): nothing to fetch (and nobody can)
    assert not [f for f in cycle["feedback"]["hubcyd"].get("content") or [] if f["type"] == "directory"]
    for student in ("hubann", "hubben"):
        u = cycle["users"][student]
        listing = cycle["feedback"][student]
        stamps = [f for f in listing["content"] if f["type"] == "directory"]
        assert len(stamps) == 1, listing
        html = u.user_api("GET", f"api/contents/{stamps[0]['path']}/{ASSIGNMENT}.html?content=1").json()["content"]
        score = round(float(grades(cycle)[student]["score"]), 2)
        assert f"{ASSIGNMENT} (Score: {score} /" in html, f"{student}'s feedback does not show their score {score}"
        others = [s for s in STUDENTS if s != student]
        assert not any(f"/{o}/" in html for o in others)
        assert "BEGIN HIDDEN TESTS" not in html


def test_sign_in_refuses_wrong_password_and_strangers(cycle):
    assert not hub.Session(cycle["base"], "hubann", "wrong-password").login()
    assert not hub.Session(cycle["base"], "stranger", PASSWORD).login()


def test_status_reports_the_running_hub(cycle):
    s = hub.status(cycle["state"])
    assert s["pid"] and s["servers_running"] == 4 and s["students"] == 3


# ---- the real-class sign-in: NativeAuthenticator, roster ids only, the instructor approves ------------------

def _signup(base: str, name: str, password: str):
    import requests
    http = requests.Session()
    http.get(f"{base}/hub/signup", timeout=30)
    return http.post(f"{base}/hub/signup", timeout=30, data={
        "username": name, "signup_password": password, "signup_password_confirmation": password,
        "_xsrf": http.cookies.get("_xsrf", "")})


@needs_root
@needs_proxy
def test_native_sign_up_needs_the_roster_and_the_instructors_approval(tmp_path):
    state = ROOT / ".hub" / f"native-{uuid.uuid4().hex[:8]}"
    names = ["natprof", "natann"]
    settings = hub.start(write_roster(tmp_path / "r.csv", ["natann"], "natprof"), state, auth="native", port=0)
    base = f"http://127.0.0.1:{settings['port']}"
    try:
        good = "a-long-passphrase-" + uuid.uuid4().hex[:6]
        assert _signup(base, "natprof", good).status_code == 200
        prof = hub.Session(base, "natprof", good)
        assert prof.login(), "the instructor is approved at sign-up"
        _signup(base, "natann", good)
        assert not hub.Session(base, "natann", good).login(), "a student waits for approval"
        _signup(base, "stranger", good)
        prof._timed("GET", f"{base}/hub/authorize/stranger")
        assert not hub.Session(base, "stranger", good).login(), "a name not in the roster never gets in"
        r = prof._timed("GET", f"{base}/hub/authorize/natann")
        assert r.status_code == 200, r.status_code
        assert hub.Session(base, "natann", good).login(), "approved by the instructor"
        assert not hub.Session(base, "natann", "wrong-" + good).login()
        assert not hub.Session(base, "natprof", "short").login()
    finally:
        hub.stop(state)
        hub.remove_accounts(names)
        shutil.rmtree(state, ignore_errors=True)

"""The class hub in Chromium: an instructor and three students click through the cycle in JupyterLab.

Students sign in on the hub's form, open Nbgrader > Assignment List, click Fetch, run the notebook,
click Validate and Submit, and after grading click Fetch Feedback. The instructor opens the
Formgrader and grades with `iome hub autograde` (the grader's sandbox). Debian's /usr/bin/chromium
driven by Playwright; the hub on 127.0.0.1 on a free port. Needs root (Unix accounts).
"""

from __future__ import annotations

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

from test_hub import ASSIGNMENT, NB, notebook_with, write_roster

ROOT = Path(__file__).resolve().parents[1]
INSTRUCTOR, STUDENTS = "webprof", ["webann", "webben", "webcyd"]
PASSWORD = "trial-" + uuid.uuid4().hex[:8]
CHROMIUM = "/usr/bin/chromium"

pytestmark = [
    pytest.mark.xdist_group("hub-browser"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the class hub creates Unix accounts: run as root"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium"),
    pytest.mark.skipif(not (ROOT / "hub/node_modules/.bin/configurable-http-proxy").exists(),
                       reason="run bash hub/setup.sh (scripts/build.sh does)"),
]


def sign_in(browser, base: str, name: str):
    ctx = browser.new_context(viewport={"width": 1366, "height": 800})
    page = ctx.new_page()
    page.goto(f"{base}/hub/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url(f"**/user/{name}/lab**", timeout=180_000)
    page.wait_for_selector("#jp-main-dock-panel", timeout=120_000)
    return page


def open_assignments(page):
    page.get_by_text("Nbgrader", exact=True).first.click()
    items = page.locator(".lm-Menu-itemLabel").all_inner_texts()
    page.get_by_text("Assignment List", exact=True).click()
    page.wait_for_selector("text=Released, downloaded, and submitted assignments", timeout=60_000)
    return items


def put_notebook(page, name: str, path: str, nb: dict) -> int:
    return page.evaluate("""async ([name, path, nb]) => {
        const xsrf = document.cookie.split('; ').find(c => c.startsWith('_xsrf=')).slice(6);
        const r = await fetch(`/user/${name}/api/contents/${path}`, {method: 'PUT',
            headers: {'X-XSRFToken': xsrf, 'Content-Type': 'application/json'},
            body: JSON.stringify({type: 'notebook', format: 'json', content: nb})});
        return r.status; }""", [name, path, nb])


def get_json(page, name: str, path: str):
    return page.evaluate("""async ([name, path]) => {
        const xsrf = document.cookie.split('; ').find(c => c.startsWith('_xsrf=')).slice(6);
        const r = await fetch(`/user/${name}/api/contents/${path}`, {headers: {'X-XSRFToken': xsrf}});
        return await r.json(); }""", [name, path])


def test_instructor_and_three_students_in_chromium(tmp_path):
    from playwright.sync_api import sync_playwright

    state = ROOT / ".hub" / f"browser-{uuid.uuid4().hex[:8]}"
    settings = hub.start(write_roster(tmp_path / "roster.csv", STUDENTS, INSTRUCTOR), state, auth="trial",
                         port=0, password=PASSWORD)
    base = f"http://127.0.0.1:{settings['port']}"
    course = Path(settings["course_dir"])
    try:
        hub.as_instructor(state, hub.iome_cmd(settings) + ["release", ASSIGNMENT, "--course", str(course)])
        hub.as_instructor(state, hub.nbgrader_cmd(settings) + ["release_assignment", ASSIGNMENT, "--force"])
        source = nbformat.read(ROOT / "exercises/source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
        solutions = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
                     if c.metadata.get("nbgrader", {}).get("solution")}
        points = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"].get("points", 0) for c in source.cells
                  if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"
                  and not c.metadata["nbgrader"].get("solution")}
        wrong = yaml.safe_load((ROOT / "tests/wrong_answers" / f"{ASSIGNMENT}.yml").read_text())[0]
        answers = {"webann": solutions, "webben": {}, "webcyd": {**solutions, wrong["answer"]: wrong["code"]}}
        expected = {"webann": sum(points.values()), "webben": 0,
                    "webcyd": sum(points.values()) - sum(points[c] for c in wrong["loses"])}

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM,
                                        args=["--headless", "--no-sandbox", "--disable-gpu"])
            pages = {}
            for name in STUDENTS:
                page = pages[name] = sign_in(browser, base, name)
                menu = open_assignments(page)
                assert "Formgrader" not in menu, f"{name} sees the formgrader: {menu}"
                page.get_by_role("button", name="Fetch", exact=True).click()
                page.locator("#fetched_assignments_list").get_by_text(ASSIGNMENT).first.wait_for(timeout=60_000)
                release = get_json(page, name, f"{NB}?content=1")["content"]
                if answers[name]:
                    assert put_notebook(page, name, NB, notebook_with(answers[name], release)) == 200

            # webann opens the notebook, runs every cell (charts render), then validates from the list
            ann = pages["webann"]
            ann.goto(f"{base}/user/webann/lab/tree/{NB}")
            ann.wait_for_selector(".jp-Notebook", timeout=120_000)
            ann.wait_for_timeout(3000)  # the kernel starts
            ann.get_by_role("menuitem", name="Run").first.click()
            ann.get_by_text("Run All Cells", exact=True).click()
            # every cell has run (no "[*]" prompt left), the charts' outputs are there, no cell raised
            ann.wait_for_function("""() => {
                const p = [...document.querySelectorAll('.jp-InputArea-prompt')].map(e => e.textContent);
                return p.length > 0 && p.every(t => !t.includes('*')) && p.some(t => /\\d/.test(t));
            }""", timeout=240_000)
            assert ann.locator("[id^=altair-viz]").count() > 0
            errors = ann.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            assert not any("Error" in t for t in errors.all_inner_texts()), errors.all_inner_texts()
            open_assignments(ann)
            ann.locator("#fetched_assignments_list").get_by_text(ASSIGNMENT).first.click()  # one row per notebook
            ann.get_by_role("button", name="Validate").first.click()
            ann.wait_for_selector("text=Success! Your notebook passes all the tests.", timeout=180_000)
            ann.get_by_role("button", name="Ok").click()

            for name in STUDENTS:
                page = pages[name]
                page.get_by_role("button", name="Submit", exact=True).first.click()
                page.locator("#submitted_assignments_list").get_by_text(ASSIGNMENT).first.wait_for(timeout=60_000)

            # the instructor's formgrader lists the assignment
            prof = sign_in(browser, base, INSTRUCTOR)
            prof.get_by_text("Nbgrader", exact=True).first.click()
            prof.get_by_role("menuitem", name="Formgrader", exact=True).click()
            frame = prof.frame_locator("iframe").first
            # the assignment's link in the table (its name also sits in the folded "Current configuration")
            frame.get_by_role("link", name=ASSIGNMENT, exact=True).first.wait_for(timeout=120_000)

            # collect, grade (iome autograde, sandboxed), return feedback, export
            log = hub.as_instructor(state, hub.nbgrader_cmd(settings) + ["collect", ASSIGNMENT])
            assert "REFUSED" not in log.stdout + log.stderr
            hub.grade_as_root(state, ASSIGNMENT)
            hub.as_instructor(state, hub.iome_cmd(settings) + ["feedback", ASSIGNMENT, "--course", str(course)])
            hub.copy_submission_secrets(state, ASSIGNMENT)
            hub.as_instructor(state, hub.nbgrader_cmd(settings) + ["release_feedback", ASSIGNMENT])
            hub.as_instructor(state, hub.iome_cmd(settings) + ["export", ASSIGNMENT, "--course", str(course)])

            feedback = {}
            for name in STUDENTS:
                page = pages[name]
                page.locator("#refresh_assignments_list").click()
                page.get_by_role("button", name="Fetch Feedback").first.click()
                page.wait_for_timeout(2000)
                listing = get_json(page, name, f"{ASSIGNMENT}/feedback")
                stamps = [f["path"] for f in listing.get("content") or [] if f["type"] == "directory"]
                assert len(stamps) == 1, (name, listing)
                feedback[name] = get_json(page, name, f"{stamps[0]}/{ASSIGNMENT}.html?content=1")["content"]
            browser.close()

        grades = {r["student_id"]: r for r in csv.DictReader((course / "exports" / ASSIGNMENT / "grades.csv").open())}
        assert set(grades) == set(STUDENTS)
        for name in STUDENTS:
            assert float(grades[name]["auto_score"]) == pytest.approx(expected[name]), (name, grades[name])
            score = round(float(grades[name]["score"]), 2)
            assert f"{ASSIGNMENT} (Score: {score} /" in feedback[name], f"{name}'s feedback lacks their score {score}"
            others = [o for o in STUDENTS if o != name]
            assert not any(f"/{o}/" in feedback[name] for o in others), f"{name}'s feedback mentions another student"
        # the three feedback files differ where the work differs
        assert len({json.dumps(feedback[n]) for n in STUDENTS}) == 3
    finally:
        hub.stop(state)
        hub.remove_accounts(STUDENTS + [INSTRUCTOR])
        shutil.rmtree(state, ignore_errors=True)

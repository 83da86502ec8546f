"""The one ``iome`` command for authors and instructors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .settings import repo_root

console = Console(stderr=True)


def track(items, description: str):
    """Progress bar over items. No background refresh thread: rich's `track` leaves one behind
    when a step raises, and a later garbage collection can then deadlock the process."""
    items = list(items)
    bar = Progress(TextColumn(f"[bold]{description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, auto_refresh=False)
    task = bar.add_task(description, total=len(items))
    bar.start()
    try:
        for item in items:
            yield item
            bar.advance(task)
            bar.refresh()
    finally:
        bar.stop()


@click.group()
@click.pass_context
def main(ctx):
    """Internationalizing Medical Education: build the book and data, run the graded exercises."""
    if ctx.invoked_subcommand in (None, "data"):  # `iome data build` must work before data/ exists
        return
    from .settings import SettingsError, load_course
    try:
        load_course()  # validated once, up front: one line naming course.yml and the field
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _home_check(names=None, verbose=True, course=None) -> bool:
    """Run `iome check` for NAMES; print the report; return True when every solution earns full marks."""
    from .grading import GradingError
    from .homecheck import report_lines, run_check
    try:
        questions = run_check(names, course=course, progress=lambda items, description: track(items, description))
    except GradingError as exc:
        raise click.ClickException(str(exc)) from None
    for line in report_lines(questions, verbose=verbose):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    ok = all(q.full_marks for q in questions)
    if not ok:
        sparse = sorted({d for q in questions if not q.full_marks for d in q.missing_data})
        console.print("[yellow]some solutions do not earn full marks for this home country"
                      + (f" (no home data in: {', '.join(sparse)})" if sparse else "")
                      + ": students would meet the same problem. See `iome check` and the adoption guide.",
                      soft_wrap=True)
    return ok


@main.command("check")
@click.argument("assignment", nargs=-1)
@click.option("--quiet", is_flag=True, help="One line per assignment (and the questions that lose points).")
def check_cmd(assignment, quiet):
    """Grade the source solutions of ASSIGNMENT(s) (default: all) for the home country in course.yml.

    Real nbgrader, in a scratch copy of the course under _build/iome-check/. Reports per question the
    points the solution earns and whether the home country has the data it uses. Exit code 1 when a
    solution loses points.
    """
    from .grading import assignments
    known = assignments()
    unknown = [a for a in assignment if a not in known]
    if unknown:
        raise click.ClickException(f"no such assignment: {', '.join(unknown)} (known: {', '.join(known)})")
    if not _home_check(list(assignment) or None, verbose=not quiet):
        raise SystemExit(1)


@main.group()
def data():
    """The datasets in data/."""


def _digest(folder: Path) -> str:
    import hashlib
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []:
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _data_changed_note(root: Path, data_dir: Path, before: str) -> None:
    """The book caches executed pages by their code, not by data/: when data/ changed, drop that cache so
    the next `iome book build` recomputes every figure from the new files."""
    if data_dir.resolve() != (root / "data").resolve() or _digest(data_dir) == before:
        return
    cache = root / "_build" / ".jupyter_cache"
    if cache.is_dir():
        import shutil
        shutil.rmtree(cache, ignore_errors=True)
        console.print("  note: data/ changed, so the book's execution cache was cleared: the next "
                      "`iome book build` re-runs every page with the new figures.")


@data.command("build")
@click.option("--raw", type=click.Path(path_type=Path), default=None,
              help="Folder with the raw copies and MANIFEST.csv (default: ../shared/data).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Write the built files here instead of data/ (e.g. to compare with the committed ones).")
def data_build(raw, out):
    """Rebuild data/ from the raw public copies, with provenance.

    Builds into a staging folder, validates it (the loader's checks and frictionless) and only then
    swaps it in: on any error data/ is left exactly as it was.
    """
    from .databuild import BuildError, build
    root = repo_root()
    raw = raw or root.parent / "shared" / "data"
    target = out or root / "data"
    before = _digest(target)
    try:
        notes = build(raw, target, curated=root / "data",
                      progress=lambda items, description: track(items, description))
    except BuildError as exc:
        raise click.ClickException(f"{exc} ({target} was left unchanged)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{exc} ({target} was left unchanged)") from None
    for note in notes:
        console.print(f"  note: {note}")
    _data_changed_note(root, target, before)
    console.print(f"[green]{out or 'data/'} rebuilt from {raw}")


@data.command("refresh")
@click.option("--indicator", "indicators", multiple=True,
              help="Only this indicator (resource name or WDI code); repeat for several. Default: all.")
@click.option("--endpoint", default=None, help="World Bank API base URL (default: https://api.worldbank.org/v2).")
@click.option("--income/--no-income", default=True,
              help="Also replace the income groups in countries.csv with the World Bank's current ones (default).")
def data_refresh(indicators, endpoint, income):
    """Re-download the WDI indicators and income groups from the World Bank API (needs internet).

    data/ is replaced only when every download completed and validated; otherwise it is untouched.
    """
    from .refresh import DEFAULT_ENDPOINT, RefreshError, indicators_named, refresh
    root = repo_root()
    before = _digest(root / "data")
    try:
        chosen = indicators_named(list(indicators)) if indicators else None
        notes = refresh(root / "data", chosen, endpoint or DEFAULT_ENDPOINT,
                        progress=lambda items, description: track(items, description), income=income)
    except RefreshError as exc:
        raise click.ClickException(str(exc)) from None
    for note in notes:
        console.print(f"  note: {note}")
    _data_changed_note(root, root / "data", before)
    console.print("[green]data/ refreshed from the World Bank API. Rebuild the book to use the new figures; "
                  "`git diff data/` shows what changed.")


@main.group()
def book():
    """The Jupyter Book."""


@book.command("build")
@click.option("--strict/--no-strict", default=True, help="Treat warnings as errors (default).")
@click.option("--check/--no-check", default=True, help="Grade the solutions for the home country first (cached).")
@click.option("--allow-untranslated", is_flag=True, help="Build another language even if catalogues have gaps.")
@click.option("--edition", "only", default=None, metavar="LANG",
              help="Build only this edition (default: course.yml's language, then every other edition "
                   "listed in _config.yml's iome_editions).")
def book_build(strict, check, allow_untranslated, only):
    """Put the student version of every exercise in book/exercises/, then build the site: the course
    language's edition in _build/html/, each other edition of iome_editions in _build/html/<folder>."""
    from .settings import LANGUAGE_VAR, load_course
    root = repo_root()
    primary = load_course().language
    editions = _editions(root)
    if editions and editions.get(primary) != "":
        raise click.ClickException(
            f"_config.yml: iome_editions must put course.yml's language ({primary}) at the site's root "
            f"(\"\"), e.g. iome_editions: {{{primary}: \"\", ...}}; it has {editions}.")
    others = [lang for lang in editions if lang != primary] if only is None else \
        ([] if only == primary else [only])
    if only is not None and only != primary and only not in editions:
        raise click.ClickException(f"edition {only!r} is not in _config.yml's iome_editions "
                                   f"({', '.join(editions) or 'none'}): add it there first.")
    for lang in others:  # every edition's catalogues first: an untranslated string stops the build early
        if lang != "en" and not allow_untranslated:
            _catalogue_check(lang, limit=20)
    if primary != "en" and not allow_untranslated:
        _catalogue_check(primary, limit=20)  # an untranslated string fails the edition
    if check:
        console.print("home-country check of the exercises (iome check --quiet):")
        _home_check(verbose=False)
    html = root / "_build" / "html"
    for lang in others:  # other editions first: book/exercises/ ends in the course language
        os.environ[LANGUAGE_VAR] = lang
        try:
            console.print(f"edition {lang!r} -> {html / editions[lang]}")
            out = root / "_build" / "editions" / lang
            _build_edition(root, strict, out, scratch_course=True)
            target = html / editions[lang]
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(out / "_build" / "html", target)
        finally:
            os.environ.pop(LANGUAGE_VAR, None)
    if only is None or only == primary:
        _build_edition(root, strict, None, scratch_course=False)
    else:  # leave the book's exercise pages in the course language
        _student_versions(root, None)


def _editions(root: Path) -> dict[str, str]:
    """_config.yml's ``sphinx.config.iome_editions``: {language: folder under the site's root}."""
    import yaml
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
    return dict(((config.get("sphinx") or {}).get("config") or {}).get("iome_editions") or {})


def _student_versions(root: Path, course: Path | None) -> None:
    """Release every exercise (in the current language) into ``course`` (default: exercises/) and copy
    it into book/exercises/."""
    from .grading import GradingError, assignments, book_copy, release
    try:
        for name in track(assignments(), "student versions"):
            release(name, course=course)
            book_copy(name, course=course)
    except GradingError as exc:
        raise click.ClickException(str(exc)) from None


def _build_edition(root: Path, strict: bool, out: Path | None, scratch_course: bool) -> None:
    """Another edition releases in a scratch copy of the course folder (the instructor's gradebook
    keeps the course language's cells) and its laptop kit takes the notebooks from there."""
    import tempfile

    from .grading import course_dir
    from .kit import RELEASE_ENV
    with tempfile.TemporaryDirectory(prefix="iome-edition-") as tmp:
        course = None
        if scratch_course:
            course = Path(tmp) / "exercises"
            shutil.copytree(course_dir() / "source", course / "source")
            shutil.copy2(course_dir() / "nbgrader_config.py", course / "nbgrader_config.py")
            os.environ[RELEASE_ENV] = str(course / "release")
        try:
            _student_versions(root, course)
            cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(root), "--keep-going"]
            if out is not None:
                cmd += ["--path-output", str(out)]
            if strict:
                cmd += ["-W", "-n"]
            start = time.perf_counter()
            code = subprocess.call(cmd, cwd=root)
        finally:
            os.environ.pop(RELEASE_ENV, None)
    console.print(f"book build took {time.perf_counter() - start:.0f} s")
    if code:
        raise click.ClickException("the book build failed: read the warnings above (file and line are named).")


@main.group("i18n")
def i18n_group():
    """Translations: the package's strings (src/iome/locales/) and the book's (locales/, sphinx-intl)."""


@i18n_group.command("extract")
@click.option("--language", "languages", multiple=True, default=("es",), show_default=True,
              help="Also merge the new strings into this language's catalogue (repeatable).")
@click.option("--book/--no-book", default=True, help="Also write the book's .pot files (Sphinx gettext builder).")
def i18n_extract(languages, book):
    """Write the template catalogues (.pot) and merge them into each language's .po."""
    from .i18n import extract, update
    pot = extract()
    console.print(f"package strings: {pot}")
    for lang in languages:
        console.print(f"  merged into {update(lang, pot)}")
    if book:
        root = repo_root()
        # Jupyter Book's own build, with the gettext builder and its own doctrees (Sphinx refuses to
        # share an environment between the html and gettext builders)
        script = ("import sys; from jupyter_book.sphinx import build_sphinx; "
                  f"r = build_sphinx({str(root)!r}, {str(root / '_build' / 'gettext')!r}, noconfig=True, "
                  f"path_config={str(root / '_config.yml')!r}, doctreedir={str(root / '_build' / '.doctrees-gettext')!r}, "
                  f"confoverrides={{'external_toc_path': {str(root / '_toc.yml')!r}, 'latex_individualpages': False}}, "
                  "builder='gettext'); sys.exit(0 if r == 0 else 1)")
        if subprocess.call([sys.executable, "-c", script], cwd=root):
            raise click.ClickException("the gettext build of the book failed: read the messages above.")
        from .i18n import book_templates
        pot = book_templates(root, root / "_build" / "gettext")
        console.print(f"book and exercise strings: {pot} (then: sphinx-intl update -p locales/pot -d locales -l es)")


@i18n_group.command("check")
@click.option("--language", default=None, help="Language to check (default: course.yml's language).")
def i18n_check(language):
    """Catalogue coverage: fail when any string of the package or the book has no translation."""
    from .settings import load_course
    _catalogue_check(language or load_course().language)


def _catalogue_check(language: str, limit: int | None = None) -> None:
    from .i18n import all_gaps
    if language == "en":
        console.print("English is the source language: nothing to check.")
        return
    gaps = all_gaps(language)
    lines = [f"{po}: untranslated: {message[:100]!r}" for po, missing in gaps.items() for message in missing]
    for line in lines[:limit]:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if gaps:
        raise click.ClickException(f"{len(lines)} untranslated string(s) in {len(gaps)} catalogue(s) for "
                                   f"{language}: translate them (msgstr, no 'fuzzy'); see the adoption guide.")
    console.print(f"every catalogue for {language} is fully translated")


# ---- instructor workflow: release -> collect -> autograde -> feedback -> export -> report ------

def _course_opt(f):
    return click.option("--course", type=click.Path(path_type=Path, file_okay=False), default=None,
                        help="The nbgrader course folder (default: exercises/ in the repository).")(f)


def _course(course: Path | None) -> Path:
    from .grading import course_dir
    course = (course or course_dir()).resolve()
    if not (course / "nbgrader_config.py").is_file():
        raise click.ClickException(f"{course}: no nbgrader_config.py here; pass the course folder with --course")
    return course


def _check_assignment(course: Path, assignment: str) -> None:
    from .grading import assignments
    known = assignments(course)
    if assignment not in known:
        raise click.ClickException(f"{course / 'source' / assignment}: no such assignment "
                                   f"(known: {', '.join(known) or 'none'})")


@main.command()
@click.argument("assignment")
@click.option("--check/--no-check", default=True,
              help="First grade the solution for the home country in course.yml (iome check; cached).")
@_course_opt
def release(assignment, check, course):
    """Generate the student version of ASSIGNMENT in <course>/release/ (solutions and hidden tests removed)."""
    from .grading import GradingError
    from .grading import release as do_release
    course = _course(course)
    _check_assignment(course, assignment)
    if check:
        _home_check([assignment], course=course)
    try:
        with console.status(f"nbgrader generate_assignment {assignment}"):
            folder = do_release(assignment, course=course)
    except GradingError as exc:
        raise click.ClickException(str(exc)) from None
    console.print(f"released to {folder} - hand out the notebook(s) in that folder")


@main.command("collect")
@click.argument("assignment")
@click.argument("source", type=click.Path(path_type=Path, exists=True))
@click.option("--roster", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="CSV with student_id and any of name, email, canvas_id, moodle_id, sis_id.")
@click.option("--lms", type=click.Choice(["auto", "canvas", "moodle", "folder"]), default="auto", show_default=True,
              help="How files are named in SOURCE (auto-detected by default).")
@_course_opt
def collect_cmd(assignment, source, roster, lms, course):
    """Copy submissions from SOURCE (a folder, or a Canvas/Moodle bulk-download .zip) into submitted/."""
    from .collect import CollectError, collect
    course = _course(course)
    _check_assignment(course, assignment)
    notebooks = [p.stem for p in sorted((course / "source" / assignment).glob("*.ipynb"))]
    try:
        with console.status(f"collecting {source}"):
            result = collect(assignment, source, course, notebooks, roster, lms)
    except CollectError as exc:
        raise click.ClickException(str(exc)) from None
    log = result.write_csv(course / "exports" / assignment / "collect-report.csv")
    counts = {a: sum(1 for r in result.rows if r.action == a) for a in ("placed", "extra", "not placed")}
    console.print(f"{len(result.students)} students collected into {course / 'submitted'}: "
                  f"{counts['placed']} notebooks placed, {counts['extra']} extra files kept (not graded)")
    for row in result.unplaced:
        console.print(f"[red]NOT PLACED[/red] {row.source}: {row.detail}")
    console.print(f"every file and what happened to it: {log}")
    if result.unplaced:
        console.print(f"[yellow]{len(result.unplaced)} file(s) could not be placed: fix the roster (or rename "
                      "the files) and run collect again; nothing else was changed for those files.")


@main.command("autograde")
@click.argument("assignment")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Submissions graded at once (default: number of CPU cores, at least 2).")
@click.option("--student", "students", multiple=True, help="Only this student (repeatable).")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds per notebook, all cells.")
@click.option("--memory", "memory_mb", type=int, default=1024, show_default=True, help="MB a notebook may use.")
@_course_opt
def autograde_cmd(assignment, workers, students, timeout, memory_mb, course):
    """Grade every submission of ASSIGNMENT in sandboxes, in parallel, into the gradebook."""
    import os

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from . import autograde as ag
    from .grading import GradingError
    from .sandbox import Limits, can_isolate
    course = _course(course)
    _check_assignment(course, assignment)
    if not can_isolate():
        console.print("[yellow]not root: grading runs with resource limits only (no namespaces, no separate "
                      "user). Run as root for the hardened sandbox; see the instructor guide.")
    workers = workers or max(2, os.cpu_count() or 2)
    limits = Limits(wall_seconds=timeout, memory_mb=memory_mb)
    with Progress(TextColumn("[bold]autograde"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:
        task = bar.add_task("grading", total=None)

        def progress(total):
            bar.update(task, total=total)
            return lambda: bar.advance(task)
        try:
            subs = ag.autograde(assignment, course=course, students=list(students) or None, workers=workers,
                                limits=limits, progress=progress)
        except GradingError as exc:
            raise click.ClickException(str(exc)) from None
    if not subs:
        raise click.ClickException(f"no submissions in {course / 'submitted'}/*/{assignment}/: run `iome collect` first")
    counts = {}
    for s in subs:
        counts[s.status] = counts.get(s.status, 0) + 1
    used = sorted({s.mode for s in subs})
    console.print("mode: " + ", ".join({"nbgrader": "nbgrader semantics (one kernel, as stock nbgrader)",
                                         "answers-as-data": "answers-as-data (set in nbgrader_config.py)"}.get(m, m)
                                        for m in used))
    console.print("  ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    for s in subs:
        if s.status != "graded":
            console.print(f"[yellow]{s.student}[/yellow] ({s.status}, {s.score:g} auto points): "
                          + "; ".join(s.problems))
    console.print(f"gradebook: {course / 'gradebook.db'}; graded notebooks: {course / 'autograded'}; "
                  f"reports: {ag.results_dir(course, assignment)}")


@main.command("feedback")
@click.argument("assignment")
@_course_opt
def feedback_cmd(assignment, course):
    """Write each student's feedback (HTML, hidden tests removed) to <course>/feedback/."""
    import threading

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from .grading import GradingError, nbgrader
    course = _course(course)
    students = sorted(p.parent.name for p in (course / "autograded").glob(f"*/{assignment}"))
    if not students:
        raise click.ClickException(f"nothing autograded for {assignment}: run `iome autograde {assignment}` first")
    done = threading.Event()
    error = []

    def run():
        try:
            nbgrader("generate_feedback", assignment, "--force", course=course)
        except GradingError as exc:
            error.append(exc)
        finally:
            done.set()
    threading.Thread(target=run, daemon=True).start()
    with Progress(TextColumn("[bold]feedback"), BarColumn(), MofNCompleteColumn(), console=console) as bar:
        task = bar.add_task("feedback", total=len(students))
        while not done.wait(0.5):
            bar.update(task, completed=sum(1 for s in students if any(
                (course / "feedback" / s / assignment).glob("*.html"))))
        bar.update(task, completed=len(students))
    if error:
        raise click.ClickException(str(error[0]))
    from .feedback import finish_pages
    from .settings import repo_root
    finish_pages(course, assignment, repo_root() / "_vendor" / "js")  # no CDN; "awaiting grader"
    console.print(f"feedback for {len(students)} students in {course / 'feedback'}/<student>/{assignment}/ "
                  "- return each student's folder to them")


@main.command("export")
@click.argument("assignment")
@click.option("--roster", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="Roster CSV (names, emails and LMS ids for the LMS file).")
@click.option("--lms", type=click.Choice(["canvas", "moodle"]), default="canvas", show_default=True)
@click.option("--column", default=None, help="Grade column name for the LMS (default: the assignment name; "
              "Canvas expects 'Name (id)' of an existing assignment).")
@_course_opt
def export_cmd(assignment, roster, lms, column, course):
    """Write the grades CSV and an LMS-importable CSV to <course>/exports/<assignment>/."""
    from .collect import CollectError, Roster
    from .report import gradebook_rows, write_grades_csv, write_lms_csv
    course = _course(course)
    try:
        roster_data = Roster.read(roster)
    except CollectError as exc:
        raise click.ClickException(str(exc)) from None
    rows = gradebook_rows(course, assignment)
    if not rows:
        raise click.ClickException(f"no grades for {assignment} in {course / 'gradebook.db'}: run `iome autograde`")
    out = course / "exports" / assignment
    grades = write_grades_csv(rows, assignment, out / "grades.csv")
    lms_file = write_lms_csv(rows, assignment, out / f"{lms}-import.csv", lms, roster_data, column)
    pending = sum(r.manual_pending for r in rows)
    console.print(f"{len(rows)} students: {grades} and {lms_file}")
    if pending:
        console.print(f"[yellow]{pending} written answers still await a grader (nbgrader formgrader); "
                      "export again after grading them.")


@main.command("report")
@click.argument("assignment")
@_course_opt
def report_cmd(assignment, course):
    """Write the class report (per question, per learning outcome, charts) as one HTML page."""
    from .report import class_report
    course = _course(course)
    _check_assignment(course, assignment)
    with console.status("class report"):
        path = class_report(course, assignment, course / "exports" / assignment / "report.html")
    console.print(f"class report: {path}")


# ---- class hub: JupyterHub + nbgrader exchange on this machine (src/iome/hub.py) ----------------------

@main.group()
def hub():
    """The class hub: students sign in, fetch, work and submit in the browser (run as root)."""


def _state_opt(f):
    return click.option("--state", type=click.Path(path_type=Path, file_okay=False), default=None,
                        help="The hub's state folder (default: .hub/ in the repository, or $IOME_HUB_STATE).")(f)


def _hub_state(state):
    from .hub import default_state
    return (state or default_state()).resolve()


@hub.command("start")
@click.option("--roster", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="The LMS roster CSV (student_id, name, ...; an optional role column marks instructors).")
@click.option("--instructor", "instructors", multiple=True, help="Instructor account not in the roster (repeatable).")
@click.option("--auth", type=click.Choice(["trial", "native"]), default="trial", show_default=True,
              help="trial: one shared password, 127.0.0.1 only; native: each student signs up, you approve.")
@click.option("--ip", default="127.0.0.1", show_default=True, help="Address the hub listens on.")
@click.option("--port", type=int, default=8000, show_default=True, help="Port (0: any free port).")
@click.option("--password", default=None, help="Trial mode's shared password (default: a random one, printed).")
@click.option("--memory-mb", type=int, default=None, help="Address-space limit per student server (default 3072).")
@click.option("--nproc", type=int, default=None, help="Process limit per student account (default 256).")
@_state_opt
def hub_start(roster, instructors, auth, ip, port, password, memory_mb, nproc, state):
    """Create the roster's accounts and start JupyterHub (students: Assignments; instructor: Formgrader)."""
    from .hub import HubError, start
    limits = {k: v for k, v in {"memory_mb": memory_mb, "nproc": nproc}.items() if v}
    try:
        with console.status("starting the class hub"):
            s = start(roster, _hub_state(state), list(instructors), auth, ip, port, password, limits)
    except HubError as exc:
        raise click.ClickException(str(exc)) from None
    console.print(f"[green]class hub running[/green] at http://{s['ip']}:{s['port']}/ "
                  f"({len(s['students'])} students; instructor: {', '.join(s['instructors'])}; state: {s['state']})")
    if auth == "trial":
        console.print(f"[yellow]TRIAL MODE[/yellow]: every roster name signs in with the password {s['password']}")
    else:
        console.print("students sign up at /hub/signup with their student id; approve them at /hub/authorize "
                      "(the instructor signs up first)")


@hub.command("stop")
@_state_opt
def hub_stop(state):
    """Stop JupyterHub, its proxy and every student server."""
    from .hub import stop
    console.print("stopped" if stop(_hub_state(state)) else "no hub was running")


@hub.command("status")
@_state_opt
def hub_status(state):
    """Is the hub running, where, and how many servers are up."""
    from .hub import HubError, status
    try:
        s = status(_hub_state(state))
    except HubError as exc:
        raise click.ClickException(str(exc)) from None
    if not s["pid"]:
        console.print(f"not running (state: {s['state']})")
        return
    console.print(f"running (pid {s['pid']}) at {s['url']}  sign-in: {s['auth']}  students: {s['students']}  "
                  f"servers running: {s['servers_running']}  state: {s['state']}")
    if s.get("error"):
        console.print(f"[red]{s['error']}")


def _instructor_step(state, *commands):
    from .hub import HubError, as_instructor
    try:
        for args in commands:
            proc = as_instructor(_hub_state(state), args)
            out = (proc.stdout + proc.stderr).strip()
            if out:
                console.print(out, markup=False, highlight=False)
    except HubError as exc:
        raise click.ClickException(str(exc)) from None


@hub.command("release")
@click.argument("assignment")
@click.option("--due", default=None, help='Due date, e.g. "2027-03-01 17:00:00 UTC" (late work is marked late).')
@_state_opt
def hub_release(assignment, due, state):
    """Generate the student version and put it in the exchange (students then Fetch it)."""
    from .hub import iome_cmd, load_settings, nbgrader_cmd
    s = load_settings(_hub_state(state))
    steps = [iome_cmd(s) + ["release", assignment, "--course", s["course_dir"]]]
    if due:
        steps.append(nbgrader_cmd(s) + ["db", "assignment", "add", assignment, f"--duedate={due}"])
    steps.append(nbgrader_cmd(s) + ["release_assignment", assignment, "--force"])
    _instructor_step(state, *steps)


@hub.command("collect")
@click.argument("assignment")
@_state_opt
def hub_collect(assignment, state):
    """Collect the newest submission of each student from the exchange (forged names are refused)."""
    from .hub import load_settings, nbgrader_cmd
    s = load_settings(_hub_state(state))
    _instructor_step(state, nbgrader_cmd(s) + ["collect", assignment])


@hub.command("autograde", context_settings={"ignore_unknown_options": True})
@click.argument("assignment")
@click.argument("options", nargs=-1, type=click.UNPROCESSED)
@_state_opt
def hub_autograde(assignment, options, state):
    """`iome autograde` on the hub's course folder, as root: the grader's full sandbox (extra options pass on)."""
    from .hub import HubError, grade_as_root
    try:
        with console.status(f"iome autograde {assignment}"):
            proc = grade_as_root(_hub_state(state), assignment, list(options))
    except HubError as exc:
        raise click.ClickException(str(exc)) from None
    console.print((proc.stdout + proc.stderr).strip(), markup=False, highlight=False)


@hub.command("feedback")
@click.argument("assignment")
@_state_opt
def hub_feedback(assignment, state):
    """Write feedback (hidden tests removed) and release it: each student fetches only their own."""
    from .hub import iome_cmd, load_settings, nbgrader_cmd
    s = load_settings(_hub_state(state))
    from .hub import copy_submission_secrets
    _instructor_step(state, iome_cmd(s) + ["feedback", assignment, "--course", s["course_dir"]])
    for student in copy_submission_secrets(_hub_state(state), assignment):
        console.print(f"[yellow]{student}[/yellow]: the collected submission has no submission_secret.txt (it was "
                      "not made with Submit), so its feedback cannot be fetched from the hub; hand it over yourself")
    _instructor_step(state, nbgrader_cmd(s) + ["release_feedback", assignment])


@hub.command("export", context_settings={"ignore_unknown_options": True})
@click.argument("assignment")
@click.argument("options", nargs=-1, type=click.UNPROCESSED)
@_state_opt
def hub_export(assignment, options, state):
    """`iome export` on the hub's course folder (grades CSV + LMS import CSV)."""
    from .hub import iome_cmd, load_settings
    s = load_settings(_hub_state(state))
    _instructor_step(state, iome_cmd(s) + ["export", assignment, "--course", s["course_dir"], *options])


if __name__ == "__main__":
    main()

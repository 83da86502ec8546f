"""Grades out of the gradebook: the course CSV, an LMS-importable CSV and the class report (HTML).

Scores come from nbgrader's gradebook (manual scores override auto scores, as in formgrader);
status and reasons from the grading reports :mod:`iome.autograde` writes.
"""

from __future__ import annotations

import csv
import html
import statistics
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import autograde
from .collect import Roster

BLUE, ORANGE, GREY = "#0072B2", "#E69F00", "#595959"   # Okabe-Ito: colour-blind safe


@dataclass
class StudentGrade:
    student: str
    score: float
    max_score: float
    auto: float
    manual_pending: int
    status: str
    problems: list
    cells: dict = field(default_factory=dict)   # grade id -> (score, max, needs manual)


def gradebook_rows(course: Path, assignment: str) -> list[StudentGrade]:
    from nbgrader.api import Gradebook, MissingEntry
    reports = {}
    for r in autograde.results(course, assignment):
        reports.setdefault(r["student"], []).append(r)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            try:
                subs = gb.find_assignment(assignment).submissions
            except MissingEntry:
                return []
            for sub in sorted(subs, key=lambda s: s.student.id):
                cells, auto, pending = {}, 0.0, 0
                for nb in sub.notebooks:
                    for g in nb.grades:
                        score = g.manual_score if g.manual_score is not None else (g.auto_score or 0.0)
                        cells[g.name if len(sub.notebooks) == 1 else f"{nb.name}/{g.name}"] = (
                            float(score), float(g.max_score), bool(g.needs_manual_grade))
                        auto += g.auto_score or 0.0
                        pending += bool(g.needs_manual_grade)
                rep = reports.get(sub.student.id, [])
                statuses = [r["status"] for r in rep] or ["not graded by iome"]
                worst = next((s for s in ("grader-error", "ungradable", "missing", "graded-with-problems")
                              if s in statuses), statuses[0])
                out.append(StudentGrade(sub.student.id, float(sub.score), float(sub.max_score), auto, pending,
                                        worst, [p for r in rep for p in r["problems"]], cells))
    return out


def write_grades_csv(rows: list[StudentGrade], assignment: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cells = sorted({c for r in rows for c in r.cells})
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["student_id", "assignment", "score", "max_score", "auto_score", "awaiting_manual_grading",
                    "status", "problems", *cells])
        for r in rows:
            w.writerow([r.student, assignment, f"{r.score:g}", f"{r.max_score:g}", f"{r.auto:g}", r.manual_pending,
                        r.status, " | ".join(r.problems), *[_cell_text(r.cells.get(c)) for c in cells]])
    return path


def _cell_text(cell) -> str:
    if cell is None:
        return ""
    score, _, pending = cell
    return "awaiting grader" if pending else f"{score:g}"


def write_lms_csv(rows: list[StudentGrade], assignment: str, path: Path, lms: str, roster: Roster | None,
                  column: str | None = None) -> Path:
    """Canvas: the Gradebook import layout (Student, ID, SIS User ID, SIS Login ID, Section, <column>).
    Moodle: Grades > Import > CSV (map 'Email address' or 'ID number' to the user, and the grade column)."""
    info = {r["student_id"]: r for r in (roster.rows if roster else [])}
    column = column or assignment
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        if lms == "canvas":
            w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column])
            w.writerow(["Points Possible", "", "", "", "", f"{max((r.max_score for r in rows), default=0):g}"])
            for r in rows:
                p = info.get(r.student, {})
                w.writerow([p.get("name", r.student), p.get("canvas_id", ""), p.get("sis_id", r.student),
                            p.get("email", ""), "", f"{r.score:g}"])
        elif lms == "moodle":
            w.writerow(["Full name", "Email address", "ID number", column])
            for r in rows:
                p = info.get(r.student, {})
                w.writerow([p.get("name", r.student), p.get("email", ""), p.get("sis_id", r.student), f"{r.score:g}"])
        else:
            raise ValueError(f"unknown LMS {lms!r}: use canvas or moodle")
    return path


# ----------------------------------------------------------------------------------------------
# Class report
# ----------------------------------------------------------------------------------------------

_CHART_IDS = [0]


def _bars(items: list[tuple[str, float]], title: str, unit: str = "%", vmax: float = 100.0,
          colour: str = BLUE) -> str:
    """A horizontal bar chart as inline SVG, with a title and a text alternative."""
    width, label_w, row = 640, 220, 26
    height = 40 + row * len(items)
    desc = "; ".join(f"{k}: {v:.0f}{unit}" for k, v in items)
    _CHART_IDS[0] += 1
    cid = f"chart{_CHART_IDS[0]}"
    parts = [f'<svg role="img" aria-labelledby="{cid}-t {cid}-d" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" '
             f'font-size="13"><title id="{cid}-t">{html.escape(title)}</title>'
             f'<desc id="{cid}-d">{html.escape(desc)}</desc>',
             f'<text x="0" y="16" font-weight="bold">{html.escape(title)}</text>']
    scale = (width - label_w - 60) / (vmax or 1)
    for i, (label, value) in enumerate(items):
        y = 30 + i * row
        short = label if len(label) <= 32 else label[:31] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end"><title>{html.escape(label)}</title>'
                     f'{html.escape(short)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{max(0.0, value) * scale:.1f}" height="{row - 8}" '
                     f'fill="{colour}"/>')
        parts.append(f'<text x="{label_w + max(0.0, value) * scale + 4:.1f}" y="{y + 16}" fill="{GREY}">'
                     f'{value:.0f}{unit}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _histogram(values: list[float], vmax: float, title: str) -> str:
    bins = 10
    counts = Counter(min(bins - 1, int(v / vmax * bins)) if vmax else 0 for v in values)
    items = [(f"{i * vmax / bins:g}–{(i + 1) * vmax / bins:g} points", counts.get(i, 0)) for i in range(bins)]
    return _bars(items, title, unit="", vmax=max(counts.values(), default=1), colour=ORANGE)


def _outcomes(course: Path, assignment: str, plan: autograde.Plan) -> tuple[list, dict, str, list]:
    """Learning outcomes of the chapter that names this exercise, and question -> outcome numbers.

    Questions name their outcomes explicitly: cell metadata ``"iome": {"outcomes": ["<chapter-stem>#<n>",
    ...]}`` (``n`` 1-based in the chapter's ``course.outcomes``; plain numbers are read the same way).
    A graded cell without a tag assesses no outcome (listed as untagged); nothing is guessed from
    wording."""
    from .chapters import load_chapters
    from .settings import repo_root
    outcomes, title, stem = [], "", ""
    try:
        for ch in load_chapters(repo_root() / "book"):  # the TOC's chapters: a dropped one names nothing
            if ch.exercise == assignment:
                outcomes, title, stem = list(ch.outcomes), ch.title, Path(ch.path).stem
                break
    except Exception:  # noqa: BLE001 - the report still works without a chapter
        outcomes = []
    mapping, untagged = {}, []
    for cell in plan.source.cells:
        gid = autograde._nbg(cell).get("grade_id")
        if gid not in plan.tests and gid not in plan.manual:
            continue
        meta = cell.get("metadata", {}).get("iome", {})
        tags = meta.get("outcomes") if isinstance(meta, dict) else None
        nums = []
        for tag in tags if isinstance(tags, list) else []:
            chapter, _, n = str(tag).rpartition("#")
            if (not chapter or chapter == stem) and n.isdigit() and 1 <= int(n) <= len(outcomes):
                nums.append(int(n))
        if nums:
            mapping[gid] = nums
        else:
            untagged.append(gid)
    return outcomes, mapping, title, untagged


def class_report(course: Path, assignment: str, path: Path) -> Path:
    rows = gradebook_rows(course, assignment)
    sources = sorted((course / "source" / assignment).glob("*.ipynb"))
    plans = [autograde.plan(s, assignment) for s in sources]
    reports = autograde.results(course, assignment)
    e = html.escape
    n = len(rows)
    status = Counter(r.status for r in rows)
    totals = [r.score for r in rows]
    vmax = max((r.max_score for r in rows), default=0.0)

    questions = []  # (label, id, points, mean%, full%, zero%, pending, top error)
    errors = Counter()
    for rep in reports:
        for gid, t in rep.get("tests", {}).items():
            if t.get("error"):
                errors[(gid, t["error"])] += 1
    for p in plans:
        for gid, pts in list(p.tests.items()) + list(p.manual.items()):
            key = gid if len(plans) == 1 else f"{p.notebook}/{gid}"
            got = [r.cells[key] for r in rows if key in r.cells]
            scored = [s for s, m, pending in got if not pending]
            pending = sum(1 for _, _, pend in got if pend)
            mean = 100 * statistics.mean(scored) / pts if scored and pts else 0.0
            full = 100 * sum(1 for s in scored if s >= pts) / len(scored) if scored else 0.0
            zero = 100 * sum(1 for s in scored if s == 0) / len(scored) if scored else 0.0
            top = [f"{name} ×{c}" for (g, name), c in errors.most_common() if g == gid][:2]
            questions.append((key, gid, pts, mean, full, zero, pending, ", ".join(top),
                              "manual" if gid in p.manual else "auto"))

    outcome_rows, goal_scores, chapter, untagged = [], {}, "", []
    if plans:
        outcomes, mapping, chapter, untagged = _outcomes(course, assignment, plans[0])
        for i, oc in enumerate(outcomes, 1):
            qs = [q for q in questions if i in mapping.get(q[1], [])]
            earned = possible = 0.0
            for q in qs:
                for r in rows:
                    if q[0] in r.cells and not r.cells[q[0]][2]:
                        earned += r.cells[q[0]][0]
                        possible += r.cells[q[0]][1]
            pct = 100 * earned / possible if possible else None  # None: not assessed (or not yet graded)
            outcome_rows.append((i, oc.text, ", ".join(oc.goals), [q[1] for q in qs], pct))
            if pct is not None:
                for g in oc.goals:
                    goal_scores.setdefault(g, []).append(pct)

    doc = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Class report: {e(assignment)}"
           "</title><style>body{font-family:sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}"
           "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
           "th{background:#f2f2f2}.num{text-align:right}.warn{color:#a04000}</style></head><body>",
           f"<h1>Class report: {e(assignment)}</h1>",
           f"<p>{n} students · generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
           + (f" · chapter: <em>{e(chapter)}</em>" if chapter else "") + "</p>",
           "<h2>Summary</h2><table><tr><th>status</th><th>students</th></tr>"]
    for s, c in sorted(status.items()):
        doc.append(f"<tr><td>{e(s)}</td><td class='num'>{c}</td></tr>")
    doc.append("</table>")
    if totals:
        doc.append(f"<p>Total score (of {vmax:g}): mean {statistics.mean(totals):.2f}, median "
                   f"{statistics.median(totals):.2f}, lowest {min(totals):g}, highest {max(totals):g}. "
                   f"{sum(r.manual_pending for r in rows)} written answers await a grader.</p>")
        doc.append(_histogram(totals, vmax or 1, "Students by total score"))

    doc.append("<h2>Per question</h2><table><tr><th>question</th><th>graded</th><th>points</th><th>mean</th>"
               "<th>full marks</th><th>zero</th><th>awaiting grader</th><th>most common failure</th></tr>")
    for key, gid, pts, mean, full, zero, pending, top, kind in questions:
        doc.append(f"<tr><td>{e(key)}</td><td>{kind}</td><td class='num'>{pts:g}</td><td class='num'>{mean:.0f}%</td>"
                   f"<td class='num'>{full:.0f}%</td><td class='num'>{zero:.0f}%</td>"
                   f"<td class='num'>{pending}</td><td>{e(top)}</td></tr>")
    doc.append("</table>")
    doc.append(_bars([(q[0], q[3]) for q in questions], "Mean score per question (% of its points)"))

    doc.append("<h2>Per learning outcome</h2>")
    if outcome_rows:
        if untagged:
            doc.append(f"<p class='warn'>{len(untagged)} graded cell(s) ({e(', '.join(untagged))}) name no learning "
                       "outcome, so they count for none. To set it, add <code>\"iome\": {\"outcomes\": "
                       "[\"&lt;chapter-stem&gt;#1\"]}</code> to the cell's metadata in the source notebook.</p>")
        doc.append("<table><tr><th>#</th><th>outcome</th><th>goal areas</th><th>questions</th><th>mean</th></tr>")
        for i, text, goals, qs, pct in outcome_rows:
            shown = "not assessed" if not qs else ("awaiting grader" if pct is None else f"{pct:.0f}%")
            doc.append(f"<tr><td>{i}</td><td>{e(text)}</td><td>{e(goals)}</td><td>{e(', '.join(qs))}</td>"
                       f"<td class='num'>{shown}</td></tr>")
        doc.append("</table>")
        doc.append(_bars([(f"Outcome {i}", pct) for i, _, _, _, pct in outcome_rows if pct is not None],
                         "Mean score per learning outcome (% of points of its questions; outcomes not assessed "
                         "are left out)"))
        doc.append(_bars([(g, statistics.mean(v)) for g, v in sorted(goal_scores.items())],
                         "Mean score per goal area (G1–G5)"))
    else:
        doc.append("<p class='warn'>No chapter names this assignment as its exercise (front matter "
                   "<code>course.exercise</code>), so there are no outcomes to report.</p>")

    problems = [r for r in rows if r.status != "graded"]
    doc.append(f"<h2>Submissions to look at ({len(problems)})</h2>")
    if problems:
        doc.append("<table><tr><th>student</th><th>status</th><th>score</th><th>reasons</th></tr>")
        for r in problems:
            doc.append(f"<tr><td>{e(r.student)}</td><td>{e(r.status)}</td><td class='num'>{r.score:g}</td>"
                       f"<td>{'<br>'.join(e(p) for p in r.problems)}</td></tr>")
        doc.append("</table>")
    else:
        doc.append("<p>None.</p>")
    doc.append("</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(doc), encoding="utf-8")
    return path

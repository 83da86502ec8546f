"""Feedback without leaks: a failing hidden test must not show its source to the student.

nbgrader's ClearHiddenTests removes hidden tests from the cell *source*, but the cell's *output*
still holds the traceback, and IPython tracebacks quote the failing line. This preprocessor runs
before ClearHiddenTests and rewrites the outputs of every cell that held hidden tests: a traceback
becomes one line (exception name, plus its message unless the message quotes hidden code) and
any printed text that quotes hidden code is dropped.
"""

from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool
from nbformat.v4 import new_output

BEGIN, END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


def hidden_lines(source: str) -> list[str]:
    """Non-trivial lines inside hidden-test regions."""
    lines, inside = [], False
    for line in source.splitlines():
        if BEGIN in line:
            inside = True
        elif END in line:
            inside = False
        elif inside and len(line.strip()) >= 4:
            lines.append(line.strip())
    return lines


def quotes_any(text: str, lines: list[str]) -> bool:
    return any(line in text for line in lines)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def plain(text: str) -> str:
    """Text without terminal colour codes (IPython colours tracebacks token by token)."""
    return _ANSI.sub("", text)


class HideHiddenTestTracebacks(Preprocessor):
    """In every cell that held hidden tests, keep only what says *which* test failed and *why*.

    An error output becomes: the grader's own location line when it names a visible test (lines
    written by :mod:`iome.autograde` start with ``iome:``; "a hidden test failed" never quotes
    code) and ``ExceptionName: message``, the message dropped if it quotes hidden code. Every other
    traceback line (IPython frames quote the failing source line and its neighbours) is dropped.
    Printed or displayed output that quotes hidden code is dropped too.
    """

    # nbconvert preprocessors are disabled unless told otherwise; nbgrader's enable themselves.
    # (Without this line the preprocessor is silently skipped in `nbgrader generate_feedback`.)
    enabled = Bool(True).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or BEGIN not in cell.source:
            return cell, resources
        secret = hidden_lines(cell.source)
        outputs = []
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                evalue = plain(str(out.get("evalue", "")))
                message = out.ename if quotes_any(evalue, secret) or not evalue else f"{out.ename}: {evalue}"
                lines = [plain(str(line)) for line in out.get("traceback", [])]
                where = [line for line in lines if line.startswith("iome: ") and not quotes_any(line, secret)]
                head = where[0].replace("iome: ", "", 1) if where else "A test in this cell failed"
                outputs.append(new_output("error", ename=out.ename, evalue="",
                                          traceback=[f"{head[0].upper()}{head[1:]}. {message}"]))
            elif out.output_type == "stream" and quotes_any(plain(out.text), secret):
                continue
            elif out.output_type in ("display_data", "execute_result") and quotes_any(str(out.get("data")), secret):
                continue
            else:
                outputs.append(out)
        cell.outputs = outputs
        return cell, resources


# ---- after nbgrader has written the pages: self-contained, honest about pending grades ------------

_EXTERNAL_SCRIPT = re.compile(r'<script[^>]*\bsrc="https?://[^"]*"[^>]*>\s*</script>\s*', re.I)
_MATHJAX_CONFIG = re.compile(r'<script type="text/x-mathjax-config">.*?</script>\s*', re.S | re.I)
_EXTERNAL_LINK = re.compile(r'<link[^>]*\bhref="https?://[^"]*"[^>]*>\s*', re.I)
_CDN_PATH = re.compile(r'"(vega|vega-lib|vega-lite|vega-embed)": "https?://[^"]*"')
_LOAD = re.compile(r'maybeLoadScript\("(vega|vega-lite|vega-embed)", "([^"]+)"\)')
VENDOR = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")


def self_contained(html: str, vendor_dir) -> str:
    """No request leaves the page: external scripts and stylesheets (MathJax, CDNs) are removed;
    when the page draws Altair charts, the site's own Vega, Vega-Lite and vega-embed (from
    ``_vendor/js``) are inlined once and declared loaded, so the charts' loader never fetches them.
    Math then shows as its TeX source."""
    from pathlib import Path
    html = _EXTERNAL_SCRIPT.sub("", html)
    html = _MATHJAX_CONFIG.sub("", html)
    html = _EXTERNAL_LINK.sub("", html)
    versions = dict(_LOAD.findall(html))
    html = _CDN_PATH.sub(lambda m: f'"{m.group(1)}": ""', html)
    if versions:
        folder = Path(vendor_dir)
        parts = []
        for name in VENDOR:
            path = folder / name
            if path.is_file():
                code = path.read_text(encoding="utf-8").replace("</script", "<\\/script")
                parts.append(f"<script>{code}</script>")
        if len(parts) == len(VENDOR):
            loaded = {f"{k.replace('-', '')}_version": v for k, v in versions.items()}
            import json
            parts.append(f"<script>var VEGA_DEBUG = {json.dumps(loaded)};</script>")
            html = html.replace("</head>", "\n".join(parts) + "\n</head>", 1)
    return html


_HEADING_SCORE = r'(<a name="{gid}"></a>\s*<div class="panel-heading">(?:(?!</div>).)*?)Score: [0-9.]+ / ([0-9.]+)'
_TOC_SCORE = r'(<a href="#{gid}">[^<]*</a> \()Score: [0-9.]+ / ([0-9.]+)\)'


def mark_pending(html: str, pending: list[str]) -> str:
    """Answers still waiting for a grader read "awaiting grader" (nbgrader prints their score as 0)."""
    for gid in pending:
        g = re.escape(gid)
        html = re.sub(_HEADING_SCORE.format(gid=g), r"\1Score: awaiting grader (out of \2)", html, flags=re.S)
        html = re.sub(_TOC_SCORE.format(gid=g), r"\1Score: awaiting grader (out of \2))", html)
    return html


def pending_grades(course, assignment: str) -> dict:
    """{(student, notebook): [grade ids awaiting a grader]} from the gradebook."""
    import sqlite3
    db = sqlite3.connect(f"file:{course / 'gradebook.db'}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "select st.id, nb.name, c.name from grade g join base_cell c on g.cell_id = c.id "
            "join submitted_notebook sn on g.notebook_id = sn.id join notebook nb on sn.notebook_id = nb.id "
            "join submitted_assignment sa on sn.assignment_id = sa.id join student st on sa.student_id = st.id "
            "join assignment a on sa.assignment_id = a.id "
            "where a.name = ? and g.needs_manual_grade and g.manual_score is null", (assignment,)).fetchall()
    finally:
        db.close()
    out: dict = {}
    for student, notebook, gid in rows:
        out.setdefault((student, notebook), []).append(gid)
    return out


def finish_pages(course, assignment: str, vendor_dir) -> int:
    """Make every feedback page of ASSIGNMENT self-contained and mark pending answers; returns pages."""
    pending = pending_grades(course, assignment)
    n = 0
    for page in sorted((course / "feedback").glob(f"*/{assignment}/*.html")):
        student, notebook = page.parts[-3], page.stem
        html = page.read_text(encoding="utf-8")
        html = mark_pending(self_contained(html, vendor_dir), pending.get((student, notebook), []))
        page.write_text(html, encoding="utf-8")
        n += 1
    return n

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

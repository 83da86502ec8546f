"""Feedback without leaks: a failing hidden test must not show its source to the student.

nbgrader's ClearHiddenTests removes hidden tests from the cell *source*, but the cell's *output*
still holds the traceback, and IPython tracebacks quote the failing line. This preprocessor runs
before ClearHiddenTests and rewrites the outputs of every cell that held hidden tests: a traceback
becomes one line (exception name, plus its message unless the message quotes hidden code) and
any printed text that quotes hidden code is dropped.
"""

from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
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


class HideHiddenTestTracebacks(Preprocessor):
    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or BEGIN not in cell.source:
            return cell, resources
        secret = hidden_lines(cell.source)
        outputs = []
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                message = out.ename if quotes_any(out.evalue, secret) or not out.evalue else f"{out.ename}: {out.evalue}"
                outputs.append(new_output("error", ename=out.ename, evalue="",
                                          traceback=[f"A test in this cell failed. {message}"]))
            elif out.output_type == "stream" and quotes_any(out.text, secret):
                continue
            elif out.output_type in ("display_data", "execute_result") and quotes_any(str(out.get("data")), secret):
                continue
            else:
                outputs.append(out)
        cell.outputs = outputs
        return cell, resources

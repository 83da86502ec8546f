"""A corpus assignment of answer types an ordinary nbgrader course uses, one point per answer.

Each entry: (grade id, solution code, a wrong answer, test code). The test code runs after the
answer, in the same kernel, as nbgrader runs it. Setup objects changed in place by an answer
(``df['b'] = ...``, ``results.append(42)``, ``sort_values(inplace=True)``) are part of the corpus.
"""

from __future__ import annotations

import nbformat

SETUP = """import collections, datetime, decimal, fractions
import numpy as np
import pandas as pd
import matplotlib
import matplotlib.pyplot as plt
df = pd.DataFrame({"a": [3, 1, 2]})
results = [1, 2]
table = pd.DataFrame({"x": [3, 1, 2], "y": ["c", "a", "b"]})"""

ANSWERS = [
    ("function", "def squares(n):\n    return [i * i for i in range(1, n + 1)]",
     "def squares(n):\n    return [i for i in range(n)]",
     "assert squares(3) == [1, 4, 9]"),
    ("lambda", "double = lambda x: 2 * x", "double = lambda x: x + 2", "assert double(5) == 10"),
    ("class", "class Account:\n    def __init__(self, balance):\n        self.balance = balance\n"
              "    def deposit(self, amount):\n        self.balance += amount\n        return self.balance\n"
              "acct = Account(10)",
     "class Account:\n    def __init__(self, balance):\n        self.balance = 0\n    def deposit(self, amount):\n"
     "        return amount\nacct = Account(10)",
     "assert acct.deposit(5) == 15 and isinstance(acct, Account)"),
    ("generator", "def evens(n):\n    for i in range(0, n, 2):\n        yield i\ngen = evens(7)",
     "def evens(n):\n    yield from range(n)\ngen = evens(7)",
     "import types\nassert isinstance(gen, types.GeneratorType)\nassert list(gen) == [0, 2, 4, 6]"),
    ("figure", "fig, ax = plt.subplots()\nax.plot([1, 2, 3], [2, 4, 8])\nax.set_title('Growth')",
     "fig = None",
     "assert isinstance(fig, matplotlib.figure.Figure)\nassert fig.axes[0].get_title() == 'Growth'"),
    ("structured", "people = np.array([('ana', 31), ('bo', 25)], dtype=[('name', 'U10'), ('age', 'i4')])",
     "people = np.array([31, 25])", "assert people['age'].sum() == 56 and people.dtype.names == ('name', 'age')"),
    ("counter", "counts = collections.Counter('abracadabra')", "counts = collections.Counter('abc')",
     "assert counts['a'] == 5 and counts.most_common(1)[0][0] == 'a'"),
    ("namedtuple", "Point = collections.namedtuple('Point', 'x y')\np = Point(1, 2)", "p = (2, 1)",
     "assert p.x == 1 and p.y == 2"),
    ("range", "r = range(2, 20, 3)", "r = range(2, 20)", "assert isinstance(r, range) and list(r)[-1] == 17"),
    ("fraction", "third = fractions.Fraction(1, 3)", "third = 0.333", "assert third * 3 == 1"),
    ("float16", "half = np.float16(0.1)", "half = 0.1", "assert half.dtype == np.float16"),
    ("decimal", "price = decimal.Decimal('0.10') * 3", "price = 0.1 * 3", "assert price == decimal.Decimal('0.30')"),
    ("datetime64", "day = np.datetime64('2024-02-29')", "day = '2024-02-29'",
     "assert day + np.timedelta64(1, 'D') == np.datetime64('2024-03-01')"),
    ("period", "quarter = pd.Period('2024Q1')", "quarter = '2024Q1'", "assert quarter.end_time.month == 3"),
    ("timedelta", "waits = pd.Series(pd.to_timedelta([1, 2, 3], unit='h'))",
     "waits = pd.Series([1, 2, 3])", "assert waits.sum() == pd.Timedelta(hours=6)"),
    ("ordered", "od = collections.OrderedDict([('b', 1), ('a', 2)])", "od = {'a': 2, 'b': 1}",
     "assert isinstance(od, collections.OrderedDict) and list(od) == ['b', 'a']"),
    ("dated", "s = pd.Series([1.0, 2.0, 4.0], index=pd.date_range('2024-01-01', periods=3))",
     "s = pd.Series([1.0, 2.0, 4.0])", "assert s.index[0] == pd.Timestamp('2024-01-01') and s.sum() == 7"),
    ("biglist", "big = list(range(300_000))", "big = list(range(3))", "assert len(big) == 300_000 and big[-1] == 299_999"),
    ("bigframe", "frame = pd.DataFrame(np.arange(250_000).reshape(50_000, 5), columns=list('abcde'))",
     "frame = pd.DataFrame()", "assert frame.shape == (50_000, 5) and frame['e'].iloc[-1] == 249_999"),
    ("inplace-column", "df['b'] = df['a'] * 2", "df['c'] = 0", "assert list(df['b']) == [6, 2, 4]"),
    ("inplace-append", "results.append(42)", "results = results + [41]", "assert results[-1] == 42"),
    ("inplace-sort", "table.sort_values('x', inplace=True)", "table.sort_values('x')",
     "assert list(table['y']) == ['a', 'b', 'c']"),
    ("partial", "half_points = 0.5", "half_points = 'x'", "half_points"),
    ("warns", "import warnings\ndef noisy():\n    return 1", "import warnings\ndef noisy():\n"
     "    warnings.warn('careful')\n    return 1", "assert noisy() == 1"),
]


def _meta(**kw) -> dict:
    base = {"grade": False, "locked": False, "solution": False, "schema_version": 3}
    base.update(kw)
    return {"nbgrader": base}


def source() -> nbformat.NotebookNode:
    """The instructor's source notebook (solutions between BEGIN/END SOLUTION markers)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_markdown_cell("# Answer types", metadata=_meta(grade_id="intro", locked=True)))
    nb.cells.append(nbformat.v4.new_code_cell(SETUP, metadata=_meta(grade_id="setup", locked=True)))
    for gid, solution, _, test in ANSWERS:
        nb.cells.append(nbformat.v4.new_code_cell(
            f"### BEGIN SOLUTION\n{solution}\n### END SOLUTION", metadata=_meta(grade_id=f"{gid}-answer", solution=True)))
        nb.cells.append(nbformat.v4.new_code_cell(
            test, metadata=_meta(grade_id=f"{gid}-test", grade=True, locked=True, points=1)))
    nb.cells.append(nbformat.v4.new_markdown_cell(
        "Explain in two sentences.", metadata=_meta(grade_id="why-question", locked=True)))
    nb.cells.append(nbformat.v4.new_markdown_cell(
        "=== BEGIN MARK SCHEME ===\nAny sound reason.\n=== END MARK SCHEME ===\n\nYOUR ANSWER HERE",
        metadata=_meta(grade_id="why", solution=True, grade=True, points=2)))
    nb.cells.append(nbformat.v4.new_markdown_cell(
        "Task: draw the chart of your choice below and describe it.",
        metadata=_meta(grade_id="chart-task", task=True, locked=True, points=3)))
    return nb


def submission(release: nbformat.NotebookNode, wrong: set[str] = frozenset(), written: str = "") -> nbformat.NotebookNode:
    """A student's notebook from the release: each answer correct unless its id is in ``wrong``."""
    nb = nbformat.from_dict(release)
    by_id = {gid: (sol, bad) for gid, sol, bad, _ in ANSWERS}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if gid.endswith("-answer"):
            sol, bad = by_id[gid[: -len("-answer")]]
            cell.source = bad if gid[: -len("-answer")] in wrong else sol
        elif gid == "why" and written:
            cell.source = written
    return nb

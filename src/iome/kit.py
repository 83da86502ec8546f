"""The student laptop kit the site offers (``iome-course.zip``).

It holds what a student notebook needs and nothing an instructor keeps back: the ``iome`` package,
``course.yml``, ``data/`` and the *released* (student) notebooks, never ``exercises/source``. In
the unzipped folder one command installs everything:

    python -m pip install -r requirements-student.txt

(the pinned runtime packages from requirements.txt, Jupyter, and the course package itself).
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

REQUIREMENTS = "requirements-student.txt"
# what a student notebook imports (directly or through iome.charts/data/explore), plus Jupyter
RUNTIME = ["altair", "pandas", "numpy", "PyYAML", "ipywidgets", "ipykernel", "jupyterlab"]
README = """Internationalizing Medical Education: course kit for your own computer

1. In this folder, run once (Python 3.11 or newer; a virtual environment is a good idea):
       python -m pip install -r requirements-student.txt
2. Open an exercise:
       jupyter lab notebooks/<exercise>.ipynb
   and choose Run > Run All Cells. Visible tests under each answer check its shape.
3. Hand in the notebook the way your instructor tells you (class hub or learning platform).
"""


RELEASE_ENV = "IOME_RELEASE_DIR"  # another edition's release folder (iome book build, scratch course)


def student_notebooks(root: Path) -> dict[str, Path]:
    """assignment -> its released (student) notebook in exercises/release/ (or the edition's own)."""
    found = {}
    release = Path(os.environ.get(RELEASE_ENV) or root / "exercises" / "release")
    for folder in sorted(release.glob("*/")):
        notebooks = sorted(folder.glob("*.ipynb"))
        if len(notebooks) == 1:
            found[folder.name] = notebooks[0]
    return found


def student_requirements(root: Path) -> str:
    pins = {}
    for line in (root / "requirements.txt").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line.strip())
        if m:
            pins[m.group(1).lower().replace("_", "-")] = line.strip()
    missing = [p for p in RUNTIME if p.lower() not in pins]
    if missing:
        raise ValueError(f"{root / 'requirements.txt'}: no '==' pin for {', '.join(missing)} (needed by the student kit)")
    lines = [pins[p.lower()] for p in RUNTIME]
    return "# the course's runtime, pinned as in requirements.txt, then the course package itself\n" + \
        "\n".join(lines) + "\n-e .\n"


def _course_yml(root: Path) -> str:
    """The course settings as this edition uses them (its language, when the build overrides it)."""
    from .settings import course_file, load_course
    text = course_file().read_text(encoding="utf-8")
    language = load_course().language
    if re.search(r"(?m)^language:", text):
        return re.sub(r"(?m)^language:.*$", f"language: {language}", text)
    return text.rstrip("\n") + f"\nlanguage: {language}\n"


def write_kit(root: Path, target: Path, notebooks: dict[str, Path]) -> Path:
    files = [root / "pyproject.toml", root / "LICENSE", root / "LICENSE-CONTENT.md"]
    files += sorted(p for p in (root / "data").rglob("*") if p.is_file())
    files += sorted(p for p in (root / "src" / "iome").rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as kit:
        kit.writestr("iome-course/course.yml", _course_yml(root))
        for path in files:
            if path.is_file():
                kit.write(path, f"iome-course/{path.relative_to(root).as_posix()}")
        for name, path in notebooks.items():
            kit.write(path, f"iome-course/notebooks/{name}.ipynb")
        kit.writestr("iome-course/" + REQUIREMENTS, student_requirements(root))
        kit.writestr("iome-course/README.txt", README)
    return target

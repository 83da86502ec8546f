"""Collect submissions into nbgrader's ``submitted/<student>/<assignment>/`` from a folder or from
an LMS bulk download (Canvas or Moodle ``.zip``), mapping each file to a student id.

Every input file ends up in exactly one row of the collection report: placed (as which notebook,
for which student), kept as an extra file, or *not placed* with the reason. Nothing is dropped
silently.

File names the LMSs use in their bulk downloads:

* **Canvas** (Assignments > Download Submissions): ``<sortablename>_<userid>_<submissionid>_<file>``,
  with ``LATE`` after the name for late work (``doejane_LATE_1234_567890_health-economics.ipynb``);
  a resubmitted file may get a ``-1``, ``-2``... suffix.
* **Moodle** (Assignment > Download all submissions): ``<Full Name>_<participantid>_assignsubmission_file_
  <file>``, or a folder ``<Full Name>_<participantid>_assignsubmission_file_/`` holding the files
  when "download submissions in folders" is on. Online-text answers come as
  ``..._assignsubmission_onlinetext_onlinetext.html``.

The roster (CSV) maps LMS identities to the course's student ids. Columns: ``student_id``
(required), and any of ``name``, ``email``, ``canvas_id``, ``moodle_id``, ``sis_id``. Without a
roster the LMS user id becomes the student id (Canvas: the user id; Moodle: the participant id).
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

CANVAS = re.compile(r"^(?P<name>[a-z0-9]+?)_(?:(?P<late>LATE)_)?(?P<uid>\d+)_(?P<sid>\d+)_(?P<file>.+)$")
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<uid>\d+)_assignsubmission_(?P<plugin>file|onlinetext)_(?P<file>.*)$")
SUFFIX = re.compile(r"^(?P<stem>.+?)(?:-(?P<n>\d+)| \((?P<p>\d+)\))$")
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
MAX_FILE = 50 * 1024 * 1024


class CollectError(ValueError):
    pass


@dataclass
class Row:
    source: str            # the file as named in the folder/archive
    student: str = ""
    action: str = ""       # placed | extra | not placed | replaced
    detail: str = ""


@dataclass
class Collection:
    rows: list[Row] = field(default_factory=list)
    students: set = field(default_factory=set)

    @property
    def unplaced(self) -> list[Row]:
        return [r for r in self.rows if r.action == "not placed"]

    def write_csv(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["file", "student_id", "action", "detail"])
            for r in self.rows:
                w.writerow([r.source, r.student, r.action, r.detail])
        return path


def norm_name(text: str) -> str:
    """Lower-case ASCII letters and digits only: 'Doe, Jane' -> 'doejane', 'Jané Doe' -> 'janedoe'."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", text.lower())


@dataclass
class Roster:
    rows: list[dict]

    @classmethod
    def read(cls, path: Path | None) -> "Roster | None":
        if path is None:
            return None
        with Path(path).open(newline="", encoding="utf-8-sig") as fh:
            rows = [{k.strip().lower(): (v or "").strip() for k, v in r.items() if k} for r in csv.DictReader(fh)]
        if not rows or "student_id" not in rows[0]:
            raise CollectError(f"{path}: a roster needs a 'student_id' column (and optionally name, email, "
                               "canvas_id, moodle_id, sis_id)")
        for i, r in enumerate(rows, 2):
            if not SAFE_ID.match(r["student_id"]):
                raise CollectError(f"{path}, row {i}: student_id {r['student_id']!r} is empty or has characters "
                                   "nbgrader cannot use in a folder name")
        return cls(rows)

    def ids(self) -> set[str]:
        return {r["student_id"] for r in self.rows}

    def by(self, column: str, value: str) -> list[str]:
        return [r["student_id"] for r in self.rows if r.get(column) and r.get(column) == value]

    def by_name(self, name: str) -> list[str]:
        """Match 'doejane' (Canvas sortable name) or 'Jane Doe' (Moodle) against the roster's names,
        in either order (given-family or family-given)."""
        key = norm_name(name)
        out = []
        for r in self.rows:
            full = r.get("name", "")
            if not full:
                continue
            parts = [p for p in re.split(r"[\s,]+", full) if p]
            keys = {norm_name(full), norm_name("".join(parts[::-1])), norm_name("".join(parts[-1:] + parts[:-1]))}
            if key in keys:
                out.append(r["student_id"])
        return out


def _lms_of(names: list[str]) -> str:
    base = [Path(n).name if not n.endswith("/") else n for n in names]
    moodle = sum(1 for n in names if "_assignsubmission_" in n)
    canvas = sum(1 for n in base if CANVAS.match(n))
    if moodle and moodle >= canvas:
        return "moodle"
    if canvas:
        return "canvas"
    return "folder"


def _pick(roster: Roster | None, lms: str, uid: str, name: str) -> tuple[str | None, str]:
    """(student id, how it was matched) or (None, why not)."""
    if roster is None:
        return f"{lms}-{uid}" if uid else None, f"no roster: {lms} id {uid} used as the student id"
    column = {"canvas": "canvas_id", "moodle": "moodle_id"}[lms]
    found = roster.by(column, uid) or roster.by("sis_id", uid) or roster.by("student_id", uid)
    if len(found) == 1:
        return found[0], f"{column} {uid}"
    if len(found) > 1:
        return None, f"{column} {uid} matches {len(found)} roster rows ({', '.join(found)})"
    found = roster.by_name(name)
    if len(found) == 1:
        return found[0], f"name {name!r} (no {column} {uid} in the roster)"
    if len(found) > 1:
        return None, f"name {name!r} matches {len(found)} roster rows ({', '.join(found)}); add {column}"
    return None, f"neither {column} {uid} nor the name {name!r} is in the roster"


@dataclass
class Item:
    source: str
    data: bytes | None
    when: datetime
    student: str | None = None
    how: str = ""
    file: str = ""          # file name as the student uploaded it
    rank: int = 0           # resubmission number from a '-N' suffix


def _items_from_zip(path: Path) -> list[Item]:
    items = []
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise CollectError(f"{path}: not a zip archive ({exc}); download the submissions again") from None
    with zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            when = datetime(*info.date_time, tzinfo=timezone.utc)
            if info.file_size > MAX_FILE:
                items.append(Item(info.filename, None, when))
                continue
            items.append(Item(info.filename, zf.read(info), when))
    return items


def _items_from_folder(path: Path) -> list[Item]:
    items = []
    for f in sorted(path.rglob("*")):
        if f.is_file():
            when = datetime.fromtimestamp(f.stat().st_mtime, tz=timezone.utc)
            data = f.read_bytes() if f.stat().st_size <= MAX_FILE else None
            items.append(Item(str(f.relative_to(path)), data, when))
    return items


def collect(assignment: str, source: Path, course: Path, notebooks: list[str], roster_path: Path | None = None,
            lms: str = "auto") -> Collection:
    """Copy every submission in SOURCE (folder or .zip) into course/submitted/."""
    source = Path(source)
    if not source.exists():
        raise CollectError(f"{source}: no such file or folder")
    roster = Roster.read(roster_path)
    items = _items_from_zip(source) if source.is_file() else _items_from_folder(source)
    if lms == "auto":
        lms = _lms_of([i.source for i in items])
    out = Collection()
    expected = {f"{n}.ipynb" for n in notebooks}

    for item in items:
        parts = Path(item.source).parts
        base = parts[-1]
        if base.startswith(".") or "__MACOSX" in parts:
            out.rows.append(Row(item.source, "", "not placed", "system file (e.g. .DS_Store, __MACOSX): ignored"))
            continue
        if lms == "canvas":
            m = CANVAS.match(base)
            if not m:
                out.rows.append(Row(item.source, "", "not placed", "name does not follow Canvas's "
                                    "<name>_<userid>_<submissionid>_<file> pattern"))
                continue
            item.student, item.how = _pick(roster, "canvas", m["uid"], m["name"])
            item.file = m["file"]
            if m["late"]:
                item.how += "; marked LATE by Canvas"
        elif lms == "moodle":
            m = next((MOODLE.match(p) for p in parts if MOODLE.match(p)), None)
            if not m:
                out.rows.append(Row(item.source, "", "not placed", "name does not follow Moodle's "
                                    "<Full Name>_<id>_assignsubmission_file_ pattern"))
                continue
            item.student, item.how = _pick(roster, "moodle", m["uid"], m["name"])
            item.file = m["file"] or base
            if m["plugin"] == "onlinetext":
                item.file = base
        else:  # folder: <student>/<file>, <student>/<assignment>/<file> or <student>.ipynb
            if len(parts) == 1:
                sid, item.file = Path(base).stem, f"{notebooks[0]}.ipynb" if len(notebooks) == 1 else base
            else:
                sid, item.file = parts[0], base
            if roster is not None and sid not in roster.ids():
                item.student, item.how = None, f"folder name {sid!r} is not a student_id in the roster"
            elif not SAFE_ID.match(sid):
                item.student, item.how = None, f"{sid!r} cannot be a student id"
            else:
                item.student, item.how = sid, "folder name"
        if item.student is None:
            out.rows.append(Row(item.source, "", "not placed", item.how))
            continue
        if item.data is None:
            out.rows.append(Row(item.source, item.student, "not placed",
                                f"larger than {MAX_FILE // 2**20} MB: ask the student to clear outputs"))
            item.student = None
            continue
        stem, suffix = Path(item.file).stem, Path(item.file).suffix
        m = SUFFIX.match(stem)
        if m and f"{m['stem']}{suffix}" in expected:
            item.file, item.rank = f"{m['stem']}{suffix}", int(m["n"] or m["p"])

    # per student: choose the notebook for each expected name; everything else is an extra file
    by_student: dict[str, list[Item]] = {}
    for item in items:
        if item.student:
            by_student.setdefault(item.student, []).append(item)
    for student, mine in sorted(by_student.items()):
        target = course / "submitted" / student / assignment
        if target.exists():
            shutil.rmtree(target)
            replaced = True
        else:
            replaced = False
        target.mkdir(parents=True)
        notebooks_in = [i for i in mine if i.file.endswith(".ipynb")]
        chosen: dict[str, Item] = {}
        for name in expected:
            cands = [i for i in notebooks_in if i.file == name]
            if not cands and len(expected) == 1 and len(notebooks_in) == 1:
                cands = notebooks_in  # one notebook under another name: it is the submission
            if cands:
                chosen[name] = max(cands, key=lambda i: (i.rank, i.when))
        latest = max(i.when for i in mine)
        for item in mine:
            picked = [n for n, i in chosen.items() if i is item]
            if picked:
                (target / picked[0]).write_bytes(item.data)
                detail = f"matched by {item.how}"
                if item.file != picked[0] or Path(item.source).name != picked[0]:
                    detail += f"; saved as {picked[0]}"
                if replaced:
                    detail += "; replaced an earlier collection"
                out.rows.append(Row(item.source, student, "placed", detail))
            else:
                name = _safe_extra(item.file or Path(item.source).name, target)
                (target / name).write_bytes(item.data)
                why = ("an older copy of the same notebook" if item.file in expected
                       else "not one of the assignment's notebooks")
                out.rows.append(Row(item.source, student, "extra", f"{why}; kept as {name} (not graded)"))
        missing = expected - set(chosen)
        if missing:
            out.rows.append(Row("-", student, "not placed", f"no {', '.join(sorted(missing))} among this "
                                "student's files"))
        (target / "timestamp.txt").write_text(latest.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
        out.students.add(student)
    return out


def _safe_extra(name: str, folder: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_.() -]", "_", Path(name).name) or "file"
    if name.endswith(".ipynb"):
        name = name + ".extra"  # never let an extra copy look like a notebook to grade
    candidate, i = name, 1
    while (folder / candidate).exists() or candidate == "timestamp.txt":
        candidate, i = f"{i}-{name}", i + 1
    return candidate


def read_text_table(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))

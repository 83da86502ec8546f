"""Course settings from ``course.yml``: the one file an adopting school edits.

:func:`load_course` validates the whole file once (fields, ISO3 codes that exist in
``data/countries.csv``, no duplicates, peers that span high AND low/lower-middle income, a language
the course has catalogues for) and raises :class:`SettingsError` with one short line naming
``course.yml`` and the field. The book build, every ``iome`` command and the notebooks use it; inside
IPython the error is shown as that one line, not a traceback.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import yaml

ENV_VAR = "IOME_COURSE_FILE"  # point at another course.yml (tests, a second cohort)
LANGUAGE_VAR = "IOME_LANGUAGE"  # build another edition without editing course.yml (iome book build)
_ISO3 = re.compile(r"^[A-Z]{3}$")
FIELDS = ("school", "home", "peers", "language", "hub_url")
LMIC = ("Low", "Lower middle")


class SettingsError(ValueError):
    """course.yml is missing or has a value the course cannot use."""


def repo_root() -> Path:
    """The course repository: the nearest folder above this file (or the cwd) with course.yml."""
    for start in (Path.cwd(), Path(__file__).resolve()):
        for folder in (start, *start.parents):
            if (folder / "course.yml").is_file() and (folder / "data").is_dir():
                return folder
    raise SettingsError(
        "Cannot find the course folder (one holding course.yml and data/). "
        "Run from inside the repository or set IOME_COURSE_FILE to your course.yml."
    )


@dataclass(frozen=True)
class Course:
    school: str
    home: str
    peers: tuple[str, ...] = field(default_factory=tuple)
    language: str = "en"
    hub_url: str = ""  # the class JupyterHub, shown on exercise pages; empty: "ask your instructor"
    path: Path | None = None

    @property
    def focus(self) -> tuple[str, ...]:
        """Home country first, then its peers: the countries every chart names."""
        return (self.home, *[p for p in self.peers if p != self.home])

    def as_dict(self) -> dict:
        return {"school": self.school, "home": self.home, "peers": list(self.peers), "language": self.language,
                "hub_url": self.hub_url}

    @property
    def digest(self) -> str:
        """Hash of the validated settings: part of what decides whether a book page is re-executed."""
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:16]


def course_file() -> Path:
    override = os.environ.get(ENV_VAR)
    return Path(override).expanduser().resolve() if override else repo_root() / "course.yml"


def load_course(path: Path | None = None) -> Course:
    """Read and check course.yml; errors name the file and the field to fix."""
    path = Path(path) if path else course_file()
    countries = _countries_file()
    course = _load_course_cached(str(path), _mtime(path), str(countries), _mtime(countries, required=False))
    edition = os.environ.get(LANGUAGE_VAR)
    if edition and edition != course.language:
        if edition not in languages():
            raise SettingsError(f"{LANGUAGE_VAR}={edition!r}: no catalogues for this language; available: "
                                f"{', '.join(languages())}.")
        course = replace(course, language=edition)
    return course


def _mtime(path: Path | None, required: bool = True) -> float:
    try:
        return path.stat().st_mtime if path else 0.0
    except FileNotFoundError:
        if not required:
            return 0.0
        raise SettingsError(f"{path}: file not found. Copy course.yml from the repository root.") from None


def _countries_file() -> Path | None:
    try:
        return repo_root() / "data" / "countries.csv"
    except SettingsError:
        return None


def languages() -> list[str]:
    """Languages the course can be set to: English, and each language with a catalogue of the package's
    strings (src/iome/locales/<lang>/) and country names in data/countries.csv."""
    from .i18n import catalogue_languages
    return ["en", *[lang for lang in catalogue_languages() if lang != "en"]]


@lru_cache(maxsize=4)
def _country_table(path_str: str, _mtime: float) -> dict[str, dict]:
    with open(path_str, encoding="utf-8", newline="") as fh:
        return {row["iso3"]: row for row in csv.DictReader(fh)}


@lru_cache(maxsize=8)
def _load_course_cached(path_str: str, _mtime: float, countries_str: str, countries_mtime: float) -> Course:
    path = Path(path_str)
    name = path.name

    def fail(message):
        raise SettingsError(f"{path}: {message}")

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        fail(f"not valid YAML{where} ({problem}); compare with the repository's {name}.")
    if not isinstance(raw, dict):
        fail(f"expected 'key: value' settings, got {type(raw).__name__}.")

    unknown = [k for k in raw if k not in FIELDS]
    if unknown:
        fail(f"unknown setting {', '.join(map(repr, map(str, unknown)))}; allowed: {', '.join(FIELDS)}.")
    table = _country_table(countries_str, countries_mtime) if countries_mtime else None

    def iso3(value, where):
        if not isinstance(value, str) or not _ISO3.match(value):
            hint = f" (did you mean {value.upper()}?)" if isinstance(value, str) and _ISO3.match(value.upper()) else ""
            fail(f"field '{where}' must be an ISO 3166-1 alpha-3 code such as KEN, got {value!r}{hint}.")
        if table is not None and value not in table:
            fail(f"field '{where}': {value} is not a country code in data/countries.csv.")
        return value

    if "home" not in raw:
        fail("field 'home' is required (ISO3 code of the home country, e.g. KEN).")
    home = iso3(raw["home"], "home")
    peers = raw.get("peers")
    if not isinstance(peers, list) or not peers:
        fail("field 'peers' must be a non-empty list of ISO3 codes, e.g. [GBR, USA, ETH].")
    peers = [iso3(p, f"peers[{i}]") for i, p in enumerate(peers)]
    seen = set()
    for i, p in enumerate(peers):
        if p in seen or p == home:
            fail(f"field 'peers[{i}]': {p} is listed twice" + (" (it is the home country)." if p == home else "."))
        seen.add(p)
    school = raw.get("school", "")
    if not isinstance(school, str):
        fail("field 'school' must be text, e.g. \"Example Medical School\".")
    language = raw.get("language", "en")
    allowed = languages()
    if not isinstance(language, str) or language not in allowed:
        fail(f"field 'language' must be one of {', '.join(allowed)} (got {language!r}); "
             "see the adoption guide to add a language.")
    if table is not None:
        groups = {table[c]["income_group"] for c in (home, *peers)}
        missing = [label for label, ok in (("a high-income country", "High" in groups),
                                           ("a low- or lower-middle-income country", bool(groups & set(LMIC))))
                   if not ok]
        if missing:
            fail(f"field 'peers' needs {' and '.join(missing)} among the home country and its peers "
                 "(the course always compares both), e.g. add " + ("GBR" if "High" not in groups else "ETH") + ".")
    hub_url = raw.get("hub_url") or ""
    if not isinstance(hub_url, str) or (hub_url and not re.match(r"^https?://\S+$", hub_url)):
        fail(f"field 'hub_url' must be empty or a web address such as https://hub.example.edu (got {hub_url!r}).")
    return Course(school=school.strip(), home=home, peers=tuple(peers), language=language, hub_url=hub_url,
                  path=path)


def show_settings_errors_briefly() -> None:
    """Inside IPython/Jupyter, show a SettingsError as its one line instead of a traceback."""
    try:
        ip = get_ipython()  # type: ignore[name-defined]  # noqa: F821
    except NameError:
        return
    if ip is None or SettingsError in getattr(ip, "custom_exceptions", ()):
        return

    def brief(shell, etype, value, tb, tb_offset=None):
        return [f"SettingsError: {value}"]

    ip.set_custom_exc((SettingsError,), brief)


show_settings_errors_briefly()

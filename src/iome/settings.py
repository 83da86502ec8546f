"""Course settings from ``course.yml``: the one file an adopting school edits."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

ENV_VAR = "IOME_COURSE_FILE"  # point at another course.yml (tests, a second cohort)
_ISO3 = re.compile(r"^[A-Z]{3}$")


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


def course_file() -> Path:
    override = os.environ.get(ENV_VAR)
    return Path(override).expanduser().resolve() if override else repo_root() / "course.yml"


def load_course(path: Path | None = None) -> Course:
    """Read and check course.yml; errors name the file and the field to fix."""
    path = Path(path) if path else course_file()
    return _load_course_cached(str(path), _mtime(path))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        raise SettingsError(f"{path}: file not found. Copy course.yml from the repository root.") from None


@lru_cache(maxsize=8)
def _load_course_cached(path_str: str, _mtime: float) -> Course:
    path = Path(path_str)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML ({exc}).") from None
    if not isinstance(raw, dict):
        raise SettingsError(f"{path}: expected 'key: value' settings, got {type(raw).__name__}.")

    def iso3(value, where):
        if not isinstance(value, str) or not _ISO3.match(value):
            raise SettingsError(f"{path}: {where} must be an ISO 3166-1 alpha-3 code such as KEN, got {value!r}.")
        return value

    unknown = set(raw) - {"school", "home", "peers", "language", "hub_url"}
    if unknown:
        raise SettingsError(f"{path}: unknown setting(s) {sorted(unknown)}; allowed: school, home, peers, language, hub_url.")
    if "home" not in raw:
        raise SettingsError(f"{path}: field 'home' is required (ISO3 code of the home country).")
    peers = raw.get("peers") or []
    if not isinstance(peers, list):
        raise SettingsError(f"{path}: field 'peers' must be a list of ISO3 codes.")
    language = raw.get("language", "en")
    if not isinstance(language, str) or not re.match(r"^[a-z]{2}$", language):
        raise SettingsError(f"{path}: field 'language' must be a two-letter code such as en, es or fr.")
    return Course(
        school=str(raw.get("school", "")),
        home=iso3(raw["home"], "field 'home'"),
        peers=tuple(iso3(p, f"peers[{i}]") for i, p in enumerate(peers)),
        language=language,
        hub_url=str(raw.get("hub_url") or ""),
        path=path,
    )

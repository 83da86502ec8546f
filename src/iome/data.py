"""Load the course datasets in ``data/`` as validated pandas DataFrames.

``data/datapackage.json`` (a Frictionless Data Package) is the single description of every file:
its provenance and its Table Schema. :func:`load` reads a resource and checks it against that
schema with vectorised pandas (types, required, ranges, patterns, enums, unique keys, known
countries), so a broken file fails fast with the file, the row and the rule — never a silent NaN.
The test-suite also validates the whole package with the ``frictionless`` library.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .settings import load_course, repo_root

INCOME_ORDER = ["Low", "Lower middle", "Upper middle", "High"]
LMIC_GROUPS = ("Low", "Lower middle")


class DataError(ValueError):
    """A data file does not match its schema in data/datapackage.json."""

    def __init__(self, path, rule: str, row: int | None = None, detail: str = ""):
        self.path, self.rule, self.row = Path(path), rule, row
        where = f"{self.path}" + (f", row {row}" if row is not None else "")
        super().__init__(f"{where}: {rule}" + (f" ({detail})" if detail else "")
                         + ". Rebuild it with `iome data build` or restore it with `git checkout -- data/`.")


def data_dir() -> Path:
    return repo_root() / "data"


@lru_cache(maxsize=4)
def _package(folder: str, _mtime: float) -> dict:
    path = Path(folder) / "datapackage.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except json.JSONDecodeError as exc:
        raise DataError(path, "not valid JSON", exc.lineno, exc.msg) from None


def package(folder: Path | None = None) -> dict:
    folder = Path(folder or data_dir())
    path = folder / "datapackage.json"
    return _package(str(folder), path.stat().st_mtime if path.exists() else 0.0)


def resource_names(folder: Path | None = None) -> list[str]:
    return [r["name"] for r in package(folder)["resources"]]


def describe(name: str, folder: Path | None = None) -> dict:
    """The datapackage entry of one resource (title, unit, source, licence, schema...)."""
    for res in package(folder)["resources"]:
        if res["name"] == name:
            return res
    raise KeyError(f"No dataset named {name!r}. Available: {', '.join(resource_names(folder))}.")



def load(name: str, folder: Path | None = None) -> pd.DataFrame:
    """Return resource ``name`` as a validated DataFrame (raises DataError naming file/row/rule)."""
    folder = Path(folder or data_dir())
    res = describe(name, folder)
    path = folder / res["path"]
    stamp = path.stat().st_mtime_ns if path.exists() else 0
    return _load(str(folder), name, stamp).copy()


@lru_cache(maxsize=64)
def _load(folder: str, name: str, _stamp: int) -> pd.DataFrame:
    folder = Path(folder)
    res = describe(name, folder)
    path = folder / res["path"]
    fields = res["schema"]["fields"]
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except pd.errors.EmptyDataError:
        raise DataError(path, "the file is empty (no header row)", 1) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(path, "not a readable UTF-8 CSV file", detail=str(exc).strip()) from None
    expected = [f["name"] for f in fields]
    if list(raw.columns) != expected:
        raise DataError(path, f"columns must be {expected}", 1, f"found {list(raw.columns)}")
    if raw.empty:
        raise DataError(path, "the file has a header but no data rows", 2)
    frame = pd.DataFrame(index=raw.index)
    for f in fields:
        frame[f["name"]] = _typed_column(raw[f["name"]], f, path)
    _check_keys(frame, res["schema"], path)
    _check_foreign_keys(frame, res["schema"], path, folder, name)
    return frame


def _row(index) -> int:
    """File line number of a data row (line 1 is the header)."""
    return int(index) + 2


def _typed_column(text: pd.Series, field: dict, path: Path) -> pd.Series:
    name, kind, rules = field["name"], field.get("type", "string"), field.get("constraints", {})
    blank = text.str.strip() == ""
    if rules.get("required") and blank.any():
        raise DataError(path, f"column '{name}' is required but empty", _row(blank.idxmax()))
    if kind in ("integer", "number"):
        values = pd.to_numeric(text.where(~blank), errors="coerce")
        bad = values.isna() & ~blank
        if bad.any():
            i = bad.idxmax()
            raise DataError(path, f"column '{name}' must be a {kind}", _row(i), f"got {text[i]!r}")
        infinite = values.notna() & ~np.isfinite(values.astype("float64"))
        if infinite.any():
            i = infinite.idxmax()
            raise DataError(path, f"column '{name}' must be a finite number", _row(i), f"got {text[i]!r}")
        if kind == "integer":  # written as a whole number: "1969", never "1969.0" or "1.969e3"
            frac = ~blank & ~text.str.strip().str.fullmatch(r"[+-]?[0-9]+")
            if frac.any():
                i = frac.idxmax()
                raise DataError(path, f"column '{name}' must be an integer", _row(i), f"got {text[i]!r}")
        if field.get("nonzero"):
            zero = values == 0
            if zero.any():
                i = zero.idxmax()
                raise DataError(path, f"column '{name}' cannot be 0 (a missing value, not a zero)", _row(i),
                                f"got {text[i]!r}")
        for rule, broken in (("minimum", values < rules.get("minimum", float("-inf"))),
                             ("maximum", values > rules.get("maximum", float("inf")))):
            if broken.any():
                i = broken.idxmax()
                raise DataError(path, f"column '{name}' must be {'>=' if rule == 'minimum' else '<='} "
                                f"{rules[rule]}", _row(i), f"got {text[i]}")
        if kind == "integer":  # plain int64 unless the column has gaps
            return values.astype("int64") if values.notna().all() else values.astype("Int64")
        return values.astype("float64")
    if kind == "boolean":
        mapping = {"true": True, "false": False, "": pd.NA}
        lowered = text.str.strip().str.lower()
        bad = ~lowered.isin(mapping)
        if bad.any():
            i = bad.idxmax()
            raise DataError(path, f"column '{name}' must be true or false", _row(i), f"got {text[i]!r}")
        return lowered.map(mapping).astype("boolean")
    if kind == "date":  # ISO 8601 calendar date (the Table Schema default format)
        values = pd.to_datetime(text.where(~blank), format="%Y-%m-%d", errors="coerce")
        bad = values.isna() & ~blank
        if bad.any():
            i = bad.idxmax()
            raise DataError(path, f"column '{name}' must be a date written YYYY-MM-DD", _row(i),
                            f"got {text[i]!r}")
        return values
    values = text.where(~blank)
    if "pattern" in rules:
        bad = ~blank & ~text.str.fullmatch(rules["pattern"])
        if bad.any():
            i = bad.idxmax()
            raise DataError(path, f"column '{name}' must match {rules['pattern']}", _row(i), f"got {text[i]!r}")
    if "enum" in rules:
        bad = ~blank & ~text.isin(rules["enum"])
        if bad.any():
            i = bad.idxmax()
            raise DataError(path, f"column '{name}' must be one of {rules['enum']}", _row(i), f"got {text[i]!r}")
    return values


def _check_keys(frame: pd.DataFrame, schema: dict, path: Path) -> None:
    key = schema.get("primaryKey")
    if not key:
        return
    key = [key] if isinstance(key, str) else key
    dup = frame.duplicated(subset=key, keep="first")
    if dup.any():
        i = dup.idxmax()
        values = ", ".join(f"{k}={frame.at[i, k]}" for k in key)
        raise DataError(path, f"duplicate key {key}", _row(i), values)


def _check_foreign_keys(frame: pd.DataFrame, schema: dict, path: Path, folder: Path, name: str) -> None:
    for fk in schema.get("foreignKeys", []):
        ref = fk["reference"]
        if ref["resource"] == name:
            continue
        target = _load(str(folder), ref["resource"], _stamp_of(folder, ref["resource"]))
        field, ref_field = fk["fields"], ref["fields"]
        field = field[0] if isinstance(field, list) else field
        ref_field = ref_field[0] if isinstance(ref_field, list) else ref_field
        known = set(target[ref_field].dropna())
        bad = frame[field].notna() & ~frame[field].isin(known)
        if bad.any():
            i = bad.idxmax()
            raise DataError(path, f"column '{field}' must be a country in {ref['resource']}",
                            _row(i), f"unknown code {frame.at[i, field]!r}")


def _stamp_of(folder: Path, name: str) -> int:
    path = folder / describe(name, folder)["path"]
    return path.stat().st_mtime_ns if path.exists() else 0


def excluded(name: str, folder: Path | None = None) -> pd.DataFrame:
    """Values of a WDI resource that `iome data build` kept out of data/ as implausible, with the rule they
    broke (columns iso3, year, value, rule; empty if none). They are recorded in datapackage.json."""
    rows = describe(name, folder).get("excluded", [])
    return pd.DataFrame(rows, columns=["iso3", "year", "value", "rule"])


# --- conveniences the chapters and exercises share -------------------------------------------

def countries(folder: Path | None = None) -> pd.DataFrame:
    """Country table: iso3, name, region, subregion, income_group (+ names in other languages).

    ``name`` is in the course language (course.yml ``language``) where the data has that name."""
    frame = load("countries", folder)
    lang = load_course().language
    if lang != "en" and f"name_{lang}" in frame:
        frame["name"] = frame[f"name_{lang}"].fillna(frame["name"])
    return frame


def latest(name: str, folder: Path | None = None, since: int | None = None) -> pd.DataFrame:
    """Each country's most recent value of an indicator, joined with its country metadata.

    Columns: iso3, name, region, income_group, year, value. ``since`` drops values older than
    that year, so a 1995 figure is never compared with a 2022 one by accident.
    """
    frame = load(name, folder).dropna(subset=["value"])
    if since is not None:
        frame = frame[frame["year"] >= since]
    last = frame.sort_values("year").groupby("iso3", as_index=False).last()
    meta = countries(folder)[["iso3", "name", "region", "income_group"]]
    return meta.merge(last, on="iso3", how="inner").sort_values("iso3").reset_index(drop=True)

"""Build the tidy files in ``data/`` from the raw public copies (``iome data build``).

Inputs (never committed): the World Bank WDI files mirrored in DDF form and their MANIFEST.csv
(``../shared/data`` in the course's own repository). Country names, regions and income groups
come from the taxonomy bundled inside the ``hdx-python-country`` package (no download).
Outputs: ``data/countries.csv``, ``data/wdi/<indicator>.csv`` (iso3, year, value) and
``data/datapackage.json`` with provenance and a Table Schema per resource.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from importlib import resources
from importlib.metadata import version
from pathlib import Path

from .catalog import INDICATORS, Indicator

WDI_LICENSE = {"name": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0",
               "path": "https://creativecommons.org/licenses/by/4.0/"}
WDI_SOURCE = {"title": "World Bank, World Development Indicators", "organisation": "World Bank",
              "path": "https://datacatalog.worldbank.org/search/dataset/0037712/World-Development-Indicators"}
# Gapminder/open-numbers geo ids that are not plain lower-case ISO3 codes (see shared/data/README.md).
GEO_EXCEPTIONS = {"gbm": "IMN", "kos": "XKX", "nld_curacao": "CUW", "chanisl": None}
TAXONOMY = "Countries & Territories Taxonomy MVP - C&T Taxonomy.csv"
LANGS = {"fr": "French Short", "es": "Spanish Short", "ru": "Russian Short", "zh": "Chinese Short",
         "ar": "Arabic Short"}
ISO3_FIELD = {"name": "iso3", "type": "string", "title": "ISO 3166-1 alpha-3 country code",
              "constraints": {"required": True, "pattern": "[A-Z]{3}"}}


class BuildError(RuntimeError):
    pass


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_manifest(raw: Path) -> dict[str, dict]:
    path = raw / "MANIFEST.csv"
    if not path.is_file():
        raise BuildError(f"{path}: not found. Pass --raw pointing at the folder holding MANIFEST.csv "
                         "(in the course repository: ../shared/data).")
    with path.open(encoding="utf-8") as fh:
        return {row["local_path"]: row for row in csv.DictReader(fh)}


def verified(raw: Path, manifest: dict[str, dict], local_path: str) -> Path:
    """The raw file, after checking it is byte-identical to what MANIFEST.csv recorded."""
    entry = manifest.get(local_path)
    if entry is None:
        raise BuildError(f"{raw / 'MANIFEST.csv'}: no entry for {local_path}")
    path = raw / local_path
    if not path.is_file():
        raise BuildError(f"{path}: missing raw file listed in MANIFEST.csv")
    if sha256(path) != entry["sha256"]:
        raise BuildError(f"{path}: sha256 differs from MANIFEST.csv; the raw copy was changed")
    return path


def country_rows() -> list[dict]:
    """Countries and territories from hdx-python-country's bundled taxonomy (read from disk)."""
    taxonomy = resources.files("hdx.location") / TAXONOMY
    with taxonomy.open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["Deprecated"] != "Y" and r["ISO 3166-1 Alpha 3-Codes"]]
    out = []
    for r in rows:
        row = {"iso3": r["ISO 3166-1 Alpha 3-Codes"], "name": r["English Short"] or r["Preferred Term"],
               "region": r["Region Name"], "subregion": r["Sub-region Name"],
               "income_group": r["World Bank Income Level"], "m49": r["m49 numerical code"]}
        row.update({f"name_{lang}": r[col] for lang, col in LANGS.items()})
        out.append(row)
    return sorted(out, key=lambda r: r["iso3"])


def countries_schema() -> dict:
    fields = [ISO3_FIELD,
              {"name": "name", "type": "string", "constraints": {"required": True}},
              {"name": "region", "type": "string", "title": "UN M49 region"},
              {"name": "subregion", "type": "string", "title": "UN M49 sub-region"},
              {"name": "income_group", "type": "string", "title": "World Bank income group",
               "constraints": {"enum": ["Low", "Lower middle", "Upper middle", "High"]}},
              {"name": "m49", "type": "integer", "title": "UN M49 numerical code"}]
    fields += [{"name": f"name_{lang}", "type": "string", "title": f"Short name ({col.split()[0]})"}
               for lang, col in LANGS.items()]
    return {"fields": fields, "primaryKey": ["iso3"]}


def indicator_schema(ind: Indicator) -> dict:
    value = {"name": "value", "type": "number", "title": ind.title, "unit": ind.unit,
             "constraints": {"required": True, "minimum": 0}}
    if ind.maximum is not None:
        value["constraints"]["maximum"] = ind.maximum
    return {"fields": [ISO3_FIELD,
                       {"name": "year", "type": "integer", "constraints": {"required": True, "minimum": 1960,
                                                                           "maximum": 2100}},
                       value],
            "primaryKey": ["iso3", "year"],
            "foreignKeys": [{"fields": "iso3", "reference": {"resource": "countries", "fields": "iso3"}}]}


def geo_to_iso3(geo: str) -> str | None:
    return GEO_EXCEPTIONS[geo] if geo in GEO_EXCEPTIONS else geo.upper()


def tidy_rows(ind: Indicator, raw_rows, known: set[str], report: list[str]) -> list[tuple[str, str, str]]:
    """(iso3, year, value-as-written) rows: countries only, impossible zeros dropped, ranges checked."""
    out, unmapped, zeros = [], set(), 0
    for geo, year, value in raw_rows:
        iso3 = geo_to_iso3(geo)
        if iso3 not in known:
            unmapped.add(geo)
            continue
        if value.strip() == "":
            continue
        number = float(value)
        if ind.positive and number == 0:
            zeros += 1
            continue
        if number < 0 or (ind.maximum is not None and number > ind.maximum):
            raise BuildError(f"{ind.code}: {geo} {year} value {value} outside 0..{ind.maximum}")
        out.append((iso3, str(int(year)), value))
    if unmapped:
        report.append(f"{ind.name}: dropped ids with no country row: {', '.join(sorted(unmapped))}")
    if zeros:
        report.append(f"{ind.name}: {zeros} stored zero(s) treated as missing")
    return sorted(out, key=lambda r: (r[0], int(r[1])))


def write_csv(path: Path, header: list[str], rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    tmp.replace(path)


def coverage(rows: list[tuple[str, str, str]]) -> dict:
    years = [int(r[1]) for r in rows]
    return {"countries": len({r[0] for r in rows}), "rows": len(rows),
            "year_min": min(years) if years else None, "year_max": max(years) if years else None}


def indicator_resource(ind: Indicator, rows, provenance: dict) -> dict:
    cov = coverage(rows)
    return {
        "name": ind.name, "path": f"wdi/{ind.name}.csv", "profile": "tabular-data-resource",
        "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
        "title": ind.title, "indicator": ind.code, "unit": ind.unit, "group": ind.group,
        "description": f"{ind.title}. World Bank WDI indicator {ind.code}; one row per country and year "
                       "(aggregates excluded, missing years absent).",
        "sources": [dict(WDI_SOURCE, path=f"https://data.worldbank.org/indicator/{ind.code}")],
        "licenses": [WDI_LICENSE],
        "attribution": f"World Bank, World Development Indicators ({ind.code}), CC BY 4.0.",
        **provenance, "coverage": cov, "latest_year": cov["year_max"],
        "schema": indicator_schema(ind),
    }


def build(raw: Path, out: Path, progress=None) -> list[str]:
    """Write every tidy file and datapackage.json; return notes for the build report."""
    raw, out = Path(raw), Path(out)
    manifest = read_manifest(raw)
    retrieved = dt.date.fromtimestamp((raw / "MANIFEST.csv").stat().st_mtime).isoformat()
    report: list[str] = []

    countries = country_rows()
    known = {c["iso3"] for c in countries}
    header = list(countries[0])
    write_csv(out / "countries.csv", header, [[c[h] for h in header] for c in countries])
    hdx_version = version("hdx-python-country")
    resources_ = [{
        "name": "countries", "path": "countries.csv", "profile": "tabular-data-resource", "format": "csv",
        "mediatype": "text/csv", "encoding": "utf-8", "title": "Countries and territories",
        "description": "ISO3 code, English name, UN M49 region and sub-region, World Bank income group and "
                       "short names in French, Spanish, Russian, Chinese and Arabic. The package does not "
                       "state which fiscal year's World Bank income classification it reflects.",
        "sources": [{"title": "OCHA HDX Countries & Territories Taxonomy (bundled in hdx-python-country)",
                     "organisation": "UN OCHA, Humanitarian Data Exchange",
                     "path": "https://pypi.org/project/hdx-python-country/"}],
        "licenses": [{"name": "MIT", "title": "MIT License (hdx-python-country)",
                      "path": "https://opensource.org/license/mit"}],
        "attribution": f"UN OCHA HDX country taxonomy, hdx-python-country {hdx_version} (MIT).",
        "source_package": f"hdx-python-country=={hdx_version}", "source_path": f"hdx/location/{TAXONOMY}",
        "retrieved": retrieved, "coverage": {"countries": len(countries), "rows": len(countries)},
        "schema": countries_schema(),
    }]

    steps = INDICATORS if progress is None else progress(INDICATORS, description="WDI indicators")
    for ind in steps:
        local = f"wdi/datapoints/{ind.ddf_file}"
        path = verified(raw, manifest, local)
        with path.open(encoding="utf-8") as fh:
            reader = csv.reader(fh)
            head = next(reader)
            if head != ["geo", "time", ind.code.lower().replace(".", "_")]:
                raise BuildError(f"{path}: unexpected header {head}")
            rows = tidy_rows(ind, reader, known, report)
        write_csv(out / "wdi" / f"{ind.name}.csv", ["iso3", "year", "value"], rows)
        entry = manifest[local]
        resources_.append(indicator_resource(ind, rows, {
            "source_repo": entry["source_repo"], "source_path": entry["source_path"],
            "source_commit": entry["commit"], "source_sha256": entry["sha256"], "retrieved": retrieved}))

    write_package(out, resources_)
    return report


def write_package(out: Path, resources_: list[dict]) -> None:
    package = {
        "name": "iome-course-data", "title": "Internationalizing Medical Education: course data",
        "profile": "tabular-data-package",
        "description": "Country-level indicators used by the book and the graded exercises. Built by "
                       "`iome data build` from raw public copies; every resource names its source, licence "
                       "and the commit it came from.",
        "licenses": [WDI_LICENSE],
        "resources": resources_,
    }
    tmp = out / "datapackage.json.tmp"
    tmp.write_text(json.dumps(package, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(out / "datapackage.json")

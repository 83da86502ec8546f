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
import math
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from importlib import resources
from importlib.metadata import version
from pathlib import Path

from .catalog import DOCUMENTED_CRISES, INDICATORS, Indicator

WDI_LICENSE = {"name": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0",
               "path": "https://creativecommons.org/licenses/by/4.0/"}
WDI_SOURCE = {"title": "World Bank, World Development Indicators", "organisation": "World Bank",
              "path": "https://datacatalog.worldbank.org/search/dataset/0037712/World-Development-Indicators"}
# Gapminder/open-numbers geo ids that are not plain lower-case ISO3 codes (see shared/data/README.md).
GEO_EXCEPTIONS = {"gbm": "IMN", "kos": "XKX", "nld_curacao": "CUW", "chanisl": "CHI"}
# Economies with WDI values but no row in the country taxonomy: left out on purpose (and said so on the
# Data sources page). Any other id without a country row is an error: a mistyped id must not silently
# drop a country's rows. (CHI is the World Bank's own code for the Channel Islands, which have no ISO code.)
LEFT_OUT = {"CHI": "Channel Islands (no ISO 3166-1 code)", "XKX": "Kosovo (not in the country taxonomy)"}
# The country table's income groups: the World Bank classification bundled in hdx-python-country. It
# matches the World Bank's FY24 list (in force 1 July 2023 - 30 June 2024, from 2022 GNI per capita) and
# no other year: Jordan is lower-middle (it moved down on 1 July 2023), while Algeria, Iran, Mongolia and
# Ukraine are still lower-middle and Bulgaria and Russia upper-middle (all moved up on 1 July 2024).
INCOME_VINTAGE = ("World Bank FY24 income classification (in force 1 July 2023 to 30 June 2024, based on 2022 "
                  "GNI per capita), as bundled in hdx-python-country. The package does not state the year; it "
                  "was identified from the countries that changed group on 1 July 2023 (Jordan down to lower "
                  "middle) and on 1 July 2024 (Algeria, Iran, Mongolia and Ukraine up to upper middle; "
                  "Bulgaria and Russia up to high), which this table shows in their FY24 groups.")
INCOME_VINTAGE_SOURCES = [
    {"title": "World Bank Group country classifications by income level for FY24 (July 1, 2023 - June 30, "
              "2024)", "organisation": "World Bank",
     "path": "https://blogs.worldbank.org/opendata/new-world-bank-group-country-classifications-income-level-fy24"},
    {"title": "World Bank country classifications by income level for 2024-2025", "organisation": "World Bank",
     "path": "https://blogs.worldbank.org/en/opendata/world-bank-country-classifications-by-income-level-for-2024-2025"},
]
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


def manifest_date(raw: Path, manifest: dict[str, dict], local_path: str) -> str:
    """The ISO date a raw copy was obtained, from MANIFEST.csv's `retrieved` column."""
    entry = manifest.get(local_path)
    if entry is None:
        raise BuildError(f"{raw / 'MANIFEST.csv'}: no entry for {local_path}")
    value = (entry.get("retrieved") or "").strip()
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise BuildError(f"{raw / 'MANIFEST.csv'}, row for {local_path}: 'retrieved' must be a date "
                         f"YYYY-MM-DD, found {value!r}; add the date the raw copy was obtained") from None


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


# Countries whose UN terminology short name is the endonym, unknown to most readers (UNTERM: "Naoero"),
# while the UN M49 standard keeps the name readers know ("Nauru" in English, French and Spanish).
M49_NAMES = {"NRU"}


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
        # UNTERM short name where there is one, else the UN M49 name (territories such as Aruba have only
        # the latter)
        row.update({f"name_{lang}": r[col] or r[f"M49 {col.split()[0]}"] for lang, col in LANGS.items()})
        if row["iso3"] in M49_NAMES:
            row["name"] = r["M49 English"]
            row.update({f"name_{lang}": r[f"M49 {col.split()[0]}"] for lang, col in LANGS.items()})
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
    fields += [{"name": f"name_{lang}", "type": "string",
                "title": f"Name in {col.split()[0]} (UNTERM short name, else UN M49 name)"}
               for lang, col in LANGS.items()]
    return {"fields": fields, "primaryKey": ["iso3"]}


def indicator_schema(ind: Indicator) -> dict:
    value = {"name": "value", "type": "number", "title": ind.title, "unit": ind.unit,
             "constraints": {"required": True, "minimum": 0}}
    if ind.positive:  # zero is impossible (catalog.py); the loader refuses a 0 (Table Schema v1 has no
        value["nonzero"] = True  # exclusiveMinimum, so this is a field property of the course's own)
    if ind.maximum is not None:
        value["constraints"]["maximum"] = ind.maximum
    return {"fields": [ISO3_FIELD,
                       {"name": "year", "type": "integer", "constraints": {"required": True, "minimum": 1960,
                                                                           "maximum": 2100}},
                       value],
            "primaryKey": ["iso3", "year"],
            "foreignKeys": [{"fields": "iso3", "reference": {"resource": "countries", "fields": "iso3"}}]}


def geo_to_iso3(geo: str) -> str:
    return GEO_EXCEPTIONS.get(geo) or geo.upper()


INTEGER = re.compile(r"[+-]?[0-9]+")


def read_raw(path: Path, header: list[str]):
    """(line, row) of a raw CSV after checking it is not empty, its header and each row's width."""
    line = 1
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            head = next(reader, None)
            if head is None:
                raise BuildError(f"{path}, row 1: the file is empty (expected the header {','.join(header)})")
            if head != header:
                raise BuildError(f"{path}, row 1: unexpected header {head}; expected {header}")
            for line, row in enumerate(reader, start=2):
                if not row:
                    continue  # a blank line
                if len(row) != len(header):
                    raise BuildError(f"{path}, row {line}: {len(row)} cells, expected {len(header)} ({header})")
                yield line, row
    except UnicodeDecodeError:
        raise BuildError(f"{path}, row {line + 1}: not UTF-8 text (save the file as UTF-8)") from None
    except csv.Error as exc:
        raise BuildError(f"{path}, row {line + 1}: not a readable CSV row ({exc})") from None


def tidy_rows(ind: Indicator, raw_rows, known: set[str], source) -> tuple[list[tuple[str, str, str]], list[dict]]:
    """Tidy (iso3, year, value-as-written) rows, and the values the plausibility rules flagged.

    ``raw_rows`` yields (row label, geo id or ISO3, year, value) as text; ``source`` names the file or URL
    in errors. Anything that cannot be read (an unknown country id, a year that is not a whole number, a
    value that is not a finite number, a duplicate country-year, a value outside the indicator's range)
    raises BuildError naming the source, the row and the rule. Values that read well but break a
    plausibility rule are left out and returned as ``excluded`` entries (iso3, year, value, rule).
    """
    out, seen = [], {}
    for line, geo, year, value in raw_rows:
        where = f"{source}, row {line}"
        iso3 = geo_to_iso3(geo)
        if iso3 not in known:
            if iso3 in LEFT_OUT:
                continue
            raise BuildError(f"{where}: unknown country id {geo!r} (no row in the country table; a real "
                             "economy without one belongs in LEFT_OUT in src/iome/databuild.py)")
        if value.strip() == "":
            continue
        year = year.strip()
        if not INTEGER.fullmatch(year) or not 1960 <= int(year) <= 2100:
            raise BuildError(f"{where}: year must be a whole number from 1960 to 2100, got {year!r}")
        try:
            number = float(value)
        except ValueError:
            raise BuildError(f"{where}: value must be a number, got {value!r}") from None
        if not math.isfinite(number):
            raise BuildError(f"{where}: value must be a finite number, got {value!r}")
        if number < 0 or (ind.maximum is not None and number > ind.maximum):
            raise BuildError(f"{where}: {ind.code} value {value} outside 0..{ind.maximum}")
        key = (iso3, int(year))
        if key in seen:
            raise BuildError(f"{where}: duplicate row for {iso3} {int(year)} (already given in row {seen[key]})")
        seen[key] = line
        out.append((iso3, str(int(year)), value.strip()))
    out.sort(key=lambda r: (r[0], int(r[1])))
    flagged = plausibility(ind, out)
    excluded = [{"iso3": r[0], "year": int(r[1]), "value": r[2], "rule": flagged[(r[0], r[1])]}
                for r in out if (r[0], r[1]) in flagged]
    return [r for r in out if (r[0], r[1]) not in flagged], excluded


def plausibility(ind: Indicator, rows: list[tuple[str, str, str]]) -> dict[tuple[str, str], str]:
    """{(iso3, year): reason} for the values that break the indicator's plausibility rules (catalog.py)."""
    flagged: dict[tuple[str, str], str] = {}
    series: dict[str, list[tuple[int, float, str]]] = {}
    for iso3, year, value in rows:
        series.setdefault(iso3, []).append((int(year), float(value), year))
    for iso3, points in series.items():
        if ind.positive:
            for _, v, year in points:
                if v == 0:
                    flagged[(iso3, year)] = "0 stored for a quantity that cannot be zero: a missing value"
        if ind.all_zero_is_missing and all(v == 0 for _, v, _ in points):
            for _, _, year in points:
                flagged[(iso3, year)] = "0 in every year for this country: no estimate, not zero"
        if ind.spike is None:
            continue
        by_year = {y: v for y, v, _ in points}
        for y, v, year in points:
            before, after = by_year.get(y - 1), by_year.get(y + 1)
            if before is None or after is None or (iso3, y) in DOCUMENTED_CRISES:
                continue
            mean = (before + after) / 2
            change = (v - mean) / mean if mean else 0.0
            if (change > ind.spike) if ind.spike_direction == "up" else (-change > ind.spike):
                flagged[(iso3, year)] = (
                    f"one-year {'rise' if change > 0 else 'fall'} of {abs(change):.0%} against the mean of "
                    f"{y - 1} and {y + 1} ({mean:.4g}), with no documented mass-mortality event that year")
    return flagged


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


def indicator_resource(ind: Indicator, rows, provenance: dict, excluded: list[dict] | None = None) -> dict:
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
        "excluded": excluded or [],
        "schema": indicator_schema(ind),
    }


# --- COVID-19 excess mortality (Karlinsky & Kobak 2021) --------------------------------------------

EXCESS_LOCAL = "world-mortality/excess-mortality.csv"
EXCESS_ELIFE_LOCAL = "world-mortality/excess-mortality-elife2021.csv"
EXCESS_HEADER = ["Country", "Data until", "Data type", "COVID-19 deaths", "Excess deaths", "Excess deaths std",
                 "t-statistic", "Undercount ratio", "Excess per 100k", "Excess as % of annual baseline"]
EXCESS_TYPES = {"w": "weekly", "m": "monthly", "q": "quarterly"}
# Every country name in the source table, mapped by hand to ISO 3166-1 alpha-3 (None: no code).
# Names that need care: "Bosnia" (BIH), "Palestine" (PSE), "Kosovo" (XKX, the World Bank's code;
# not in the country taxonomy, so its row is left out), "Transnistria" (no ISO3; reported by the
# source separately from Moldova, left out).
EXCESS_ISO3: dict[str, str | None] = {
    'Albania': 'ALB', 'Algeria': 'DZA', 'Andorra': 'AND', 'Antigua and Barbuda': 'ATG', 'Argentina': 'ARG',
    'Armenia': 'ARM', 'Aruba': 'ABW', 'Australia': 'AUS', 'Austria': 'AUT', 'Azerbaijan': 'AZE',
    'Barbados': 'BRB', 'Belarus': 'BLR', 'Belgium': 'BEL', 'Belize': 'BLZ', 'Bermuda': 'BMU',
    'Bolivia': 'BOL', 'Bosnia': 'BIH', 'Brazil': 'BRA', 'Brunei': 'BRN', 'Bulgaria': 'BGR', 'Canada': 'CAN',
    'Chile': 'CHL', 'Colombia': 'COL', 'Costa Rica': 'CRI', 'Croatia': 'HRV', 'Cuba': 'CUB', 'Cyprus': 'CYP',
    'Czechia': 'CZE', 'Denmark': 'DNK', 'Dominican Republic': 'DOM', 'Ecuador': 'ECU', 'Egypt': 'EGY',
    'El Salvador': 'SLV', 'Estonia': 'EST', 'Faroe Islands': 'FRO', 'Finland': 'FIN', 'France': 'FRA',
    'French Guiana': 'GUF', 'French Polynesia': 'PYF', 'Georgia': 'GEO', 'Germany': 'DEU',
    'Gibraltar': 'GIB', 'Greece': 'GRC', 'Greenland': 'GRL', 'Guadeloupe': 'GLP', 'Guatemala': 'GTM',
    'Hong Kong': 'HKG', 'Hungary': 'HUN', 'Iceland': 'ISL', 'Iran': 'IRN', 'Ireland': 'IRL', 'Israel': 'ISR',
    'Italy': 'ITA', 'Jamaica': 'JAM', 'Japan': 'JPN', 'Jordan': 'JOR', 'Kazakhstan': 'KAZ', 'Kosovo': 'XKX',
    'Kuwait': 'KWT', 'Kyrgyzstan': 'KGZ', 'Latvia': 'LVA', 'Lebanon': 'LBN', 'Liechtenstein': 'LIE',
    'Lithuania': 'LTU', 'Luxembourg': 'LUX', 'Macao': 'MAC', 'Malaysia': 'MYS', 'Maldives': 'MDV',
    'Malta': 'MLT', 'Martinique': 'MTQ', 'Mauritius': 'MUS', 'Mayotte': 'MYT', 'Mexico': 'MEX',
    'Moldova': 'MDA', 'Monaco': 'MCO', 'Mongolia': 'MNG', 'Montenegro': 'MNE', 'Netherlands': 'NLD',
    'New Caledonia': 'NCL', 'New Zealand': 'NZL', 'Nicaragua': 'NIC', 'North Macedonia': 'MKD',
    'Norway': 'NOR', 'Oman': 'OMN', 'Palestine': 'PSE', 'Panama': 'PAN', 'Paraguay': 'PRY', 'Peru': 'PER',
    'Philippines': 'PHL', 'Poland': 'POL', 'Portugal': 'PRT', 'Puerto Rico': 'PRI', 'Qatar': 'QAT',
    'Romania': 'ROU', 'Russia': 'RUS', 'Réunion': 'REU', 'San Marino': 'SMR', 'Serbia': 'SRB',
    'Seychelles': 'SYC', 'Singapore': 'SGP', 'Slovakia': 'SVK', 'Slovenia': 'SVN', 'South Africa': 'ZAF',
    'South Korea': 'KOR', 'Spain': 'ESP', 'Sweden': 'SWE', 'Switzerland': 'CHE', 'Taiwan': 'TWN',
    'Tajikistan': 'TJK', 'Thailand': 'THA', 'Transnistria': None, 'Tunisia': 'TUN', 'Ukraine': 'UKR',
    'United Kingdom': 'GBR', 'United States': 'USA', 'Uruguay': 'URY', 'Uzbekistan': 'UZB',
}
EXCESS_LICENSES = [
    {"name": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0 (the article, Karlinsky & Kobak 2021)",
     "path": "https://creativecommons.org/licenses/by/4.0/"},
    {"name": "MIT", "title": "MIT License (World Mortality Dataset, akarlinsky/world_mortality)",
     "path": "https://github.com/akarlinsky/world_mortality/blob/main/LICENSE"},
]


def excess_schema(name: str = "excess_mortality") -> dict:
    # The eLife table leaves some cells empty ("nan" in the source): the standard deviation and t-statistic
    # where the authors estimated excess differently (Argentina, South Africa), and Macao's COVID-19 deaths.
    strict = name == "excess_mortality"

    def num(name, title, unit, kind="number", minimum=None, required=False):
        f = {"name": name, "type": kind, "title": title, "unit": unit, "constraints": {"required": required}}
        if minimum is not None:
            f["constraints"]["minimum"] = minimum
        return f
    return {
        "fields": [
            ISO3_FIELD,
            {"name": "country", "type": "string", "title": "Country name as written in the source",
             "constraints": {"required": True}},
            {"name": "data_type", "type": "string", "title": "Resolution of the all-cause death counts",
             "constraints": {"required": True, "enum": list(EXCESS_TYPES.values())}},
            {"name": "data_until", "type": "date", "title": "Last day covered by the death counts",
             "constraints": {"required": True}},
            num("covid_deaths", "Reported COVID-19 deaths over the same period (WHO)", "deaths", "integer", 0,
                strict),
            num("excess_deaths", "Excess deaths (observed minus expected; negative means fewer deaths "
                "than expected)", "deaths", "integer", None, True),
            num("excess_deaths_sd", "Standard deviation of the excess-death estimate", "deaths", "integer", 0,
                strict),
            num("t_statistic", "t-statistic: |excess deaths| divided by its standard deviation", "ratio",
                minimum=0, required=strict),
            num("undercount_ratio", "Undercount ratio: excess deaths / reported COVID-19 deaths (empty where "
                "the source gives none)", "ratio", minimum=0),
            num("excess_per_100k", "Excess deaths per 100,000 population", "per 100,000 people", required=True),
            num("excess_pct_baseline", "Excess deaths as % of the annual baseline (expected) deaths",
                "% of annual baseline deaths", required=True),
        ],
        "primaryKey": ["iso3"],
        "foreignKeys": [{"fields": "iso3", "reference": {"resource": "countries", "fields": "iso3"}}],
    }


def excess_rows(path: Path, known: set[str], name: str = "excess_mortality") -> tuple[list[list[str]], list[str]]:
    """Tidy rows keyed by ISO3 and the source names left out (with the reason)."""
    fields = excess_schema(name)["fields"][4:]  # the numeric columns, in the source's order
    out, dropped, seen = [], [], {}
    for line, r in read_raw(path, EXCESS_HEADER):
        where = f"{path}, row {line}"
        country = r[0]
        if country not in EXCESS_ISO3:
            raise BuildError(f"{where}: country name {country!r} has no entry in EXCESS_ISO3 "
                             "(src/iome/databuild.py); add its ISO3 code (or None) there")
        if country in seen:
            raise BuildError(f"{where}: duplicate row for {country} (already given in row {seen[country]})")
        seen[country] = line
        iso3 = EXCESS_ISO3[country]
        if iso3 is None:
            dropped.append(f"{country} (no ISO3 code)")
            continue
        if iso3 not in known:
            dropped.append(f"{country} ({iso3}, not in the country table)")
            continue
        if r[2] not in EXCESS_TYPES:
            raise BuildError(f"{where}: data type must be one of {sorted(EXCESS_TYPES)}, got {r[2]!r}")
        try:
            until = dt.datetime.strptime(r[1], "%b %d, %Y").date().isoformat()
        except ValueError:
            raise BuildError(f"{where}: 'Data until' must be a date such as 'Sep 30, 2021', got {r[1]!r}") from None
        values = ["" if v.strip().lower() == "nan" else v.strip() for v in r[3:]]
        for field, text, column in zip(fields, values, EXCESS_HEADER[3:]):
            if text == "" and not field["constraints"].get("required"):
                continue
            ok = INTEGER.fullmatch(text) if field["type"] == "integer" else _finite(text)
            if not ok:
                kind = "an integer" if field["type"] == "integer" else "a finite number"
                raise BuildError(f"{where}: column '{column}' must be {kind}, got {text!r}")
        out.append([iso3, country, EXCESS_TYPES[r[2]], until, *values])
    return sorted(out, key=lambda r: r[0]), dropped


def _finite(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


EXCESS_TABLES = {
    # resource name -> (raw file, title, what the table is)
    "excess_mortality": (
        EXCESS_LOCAL, "COVID-19 excess mortality by country (World Mortality Dataset, updated analysis)",
        "The authors' continuously updated table (repository dkobak/excess-mortality), with data up to the "
        "last date each country's all-cause death counts were available (column data_until: mostly late "
        "2021 or January 2022). Use it for the latest figures; cite excess_mortality_elife2021 for the "
        "paper's own findings."),
    "excess_mortality_elife2021": (
        EXCESS_ELIFE_LOCAL, "COVID-19 excess mortality by country: the table published with Karlinsky & Kobak "
        "(eLife 2021)",
        "The table published with the eLife article itself (103 countries and territories in the source; "
        "data frozen on 3 July 2021 from World Mortality Dataset commit 0aa90df, repository "
        "dkobak/excess-mortality, folder elife2021/export). Use it where a statement is about the paper's "
        "findings; excess_mortality is the authors' later, updated analysis."),
}


def excess_resource(name: str, rows, dropped: list[str], entry: dict, retrieved: str, source_rows: int) -> dict:
    _, title, what = EXCESS_TABLES[name]
    until = sorted(r[3] for r in rows)
    return {
        "name": name, "path": f"{name}.csv", "profile": "tabular-data-resource",
        "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
        "title": title,
        "group": "covid",
        "description": (
            f"{what} Excess deaths during the COVID-19 pandemic against a baseline extrapolated linearly from "
            "each country's 2015-2019 trend (Karlinsky & Kobak 2021); reported COVID-19 deaths (and so the "
            "undercount ratio) use the WHO's counts. One row per country, keyed by ISO3 through an explicit "
            "name-to-code mapping. Countries without all-cause death registration (much of sub-Saharan Africa "
            "and South Asia) are absent: the gap is itself a finding, not a sign that excess mortality there "
            "was low. Negative excess deaths are real (fewer deaths than expected). "
            f"{source_rows} rows in the source; left out because they do not map to a country row: "
            f"{'; '.join(dropped) if dropped else 'none'}."),
        "sources": [
            {"title": "Karlinsky A, Kobak D (2021). Tracking excess mortality across countries during the "
                      "COVID-19 pandemic with the World Mortality Dataset. eLife 10:e69336",
             "organisation": "Karlinsky & Kobak", "path": "https://doi.org/10.7554/eLife.69336"},
            {"title": f"dkobak/excess-mortality, {entry['source_path']} (the table; the repository has no "
                      "licence file)", "organisation": "Dmitry Kobak",
             "path": f"https://github.com/dkobak/excess-mortality/blob/{entry['commit']}/{entry['source_path']}"},
            {"title": "World Mortality Dataset (all-cause deaths)", "organisation": "Ariel Karlinsky",
             "path": "https://github.com/akarlinsky/world_mortality"},
            {"title": "WHO COVID-19 dashboard (reported COVID-19 deaths)", "organisation": "World Health "
             "Organization", "path": "https://data.who.int/dashboards/covid19"},
        ],
        "licenses": EXCESS_LICENSES,
        "license_note": (
            "The eLife article is CC BY 4.0 and the World Mortality Dataset is MIT-licensed; the repository "
            "the table comes from (dkobak/excess-mortality) has no licence file, so the table is used here "
            "as the published results of a CC BY 4.0 article, with attribution to its authors, and the "
            "reported COVID-19 deaths in it are credited to the WHO."),
        "attribution": "Karlinsky & Kobak (2021), eLife 10:e69336 (article CC BY 4.0); table from "
                       "github.com/dkobak/excess-mortality (no licence file); all-cause deaths from the World "
                       "Mortality Dataset (MIT); reported COVID-19 deaths from the World Health Organization.",
        "source_repo": entry["source_repo"], "source_path": entry["source_path"],
        "source_commit": entry["commit"], "source_sha256": entry["sha256"], "retrieved": retrieved,
        "unmapped": dropped,
        "coverage": {"countries": len(rows), "rows": len(rows),
                     "date_min": until[0] if until else None, "date_max": until[-1] if until else None},
        "schema": excess_schema(name),
    }


# --- Medical-education systems (hand-curated, committed in data/) ---------------------------------

MEDED_FILE = "medical_education_systems.csv"
URL = r"https?://\S+"
MEDED_CHECKED = "2026-12-07"  # when the cited pages were last consulted; update with the table
COURSE_LICENSE = {"name": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0 (course content)",
                  "path": "https://creativecommons.org/licenses/by/4.0/"}


def meded_schema() -> dict:
    text = lambda name, title, **rules: {"name": name, "type": "string", "title": title,  # noqa: E731
                                         "constraints": rules}
    return {
        "fields": [
            ISO3_FIELD,
            text("country", "Country", required=True),
            text("entry_route", "Entry route: undergraduate (from secondary school), graduate (after a "
                 "first degree) or both", enum=["undergraduate", "graduate", "both"]),
            {"name": "programme_years", "type": "number", "title": "Nominal length of the primary medical "
             "programme (years, excluding any internship after graduation unless noted)", "unit": "years",
             "constraints": {"minimum": 3, "maximum": 8}},
            text("degree", "Qualification awarded"),
            text("licensing_exam", "National licensing examination for the country's own graduates"),
            text("accreditation_body", "Body that accredits or approves medical programmes"),
            {"name": "wfme_recognised", "type": "boolean", "title": "Accreditor holds WFME Recognition Status "
             "(empty: not verified)"},
            text("sources", "Citations for the row: one or more URLs separated by a space", required=True,
                 pattern=f"{URL}( {URL})*"),
            text("wfme_source", "Citation for the WFME status", pattern=URL),
            text("notes", "Caveats, dates and what the sources say"),
        ],
        "primaryKey": ["iso3"],
        "foreignKeys": [{"fields": "iso3", "reference": {"resource": "countries", "fields": "iso3"}}],
    }


def check_meded(path: Path, known: set[str]) -> list[dict]:
    """Validate the hand-curated table (no citation, no row) before it enters the package."""
    fields = meded_schema()["fields"]
    header = [f["name"] for f in fields]
    rows, seen = [], set()
    for line, cells in read_raw(path, header):
        row = dict(zip(header, cells))
        rows.append(row)
        where = f"{path}, row {line}"
        if row["iso3"] not in known:
            raise BuildError(f"{where}: iso3 {row['iso3']!r} is not in the country table")
        if row["iso3"] in seen:
            raise BuildError(f"{where}: duplicate iso3 {row['iso3']}")
        seen.add(row["iso3"])
        if "scribd.com" in row["sources"] + row["wfme_source"]:
            raise BuildError(f"{where}: a Scribd upload is not a citable source; cite the regulator, WFME's own "
                             "list or a peer-reviewed article, or leave the cell empty")
        if not re.fullmatch(f"{URL}( {URL})*", row["sources"]):
            raise BuildError(f"{where}: every row needs a citation URL in 'sources' (no citation, no row)")
        if row["wfme_recognised"] and not row["wfme_source"]:
            raise BuildError(f"{where}: wfme_recognised is set but wfme_source is empty; cite it or leave both "
                             "empty")
        if row["entry_route"] not in ("", "undergraduate", "graduate", "both"):
            raise BuildError(f"{where}: entry_route must be undergraduate, graduate or both")
        if row["programme_years"] and not _finite(row["programme_years"]):
            raise BuildError(f"{where}: programme_years must be a number of years (e.g. 6 or 5.5), got "
                             f"{row['programme_years']!r}")
        if row["programme_years"] and not 3 <= float(row["programme_years"]) <= 8:
            raise BuildError(f"{where}: programme_years {row['programme_years']} outside 3..8")
        if row["wfme_recognised"] not in ("", "true", "false"):
            raise BuildError(f"{where}: wfme_recognised must be true, false or empty, got "
                             f"{row['wfme_recognised']!r}")
    if not rows:
        raise BuildError(f"{path}, row 2: no data rows")
    return rows


def meded_resource(rows: list[dict], checked: str) -> dict:
    return {
        "name": "medical_education_systems", "path": MEDED_FILE, "profile": "tabular-data-resource",
        "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
        "title": "Medical-education systems: entry route, length, degree, licensing and accreditation",
        "group": "medical-education",
        "description": (
            "A small hand-curated table, one row per country, covering every World Bank income group and "
            "world region. Each row cites its sources (the regulator, accreditor, a government page or a "
            "peer-reviewed article; India's row rests only on a press report of a ministry release, so its "
            "cells other than the regulator's name are empty, and the notes say where a source is a copy). "
            "Uploads to document-sharing sites (Scribd) are not accepted as citations. A cell is left empty "
            "where no cited source confirms it, so an empty cell means 'not verified', not 'none'. Facts such "
            "as WFME recognition terms change: the notes give dates, and the cited pages were last consulted "
            f"on {checked}. This file is the single source: edit "
            "it by hand (with a citation) and run `iome data build`, which validates it."),
        "sources": [{"title": "Per-row citations in the 'sources' and 'wfme_source' columns",
                     "organisation": "Internationalizing Medical Education course"}],
        "licenses": [COURSE_LICENSE],
        "attribution": "Compiled by the Internationalizing Medical Education course (CC BY 4.0) from the "
                       "sources cited in each row.",
        "curated": True, "retrieved": checked,
        "coverage": {"countries": len(rows), "rows": len(rows)},
        "schema": meded_schema(),
    }


def countries_resource(countries: list[dict], retrieved: str) -> dict:
    hdx_version = version("hdx-python-country")
    return {
        "name": "countries", "path": "countries.csv", "profile": "tabular-data-resource", "format": "csv",
        "mediatype": "text/csv", "encoding": "utf-8", "title": "Countries and territories",
        "description": "ISO3 code, English name, UN M49 region and sub-region, World Bank income group and "
                       "names in French, Spanish, Russian, Chinese and Arabic (the UN terminology short name, "
                       "or the UN M49 name for territories that have none). Income groups: "
                       f"{INCOME_VINTAGE} `iome data refresh` replaces them with the World Bank's current "
                       "classification. "
                       f"{sum(1 for c in countries if not c['income_group'])} territories have no income group.",
        "sources": [{"title": "OCHA HDX Countries & Territories Taxonomy (bundled in hdx-python-country)",
                     "organisation": "UN OCHA, Humanitarian Data Exchange",
                     "path": "https://pypi.org/project/hdx-python-country/"}],
        "licenses": [{"name": "MIT", "title": "MIT License (hdx-python-country)",
                      "path": "https://opensource.org/license/mit"}],
        "attribution": f"UN OCHA HDX country taxonomy, hdx-python-country {hdx_version} (MIT).",
        "source_package": f"hdx-python-country=={hdx_version}", "source_path": f"hdx/location/{TAXONOMY}",
        "income_group_vintage": "FY24",
        "income_group_source": INCOME_VINTAGE,
        "income_group_evidence": INCOME_VINTAGE_SOURCES,
        "retrieved": retrieved, "coverage": {"countries": len(countries), "rows": len(countries)},
        "schema": countries_schema(),
    }


def build(raw: Path, out: Path, progress=None, curated: Path | None = None) -> list[str]:
    """Build every tidy file and datapackage.json into a staging folder, validate it, then swap it in.

    Returns notes for the build report. On any error (BuildError naming file, row and rule) ``out`` is
    left exactly as it was: nothing is written there until the whole package has been built and has
    passed the loader's checks and frictionless.
    """
    raw, out = Path(raw), Path(out)
    manifest = read_manifest(raw)
    # The hand-curated table lives in the repository's data/ (its single source); read it before
    # anything else, so a build into data/ itself reads the committed copy.
    curated = Path(curated) if curated else Path(__file__).resolve().parents[2] / "data"
    source = curated / MEDED_FILE
    if not source.is_file():
        raise BuildError(f"{source}: hand-curated table not found (pass --curated pointing at the folder "
                         "holding it, normally the repository's data/)")
    with staging(out, keep=["README.md"]) as staged:
        report = _build_into(raw, manifest, staged, source, progress)
        publish(staged, out)
    return report


def _build_indicators(raw: Path, manifest: dict, out: Path, steps, known: set[str], resources_: list) -> list[str]:
    report = []
    for ind in steps:
        local = f"wdi/datapoints/{ind.ddf_file}"
        path = verified(raw, manifest, local)
        lines = read_raw(path, ["geo", "time", ind.code.lower().replace(".", "_")])
        rows, excluded = tidy_rows(ind, ((line, *r) for line, r in lines), known, path)
        if not rows:
            raise BuildError(f"{path}, row 2: no usable rows for {ind.code}")
        write_csv(out / "wdi" / f"{ind.name}.csv", ["iso3", "year", "value"], rows)
        entry = manifest[local]
        resources_.append(indicator_resource(ind, rows, {
            "source_repo": entry["source_repo"], "source_path": entry["source_path"],
            "source_commit": entry["commit"], "source_sha256": entry["sha256"],
            "retrieved": manifest_date(raw, manifest, local)}, excluded))
        if excluded:
            report.append(f"{ind.name}: {len(excluded)} implausible value(s) kept out of data/ (listed in "
                          "datapackage.json under 'excluded')")
    return report


def _build_into(raw: Path, manifest: dict, out: Path, meded_source: Path, progress) -> list[str]:
    # Dates come from MANIFEST.csv's `retrieved` column (when each raw copy was obtained), never from
    # file timestamps: a rebuild is byte-identical on any day and from any copy of the raw files.
    retrieved = manifest_date(raw, manifest, "wdi/ddf--entities--geo--global.csv")
    report: list[str] = []

    countries = country_rows()
    known = {c["iso3"] for c in countries}
    header = list(countries[0])
    write_csv(out / "countries.csv", header, [[c[h] for h in header] for c in countries])
    resources_ = [countries_resource(countries, retrieved)]

    steps = INDICATORS if progress is None else progress(INDICATORS, description="WDI indicators")
    with closing_steps(steps):
        report += _build_indicators(raw, manifest, out, steps, known, resources_)

    for name, (local, _, _) in EXCESS_TABLES.items():
        path = verified(raw, manifest, local)
        rows, dropped = excess_rows(path, known, name)
        write_csv(out / f"{name}.csv", [f["name"] for f in excess_schema(name)["fields"]], rows)
        source_rows = len(rows) + len(dropped)
        resources_.append(excess_resource(name, rows, dropped, manifest[local],
                                          manifest_date(raw, manifest, local), source_rows))
        report.append(f"{name}: {len(rows)} countries; left out (no country row): "
                      f"{', '.join(dropped) if dropped else 'none'}")

    rows = check_meded(meded_source, known)
    (out / MEDED_FILE).write_bytes(meded_source.read_bytes())
    resources_.append(meded_resource(rows, MEDED_CHECKED))
    report.append(f"medical_education_systems: {len(rows)} hand-curated rows validated")

    write_package(out, resources_)
    return report


@contextmanager
def closing_steps(steps):
    """Close a progress generator as soon as the loop over it ends, also on an error, so its display is
    finished before the error is reported (not at some later garbage collection)."""
    try:
        yield steps
    finally:
        close = getattr(steps, "close", None)
        if close is not None:
            close()


# --- staging, validation and the swap (shared by `iome data build` and `iome data refresh`) -------

@contextmanager
def staging(target: Path, keep: list[str] | None = None, copy_all: bool = False):
    """A scratch folder beside ``target`` to build into (removed afterwards, whatever happens).

    ``copy_all`` starts from a full copy of ``target`` (refresh rewrites a few files); otherwise only the
    files named in ``keep`` are carried over (a build writes everything else itself).
    """
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".data-staging-", dir=target.parent))
    try:
        staged = work / "data"
        if copy_all and target.is_dir():
            shutil.copytree(target, staged)
        else:
            staged.mkdir()
            for name in keep or []:
                if (target / name).is_file():
                    shutil.copy2(target / name, staged / name)
        yield staged
    finally:
        shutil.rmtree(work, ignore_errors=True)


def validate(folder: Path, names: list[str] | None = None) -> None:
    """The checks every published data folder passes: the loader's (iome.data.load) and frictionless's
    validation of the package, on every resource or only on ``names`` (and the country table their
    foreign keys point to: a refresh re-checks what it rewrote). Raises BuildError naming file, row, rule."""
    from frictionless import FrictionlessException, Package, system

    from .data import DataError, load, resource_names

    names = resource_names(folder) if names is None else ["countries", *[n for n in names if n != "countries"]]
    try:
        for name in names:
            load(name, folder)
    except DataError as exc:
        raise BuildError(str(exc).split(". Rebuild it with")[0]) from None
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    descriptor["resources"] = [r for r in descriptor["resources"] if r["name"] in names]
    try:
        with system.use_context(trusted=True):
            report = Package(descriptor, basepath=str(folder)).validate()
    except FrictionlessException as exc:
        raise BuildError(f"{folder / 'datapackage.json'}: frictionless: {exc.error.message}") from None
    if not report.valid:
        task = next((t for t in report.tasks if not t.valid), None)
        err = (task.errors if task else report.errors)[0]
        row = getattr(err, "row_number", None)
        where = folder / task.resource.path if task and task.resource else folder / "datapackage.json"
        raise BuildError(f"{where}{f', row {row}' if row else ''}: frictionless: {err.message}")


def publish(staged: Path, target: Path, names: list[str] | None = None) -> None:
    """Validate ``staged`` (every resource, or ``names``) and put it in place of ``target`` with two renames
    (the old folder is moved aside first and put back if the second fails). ``target`` is untouched unless
    all is well."""
    validate(staged, names)
    target = Path(target).resolve()
    old = staged.parent / "previous"
    if target.exists():
        os.replace(target, old)
    try:
        os.replace(staged, target)
    except OSError:
        if old.exists():
            os.replace(old, target)
        raise


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

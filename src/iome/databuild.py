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


# --- COVID-19 excess mortality (Karlinsky & Kobak 2021) --------------------------------------------

EXCESS_LOCAL = "world-mortality/excess-mortality.csv"
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


def excess_schema() -> dict:
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
            num("covid_deaths", "Reported COVID-19 deaths over the same period", "deaths", "integer", 0, True),
            num("excess_deaths", "Excess deaths (observed minus expected; negative means fewer deaths "
                "than expected)", "deaths", "integer", None, True),
            num("excess_deaths_sd", "Standard deviation of the excess-death estimate", "deaths", "integer", 0,
                True),
            num("t_statistic", "t-statistic: |excess deaths| divided by its standard deviation", "ratio",
                minimum=0, required=True),
            num("undercount_ratio", "Undercount ratio: excess deaths / reported COVID-19 deaths (empty where "
                "the source gives none)", "ratio", minimum=0),
            num("excess_per_100k", "Excess deaths per 100,000 population", "per 100,000 people", required=True),
            num("excess_pct_baseline", "Excess deaths as % of the annual baseline (expected) deaths",
                "% of annual baseline deaths", required=True),
        ],
        "primaryKey": ["iso3"],
        "foreignKeys": [{"fields": "iso3", "reference": {"resource": "countries", "fields": "iso3"}}],
    }


def excess_rows(path: Path, known: set[str]) -> tuple[list[list[str]], list[str]]:
    """Tidy rows keyed by ISO3 and the source names left out (with the reason)."""
    with path.open(encoding="utf-8") as fh:
        reader = csv.reader(fh)
        head = next(reader)
        if head != EXCESS_HEADER:
            raise BuildError(f"{path}, row 1: unexpected header {head}; expected {EXCESS_HEADER}")
        out, dropped = [], []
        for line, r in enumerate(reader, start=2):
            name = r[0]
            if name not in EXCESS_ISO3:
                raise BuildError(f"{path}, row {line}: country name {name!r} has no entry in EXCESS_ISO3 "
                                 "(src/iome/databuild.py); add its ISO3 code (or None) there")
            iso3 = EXCESS_ISO3[name]
            if iso3 is None:
                dropped.append(f"{name} (no ISO3 code)")
                continue
            if iso3 not in known:
                dropped.append(f"{name} ({iso3}, not in the country table)")
                continue
            if r[2] not in EXCESS_TYPES:
                raise BuildError(f"{path}, row {line}: unknown data type {r[2]!r}")
            until = dt.datetime.strptime(r[1], "%b %d, %Y").date().isoformat()
            values = ["" if v.strip().lower() == "nan" else v for v in r[3:]]
            out.append([iso3, name, EXCESS_TYPES[r[2]], until, *values])
    return sorted(out, key=lambda r: r[0]), dropped


def excess_resource(rows, dropped: list[str], entry: dict, retrieved: str) -> dict:
    until = sorted(r[3] for r in rows)
    return {
        "name": "excess_mortality", "path": "excess_mortality.csv", "profile": "tabular-data-resource",
        "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
        "title": "COVID-19 excess mortality by country (World Mortality Dataset)",
        "group": "covid",
        "description": (
            "Excess deaths during the COVID-19 pandemic, up to the last date each country's all-cause death "
            "counts were available (column data_until: mostly late 2021 or January 2022), against a "
            "baseline extrapolated linearly from each country's 2015-2019 trend (Karlinsky & Kobak 2021). "
            "One row per country, keyed by ISO3 through an explicit name-to-code mapping. Countries without "
            "all-cause death registration (much of sub-Saharan Africa and South Asia) are absent: the gap is "
            "itself a finding, not a sign that excess mortality there was low. Negative excess deaths are "
            "real (fewer deaths than expected). Source rows left out because they do not map to a country "
            f"row: {'; '.join(dropped) if dropped else 'none'}."),
        "sources": [
            {"title": "Karlinsky A, Kobak D (2021). Tracking excess mortality across countries during the "
                      "COVID-19 pandemic with the World Mortality Dataset. eLife 10:e69336",
             "organisation": "Karlinsky & Kobak", "path": "https://doi.org/10.7554/eLife.69336"},
            {"title": "World Mortality Dataset", "organisation": "Ariel Karlinsky",
             "path": "https://github.com/akarlinsky/world_mortality"},
        ],
        "licenses": EXCESS_LICENSES,
        "attribution": "Karlinsky & Kobak (2021), eLife 10:e69336 (CC BY 4.0), table from "
                       "github.com/dkobak/excess-mortality, computed from the World Mortality Dataset (MIT).",
        "source_repo": entry["source_repo"], "source_path": entry["source_path"],
        "source_commit": entry["commit"], "source_sha256": entry["sha256"], "retrieved": retrieved,
        "unmapped": dropped,
        "coverage": {"countries": len(rows), "rows": len(rows),
                     "date_min": until[0] if until else None, "date_max": until[-1] if until else None},
        "schema": excess_schema(),
    }


# --- Medical-education systems (hand-curated, committed in data/) ---------------------------------

MEDED_FILE = "medical_education_systems.csv"
URL = r"https?://\S+"
MEDED_CHECKED = "2026-11-25"  # when the cited pages were last consulted; update with the table
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
    import re
    fields = meded_schema()["fields"]
    header = [f["name"] for f in fields]
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != header:
            raise BuildError(f"{path}, row 1: columns must be {header}, found {reader.fieldnames}")
        rows = list(reader)
    seen = set()
    for line, row in enumerate(rows, start=2):
        where = f"{path}, row {line}"
        if row["iso3"] not in known:
            raise BuildError(f"{where}: iso3 {row['iso3']!r} is not in the country table")
        if row["iso3"] in seen:
            raise BuildError(f"{where}: duplicate iso3 {row['iso3']}")
        seen.add(row["iso3"])
        if not re.fullmatch(f"{URL}( {URL})*", row["sources"]):
            raise BuildError(f"{where}: every row needs a citation URL in 'sources' (no citation, no row)")
        if row["wfme_recognised"] and not row["wfme_source"]:
            raise BuildError(f"{where}: wfme_recognised is set but wfme_source is empty; cite it or leave both "
                             "empty")
        if row["entry_route"] not in ("", "undergraduate", "graduate", "both"):
            raise BuildError(f"{where}: entry_route must be undergraduate, graduate or both")
        if row["programme_years"] and not 3 <= float(row["programme_years"]) <= 8:
            raise BuildError(f"{where}: programme_years {row['programme_years']} outside 3..8")
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
            "peer-reviewed article; one row, India, rests on a press report of a ministry release and says "
            "so). A cell is left empty where no cited source confirms it, so an empty cell means 'not "
            "verified', not 'none'. Facts such as WFME recognition terms change: the notes give dates, and "
            f"the table was compiled from the cited pages on {checked}. This file is the single source: edit "
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


def build(raw: Path, out: Path, progress=None, curated: Path | None = None) -> list[str]:
    """Write every tidy file and datapackage.json; return notes for the build report."""
    raw, out = Path(raw), Path(out)
    manifest = read_manifest(raw)
    # Dates come from MANIFEST.csv's `retrieved` column (when each raw copy was obtained), never from
    # file timestamps: a rebuild is byte-identical on any day and from any copy of the raw files.
    retrieved = manifest_date(raw, manifest, "wdi/ddf--entities--geo--global.csv")
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
                       "names in French, Spanish, Russian, Chinese and Arabic (the UN terminology short name, "
                       "or the UN M49 name for territories that have none). The package does not state which "
                       "fiscal year's World Bank income classification it reflects, so group membership may "
                       "lag the World Bank's current list by a year or more; "
                       f"{sum(1 for c in countries if not c['income_group'])} territories have no income group.",
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
            "source_commit": entry["commit"], "source_sha256": entry["sha256"],
            "retrieved": manifest_date(raw, manifest, local)}))

    path = verified(raw, manifest, EXCESS_LOCAL)
    rows, dropped = excess_rows(path, known)
    write_csv(out / "excess_mortality.csv", [f["name"] for f in excess_schema()["fields"]], rows)
    resources_.append(excess_resource(rows, dropped, manifest[EXCESS_LOCAL],
                                      manifest_date(raw, manifest, EXCESS_LOCAL)))
    report.append(f"excess_mortality: {len(rows)} countries; left out (no country row): "
                  f"{', '.join(dropped) if dropped else 'none'}")

    # The hand-curated table lives in the repository's data/ (its single source); copy it when
    # building elsewhere, and validate it either way.
    curated = Path(curated) if curated else Path(__file__).resolve().parents[2] / "data"
    source = curated / MEDED_FILE
    if not source.is_file():
        raise BuildError(f"{source}: hand-curated table not found (pass --curated pointing at the folder "
                         "holding it, normally the repository's data/)")
    rows = check_meded(source, known)
    if source.resolve() != (out / MEDED_FILE).resolve():
        (out / MEDED_FILE).write_bytes(source.read_bytes())
    resources_.append(meded_resource(rows, MEDED_CHECKED))
    report.append(f"medical_education_systems: {len(rows)} hand-curated rows validated")

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

"""The course package's own generated text in the course language (``course.yml``: ``language``).

Strings that the package writes into the book and the charts (area banners, "Learning outcomes",
chart titles, captions and descriptions, "(home)") go through Python's :mod:`gettext`. The catalogue
of a language is ``src/iome/locales/<lang>/LC_MESSAGES/iome.po`` (a plain PO file, compiled in memory
with Babel, Sphinx's own dependency): a school adds a language by adding a catalogue, not by copying
code. Country names come from ``data/countries.csv`` (``name_<lang>`` columns).

:func:`untranslated` is the catalogue-coverage check used for the package and the book's
``locales/<lang>/LC_MESSAGES/*.po``: every entry needs a translation that is not marked fuzzy.
"""

from __future__ import annotations

import gettext as _gettext
import re
import io
from functools import lru_cache
from pathlib import Path

LOCALES = Path(__file__).parent / "locales"
DOMAIN = "iome"


def catalogue_languages() -> list[str]:
    """Languages with a catalogue of the package's strings."""
    return sorted(p.parents[1].name for p in LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def _read_po(path: Path):
    from babel.messages.pofile import read_po
    with open(path, "rb") as fh:
        return read_po(fh)


@lru_cache(maxsize=8)
def translations(language: str) -> _gettext.NullTranslations:
    """gettext translations for ``language`` (English: the source strings themselves)."""
    po = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == "en" or not po.is_file():
        return _gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    buffer = io.BytesIO()
    write_mo(buffer, _read_po(po))
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def language() -> str:
    from .settings import SettingsError, load_course
    try:
        return load_course().language
    except SettingsError:
        return "en"


def _(message: str) -> str:
    """``message`` in the course language."""
    return translations(language()).gettext(message)


def untranslated(po_file: Path) -> list[str]:
    """Source strings of a catalogue that have no translation (empty or fuzzy): coverage check."""
    return [m.id if isinstance(m.id, str) else m.id[0] for m in _read_po(Path(po_file))
            if m.id and (m.fuzzy or not (m.string if isinstance(m.string, str) else all(m.string)))]


def catalogue_gaps(locale_dir: Path, language: str, templates: Path | None = None) -> dict[Path, list[str]]:
    """Every ``<locale_dir>/<language>/LC_MESSAGES/**/*.po`` with its untranslated entries (only the
    files that have some). With ``templates`` (a folder of .pot files), a template whose catalogue is
    missing, or whose strings the catalogue lacks, counts too. Empty: every string is translated."""
    folder = Path(locale_dir) / language / "LC_MESSAGES"
    gaps = {po: untranslated(po) for po in sorted(folder.rglob("*.po"))}
    for pot in sorted(Path(templates).rglob("*.pot")) if templates else []:
        po = folder / pot.relative_to(templates).with_suffix(".po")
        done = set() if not po.is_file() else {m.id for m in _read_po(po) if m.id and m.string and not m.fuzzy}
        lacking = [m.id for m in _read_po(pot) if m.id and m.id not in done]
        gaps[po] = list(dict.fromkeys([*gaps.get(po, []), *lacking]))
    return {po: missing for po, missing in gaps.items() if missing}


def all_gaps(language: str) -> dict[Path, list[str]]:
    """Catalogue coverage of a language for the package and the book (templates in locales/pot/)."""
    from .settings import repo_root
    root = repo_root()
    return {**catalogue_gaps(LOCALES, language, templates=_package_templates()),
            **catalogue_gaps(root / "locales", language, templates=root / "locales" / "pot")}


def _package_templates() -> Path | None:
    return LOCALES if (LOCALES / f"{DOMAIN}.pot").is_file() else None


def country_names(lang: str | None = None, folder: Path | None = None) -> dict[str, str]:
    """ISO3 -> country name in the course language (English where the data has no name)."""
    from . import data
    lang = lang or language()
    table = data.load("countries", folder)
    names = table.set_index("iso3")["name"]
    column = f"name_{lang}"
    if lang != "en" and column in table:
        names = table.set_index("iso3")[column].fillna(names)
    return names.to_dict()


def join_names(names: list[str]) -> str:
    """'A', 'A and B', 'A, B and C' in the course language."""
    names = list(names)
    if len(names) < 2:
        return "".join(names)
    return _("{first} and {last}").format(first=", ".join(names[:-1]), last=names[-1])


def _dynamic_messages() -> list[tuple[str, str]]:
    """Strings translated through a variable (``_(AREAS[area])``): (message, where)."""
    from . import chapters, charts, data
    out = [(v, "src/iome/chapters.py") for d in (chapters.AREAS, chapters.AREA_TAGLINE, chapters.GOALS)
           for v in d.values()]
    out += [(g, "src/iome/charts.py") for g in (*charts.INCOME_COLORS, *charts.FIELD_TITLES.values())]
    resources = data.package()["resources"]
    out += [(r["title"], "data/datapackage.json") for r in resources if r.get("title")]
    out += [(r["unit"], "data/datapackage.json") for r in resources if r.get("unit")]
    out += [(charts.source_template(r["name"])[0], "data/datapackage.json") for r in resources]
    return out


def extract(pot: Path | None = None) -> Path:
    """Write the package's template catalogue (``src/iome/locales/iome.pot``) from its ``_()`` calls
    and the dynamic strings (areas, goals, income groups, dataset titles)."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import write_po
    package = Path(__file__).parent
    catalog = Catalog(project="iome", fuzzy=False)
    for filename, lineno, message, _comments, _context in extract_from_dir(
            package, method_map=[("*.py", "python")], keywords={"_": None}):
        catalog.add(message, locations=[(f"src/iome/{filename}", lineno)])
    for message, where in _dynamic_messages():
        catalog.add(message, locations=[(where, 0)])
    pot = pot or LOCALES / f"{DOMAIN}.pot"
    pot.parent.mkdir(parents=True, exist_ok=True)
    with open(pot, "wb") as fh:
        write_po(fh, catalog, omit_header=True, sort_output=True, include_lineno=False)
    return pot


def update(language: str, pot: Path | None = None) -> Path:
    """Merge the template into ``locales/<language>/LC_MESSAGES/iome.po`` (new strings come in empty,
    so the coverage check shows them; translations of unchanged strings are kept)."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po
    template = _read_po(pot or LOCALES / f"{DOMAIN}.pot")
    po = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    catalog = _read_po(po) if po.is_file() else Catalog(locale=language, project="iome")
    catalog.update(template, no_fuzzy_matching=True)
    po.parent.mkdir(parents=True, exist_ok=True)
    with open(po, "wb") as fh:
        write_po(fh, catalog, omit_header=False, sort_output=True, include_lineno=False, ignore_obsolete=True)
    translations.cache_clear()
    return po


# ---- the book's and the exercises' own text: catalogues in <repo>/locales/ ------------------------
# Chapters and exercise notebooks mark what a reader sees in their code (chart titles, axis titles,
# computed sentences, visible-test messages) with tr("..."): `iome i18n extract` puts those strings in
# the page's own template (locales/pot/book/...; exercises: locales/pot/exercises/<name>.pot), and
# tr() looks them up in every catalogue of the course language (then the package's, then English).

TR_CALL = re.compile(r"""\btr\(\s*(?P<q>"|')(?P<s>(?:\\.|(?!(?P=q)).)*)(?P=q)\s*\)""")  # a literal only
CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.M | re.S)
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.S)


def _book_po_files(language: str) -> tuple[Path, ...]:
    from .settings import SettingsError, repo_root
    try:
        folder = repo_root() / "locales" / language / "LC_MESSAGES"
    except SettingsError:
        return ()
    return tuple(sorted(folder.rglob("*.po"))) if folder.is_dir() else ()


@lru_cache(maxsize=8)
def _book_messages(files: tuple[tuple[Path, float], ...]) -> dict[str, str]:
    out = {}
    for path, _mtime in files:
        for m in _read_po(path):
            if m.id and isinstance(m.id, str) and m.string and not m.fuzzy:
                out.setdefault(m.id, m.string)
    return out


def book_messages(language: str) -> dict[str, str]:
    """Every translated string of the book's and the exercises' catalogues of ``language``."""
    if language == "en":
        return {}
    return _book_messages(tuple((p, p.stat().st_mtime) for p in _book_po_files(language)))


def tr(message: str) -> str:
    """``message`` (text a chapter or an exercise shows from its code) in the course language."""
    lang = language()
    if lang == "en":
        return message
    found = book_messages(lang).get(message)
    return found if found else translations(lang).gettext(message)


def _literal(quoted: str, quote: str) -> str:
    import ast
    return ast.literal_eval(quote + quoted + quote)


def code_messages(source: str) -> list[str]:
    """The tr("...") strings of a piece of Python (hidden tests left out: students never read them)."""
    return [_literal(m["s"], m["q"]) for m in TR_CALL.finditer(HIDDEN.sub("", source))]


def markdown_blocks(text: str) -> list[str]:
    """A markdown cell cut at blank lines (a fenced block stays whole): the units translators see."""
    blocks, current, fenced = [], [], False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        if not line.strip() and not fenced:
            if current:
                blocks.append("\n".join(current))
            current = []
        else:
            current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def _student_cells(nb):
    """Cells a student reads: everything but solution cells (model answers are never translated into
    the release; nbgrader replaces them with its stub)."""
    return [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("solution")]


def notebook_messages(nb) -> list[str]:
    """Template strings of an exercise notebook: markdown blocks and tr() strings, in order."""
    out = []
    for cell in _student_cells(nb):
        out += markdown_blocks(cell.source) if cell.cell_type == "markdown" else code_messages(cell.source)
    return list(dict.fromkeys(m for m in out if m.strip()))


def translate_notebook(nb, language: str, messages: dict[str, str] | None = None):
    """The notebook with every catalogued markdown block and tr() string in ``language`` (in place).
    A code string is rewritten inside its tr() call, so the released notebook reads Spanish with no
    catalogue at hand; what is not translated stays English."""
    messages = book_messages(language) if messages is None else messages
    if not messages:
        return nb

    def code(m):
        text = messages.get(_literal(m["s"], m["q"]))
        return f"tr({text!r})" if text else m[0]

    for cell in _student_cells(nb):
        if cell.cell_type == "markdown":
            blocks = markdown_blocks(cell.source)
            if any(b in messages for b in blocks):
                cell.source = "\n\n".join(messages.get(b, b) for b in blocks)
        else:
            cell.source = TR_CALL.sub(code, cell.source)
    nb.metadata["iome"] = {**nb.metadata.get("iome", {}), "language": language}
    return nb


def write_template(path: Path, messages: list[tuple[str, str]]) -> None:
    """A .pot of (message, location) pairs, sorted as given."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po
    catalog = Catalog(project="Internationalizing Medical Education", fuzzy=False)
    for message, where in messages:
        catalog.add(message, locations=[(where, 0)])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        write_po(fh, catalog, width=0, omit_header=True, include_lineno=False)


def append_to_template(pot: Path, messages: list[tuple[str, str]]) -> None:
    """Add code strings to a page's template (written by Sphinx's gettext builder)."""
    from babel.messages.pofile import write_po
    catalog = _read_po(pot)
    for message, where in messages:
        if message not in catalog:
            catalog.add(message, locations=[(where, 0)])
    with open(pot, "wb") as fh:
        write_po(fh, catalog, width=0, include_lineno=False)


def book_templates(root: Path, gettext_out: Path) -> Path:
    """Write ``locales/pot/`` (committed; translators start from it): the pages' templates from Sphinx's
    gettext builder plus each page's tr() strings, and one template per exercise
    (``exercises/<name>.pot``: its markdown blocks and tr() strings). The book's copies of the exercises
    (book/exercises/) are left out: they are the already translated release."""
    import shutil

    import nbformat
    pot = root / "locales" / "pot"
    shutil.rmtree(pot, ignore_errors=True)
    for path in gettext_out.rglob("*.pot"):
        rel = path.relative_to(gettext_out)
        if rel.parts[:2] == ("book", "exercises"):
            continue
        target = pot / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    for page in sorted((root / "book").rglob("*.md")):
        rel = page.relative_to(root)
        if rel.parts[:2] == ("book", "exercises"):
            continue
        found = [m for block in CODE_CELL.findall(page.read_text(encoding="utf-8")) for m in code_messages(block)]
        target = (pot / rel).with_suffix(".pot")
        if found and target.is_file():
            append_to_template(target, [(m, rel.as_posix()) for m in found])
        elif found:
            write_template(target, [(m, rel.as_posix()) for m in found])
    config = site_texts(root)
    if config:
        write_template(pot / "config.pot", [(m, "_config.yml") for m in config])
    for source in sorted((root / "exercises" / "source").glob("*/*.ipynb")):
        rel = source.relative_to(root).as_posix()
        messages = notebook_messages(nbformat.read(source, as_version=4))
        write_template(pot / "exercises" / f"{source.stem}.pot", [(m, rel) for m in messages])
    return pot


def site_texts(root: Path) -> list[str]:
    """What _config.yml shows on every page: the site's title, copyright line and footer (tr())."""
    import yaml
    path = root / "_config.yml"
    config = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.is_file() else {}
    found = [config.get("title"), config.get("copyright"), (config.get("html") or {}).get("extra_footer")]
    return [t for t in found if isinstance(t, str) and t]

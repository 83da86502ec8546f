"""Sphinx extension for the course book (listed in ``_config.yml``).

- validates every chapter's metadata and fails the build naming the file and field;
- shows the chapter's area and outcomes under its title;
- renders the ``{outcome-coverage}`` table (chapters x G1-G5);
- renders Altair (Vega-Lite) outputs with JavaScript served from the site itself, loaded only
  on pages that have a chart (no CDN: readers offline or behind a blocked CDN still see charts).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import sys
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx import addnodes
from sphinx.errors import ExtensionError
from sphinx.util import logging

from . import chapters as ch
from .explore import SITE_ENV
from . import coverage as cov

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
# Files copied from npm packages (pinned in package.json) into _vendor/js/ by `python -m iome.vendor`
# and served from _static/js/. myst-nb's own widget loader is switched off (nb_ipywidgets_js: {} in
# _config.yml) because it can only point at a CDN or one fixed URL; we add the scripts per page.
VEGA_JS = ("js/vega.min.js", "js/vega-lite.min.js", "js/vega-embed.min.js")
WIDGET_JS = ("js/require.js", "js/embed-amd.js")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"  # marks a widget output in the page body
VENDOR_HINT = "run `bash scripts/build.sh` (it installs the pinned JavaScript with `npm ci`)"


def _book_dir(app) -> Path:
    return Path(app.srcdir) / "book"


def settings_inited(app, config):
    """course.yml takes effect: validated up front (one line on error), and its hash (with the data's)
    is part of the config, so a changed setting re-reads every page and selects its own execution
    cache (myst-nb keys its cache on code only: a page is re-executed for new settings, and switching
    back to earlier settings reuses their cache)."""
    import hashlib

    from .settings import SettingsError, load_course
    try:
        course = load_course()
    except SettingsError as exc:
        # one line, no traceback: Jupyter Book wraps any exception from Sphinx in a RuntimeError
        # traceback, so stop the process here (not an Exception: nothing catches it on the way)
        print(f"Settings error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    digest = hashlib.sha256(course.digest.encode())
    data = Path(app.srcdir) / "data"
    for path in sorted(data.rglob("*")):
        if path.is_file() and path.suffix in (".csv", ".json"):
            digest.update(path.relative_to(data).as_posix().encode() + path.read_bytes())
    if course.language != "en":  # what tr() prints in code cells comes from the catalogues
        from .i18n import LOCALES
        for folder in (Path(app.srcdir) / "locales" / course.language, LOCALES / course.language):
            for path in sorted(folder.rglob("*.po")):
                digest.update(path.name.encode() + path.read_bytes())
    config.iome_settings = digest.hexdigest()[:16]
    cache = Path(config.nb_execution_cache_path or Path(app.outdir).parent / ".jupyter_cache")
    if not cache.is_absolute():
        cache = Path(app.confdir) / cache
    config.nb_execution_cache_path = str(cache / f"settings-{config.iome_settings}")
    if course.language != config.language:
        config.language = course.language
        app._init_i18n()  # Sphinx loaded its own messages before extensions ran
    if "locales" not in config.locale_dirs:  # <repo>/locales/<lang>/LC_MESSAGES/ (sphinx-intl layout)
        config.locale_dirs = [*config.locale_dirs, "locales"]
    config.gettext_compact = False  # one catalogue per page: locales/<lang>/LC_MESSAGES/book/<area>/<page>.po
    from .i18n import country_names
    names = country_names(course.language)
    config.myst_substitutions = {**(config.myst_substitutions or {}), "school": course.school or "This",
                                 "home_name": names.get(course.home, course.home),
                                 "peer_names": ", ".join(names.get(p, p) for p in course.peers)}
    if course.language != "en":  # the site's name and footer, set in _config.yml, in the edition's language
        from .i18n import tr  # catalogue: locales/<lang>/LC_MESSAGES/config.po
        config.html_title = tr(config.html_title or config.project)
        config.copyright = tr(config.copyright)
        options = dict(config.html_theme_options or {})
        if options.get("extra_footer"):
            options["extra_footer"] = tr(options["extra_footer"])
        config.html_theme_options = options
    if course.school:
        from .i18n import _
        options = dict(config.html_theme_options or {})
        note = html.escape(_("Edition of {school}.").format(school=course.school))
        options["extra_footer"] = f"<p class=\"iome-school\">{note}</p>" + options.get("extra_footer", "")
        config.html_theme_options = options


def config_inited(app, config):
    # the kernels that run the book's pages inherit this: explorers emit their browser-side form
    os.environ[SITE_ENV] = "1"
    vendor = Path(app.srcdir) / "_vendor"
    missing = [p for p in (*VEGA_JS, *WIDGET_JS) if not (vendor / p).is_file()]
    if missing:
        raise ExtensionError(f"{vendor}: missing {', '.join(missing)}; {VENDOR_HINT}.")
    config.html_static_path = [*config.html_static_path, str(STATIC), str(vendor)]
    app.add_css_file("iome.css")


def builder_inited(app):
    """Validate the TOC's chapters and the outcome tags up front: one clear message, no traceback."""
    root = Path(app.srcdir)
    try:
        found = cov.toc_chapters(root)
        rows = cov.coverage(root)
    except (ch.MetadataError, cov.CoverageError) as exc:
        raise ExtensionError(str(exc)) from None
    app.env.iome_chapters = {app.env.path2doc(str(c.path)): c for c in found}
    app.env.iome_coverage = rows
    for row in cov.unassessed(rows) if app.config.iome_require_assessed_outcomes else []:
        logger.warning(f"outcome {row.number} of {row.stem} ('{row.outcome.text[:60]}...') is not assessed: tag "
                       f"a graded cell of an exercise with iome.outcomes [\"{row.stem}#{row.number}\"]",
                       location=(app.env.path2doc(str(row.chapter.path)), 1))


def add_banner(app, doctree):
    """The area banner under the chapter title, added after parsing: the source (and so every
    warning's line number) stays the file's own."""
    docname = app.env.docname
    chapter = getattr(app.env, "iome_chapters", {}).get(docname)
    section = next(iter(doctree.findall(nodes.section)), None)
    if chapter is None or section is None or not isinstance(section[0], nodes.title):
        return
    exercise = f"book/exercises/{chapter.exercise}" if chapter.exercise else None
    ready = exercise in app.env.found_docs  # link the exercise once its student version is in the book
    section[1:1] = ch.banner_nodes(chapter, docname, exercise if ready else None, _chapter_translator(app, docname))


def translate_toc_captions(app, doctree):
    """Part captions of the TOC in the page's language: sphinx-external-toc adds the toctrees after
    Sphinx's own translation step (their captions are in the root page's catalogue all the same)."""
    if app.config.language in (None, "en"):
        return
    translate = _chapter_translator(app, app.env.docname)
    for node in doctree.findall(addnodes.toctree):
        if node.get("rawcaption"):
            node["caption"] = translate(node["rawcaption"])


def _chapter_translator(app, docname):
    """Chapter text of the banner (why, outcomes) through the page's own catalogue, like its prose."""
    if app.config.language in (None, "en"):
        return lambda s: s
    from sphinx import locale
    from sphinx.util.i18n import docname_to_domain
    domain = docname_to_domain(docname, app.config.gettext_compact)
    dirs = [str(Path(app.srcdir) / d) for d in app.config.locale_dirs]
    translator, _ = locale.init(dirs, app.config.language, domain)
    return translator.gettext


def env_get_outdated(app, env, added, changed, removed):
    # the coverage table reads every chapter and the exercises' outcome tags: rebuild it every time
    return [d for d in env.found_docs if d.endswith("outcome-coverage")]


class OutcomeCoverage(Directive):
    """Declared vs assessed outcomes (outcome tags on graded exercise cells, see iome.coverage): one row
    per TOC chapter, one column per goal area G1-G5, then the totals per goal area and the list of
    outcomes with the graded cells that assess them."""

    def run(self):
        from .i18n import _
        env = self.state.document.settings.env
        rows = getattr(env, "iome_coverage", [])
        chapters = list(dict.fromkeys(r.chapter for r in rows))

        def mark(c, g):
            mine = [r for r in rows if r.chapter is c and g in r.outcome.goals]
            if not mine:
                return ""
            return ", ".join(f"{r.number}" + ("✓" if r.assessed_by else "✗") for r in mine)

        translators = {c: _chapter_translator(env.app, env.path2doc(str(c.path))) for c in chapters}
        cells = [[_("Chapter"), _("Area"), *ch.GOALS, _("Outcomes assessed")]]
        for c in chapters:
            mine = [r for r in rows if r.chapter is c]
            cells.append([(env.path2doc(str(c.path)), translators[c](c.title)), _(ch.AREAS[c.area]), *[mark(c, g) for g in ch.GOALS],
                          f"{sum(bool(r.assessed_by) for r in mine)} / {len(mine)}"])
        totals = cov.goal_totals(rows)
        cells.append([_("Outcomes assessed / declared"), "", *[f"{a} / {d}" for d, a in totals.values()],
                      f"{sum(bool(r.assessed_by) for r in rows)} / {len(rows)}"])
        matrix = self._table(cells, env, "iome-coverage")
        legend = nodes.bullet_list()
        for g, label in ch.GOALS.items():
            legend += nodes.list_item("", nodes.paragraph(text=f"{g}: {_(label)}"))
        detail = [[_("Chapter"), "#", _("Outcome"), _("Goals"), _("Assessed by (exercise: graded cell)")]]
        for r in rows:
            by = "; ".join(f"{a.assignment}: {a.cell}" for a in r.assessed_by) or _("not assessed")
            tr_chapter = translators[r.chapter]
            detail.append([(env.path2doc(str(r.chapter.path)), tr_chapter(r.chapter.title)), str(r.number),
                           tr_chapter(r.outcome.text),
                           ", ".join(r.outcome.goals), by])
        return [matrix, legend, self._table(detail, env, "iome-coverage-detail")]

    def _table(self, rows, env, css):
        table = nodes.table(classes=[css])
        group = nodes.tgroup(cols=len(rows[0]))
        table += group
        for _ in rows[0]:
            group += nodes.colspec(colwidth=1)
        head = nodes.thead()
        group += head
        head += self._row(rows[0], env)
        body = nodes.tbody()
        group += body
        for cells in rows[1:]:
            body += self._row(cells, env)
        return table

    def _row(self, cells, env, header=False):
        row = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            para = nodes.paragraph()
            if isinstance(cell, tuple):  # (docname, title) -> link to the chapter
                ref = nodes.reference("", cell[1], internal=True, refuri=cell[0] + ".html")
                ref["refdocname"] = cell[0]
                para += ref
            else:
                para += nodes.Text(cell)
            entry += para
            row += entry
        return row


def fix_coverage_links(app, doctree, docname):
    for ref in doctree.findall(nodes.reference):
        if "refdocname" in ref:
            ref["refuri"] = app.builder.get_relative_uri(docname, ref["refdocname"])


def html_page_context(app, pagename, templatename, context, doctree):
    body = context.get("body", "")
    if 'class="iome-vega"' in body:
        for i, path in enumerate(VEGA_JS):
            # before require.js, else the UMD bundles register as AMD modules instead of globals
            app.add_js_file(path, priority=200 + i)
        app.add_js_file("iome-charts.js", priority=210)
    if WIDGET_VIEW in body:
        # the widget manager loads its fonts from <cdn>/@jupyter-widgets/html-manager/dist/:
        # point "cdn" at this site's _static/js/, relative to the page so any hosting path works
        base = context["pathto"]("_static/js/", 1)
        app.add_js_file(WIDGET_JS[0], priority=900)  # last: UMD scripts loaded after it break
        # and it resolves its fonts against the AMD module's URL, i.e. RequireJS's baseUrl
        app.add_js_file(None, body=f'require.config({{baseUrl: "{base}"}});', priority=900)
        app.add_js_file(WIDGET_JS[1], priority=901, **{"data-jupyter-widgets-cdn": base,
                                                       "data-jupyter-widgets-cdn-only": ""})


LANGUAGE_NAMES = {"en": "English", "es": "Español", "fr": "Français", "pt": "Português"}


def language_switcher(app, pagename, templatename, context, doctree):
    """Links to the same page in the other editions, when ``iome_editions`` maps each language to its
    folder on the published site, e.g. {"en": "", "es": "es/"} (English at /, Spanish at /es/)."""
    editions = app.config.iome_editions or {}
    here = app.config.language or "en"
    if here not in editions or len(editions) < 2 or "body" not in context:
        return
    up = "../" * len([p for p in editions[here].split("/") if p])
    root = context["pathto"]("index", 0).rsplit("index", 1)[0]  # relative path to this edition's root
    links = [f'<a href="{html.escape(root + up + prefix + pagename + ".html")}" hreflang="{lang}" lang="{lang}">'
             f"{LANGUAGE_NAMES.get(lang, lang)}</a>" for lang, prefix in editions.items() if lang != here]
    context["body"] = f'<nav class="iome-languages" aria-label="Language">{" · ".join(links)}</nav>' + context["body"]


def dedupe_scripts(app, pagename, templatename, context, doctree):
    """sphinx-thebe (always loaded by Jupyter Book) adds its inline config twice, which throws
    "Identifier 'THEBE_JS_URL' has already been declared" on every page: keep one copy."""
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # the copies differ only in filename None vs "" (inline scripts)
        key = (getattr(script, "filename", str(script)) or "", tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"][:] = unique  # in place: add_js_file appends to this same list


class VegaLiteRenderer:
    """myst-nb mime plugin: a Vega-Lite spec becomes a <div> the site's own vega-embed fills."""

    mime_priority_overrides = [("html", f"application/vnd.vegalite.v{v}+json", 1) for v in (6, 5)]

    @staticmethod
    def handle_mime(renderer, data, inline):
        if inline or not data.mime_type.startswith("application/vnd.vegalite."):
            return None
        spec = data.content if isinstance(data.content, dict) else json.loads(data.string)
        return [nodes.raw("", chart_markup(spec), format="html")]


def chart_markup(spec: dict) -> str:
    """A chart as the page shows it: the title and source as HTML text (they wrap on a phone), the
    spec for the site's own vega-embed (static/iome-charts.js), the text description as caption."""
    from .charts import web_spec
    web = web_spec(spec)
    esc = html.escape
    payload = json.dumps(web["spec"], separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
    explorer = bool(web["spec"].get("params")) and any("bind" in p for p in web["spec"]["params"])
    title = f'<p class="iome-chart-title">{esc(web["title"])}</p>' if web["title"] else ""
    source = "".join(f'<p class="iome-chart-source">{esc(s)}</p>' for s in web["source"])
    from .i18n import _
    hint = ('<p class="iome-explorer-hint">' + _("Change the controls to redraw the chart; it runs in your "
                                                   "browser.") + '</p>') if explorer else ""
    return (f'<figure class="iome-chart{" iome-explorer" if explorer else ""}">{title}{hint}'
            f'<div class="iome-vega" data-description="{esc(web["description"])}"></div>'
            f'<script type="application/json" class="iome-vega-spec">{payload}</script>'
            f'<figcaption class="iome-chart-description">{source}'
            f'<p>{esc(web["description"])}</p></figcaption></figure>')


# ---- site assets and student downloads (kept apart from the banner/coverage parts above) -------

FONTAWESOME_JS = re.compile(r'\s*<script[^>]+src="[^"]*_static/scripts/fontawesome\.js[^"]*"></script>')
KIT = "iome-course.zip"  # the laptop kit: course package, data, course.yml, student notebooks
PDF = "iome-book.pdf"  # the whole book, written when the build runs with IOME_PDF=1


def exercise_name(pagename: str) -> str | None:
    return pagename.rsplit("/", 1)[1] if pagename.startswith("book/exercises/") else None


def run_box(app, pagename: str, context) -> str:
    """The "How to run this exercise" box of an exercise page (student notebook, hub, laptop)."""
    from .i18n import _
    from .settings import load_course
    name = exercise_name(pagename)
    notebook = context["pathto"](f"notebooks/{name}.ipynb", 1)
    kit = context["pathto"](KIT, 1)
    hub = getattr(load_course(), "hub_url", "") or ""
    esc = html.escape
    assignments_tab = _("Assignments")
    code, tab = f"<code>{esc(name)}</code>", f"<em>{assignments_tab}</em>"
    class_hub = _("the class hub")
    hub_text = (_("open {hub}, fetch {name} in the {tab} tab, work there and submit when you are done.").format(
                    hub=f'<a href="{esc(hub)}">{class_hub}</a>', name=code, tab=tab)
                if hub else _("if your class has a hub (JupyterHub), ask your instructor for its address; there "
                              "you fetch {name} in the {tab} tab and submit it.").format(name=code, tab=tab))
    title = _("How to run this exercise")
    download = _("Download the student notebook ({file})").format(file=f"<code>{esc(name)}.ipynb</code>")
    course_kit = _("the course kit")
    laptop = _("(Python 3.11 or newer): download {kit}, unzip it, and in the unzipped folder run one command, "
               "which installs the course package, its data and Jupyter:").format(
                   kit=f'<a href="{kit}" download>{course_kit} (<code>{KIT}</code>)</a>')
    then = _("then open the notebook with {command} (the kit holds every exercise). In Jupyter, choose {menu}; "
             "the visible tests under each answer say whether its shape is right.").format(
                 command=f"<code>jupyter lab notebooks/{esc(name)}.ipynb</code>", menu="<em>Run → Run All Cells</em>")
    # (no _() inside the f-string below: the extractor cannot see into f-string expressions)
    read_only = _("This page shows it read-only; run it in one of two places.")
    on_hub, on_laptop = _("On the class hub:"), _("On your laptop")
    return f"""<div class="admonition note iome-run" role="note" aria-label="{esc(title)}">
<p class="admonition-title">{title}</p>
<p><a class="reference download" href="{notebook}" download>{download}</a>.
{read_only}</p>
<ul>
<li><strong>{on_hub}</strong> {hub_text}</li>
<li><strong>{on_laptop}</strong> {laptop}
<pre>python -m pip install -r requirements-student.txt</pre>
{then}</li>
</ul></div>"""


# Bump when the page form of charts or explorers changes: the next build re-reads every page
# (config value with rebuild="env") and re-runs pages with explorers, whose cached outputs
# (jupyter-cache keys on code only) may hold an older form, e.g. ipywidgets.
SITE_FORMAT = 2


def refresh_site_outputs(app, config):
    stamp = Path(app.outdir).parent / ".iome-site-format"
    if stamp.is_file() and stamp.read_text().strip() == str(SITE_FORMAT):
        return
    cache_dir = Path(app.outdir).parent / ".jupyter_cache"
    if cache_dir.is_dir():
        try:
            from jupyter_cache import get_cache
            cache = get_cache(str(cache_dir))
            for record in cache.list_cache_records():
                notebook = cache.get_cache_bundle(record.pk).nb
                if any("_explorer(" in c.source for c in notebook.cells if c.cell_type == "code"):
                    cache.remove_cache(record.pk)
        except Exception as exc:  # a broken cache is rebuilt by myst-nb anyway
            print(f"iome: could not refresh explorer outputs in {cache_dir}: {exc}")
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(str(SITE_FORMAT))


def site_page_context(app, pagename, templatename, context, doctree):
    """Exercise pages: the "How to run this exercise" box under the title."""
    if exercise_name(pagename) and "body" in context:
        body = context["body"]
        at = body.find("</h1>")
        at = at + len("</h1>") if at != -1 else 0
        context["body"] = body[:at] + run_box(app, pagename, context) + body[at:]


SIDEBAR_TOGGLE = re.compile(r'(<a class="[^"]*\breference internal\b[^"]*" href="[^"]*">(.*?)</a>\s*<details[^>]*>\s*)<summary>')


def accessible_markup(page: str) -> str:
    """Fix the theme's markup that axe-core flags: the sidebar's section expanders get a name
    ("Sections of <chapter>"), and bibliography entries inside the citation list become list
    items (docutils writes the deprecated role doc-biblioentry under role="list")."""
    def name(m):
        label = html.escape(re.sub(r"<[^>]+>", "", html.unescape(m.group(2))).strip(), quote=True)
        from .i18n import _
        sections = _("Sections of {chapter}").format(chapter=label)
        return f'{m.group(1)}<summary aria-label="{sections}">'
    page = SIDEBAR_TOGGLE.sub(name, page)
    return page.replace('role="doc-biblioentry"', 'role="listitem"')


def site_build_finished(app, exc):
    """Published pages: no fontawesome.js (the theme's CSS already draws its icons with the
    fontawesome web font, 1.5 MB saved per page); the student notebooks and the laptop kit."""
    if exc is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    for page in out.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        lean = accessible_markup(FONTAWESOME_JS.sub("", text))
        if lean != text:
            page.write_text(lean, encoding="utf-8")
    if os.environ.get("IOME_PDF") == "1":  # the whole book as one PDF (needs Chromium; see iome.bookpdf)
        from .bookpdf import build_pdf
        build_pdf(out)
    if (out / PDF).is_file():
        for page in out.rglob("*.html"):
            text = page.read_text(encoding="utf-8")
            if "iome-pdf-link" not in text and "</footer>" in text:
                up = "../" * (len(page.relative_to(out).parts) - 1)
                link = (f'<p class="iome-pdf-link"><a href="{up}{PDF}">The whole book as one PDF '
                        f'(charts included)</a></p>')
                page.write_text(text.replace("</footer>", link + "</footer>", 1), encoding="utf-8")
    # Jupyter Book's root index.html is a bare redirect: give it an empty inline icon, or the browser
    # asks for /favicon.ico (a 404 in the console of the first page a student opens); a real icon
    # file would be fetched and then aborted by the redirect
    root_index, icon = out / "index.html", '<link rel="icon" href="data:,"/>\n'
    if app.config.root_doc != "index":
        text = root_index.read_text(encoding="utf-8") if root_index.is_file() else (
            f'<meta http-equiv="Refresh" content="0; url={app.config.root_doc}.html" />\n')
        if 'rel="icon"' not in text and 'http-equiv="Refresh"' in text:
            root_index.write_text(icon + text, encoding="utf-8")
    from .kit import student_notebooks, write_kit
    notebooks = student_notebooks(Path(app.srcdir))
    if not notebooks or not (Path(app.srcdir) / "requirements.txt").is_file():
        return  # a book without exercises (e.g. a school's own small book) has no kit to offer
    target = out / "notebooks"
    target.mkdir(exist_ok=True)
    for name, path in notebooks.items():
        shutil.copyfile(path, target / f"{name}.ipynb")
    write_kit(Path(app.srcdir), out / KIT, notebooks)


# ---- glued values inside translated paragraphs -------------------------------------------------
# Sphinx translates a paragraph by parsing its msgstr as a small document of its own, so a
# {glue:text}`key` role there finds no glue data (myst-nb keeps it on the page's document only while
# that is parsed). The page's notebook renderer is kept for the rest of the page's read, and a glue
# lookup in a translated message falls back to it.

class _KeepRenderer(dict):
    def __init__(self, data, env):
        super().__init__(data)
        self.env = env

    def pop(self, key, *default):
        value = super().pop(key, *default)
        if key == "nb_renderer" and value is not None:
            self.env.temp_data["iome_nb_renderer"] = value
        return value


def _glue_in_translations():
    from myst_nb import sphinx_ as nb_sphinx
    from myst_nb.ext.glue import directives, roles, utils
    if getattr(utils, "_iome_patched", False):
        return
    parse = nb_sphinx.Parser.parse
    retrieve = utils.retrieve_glue_data

    def parse_keeping_renderer(self, inputstring, document):
        env = getattr(document.settings, "env", None)
        if env is not None and not str(document.get("source", "")).endswith("<translated>"):
            document.attributes = _KeepRenderer(document.attributes, env)
        return parse(self, inputstring, document)

    def retrieve_with_page_fallback(document, key):
        try:
            return retrieve(document, key)
        except utils.RetrievalError:
            env = getattr(document.settings, "env", None)
            page = env.temp_data.get("iome_nb_renderer") if env is not None else None
            if page is None or not str(document.get("source", "")).endswith("<translated>"):
                raise
            return retrieve({"nb_renderer": page}, key)

    nb_sphinx.Parser.parse = parse_keeping_renderer
    for module in (utils, roles, directives):
        module.retrieve_glue_data = retrieve_with_page_fallback
    utils._iome_patched = True


def setup(app):
    _glue_in_translations()
    app.add_config_value("iome_settings", "", "env")  # hash of course.yml and data/, set from them
    app.add_config_value("iome_require_assessed_outcomes", False, "env")
    app.add_config_value("iome_editions", {}, "html")  # {"en": "", "es": "es/"}: language switcher links
    app.connect("html-page-context", language_switcher)
    app.connect("config-inited", settings_inited, priority=400)
    app.connect("config-inited", config_inited)
    app.connect("builder-inited", builder_inited)
    app.connect("doctree-read", add_banner)
    app.connect("doctree-read", translate_toc_captions, priority=900)  # after sphinx-external-toc
    app.connect("env-get-outdated", env_get_outdated)
    app.connect("doctree-resolved", fix_coverage_links)
    app.connect("html-page-context", html_page_context)
    # early: a later handler that returns a template name stops the event (emit_firstresult)
    app.connect("html-page-context", dedupe_scripts, priority=100)
    app.add_directive("outcome-coverage", OutcomeCoverage)
    app.add_config_value("iome_site_format", SITE_FORMAT, "env")
    app.connect("config-inited", refresh_site_outputs)
    app.connect("html-page-context", site_page_context)
    app.connect("build-finished", site_build_finished)
    return {"version": "0.1", "parallel_read_safe": False, "parallel_write_safe": True}

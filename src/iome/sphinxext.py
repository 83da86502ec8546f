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
import sys
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.errors import ExtensionError
from sphinx.util import logging

from . import chapters as ch
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
    if course.school:
        from .i18n import _
        options = dict(config.html_theme_options or {})
        note = html.escape(_("Edition of {school}.").format(school=course.school))
        options["extra_footer"] = f"<p class=\"iome-school\">{note}</p>" + options.get("extra_footer", "")
        config.html_theme_options = options


def config_inited(app, config):
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

        cells = [[_("Chapter"), _("Area"), *ch.GOALS, _("Outcomes assessed")]]
        for c in chapters:
            mine = [r for r in rows if r.chapter is c]
            cells.append([(env.path2doc(str(c.path)), c.title), _(ch.AREAS[c.area]), *[mark(c, g) for g in ch.GOALS],
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
            detail.append([(env.path2doc(str(r.chapter.path)), r.chapter.title), str(r.number), r.outcome.text,
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
        description = spec.get("description") or _title_text(spec) or "Chart"
        payload = json.dumps(spec, separators=(",", ":")).replace("</", "<\\/")
        markup = (f'<figure class="iome-chart"><div class="iome-vega" role="img" '
                  f'aria-label="{html.escape(description)}"></div>'
                  f'<script type="application/json" class="iome-vega-spec">{payload}</script>'
                  f'<figcaption class="iome-chart-description">{html.escape(description)}</figcaption></figure>')
        return [nodes.raw("", markup, format="html")]


def _title_text(spec: dict) -> str:
    title = spec.get("title")
    if isinstance(title, dict):
        title = title.get("text")
    return " ".join(title) if isinstance(title, list) else (title or "")


def setup(app):
    app.add_config_value("iome_settings", "", "env")  # hash of course.yml and data/, set from them
    app.add_config_value("iome_require_assessed_outcomes", False, "env")
    app.add_config_value("iome_editions", {}, "html")  # {"en": "", "es": "es/"}: language switcher links
    app.connect("html-page-context", language_switcher)
    app.connect("config-inited", settings_inited, priority=400)
    app.connect("config-inited", config_inited)
    app.connect("builder-inited", builder_inited)
    app.connect("doctree-read", add_banner)
    app.connect("env-get-outdated", env_get_outdated)
    app.connect("doctree-resolved", fix_coverage_links)
    app.connect("html-page-context", html_page_context)
    # early: a later handler that returns a template name stops the event (emit_firstresult)
    app.connect("html-page-context", dedupe_scripts, priority=100)
    app.add_directive("outcome-coverage", OutcomeCoverage)
    return {"version": "0.1", "parallel_read_safe": False, "parallel_write_safe": True}

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
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.errors import ExtensionError

from . import chapters as ch

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


def config_inited(app, config):
    vendor = Path(app.srcdir) / "_vendor"
    missing = [p for p in (*VEGA_JS, *WIDGET_JS) if not (vendor / p).is_file()]
    if missing:
        raise ExtensionError(f"{vendor}: missing {', '.join(missing)}; {VENDOR_HINT}.")
    config.html_static_path = [*config.html_static_path, str(STATIC), str(vendor)]
    app.add_css_file("iome.css")


def builder_inited(app):
    """Validate all chapters up front, so one bad chapter fails the build with a clear message."""
    try:
        found = ch.load_chapters(_book_dir(app))
    except ch.MetadataError as exc:
        raise ExtensionError(str(exc)) from None
    app.env.iome_chapters = {app.env.path2doc(str(c.path)): c for c in found}


def source_read(app, docname, source):
    chapter = getattr(app.env, "iome_chapters", {}).get(docname)
    if chapter is not None:
        # link the exercise once its student version is part of the book
        ready = bool(chapter.exercise) and f"book/exercises/{chapter.exercise}" in app.env.found_docs
        source[0] = ch.insert_banner(source[0], chapter, ready)


def env_get_outdated(app, env, added, changed, removed):
    # the coverage table reads every chapter: rebuild it whenever anything changed
    return [d for d in env.found_docs if d.endswith("outcome-coverage")] if (added or changed or removed) else []


class OutcomeCoverage(Directive):
    """Table of chapters x goal areas G1-G5, with totals: which goals each chapter serves."""

    def run(self):
        env = self.state.document.settings.env
        chapters = sorted(getattr(env, "iome_chapters", {}).items(), key=lambda kv: kv[0])
        table = nodes.table(classes=["iome-coverage"])
        group = nodes.tgroup(cols=3 + len(ch.GOALS))
        table += group
        for _ in range(3 + len(ch.GOALS)):
            group += nodes.colspec(colwidth=1)
        head = nodes.thead()
        group += head
        head += self._row(["Chapter", "Area", *ch.GOALS, "Outcomes"], env, header=True)
        body = nodes.tbody()
        group += body
        for docname, c in chapters:
            cells = [(docname, c.title), ch.AREAS[c.area]]
            cells += ["✓ " + ", ".join(str(i) for i, o in enumerate(c.outcomes, 1) if g in o.goals)
                      if g in c.goals else "" for g in ch.GOALS]
            cells.append(str(len(c.outcomes)))
            body += self._row(cells, env)
        totals = ["Chapters covering the goal", ""]
        totals += [str(sum(g in c.goals for _, c in chapters)) for g in ch.GOALS] + [""]
        body += self._row(totals, env)
        legend = nodes.bullet_list()
        for g, label in ch.GOALS.items():
            legend += nodes.list_item("", nodes.paragraph(text=f"{g}: {label}"))
        return [table, legend]

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
    app.connect("config-inited", config_inited)
    app.connect("builder-inited", builder_inited)
    app.connect("source-read", source_read)
    app.connect("env-get-outdated", env_get_outdated)
    app.connect("doctree-resolved", fix_coverage_links)
    app.connect("html-page-context", html_page_context)
    # early: a later handler that returns a template name stops the event (emit_firstresult)
    app.connect("html-page-context", dedupe_scripts, priority=100)
    app.add_directive("outcome-coverage", OutcomeCoverage)
    return {"version": "0.1", "parallel_read_safe": False, "parallel_write_safe": True}

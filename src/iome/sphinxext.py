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
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.errors import ExtensionError

from . import chapters as ch
from .explore import SITE_ENV

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
    # the kernels that run the book's pages inherit this: explorers emit their browser-side form
    os.environ[SITE_ENV] = "1"
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
    hint = ('<p class="iome-explorer-hint">Change the controls to redraw the chart; '
            'it runs in your browser.</p>') if explorer else ""
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
    from .settings import load_course
    name = exercise_name(pagename)
    notebook = context["pathto"](f"notebooks/{name}.ipynb", 1)
    kit = context["pathto"](KIT, 1)
    hub = getattr(load_course(), "hub_url", "") or ""
    esc = html.escape
    hub_text = (f'open <a href="{esc(hub)}">the class hub</a>, fetch <code>{esc(name)}</code> in the '
                f'<em>Assignments</em> tab, work there and submit when you are done.'
                if hub else 'if your class has a hub (JupyterHub), ask your instructor for its address; there '
                f'you fetch <code>{esc(name)}</code> in the <em>Assignments</em> tab and submit it.')
    return f"""<div class="admonition note iome-run" role="note" aria-label="How to run this exercise">
<p class="admonition-title">How to run this exercise</p>
<p><a class="reference download" href="{notebook}" download>Download the student notebook
(<code>{esc(name)}.ipynb</code>)</a>. This page shows it read-only; run it in one of two places.</p>
<ul>
<li><strong>On the class hub:</strong> {hub_text}</li>
<li><strong>On your laptop</strong> (Python 3.11 or newer): download <a href="{kit}" download>the course kit
(<code>{KIT}</code>)</a>, unzip it, and in the unzipped folder run one command, which installs the
course package, its data and Jupyter:
<pre>python -m pip install -r requirements-student.txt</pre>
then open the notebook with <code>jupyter lab notebooks/{esc(name)}.ipynb</code> (the kit holds every
exercise). In Jupyter, choose <em>Run → Run All Cells</em>; the visible tests under each answer say
whether its shape is right.</li>
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
        return f'{m.group(1)}<summary aria-label="Sections of {label}">'
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
    from .kit import student_notebooks, write_kit
    notebooks = student_notebooks(Path(app.srcdir))
    target = out / "notebooks"
    target.mkdir(exist_ok=True)
    for name, path in notebooks.items():
        shutil.copyfile(path, target / f"{name}.ipynb")
    write_kit(Path(app.srcdir), out / KIT, notebooks)


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
    app.add_config_value("iome_site_format", SITE_FORMAT, "env")
    app.connect("config-inited", refresh_site_outputs)
    app.connect("html-page-context", site_page_context)
    app.connect("build-finished", site_build_finished)
    return {"version": "0.1", "parallel_read_safe": False, "parallel_write_safe": True}

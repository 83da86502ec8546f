"""The one ``iome`` command for authors and instructors."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import track

from .settings import repo_root

console = Console(stderr=True)


@click.group()
def main():
    """Internationalizing Medical Education: build the book and data, run the graded exercises."""


@main.group()
def data():
    """The datasets in data/."""


@data.command("build")
@click.option("--raw", type=click.Path(path_type=Path), default=None,
              help="Folder with the raw copies and MANIFEST.csv (default: ../shared/data).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Write the built files here instead of data/ (e.g. to compare with the committed ones).")
def data_build(raw, out):
    """Rebuild data/ from the raw public copies, with provenance."""
    from .databuild import BuildError, build
    root = repo_root()
    raw = raw or root.parent / "shared" / "data"
    try:
        notes = build(raw, out or root / "data", curated=root / "data",
                      progress=lambda items, description: track(items, description=description, console=console))
    except BuildError as exc:
        raise click.ClickException(str(exc)) from None
    for note in notes:
        console.print(f"  note: {note}")
    console.print(f"[green]{out or 'data/'} rebuilt from {raw}")


@data.command("refresh")
@click.option("--indicator", "indicators", multiple=True,
              help="Only this indicator (resource name or WDI code); repeat for several. Default: all.")
@click.option("--endpoint", default=None, help="World Bank API base URL (default: https://api.worldbank.org/v2).")
def data_refresh(indicators, endpoint):
    """Re-download the WDI indicators from the World Bank API (needs internet).

    data/ is replaced only when every indicator downloaded and validated; otherwise it is untouched.
    """
    from .refresh import DEFAULT_ENDPOINT, RefreshError, indicators_named, refresh
    root = repo_root()
    try:
        chosen = indicators_named(list(indicators)) if indicators else None
        notes = refresh(root / "data", chosen, endpoint or DEFAULT_ENDPOINT,
                        progress=lambda items, description: track(items, description=description, console=console))
    except RefreshError as exc:
        raise click.ClickException(str(exc)) from None
    for note in notes:
        console.print(f"  note: {note}")
    console.print("[green]data/ refreshed from the World Bank API. Rebuild the book to use the new figures; "
                  "`git diff data/` shows what changed.")


@main.group()
def book():
    """The Jupyter Book."""


@book.command("build")
@click.option("--strict/--no-strict", default=True, help="Treat warnings as errors (default).")
def book_build(strict):
    """Put the student version of every exercise in book/exercises/, then build the site."""
    from .grading import GradingError, assignments, book_copy, release
    root = repo_root()
    try:
        for name in track(assignments(), description="student versions", console=console):
            release(name)
            book_copy(name)
    except GradingError as exc:
        raise click.ClickException(str(exc)) from None
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(root), "--keep-going"]
    if strict:
        cmd += ["-W", "-n"]
    start = time.perf_counter()
    code = subprocess.call(cmd, cwd=root)
    console.print(f"book build took {time.perf_counter() - start:.0f} s")
    if code:
        raise click.ClickException("the book build failed: read the warnings above (file and line are named).")


@main.command()
@click.argument("assignment")
def release(assignment):
    """Generate the student version of ASSIGNMENT in exercises/release/."""
    from .grading import release as do_release
    console.print(f"released to {do_release(assignment)}")


if __name__ == "__main__":
    main()

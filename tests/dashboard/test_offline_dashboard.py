"""The published asv dashboard works without internet access, with the repository's own pages.

* Fast: ``scripts.offline_dashboard`` rewrites asv's own ``www/index.html`` so that no CDN is
  left and every file it references exists; its checker catches external loads.
* Slow: the dashboard published from the committed ``results/`` (or ``$DASHBOARD_RESULTS_DIR``),
  served on 127.0.0.1 and driven in headless Debian Chromium via Playwright, loads every view
  while every request the page makes goes to 127.0.0.1: every grid thumbnail draws, the list
  shows the latest results, the stages page draws every benchmarked commit, the changes page
  lists the changes the results hold, and commit links land on a page that exists.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from scripts import offline_dashboard

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "dashboard"
CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"
GRAPH_BENCHMARK = "bench_orchestration.ExecuteApproved.time_matching_version"
PREFERRED_PARAM_BENCHMARK = "bench_resolution.ResolveAndStoreHistoryLength.time_matching_version"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _asv_www() -> Path:
    spec = importlib.util.find_spec("asv")
    assert spec is not None and spec.origin is not None, "asv is not installed"
    return Path(spec.origin).parent / "www"


def _skip_or_fail(reason: str) -> None:
    """Missing tools skip the test on a developer machine but fail it in CI."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the dashboard tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def offline() -> ModuleType:
    """The ``scripts.offline_dashboard`` module, once npm's packages can be installed."""
    if shutil.which("npm") is None and offline_dashboard.node_modules_is_stale():
        _skip_or_fail("npm is needed to install dashboard/node_modules")
    return offline_dashboard


class _Page:
    """The script/link/other loading references of an HTML page."""

    def __init__(self, offline: ModuleType, path: Path) -> None:
        scanner = offline._PageScanner()
        scanner.feed(path.read_text(encoding="utf-8"))
        scanner.close()
        self.external: list[str] = scanner.external
        self.local: list[str] = scanner.local


# --------------------------------------------------------------------------- fast tests


def test_rewriting_asvs_index_leaves_no_cdn_and_only_existing_local_files(
    offline: ModuleType, tmp_path: Path,
) -> None:
    html = tmp_path / "html"
    shutil.copytree(_asv_www(), html)
    original = (html / "index.html").read_text(encoding="utf-8")
    assert _Page(offline, html / "index.html").external, "asv's index.html no longer uses CDNs?"

    offline.make_offline(html)

    text = (html / "index.html").read_text(encoding="utf-8")
    page = _Page(offline, html / "index.html")
    assert page.external == []
    assert "integrity=" not in text and "crossorigin" not in text
    assert offline.external_references(html) == []
    # regressions.xml (the Atom feed behind <link rel="alternate">) is written by asv publish.
    generated_by_publish = {"regressions.xml"}
    local = [ref for ref in page.local if ref not in generated_by_publish]
    assert [ref for ref in local if not (html / ref).is_file()] == []
    vendored = [ref for ref in local if ref.startswith("vendor/")]
    assert len(vendored) == len(offline.ASSETS)
    assert {"jquery", "flot", "flot-orderbars", "bootstrap", "stupid-table-plugin",
            "blueimp-md5"} == {ref.split("/")[1] for ref in vendored}
    # The glyphicon fonts bootstrap's CSS loads are there too.
    assert offline.missing_vendor_files(html) == []
    fonts = html / "vendor/bootstrap/dist/fonts"
    assert sorted(p.suffix for p in fonts.iterdir()) == [".eot", ".svg", ".ttf", ".woff"]
    # Only the CDN tags changed: same number of lines, asv's own scripts untouched.
    assert len(text.splitlines()) == len(original.splitlines())
    assert text.count("<script") == original.count("<script")

    offline.make_offline(html)  # idempotent
    assert (html / "index.html").read_text(encoding="utf-8") == text


def test_the_checker_reports_external_loads_but_not_navigation_links(
    offline: ModuleType, tmp_path: Path,
) -> None:
    html = tmp_path / "html"
    shutil.copytree(_asv_www(), html)
    offline.make_offline(html)
    (html / "extra.html").write_text(
        '<a href="https://github.com/airspeed-velocity/asv/">asv</a>'
        '<img src="https://example.org/logo.png">'
        '<script src="//cdn.example.org/lib.js"></script>', encoding="utf-8")
    (html / "vendor" / "extra.css").write_text(
        "/* http://example.org licence */\n"
        "@font-face { src: url('https://fonts.example.org/f.woff') }",
        encoding="utf-8")
    (html / "vendor" / "extra.js").write_text(
        '/*! lib | https://example.org/LICENSE */\nvar s = "https://cdn.example.org/x.js";\n',
        encoding="utf-8")

    found = offline.external_references(html)
    assert sorted(found) == sorted([
        "extra.html: <img src> https://example.org/logo.png",
        "extra.html: <script src> //cdn.example.org/lib.js",
        "vendor/extra.css: https://fonts.example.org/f.woff",
        "vendor/extra.js: https://cdn.example.org/x.js",
    ])
    with pytest.raises(offline.OfflineDashboardError, match=r"fonts\.example\.org"):
        offline.make_offline(html)
    assert offline.main([str(html)]) == 1


def test_the_lockfile_pins_every_library_from_the_npm_registry_only(offline: ModuleType) -> None:
    package = json.loads((ROOT / "dashboard" / "package.json").read_text())
    lock_text = (ROOT / "dashboard" / "package-lock.json").read_text()
    lock = json.loads(lock_text)
    wanted = {asset.package for asset in offline.ASSETS.values()}
    assert set(package["dependencies"]) == wanted
    for name, version in package["dependencies"].items():
        assert version[0].isdigit(), f"{name} is not pinned exactly: {version}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    hosts = {urlsplit(word.strip('",')).hostname for word in lock_text.split()
             if "://" in word}
    assert hosts <= {"registry.npmjs.org"}


def test_asv_loads_the_publish_plugin_from_the_config() -> None:
    config = json.loads((ROOT / "asv.conf.json").read_text())
    assert ".asv_plugins.offline_dashboard" in config["plugins"]
    # As asv 0.6.6 does it: "." (asv's main has changed into the config's folder) is on sys.path
    # only while the plugin is imported; the plugin imports the scripts package right then.
    code = (
        "import sys\n"
        "from asv.plugin_manager import plugin_manager\n"
        "from asv.commands.publish import Publish\n"
        "sys.path[:] = [p for p in sys.path if p not in ('', '.', sys.argv[1])]\n"
        "plugin_manager.import_plugin('.asv_plugins.offline_dashboard')\n"
        "assert '.' not in sys.path\n"
        "assert getattr(Publish.run.__func__, '_offline_dashboard_wrapped', False)\n"
        "plugin = sys.modules['asv_plugins.offline_dashboard']\n"
        "assert plugin.offline_dashboard is sys.modules['scripts.offline_dashboard']\n"
        "assert plugin.dashboard_pages is sys.modules['scripts.dashboard_pages']\n"
        "assert sys.modules['scripts'].__file__.startswith(sys.argv[1])\n"
    )
    # -S: no site-packages .pth (the editable install puts the repository on sys.path).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in sys.path if p and "site-packages" in p)}
    result = subprocess.run([sys.executable, "-S", "-c", code, str(ROOT)], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- browser test


def _results_dir() -> Path:
    return Path(os.environ.get("DASHBOARD_RESULTS_DIR", ROOT / "results")).resolve()


def _result_files(results: Path) -> list[Path]:
    return sorted(p for p in results.glob("*/*.json") if p.name != "machine.json")


def _first_parent_commits() -> set[str]:
    config = json.loads((ROOT / "asv.conf.json").read_text())
    commits: set[str] = set()
    for branch in config.get("branches", ["master"]):
        out = subprocess.run(["git", "rev-list", "--first-parent", branch], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
        commits.update(out.split())
    return commits


def _expected_points(results: Path, benchmark: str) -> tuple[set[str], int]:
    """Commits with a plottable result for *benchmark*, and the number of (machine, env,
    commit) points asv should plot, counted from the result files."""
    version = json.loads((results / "benchmarks.json").read_text())[benchmark]["version"]
    on_branch = _first_parent_commits()
    commits: set[str] = set()
    points = 0
    for path in _result_files(results):
        data = json.loads(path.read_text())
        row = data.get("results", {}).get(benchmark)
        if row is None or data["commit_hash"] not in on_branch:
            continue
        columns = data["result_columns"]
        value = row[columns.index("result")]
        if row[columns.index("version")] != version or not value or value[0] is None:
            continue
        commits.add(data["commit_hash"])
        points += 1
    return commits, points


def _ordered_first_parent() -> list[str]:
    config = json.loads((ROOT / "asv.conf.json").read_text())
    order: list[str] = []
    for branch in config.get("branches", ["master"]):
        out = subprocess.run(["git", "rev-list", "--first-parent", "--reverse", branch],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout
        order += [c for c in out.split() if c not in order]
    return order


def _values_by_machine(results: Path) -> dict[str, dict[str, dict[str, float]]]:
    """{machine: {commit: {name(params): value}}} for the first-parent commits, current
    benchmark versions only, read straight from the result files."""
    benchmarks = json.loads((results / "benchmarks.json").read_text())
    on_branch = _first_parent_commits()
    found: dict[str, dict[str, dict[str, float]]] = {}
    for path in _result_files(results):
        data = json.loads(path.read_text())
        if data["commit_hash"] not in on_branch:
            continue
        columns = data["result_columns"]
        values = found.setdefault(path.parent.name, {}).setdefault(data["commit_hash"], {})
        for name, row in data.get("results", {}).items():
            if name not in benchmarks or row[columns.index("version")] != \
                    benchmarks[name]["version"]:
                continue
            params = row[columns.index("params")] if "params" in columns else []
            combos = [""]
            for options in params or []:
                combos = [f"{c}, {o}" if c else o for c in combos for o in options]
            for combo, value in zip(combos, row[columns.index("result")] or [], strict=False):
                if value is not None and value == value:
                    values[f"{name}({combo})" if combo else name] = float(value)
    return found


def _expected_counter_changes(results: Path) -> set[tuple[str, str]]:
    """(commit, benchmark) of every deterministic figure that moved from the previous
    benchmarked commit of its machine: counters by more than 0.133 %, allocation twins at all."""
    order = {c: i for i, c in enumerate(_ordered_first_parent())}
    expected = set()
    for by_commit in _values_by_machine(results).values():
        commits = sorted(by_commit, key=order.__getitem__)
        for before, after in itertools.pairwise(commits):
            for name in set(by_commit[before]) & set(by_commit[after]):
                cls = name.split("(")[0].split(".")[1]
                a, b = by_commit[before][name], by_commit[after][name]
                if "Instruction" in cls and abs(b - a) > 0.00133 * abs(a):
                    expected.add((after, name))
                elif cls.endswith(("AllocatedBytes", "AllocatedBlocks")) and a != b:
                    expected.add((after, name))
    return expected


def _latest_values(results: Path) -> dict[str, dict[str, float]]:
    """{machine: {name(params): the value at the newest commit that has one}}."""
    order = {c: i for i, c in enumerate(_ordered_first_parent())}
    latest: dict[str, dict[str, float]] = {}
    for machine, by_commit in _values_by_machine(results).items():
        for commit in sorted(by_commit, key=order.__getitem__):
            latest.setdefault(machine, {}).update(by_commit[commit])
    return latest


def _param_benchmark(results: Path) -> str:
    benchmarks = json.loads((results / "benchmarks.json").read_text())
    if benchmarks.get(PREFERRED_PARAM_BENCHMARK, {}).get("params"):
        return PREFERRED_PARAM_BENCHMARK
    with_params = sorted(name for name, b in benchmarks.items()
                         if isinstance(b, dict) and b.get("params"))
    assert with_params, "no parameterized benchmark in benchmarks.json"
    return with_params[0]


@pytest.fixture
def published(tmp_path: Path) -> Path:
    """The dashboard published from the results into a temporary html dir (asv's plugin makes
    it offline; make_offline is run again to prove it is harmless)."""
    results = _results_dir()
    if not (results / "benchmarks.json").is_file() or not _result_files(results):
        _skip_or_fail(f"no asv results in {results} yet (set DASHBOARD_RESULTS_DIR to use others)")
    config = json.loads((ROOT / "asv.conf.json").read_text())
    config.update(
        repo=str(ROOT),
        benchmark_dir=str(ROOT / "benchmarks"),
        env_dir=str(tmp_path / "env"),
        results_dir=str(results),
        html_dir=str(tmp_path / "html"),
    )
    config_path = tmp_path / "asv.conf.json"
    config_path.write_text(json.dumps(config))
    (tmp_path / "home").mkdir()
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-m", "asv", "publish", "--config", str(config_path)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    html = tmp_path / "html"
    assert "Making the dashboard self-contained" in result.stdout, "the asv plugin did not run"
    assert "dashboard pages in" in result.stdout, "the asv plugin wrote no pages"
    assert "cdn" not in (html / "index.html").read_text(encoding="utf-8")
    offline_dashboard.make_offline(html)
    return html


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served(published: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(published))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def browser_stack() -> None:
    """Skip (fail in CI) before publishing anything when the browser stack is missing."""
    if not CHROMIUM.is_file():
        _skip_or_fail(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    if importlib.util.find_spec("playwright") is None:
        _skip_or_fail("playwright is missing (pip install -e '.[browser]')")


_PLOT_JS = """() => {
    const plot = $('#main-graph').data('plot');
    if (!plot) return null;
    return plot.getData().map(s => ({
        label: s.label,
        points: s.data.filter(p => p !== null && p[1] !== null).map(p => p[0]),
    }));
}"""


# Every row of the Benchmark list against the latest results: {name(params): value}.
_LIST_CHECK_JS = """(values) => {
    const wrong = [];
    let checked = 0;
    $('#summarylist-body table:visible tbody tr').each((i, tr) => {
        const name = $(tr).find('td').first().text().trim();
        if (!(name in values)) return;
        const unit = $.asv.main_json.benchmarks[name.replace(/\\(.*/, '')].unit;
        const expected = $.asv.pretty_unit(values[name], unit);
        const shown = $(tr).find('td.value').text().trim();
        checked += 1;
        if (shown !== expected) wrong.push([name, shown, expected]);
    });
    return {checked: checked, wrong: wrong};
}"""


@pytest.mark.slow
def test_the_published_dashboard_works_offline_in_chromium(
    browser_stack: None, published: Path, served: str, tmp_path: Path,
) -> None:
    from playwright.sync_api import sync_playwright

    results = _results_dir()
    expected_commits, expected_points = _expected_points(results, GRAPH_BENCHMARK)
    assert expected_commits, f"no result for {GRAPH_BENCHMARK} in {results}"
    param_benchmark = _param_benchmark(results)
    revision_names = sorted(json.loads((results / "benchmarks.json").read_text()))
    published_html = Path(published)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshots: list[Path] = []
    requests: list[str] = []
    errors: list[str] = []
    (tmp_path / "profile").mkdir()

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900},
        )
        try:
            context.on("request", lambda request: requests.append(request.url))

            def route(route: Any) -> None:  # belt and braces: nothing may leave the machine
                if urlsplit(route.request.url).hostname == "127.0.0.1":
                    route.continue_()
                else:
                    route.abort()

            context.route("**/*", route)
            page = context.pages[0] if context.pages else context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))

            def shot(name: str) -> None:
                path = ARTIFACTS / f"{name}.png"
                page.screenshot(path=str(path), full_page=False)
                screenshots.append(path)

            # Grid view.
            page.goto(f"{served}/index.html", wait_until="load")
            page.wait_for_selector("#summarygrid-display a.benchmark-container", timeout=20_000)
            assert page.url.startswith(f"{served}/index.html"), page.url
            assert "dependencies of airspeed velocity failed to load" not in page.content()
            assert page.evaluate(
                "() => typeof $ === 'function' && typeof $.plot === 'function'"
                " && typeof $.fn.stupidtable === 'function' && typeof md5 === 'function'"
                " && typeof $.fn.modal === 'function'")
            plugins = page.evaluate("() => $.plot.plugins.map(p => p.name)")
            assert {"time", "selection", "categories", "orderBars"} <= set(plugins)
            entries = page.locator("#summarygrid-display a.benchmark-container").count()
            assert entries > 0
            assert page.locator(f'a.benchmark-container[href="#{GRAPH_BENCHMARK}"]').count() == 1
            page.wait_for_timeout(500)
            shot("grid")
            height = page.evaluate("() => document.documentElement.scrollHeight")
            for y in range(0, height + 900, 600):
                page.evaluate(f"() => window.scrollTo(0, {y})")
                page.wait_for_timeout(30)
            page.wait_for_function(
                "() => $('#summarygrid-display .benchmark-plot').filter("
                "(i, el) => $(el).find('canvas').length === 0).length === 0", timeout=30_000)
            drawn = page.locator("#summarygrid-display .benchmark-plot canvas.flot-base").count()
            assert drawn == entries, f"{drawn} of {entries} thumbnails drawn"
            shot("grid-scrolled")

            # Graph of one benchmark: one point per commit with a result.
            page.goto(f"{served}/index.html#{GRAPH_BENCHMARK}")
            page.wait_for_function(f"() => ({_PLOT_JS})() !== null", timeout=20_000)
            series = page.evaluate(_PLOT_JS)
            assert series, "no series plotted"
            revision_to_hash = page.evaluate("() => $.asv.main_json.revision_to_hash")
            plotted = [x for s in series for x in s["points"]]
            for s in series:
                assert len(s["points"]) == len(set(s["points"])), f"duplicate x in {s['label']}"
            assert len(plotted) == expected_points
            assert {revision_to_hash[str(x)] for x in plotted} == expected_commits
            shot("graph")

            # A parameterized benchmark's graph.
            page.goto(f"{served}/index.html#{param_benchmark}")
            page.wait_for_function(
                "() => $.asv.main_json && $('#title').text().trim()"
                f" === {json.dumps(param_benchmark)}", timeout=20_000)
            page.wait_for_function(f"() => ({_PLOT_JS})() !== null", timeout=20_000)
            param_series = page.evaluate(_PLOT_JS)
            assert param_series and any(s["points"] for s in param_series)
            assert page.locator("#graphdisplay-navigation").is_visible()
            shot("graph-params")

            # Growth benchmarks open on a log axis.
            growth = next((n for n in revision_names if n.startswith("bench_growth.")), None)
            if growth is not None:
                page.goto(f"{served}/index.html#{growth}")
                page.wait_for_function(f"() => ({_PLOT_JS})() !== null", timeout=20_000)
                assert "y-axis-scale=log" in page.url
                assert page.locator("#log-scale.active").count() == 1
                shot("graph-growth-log")

            # Benchmark list: the value column is the latest result of each series.
            param_list = json.loads((published_html / "index.json").read_text())[
                "graph_param_list"]
            for machine, values in _latest_values(results).items():
                state = next(p for p in param_list if p.get("machine") == machine)
                query = "&".join(f"{quote(k)}={quote(str(v or ''))}" for k, v in state.items())
                page.goto(f"{served}/index.html#summarylist?{query}")
                page.wait_for_function(
                    "() => $('#summarylist-body table:visible tbody tr').length > 0",
                    timeout=20_000)
                # The list is drawn again when the hash names another machine: until it is,
                # the rows on screen may be the previous machine's, none of them in ``values``.
                page.wait_for_function(f"(values) => ({_LIST_CHECK_JS})(values).checked > 0",
                                       arg=values, timeout=20_000)
                mismatches = page.evaluate(_LIST_CHECK_JS, values)
                assert mismatches["checked"] > 0, machine
                assert mismatches["wrong"] == [], machine
            shot("list")

            # Regressions page: every flagged change marked acknowledged or not.
            page.goto(f"{served}/index.html#regressions")
            page.wait_for_function(
                "() => $('#regressions-body').children().length > 0"
                " && !/Loading\\.\\.\\./.test($('#regressions-body').text())", timeout=20_000)
            assert page.locator("#regressions-display").is_visible()
            page.wait_for_function("() => document.getElementById('ack-summary') !== null")
            rows = page.locator("#regressions-display table tbody tr")
            flagged_jumps = sum(len(item[6] or []) for item in json.loads(
                (published_html / "regressions.json").read_text())["regressions"])
            page.wait_for_function(
                "() => $('#regressions-display table tbody tr').not('[data-ack]').length === 0")
            assert rows.count() == flagged_jumps
            marks = page.evaluate(
                "() => $('#regressions-display table tbody tr').map("
                "(i, tr) => tr.getAttribute('data-ack')).get()")
            assert set(marks) <= {"acknowledged", "unexplained"}, set(marks)
            summary = page.locator("#ack-summary").inner_text()
            assert summary.startswith(f"{flagged_jumps} flagged changes: "
                                      f"{marks.count('acknowledged')} acknowledged"), summary
            print(f"regressions page: {len(marks)} flagged, {marks.count('acknowledged')} "
                  f"acknowledged, {marks.count('unexplained')} not")
            shot("regressions")

            # A commit link lands on that commit's section of the changes page.
            link = page.locator('#regressions-display a[href^="changes.html#commit-"]').first
            href = link.get_attribute("href")
            assert href is not None
            link.click()
            page.wait_for_url(f"**/{href}")
            target = page.evaluate(
                "() => { const el = document.getElementById(location.hash.slice(1));"
                " return el ? el.getAttribute('data-commit') : null; }")
            assert target is not None and target.startswith(href.rsplit("-", 1)[1])
            assert page.locator("#missing-commit").is_hidden()
            shot("commit-link")

            # Stages page: every benchmarked commit drawn, in each of the six charts.
            page.goto(f"{served}/stages.html")
            by_machine = _values_by_machine(results)
            charts = page.evaluate(
                "() => Array.from(document.querySelectorAll('svg.stages')).map(svg => ({"
                " measure: svg.dataset.measure, scenario: svg.dataset.scenario,"
                " commits: Array.from(svg.querySelectorAll('g.commit'))"
                ".map(g => g.dataset.commit),"
                " bars: svg.querySelectorAll('rect.end-to-end').length}))")
            for measure, marker in (("timings", GRAPH_BENCHMARK), (
                    "counters", "bench_orchestration.ExecuteApprovedInstructions.track_")):
                machines = [m for m, by_commit in by_machine.items()
                            if any(k.startswith(marker) for v in by_commit.values() for k in v)]
                drawn = [c for c in charts if c["measure"] == measure]
                assert len(drawn) == 3 * len(machines), (measure, len(drawn))
                for chart in drawn:
                    assert any(set(chart["commits"]) == set(by_machine[m]) for m in machines)
                    assert len(chart["commits"]) == len(set(chart["commits"]))
                    assert chart["bars"] > 0
                print(f"stages page, {measure}: {[len(c['commits']) for c in drawn]} commits")
            page.locator("svg.stages g.commit").last.hover()
            assert page.locator("#detail").is_visible()
            assert page.locator("#detail").inner_text().startswith(
                page.locator("svg.stages g.commit").last.get_attribute("data-commit")[:8])
            shot("stages")

            # Changes page: the deterministic changes the results hold, no more, no less.
            page.goto(f"{served}/changes.html")
            listed = page.evaluate(
                "() => Array.from(document.querySelectorAll('table.counters tr[data-name]'))"
                ".map(tr => [tr.closest('section').dataset.commit, tr.dataset.name])")
            assert {tuple(item) for item in listed} == _expected_counter_changes(results)
            sections = page.evaluate(
                "() => Array.from(document.querySelectorAll('section.commit'))"
                ".map(s => s.dataset.commit)")
            newest = max(by_machine[next(iter(by_machine))],
                         key=_ordered_first_parent().index)
            assert sections[0] == newest  # the newest commit comes first, whatever moved
            assert page.locator("section.accepted").count() == len(tomllib.loads(
                (ROOT / "docs" / "accepted-changes.toml").read_text())["change"])
            shot("changes")

            assert "error.html" not in page.url
        finally:
            context.close()

    print("dashboard screenshots:", *map(str, screenshots), sep="\n  ")
    assert errors == [], errors
    assert requests, "no request recorded"
    external = [url for url in requests
                if urlsplit(url).scheme not in {"data", "blob"}
                and urlsplit(url).hostname != "127.0.0.1"]
    assert external == []
    assert any(url.endswith("/vendor/jquery/dist/jquery.min.js") for url in requests)
    assert any("/vendor/bootstrap/dist/css/bootstrap.min.css" in url for url in requests)


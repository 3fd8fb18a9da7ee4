"""The dashboard's own pages and fixes, written into a site ``asv publish`` just wrote.

* ``stages.html``: for every benchmarked commit, the three end-to-end scenarios of
  ``execute_approved`` (matching version, rejected as stale, revalidated then executed) beside
  their stages stacked (resolution, engine handoff, recording, and what remains), for the
  timings and for the instruction counters, with the ratio to the floor on the same chart.
* ``changes.html``: every benchmarked commit against the previous benchmarked one, what moved
  beyond noise, timings apart from counters, by suite; the regressions matched to the entries
  of ``docs/accepted-changes.toml``, which the page also shows in full.
* asv's pages: the Benchmark list shows the latest result (asv shows its fitted step level);
  commit links go to the repository (``repository_url`` in asv.conf.json, or
  ``$GOVERNANCE_REPOSITORY_URL``), else to the commit on the changes page; the regressions page
  marks each flagged change acknowledged (with its reason) or not; the growth benchmarks open
  on a log axis; units missing from ``benchmarks.json`` are filled in from the names.

Pages are static HTML with inline SVG and plain JavaScript: nothing is loaded from outside.
The asv plugin ``asv_plugins/offline_dashboard.py`` runs ``build_pages`` after every
``asv publish``, before ``scripts.offline_dashboard.make_offline``. By hand::

    python -m scripts.dashboard_pages [HTML_DIR]       # default: html, after asv publish
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.dashboard_data import (
    SCENARIOS,
    TIMING_FACTOR,
    AcceptedChange,
    Change,
    CommitChanges,
    DashboardDataError,
    Measure,
    Series,
    StageRow,
    changes,
    commit_subjects,
    commits_between,
    first_parent_history,
    has_stages,
    latest_point,
    load_accepted,
    load_series,
    match_accepted,
    stage_rows,
    unit_of,
)

ROOT = Path(__file__).resolve().parents[1]
ACCEPTED = Path("docs") / "accepted-changes.toml"
REPOSITORY_URL_ENV = "GOVERNANCE_REPOSITORY_URL"
CHANGES_PAGE = "changes.html"
STAGES_PAGE = "stages.html"
EXTRAS_JS = "dashboard_extras.js"
COMMIT_ANCHOR = "commit-"
_MARK = "<!-- governance dashboard pages -->"
_CSS = "vendor/bootstrap/dist/css/bootstrap.min.css"
COLOURS = {"end to end": "#34495e", "resolution": "#4e79a7", "handoff": "#f28e2b",
           "recording": "#59a14f", "remains": "#bab0ac", "ratio": "#e15759"}


class DashboardPagesError(RuntimeError):
    """The published site cannot receive the dashboard pages."""


# --------------------------------------------------------------------------- formatting


def format_value(value: float | None, unit: str) -> str:
    """A figure with its unit: ``65.0 us``, ``2,282 bytes``, ``340,453 instructions``."""
    if value is None:
        return "n/a"
    if value == 0:
        return f"0 {unit}".rstrip() if unit != "seconds" else "0"
    if unit == "seconds":
        for factor, name in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")):
            if abs(value) >= factor or name == "ns":
                return f"{value / factor:.3g} {name}"
    if unit in {"bytes", "blocks", "instructions"}:
        return f"{value:,.0f} {unit}"
    if unit == "ratio":
        return f"{value:.4g}x"
    return f"{value:.4g} {unit}".rstrip()


def format_ratio(before: float, after: float) -> str:
    if before == 0:
        return "new"
    ratio = after / before
    percent = (ratio - 1) * 100
    return f"{ratio:.3f}x ({percent:+.2f} %)" if abs(percent) < 10 else f"{ratio:.2f}x"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


# --------------------------------------------------------------------------- context


@dataclass
class Site:
    """What the pages are built from."""

    html_dir: Path
    benchmarks: dict[str, Any]
    order: list[str]  # published commits, oldest first
    hash_length: int
    series: list[Series]
    accepted: list[AcceptedChange]
    subjects: dict[str, str]
    history: list[str]  # first-parent commits of the branches, oldest first ([] without git)
    repository_url: str
    revision_to_hash: dict[str, str] = field(default_factory=dict)

    def short(self, commit: str) -> str:
        return commit[:self.hash_length]

    def anchor(self, commit: str) -> str:
        return f"{COMMIT_ANCHOR}{self.short(commit)}"

    def commit_url(self, commit: str) -> str:
        """The commit in the repository, or its section of the changes page."""
        if self.repository_url:
            return f"{self.repository_url}/commit/{commit}"
        return f"{CHANGES_PAGE}#{self.anchor(commit)}"

    def title(self, commit: str) -> str:
        subject = self.subjects.get(commit)
        return f"{self.short(commit)} {subject}" if subject else self.short(commit)

    def previous_commit(self, commit: str) -> str | None:
        i = self.order.index(commit) if commit in self.order else -1
        return self.order[i - 1] if i > 0 else None


def read_repository_url(config: Mapping[str, Any]) -> str:
    """``$GOVERNANCE_REPOSITORY_URL``, else ``repository_url`` of asv.conf.json, else ""."""
    url = os.environ.get(REPOSITORY_URL_ENV) or str(config.get("repository_url") or "")
    return url.strip().rstrip("/")


def load_site(html_dir: Path, results_dir: Path, repo: Path, branches: Sequence[str],
              accepted_path: Path, repository_url: str) -> Site:
    index_path = html_dir / "index.json"
    if not index_path.is_file():
        raise DashboardPagesError(f"{index_path} is missing: run `asv publish` first")
    index = json.loads(index_path.read_text(encoding="utf-8"))
    benchmarks_path = results_dir / "benchmarks.json"
    if not benchmarks_path.is_file():
        raise DashboardPagesError(f"{benchmarks_path} is missing: no results to show")
    benchmarks = json.loads(benchmarks_path.read_text(encoding="utf-8"))
    revision_to_hash = {str(k): v for k, v in index["revision_to_hash"].items()}
    order = [revision_to_hash[k] for k in sorted(revision_to_hash, key=int)]
    series = load_series(results_dir, benchmarks, order)
    try:
        accepted = load_accepted(accepted_path)
    except DashboardDataError as error:
        raise DashboardPagesError(str(error)) from error
    return Site(html_dir, benchmarks, order, int(index.get("hash_length", 8)), series, accepted,
                commit_subjects(repo, order), first_parent_history(repo, branches),
                repository_url, revision_to_hash)


# --------------------------------------------------------------------------- acknowledgments


@dataclass(frozen=True)
class Flagged:
    """One change asv's regressions page lists (one jump of one series)."""

    name: str
    machine: str
    commit: str  # the commit after the jump
    previous: str | None  # the commit before it (None: asv gives a single commit)
    before: float
    after: float
    accepted: AcceptedChange | None


def flagged_regressions(site: Site) -> list[Flagged]:
    """asv's regressions (``regressions.json``), each matched to an accepted change by
    commit and benchmark pattern."""
    path = site.html_dir / "regressions.json"
    if not path.is_file():
        return []
    found = []
    for item in json.loads(path.read_text(encoding="utf-8")).get("regressions", []):
        name, _, machine_params, _, _, _, jumps = item
        for rev_a, rev_b, before, after in jumps or []:
            commit = site.revision_to_hash.get(str(rev_b))
            if commit is None:
                continue
            previous = site.revision_to_hash.get(str(rev_a)) if rev_a is not None else None
            if previous is None:
                previous = site.previous_commit(commit)
            candidates = commits_between(site.history, previous, commit)
            found.append(Flagged(name, str(machine_params.get("machine", "")), commit,
                                 previous, float(before), float(after),
                                 match_accepted(site.accepted, name, candidates)))
    return found


def acknowledge(site: Site, change: Change, commit: str) -> AcceptedChange | None:
    return match_accepted(site.accepted, change.name,
                          commits_between(site.history, change.previous, commit))


# --------------------------------------------------------------------------- page frame


def _page(title: str, body: str, script: str = "") -> str:
    nav = "".join(
        f'<li{" class=active" if href.endswith(title.lower() + ".html") else ""}>'
        f'<a href="{href}">{_e(text)}</a></li>'
        for href, text in (("index.html#/", "Benchmark grid"),
                           ("index.html#/summarylist", "Benchmark list"),
                           ("index.html#/regressions", "Regressions"),
                           (STAGES_PAGE, "Stages"), (CHANGES_PAGE, "Changes")))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>governance: {_e(title)}</title>
<link href="{_CSS}" rel="stylesheet" type="text/css">
<link rel="shortcut icon" href="swallow.ico">
<style>
body {{ padding: 12px 18px; }}
.subject {{ color: #555; }}
table.changes {{ width: auto; font-size: 13px; }}
table.changes td.num {{ text-align: right; font-family: monospace; white-space: nowrap; }}
tr.suite th {{ background: #f2f2f2; }}
tr.worse td.status {{ color: #b00; }}
tr.worse.acknowledged td.status {{ color: #7a6000; }}
tr.better td.status {{ color: #2a7a2a; }}
tr.unexplained {{ background: #fde2e2; }}
section.commit {{ border-top: 1px solid #ddd; padding-top: 6px; margin-top: 10px; }}
section.commit:target, section.accepted:target {{ background: #fffbe0; }}
pre.figures {{ white-space: pre-wrap; font-size: 12px; }}
.chart {{ margin-bottom: 18px; }}
.chart svg {{ border: 1px solid #eee; }}
g.commit:hover rect.slot {{ fill: #f3f6fa; }}
#detail {{ position: fixed; right: 16px; top: 60px; width: 380px; background: #fff;
  border: 1px solid #ccc; padding: 8px 10px; font-size: 12px; white-space: pre-wrap;
  font-family: monospace; display: none; box-shadow: 0 2px 6px rgba(0,0,0,.2); z-index: 5; }}
.legend span {{ display: inline-block; margin-right: 14px; }}
.legend i {{ display: inline-block; width: 12px; height: 12px; margin-right: 4px;
  vertical-align: middle; }}
#missing-commit {{ display: none; }}
</style>
</head>
<body>
<ul class="nav nav-pills">{nav}</ul>
{body}
<script>
{script}
</script>
</body>
</html>
"""


# --------------------------------------------------------------------------- changes page


def _change_rows(site: Site, commit: str, items: list[Change],
                 flagged: set[tuple[str, str]]) -> tuple[str, int, int]:
    rows, acknowledged, unexplained = [], 0, 0
    by_suite: dict[str, list[Change]] = defaultdict(list)
    for change in items:
        by_suite[change.suite].append(change)
    for suite in sorted(by_suite):
        rows.append(f'<tr class="suite"><th colspan="6">{_e(suite)}</th></tr>')
        for change in sorted(by_suite[suite], key=lambda c: (c.direction, c.name)):
            classes: list[str] = [change.direction]
            if change.direction == "worse":
                entry = acknowledge(site, change, commit)
                if entry is None:
                    unexplained += 1
                    classes.append("unexplained")
                    status = "worse, not in accepted-changes.toml" + (
                        " (on the regressions page)" if (change.name, commit) in flagged
                        else " (not on the regressions page)")
                else:
                    acknowledged += 1
                    classes.append("acknowledged")
                    status = (f'worse, acknowledged: <a href="#{entry.anchor}">'
                              f'{_e(entry.summary)}</a>')
            else:
                status = "better"
            rows.append(
                f'<tr class="{" ".join(classes)}" data-name="{_e(change.name)}">'
                f"<td>{_e(change.name.split('.', 1)[1])}</td>"
                f'<td class="num">{_e(format_value(change.before, change.unit))}</td>'
                f'<td class="num">{_e(format_value(change.after, change.unit))}</td>'
                f'<td class="num">{_e(format_ratio(change.before, change.after))}</td>'
                f"<td><small>{_e(change.machine)}</small></td>"
                f'<td class="status">{status}</td></tr>')
    return "\n".join(rows), acknowledged, unexplained


_HEAD = ("<thead><tr><th>benchmark</th><th>before</th><th>after</th><th>change</th>"
         "<th>machine</th><th>status</th></tr></thead>")


def changes_page(site: Site, listed: list[CommitChanges], flagged: list[Flagged]) -> str:
    flagged_at = {(f.name, f.commit) for f in flagged}
    sections = []
    for entry in listed:
        commit = entry.commit
        link = f'<a href="{_e(site.commit_url(commit))}">{_e(site.short(commit))}</a>'
        subject = site.subjects.get(commit, "")
        compared = ", ".join(
            f'<a href="#{site.anchor(prev)}">{_e(site.short(prev))}</a> ({_e(machine)})'
            for machine, prev in sorted(entry.previous.items()))
        parts = [f'<section class="commit" id="{site.anchor(commit)}" data-commit="{commit}">',
                 f'<h3>{link} <span class="subject">{_e(subject)}</span></h3>',
                 f"<p>compared with {compared}</p>" if compared
                 else "<p>the first benchmarked commit: nothing to compare with</p>"]
        counters = [c for c in entry.changes if c.kind != "timing"]
        timings = [c for c in entry.changes if c.kind == "timing"]
        for title, items, rule in (
                ("Counters", counters, "instruction counters beyond their measured spread "
                 "(0.133 %), allocation twins by any change"),
                ("Timings", timings,
                 f"asv's statistics at the PR gate's factor {TIMING_FACTOR:g}")):
            if not entry.previous:
                continue
            if not items:
                parts.append(f'<h4>{title}</h4><p class="none">nothing moved ({rule})</p>')
                continue
            rows, acknowledged, unexplained = _change_rows(site, commit, items, flagged_at)
            worse = sum(c.direction == "worse" for c in items)
            parts.append(
                f'<h4>{title} <small>{len(items)} moved ({rule}): {worse} worse, '
                f"{acknowledged} acknowledged, {unexplained} not</small></h4>"
                f'<table class="table table-condensed changes {title.lower()}">{_HEAD}'
                f"<tbody>{rows}</tbody></table>")
        parts.append("</section>")
        sections.append("\n".join(parts))

    flagged_ok = sum(f.accepted is not None for f in flagged)
    unexplained_rows = "".join(
        f'<li>{_e(f.name)} at <a href="#{site.anchor(f.commit)}">{_e(site.short(f.commit))}</a>'
        f" ({_e(format_value(f.before, unit_of(f.name, site.benchmarks)))} -> "
        f"{_e(format_value(f.after, unit_of(f.name, site.benchmarks)))}, {_e(f.machine)})</li>"
        for f in flagged if f.accepted is None)
    summary = (
        f'<p id="flagged-summary" data-flagged="{len(flagged)}" data-acknowledged="{flagged_ok}">'
        f'asv\'s <a href="index.html#/regressions">regressions page</a> flags {len(flagged)} '
        f"changes still present at the latest commit: {flagged_ok} acknowledged in "
        f"docs/accepted-changes.toml, {len(flagged) - flagged_ok} not.</p>"
        + (f'<ul class="unexplained-flags">{unexplained_rows}</ul>' if unexplained_rows else ""))

    accepted_html = []
    for accepted in site.accepted:
        full = next((c for c in site.order + site.history if c.startswith(accepted.commit)), None)
        commit_html = (f'<a href="{_e(site.commit_url(full))}">{_e(accepted.commit)}</a>'
                       if full else _e(accepted.commit))
        patterns = "".join(f"<li><code>{_e(p)}</code></li>" for p in accepted.benchmarks)
        accepted_html.append(
            f'<section class="accepted" id="{accepted.anchor}"><h4>{commit_html} '
            f'<span class="subject">{_e(site.subjects.get(full or "", ""))}</span></h4>'
            f"<p><b>Why.</b> {_e(' '.join(accepted.why.split()))}</p>"
            f"<ul>{patterns}</ul>"
            f'<pre class="figures">{_e(accepted.figures.strip())}</pre></section>')

    body = (
        "<h2>Changes, commit by commit</h2>"
        "<p>Each benchmarked commit against the previous benchmarked commit of the same "
        "machine, newest first, from the raw results (no fitted step). Lower is better. A "
        "worse figure is <i>acknowledged</i> when an entry of docs/accepted-changes.toml names "
        "its benchmark and a commit in that range.</p>"
        + summary
        + '<p id="missing-commit" class="alert alert-warning"></p>'
        + "\n".join(sections)
        + '<h2 id="accepted">Accepted changes <small>docs/accepted-changes.toml</small></h2>'
        + "\n".join(accepted_html))
    script = """
(function () {
  function check() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    var note = document.getElementById('missing-commit');
    note.style.display = 'none';
    if (!id || document.getElementById(id)) return;
    var m = /^commit-([0-9a-f]+)$/.exec(id);
    if (m) {
      var found = document.querySelector('section.commit[data-commit^="' + m[1] + '"]');
      if (found) { window.location.replace('#' + found.id); return; }
    }
    note.textContent = 'Commit ' + (m ? m[1] : id) + ' has no benchmark results here.';
    note.style.display = 'block';
  }
  window.addEventListener('hashchange', check);
  check();
})();
"""
    return _page("Changes", body, script)


# --------------------------------------------------------------------------- stages page

_SLOT = 34
_BAR = 12
_HEIGHT = 370
_TOP = 14
_LEFT = 78
_RIGHT = 56
_BOTTOM = 210
_SUBJECT_CHARS = 24


def _label(site: Site, commit: str) -> str:
    """Short hash and subject, cut to fit under the chart."""
    subject = site.subjects.get(commit, "")
    if len(subject) > _SUBJECT_CHARS:
        subject = subject[:_SUBJECT_CHARS - 1] + "\u2026"
    return f"{site.short(commit)} {subject}".rstrip()


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        top = step * 10.0 ** exponent
        if top >= value:
            return top
    return 10.0 ** (exponent + 1)


def stage_chart(site: Site, rows: list[StageRow], scenario_key: str, measure: Measure,
                unit: str) -> str:
    """One scenario's chart: per commit, the end-to-end bar, the stacked stages and the ratio
    to the floor (right axis), as inline SVG."""
    figures = [row.scenarios[scenario_key] for row in rows]
    heights = [max(f.end_to_end or 0, sum(max(v or 0, 0) for _, v in f.stages)
                   + max(f.remains or 0, 0)) for f in figures]
    y_max = _nice_max(max(heights, default=0))
    r_max = _nice_max(max((f.ratio or 0 for f in figures), default=0))
    width = _LEFT + _RIGHT + _SLOT * max(len(rows), 1)
    plot_h = _HEIGHT - _TOP - _BOTTOM

    def y(value: float) -> float:
        return _TOP + plot_h * (1 - value / y_max)

    def y_ratio(value: float) -> float:
        return _TOP + plot_h * (1 - value / r_max)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{_HEIGHT}" '
             f'class="stages" data-scenario="{scenario_key}" data-measure="{measure}">']
    for i in range(5):
        value = y_max * i / 4
        ypos = y(value)
        parts.append(f'<line x1="{_LEFT}" x2="{width - _RIGHT}" y1="{ypos:.1f}" '
                     f'y2="{ypos:.1f}" stroke="#eee"/>'
                     f'<text x="{_LEFT - 4}" y="{ypos + 4:.1f}" font-size="10" '
                     f'text-anchor="end">{_e(format_value(value, unit))}</text>'
                     f'<text x="{width - _RIGHT + 4}" y="{y_ratio(r_max * i / 4) + 4:.1f}" '
                     f'font-size="10" fill="{COLOURS["ratio"]}">{r_max * i / 4:.3g}x</text>')
    ratio_points = []
    for i, (row, fig) in enumerate(zip(rows, figures, strict=True)):
        x0 = _LEFT + i * _SLOT
        lines = [site.title(row.commit), f"{scenario_key}: {measure}",
                 f"end to end  {format_value(fig.end_to_end, unit)}"]
        lines += [f"{label:<11} {format_value(value, unit)}" for label, value in fig.stages]
        lines += [f"{'remains':<11} {format_value(fig.remains, unit)}",
                  f"{'floor':<11} {format_value(fig.floor, unit)}",
                  f"{'to floor':<11} {format_value(fig.ratio, 'ratio')}"]
        detail = "\n".join(lines)
        parts.append(f'<g class="commit" data-commit="{row.commit}" data-detail="{_e(detail)}">'
                     f"<title>{_e(detail)}</title>"
                     f'<rect class="slot" x="{x0}" y="{_TOP}" width="{_SLOT}" '
                     f'height="{plot_h}" fill="transparent"/>')
        if fig.end_to_end is not None:
            parts.append(f'<rect class="end-to-end" x="{x0 + 4}" y="{y(fig.end_to_end):.1f}" '
                         f'width="{_BAR}" height="{y(0) - y(fig.end_to_end):.1f}" '
                         f'fill="{COLOURS["end to end"]}"/>')
        base = 0.0
        stack: list[tuple[str, float | None]] = [*fig.stages, ("remains", fig.remains)]
        for label, part in stack:
            if part is None or part <= 0:
                continue
            parts.append(f'<rect class="stage {label}" x="{x0 + 5 + _BAR}" '
                         f'y="{y(base + part):.1f}" width="{_BAR}" '
                         f'height="{y(base) - y(base + part):.1f}" fill="{COLOURS[label]}"/>')
            base += part
        if fig.end_to_end is None and all(v is None for _, v in fig.stages):
            parts.append(f'<text x="{x0 + _SLOT / 2}" y="{y(0) - 4:.1f}" font-size="9" '
                         f'text-anchor="middle" fill="#999">n/a</text>')
        label_x = x0 + _SLOT / 2
        parts.append(f'<text class="hash" x="{label_x + 3}" y="{y(0) + 6:.1f}" font-size="10" '
                     f'font-family="monospace" text-anchor="end" '
                     f'transform="rotate(-90 {label_x} {y(0) + 6:.1f})">'
                     f"{_e(_label(site, row.commit))}</text></g>")
        if fig.ratio is not None:
            ratio_points.append((label_x, y_ratio(fig.ratio)))
    if ratio_points:
        path = " ".join(f"{x:.1f},{yy:.1f}" for x, yy in ratio_points)
        parts.append(f'<polyline class="ratio" points="{path}" fill="none" '
                     f'stroke="{COLOURS["ratio"]}" stroke-width="1.5" pointer-events="none"/>')
        parts += [f'<circle cx="{x:.1f}" cy="{yy:.1f}" r="2.5" fill="{COLOURS["ratio"]}" '
                  f'pointer-events="none"/>' for x, yy in ratio_points]
    parts.append(f'<line x1="{_LEFT}" x2="{width - _RIGHT}" y1="{y(0):.1f}" y2="{y(0):.1f}" '
                 f'stroke="#888"/></svg>')
    return "".join(parts)


def stages_page(site: Site) -> str:
    legend = '<p class="legend">' + "".join(
        f'<span><i style="background:{colour}"></i>{_e(label)}</span>'
        for label, colour in COLOURS.items()
        if label != "ratio") + (
        f'<span><i style="background:{COLOURS["ratio"]};height:3px"></i>'
        "ratio to the floor (right axis)</span></p>")
    blocks = []
    for measure, unit, title in (("timings", "seconds", "Timings"),
                                 ("counters", "instructions", "Instruction counters")):
        found = [s for s in site.series if has_stages(s, measure)]  # type: ignore[arg-type]
        for series in found:
            rows = stage_rows(series, measure)  # type: ignore[arg-type]
            blocks.append(f'<h3>{title} <small>{_e(series.label)}, {len(rows)} commits, '
                          "oldest first</small></h3>")
            for scenario in SCENARIOS:
                blocks.append(
                    f'<div class="chart"><h5>{_e(scenario.label)}: end to end (left bar), '
                    f'{" + ".join(s[0] for s in scenario.stages)} + what remains (right '
                    "bar)</h5>"
                    + stage_chart(site, rows, scenario.key, measure, unit)  # type: ignore[arg-type]
                    + "</div>")
    if not blocks:
        blocks.append("<p>No results of the stage benchmarks yet.</p>")
    body = (
        "<h2>Stages of a governed execution</h2>"
        "<p><code>execute_approved</code> end to end (<code>bench_orchestration.ExecuteApproved"
        "</code>) beside its stages measured alone: resolution (<code>bench_resolution</code>),"
        " engine handoff (<code>bench_handoff</code>, not run for a stale rejection), recording"
        " (<code>bench_recording</code>); <i>remains</i> is end to end less the stages (the "
        "claim, the glue). The red line is the ratio of end to end to the floor, the least "
        "plain Python can do (<code>ExecuteApprovedFloor</code>). Hover a commit for its "
        "figures. Timings move with the machine's load; instruction counts do not.</p>"
        + legend + "\n".join(blocks) + '<div id="detail"></div>')
    script = """
(function () {
  var panel = document.getElementById('detail');
  document.querySelectorAll('g.commit').forEach(function (g) {
    g.addEventListener('mouseenter', function () {
      panel.textContent = g.getAttribute('data-detail');
      panel.style.display = 'block';
    });
    g.addEventListener('mouseleave', function () { panel.style.display = 'none'; });
  });
})();
"""
    return _page("Stages", body, script)


# --------------------------------------------------------------------------- asv's pages


Spread = Callable[[str, str, int], "float | None"]


def fix_summaries(html_dir: Path, spread: Spread | None = None) -> int:
    """Make every ``summary.json`` row (asv's Benchmark list) show the latest result of its
    series instead of asv's fitted step level, with that result's own spread (half its 99 %
    confidence interval: *spread(machine, name, revision)*), or none. Returns the number of
    rows changed."""
    changed = 0
    for path in sorted((html_dir / "graphs").rglob("summary.json")):
        machine = next((part.removeprefix("machine-") for part in path.parts
                        if part.startswith("machine-")), "")
        rows = json.loads(path.read_text(encoding="utf-8"))
        for row in rows:
            graph = path.parent / f"{row['name']}.json"
            if not graph.is_file():
                continue
            point = latest_point(json.loads(graph.read_text(encoding="utf-8")), row.get("idx"))
            if point is None:
                continue
            revision, value = point
            if (row.get("last_value"), row.get("last_rev")) != (value, revision):
                changed += 1
            name = row.get("pretty_name") or row["name"]
            error = spread(machine, name, revision) if spread else None
            row.update(last_value=value, last_rev=revision, last_err=error)
        path.write_text(json.dumps(rows, separators=(",", ":")), encoding="utf-8")
    return changed


def result_spread(site: Site) -> Spread:
    """Half the 99 % confidence interval asv stored for a result (None where it stored none)."""
    by_machine = {s.machine: {c.commit: c.values for c in s.commits} for s in site.series}

    def spread(machine: str, name: str, revision: int) -> float | None:
        commit = site.revision_to_hash.get(str(revision), "")
        found = by_machine.get(machine, {}).get(commit, {}).get(name)
        stats = found.stats if found else None
        if not stats or stats.get("ci_99_a") is None or stats.get("ci_99_b") is None:
            return None
        return (float(stats["ci_99_b"]) - float(stats["ci_99_a"])) / 2

    return spread


def fix_index(site: Site) -> None:
    """Commit links and units in asv's ``index.json``."""
    path = site.html_dir / "index.json"
    index = json.loads(path.read_text(encoding="utf-8"))
    if site.repository_url:
        index["show_commit_url"] = f"{site.repository_url}/commit/"
        index["project_url"] = site.repository_url
    else:
        index["show_commit_url"] = f"{CHANGES_PAGE}#{COMMIT_ANCHOR}"
        index["project_url"] = CHANGES_PAGE
    for name, entry in index.get("benchmarks", {}).items():
        if isinstance(entry, dict) and entry.get("unit") in (None, "", "unit"):
            unit = unit_of(name, site.benchmarks)
            if unit:
                entry["unit"] = unit
    path.write_text(json.dumps(index, separators=(",", ":")), encoding="utf-8")


def extras_script(site: Site, flagged: list[Flagged]) -> str:
    """index.html's additions: growth series on a log axis, the regressions page's
    acknowledgments."""
    marks: dict[str, dict[str, str]] = {}
    for f in flagged:
        key = f"{f.name} {site.short(f.commit)}"
        mark = ({"status": "acknowledged", "reason": f.accepted.summary,
                 "href": f"{CHANGES_PAGE}#{f.accepted.anchor}"} if f.accepted else
                {"status": "unexplained", "reason": "not in docs/accepted-changes.toml",
                 "href": f"{CHANGES_PAGE}#{site.anchor(f.commit)}"})
        if marks.get(key, {}).get("status") != "unexplained":
            marks[key] = mark
    data = json.dumps({"marks": marks, "flagged": len(flagged),
                       "acknowledged": sum(f.accepted is not None for f in flagged)},
                      sort_keys=True)
    return "/* Generated by scripts/dashboard_pages.py. */\n" + _EXTRAS_JS.replace(
        "__DATA__", data)


_EXTRAS_JS = r"""(function () {
  'use strict';
  var DATA = __DATA__;

  /* Growth benchmarks (parameterised by size) open with a log y axis. */
  function split(hash) {
    var h = hash.replace(/^#\/?/, '');
    var q = h.indexOf('?');
    return {location: q < 0 ? h : h.slice(0, q), query: q < 0 ? '' : h.slice(q + 1)};
  }
  function withLog(hash) {
    var parts = split(hash);
    if (parts.location.indexOf('bench_growth.') !== 0) return null;
    if (/(^|&)y-axis-scale=/.test(parts.query)) return null;
    return '#' + parts.location + '?' + (parts.query ? parts.query + '&' : '')
      + 'y-axis-scale=log';
  }
  var current = split(window.location.hash).location;
  function onHash() {
    var location = split(window.location.hash).location;
    var target = location !== current ? withLog(window.location.hash) : null;
    current = location;
    if (target) history.replaceState(null, '', target);
  }
  current = null;
  onHash();  /* before asv reads the hash: asv listens once index.json is loaded */
  window.addEventListener('hashchange', onHash);
  document.addEventListener('click', function (evt) {
    var link = evt.target.closest ? evt.target.closest('a[href^="#"]') : null;
    if (!link) return;
    var target = withLog(link.getAttribute('href'));
    if (target) link.setAttribute('href', target);
  }, true);

  /* Counted units in asv's pages: "2,282 bytes", "37 blocks", "340,453 instructions"
     (asv writes bytes as "2.282k" and other units in three digits). */
  $(function () {
    if (!$.asv || !$.asv.pretty_unit) return;
    var original = $.asv.pretty_unit;
    $.asv.pretty_unit = function (x, unit) {
      if ((unit === 'bytes' || unit === 'blocks' || unit === 'instructions')
          && typeof x === 'number' && isFinite(x)) {
        return Math.round(x).toLocaleString('en-US') + ' ' + unit;
      }
      return original(x, unit);
    };
  });

  /* The regressions page: each flagged change acknowledged (docs/accepted-changes.toml)
     or not. */
  function annotate() {
    var display = document.getElementById('regressions-display');
    if (!display) return;
    var body = document.getElementById('regressions-body');
    if (body && body.querySelector('table') && !document.getElementById('ack-summary')) {
      var note = document.createElement('p');
      note.id = 'ack-summary';
      note.className = 'alert ' + (DATA.acknowledged === DATA.flagged ? 'alert-info'
                                                                      : 'alert-warning');
      note.innerHTML = DATA.flagged + ' flagged changes: ' + DATA.acknowledged
        + ' acknowledged in docs/accepted-changes.toml, '
        + (DATA.flagged - DATA.acknowledged) + ' not (in red). See the '
        + '<a href="changes.html#accepted">accepted changes</a>.';
      body.insertBefore(note, body.firstChild);
    }
    /* The mark goes under the benchmark's name: an extra column would shift the columns
       asv's sort state (sort=N in the URL) refers to. */
    var tables = display.querySelectorAll('table');
    for (var t = 0; t < tables.length; t++) {
      var rows = tables[t].querySelectorAll('tbody tr');
      for (var i = 0; i < rows.length; i++) {
        var row = rows[i];
        if (row.getAttribute('data-ack') || row.cells.length < 3) continue;
        var name = row.cells[0].textContent.trim();
        var commitCell = row.cells[2];
        var commit = commitCell.textContent.trim().split('..').pop();
        var mark = DATA.marks[name + ' ' + commit];
        row.setAttribute('data-ack', mark ? mark.status : 'unknown');
        if (!commitCell.querySelector('a') && /^[0-9a-f]+\.\.[0-9a-f]+$/.test(
            commitCell.textContent.trim())) {
          /* A commit range is plain text in asv unless the repository is on GitHub. */
          var range = document.createElement('a');
          range.href = $.asv.main_json.show_commit_url + commit;
          range.textContent = commitCell.textContent.trim();
          commitCell.textContent = '';
          commitCell.appendChild(range);
        }
        if (!mark) continue;
        var note = document.createElement('div');
        note.className = 'ack ack-' + mark.status;
        note.style.fontSize = '12px';
        var a = document.createElement('a');
        a.href = mark.href;
        a.textContent = mark.status === 'acknowledged' ? 'acknowledged' : 'NOT explained';
        a.style.fontWeight = 'bold';
        a.style.color = mark.status === 'acknowledged' ? '#2a7a2a' : '#b00';
        note.appendChild(a);
        note.appendChild(document.createTextNode(': ' + mark.reason));
        row.cells[0].appendChild(note);
        if (mark.status !== 'acknowledged') row.style.background = '#fde2e2';
      }
    }
  }
  var pending = false;
  new MutationObserver(function () {
    if (pending) return;
    pending = true;
    window.setTimeout(function () { pending = false; annotate(); }, 0);
  }).observe(document.documentElement, {childList: true, subtree: true});
})();
"""


def inject_into_index(html_dir: Path) -> None:
    """Links to the two pages in asv's navigation bar and the extras script (idempotent)."""
    path = html_dir / "index.html"
    text = path.read_text(encoding="utf-8")
    if _MARK in text:
        return
    anchor = '<li id="nav-li-regressions">'
    end = text.find("</li>", text.find(anchor))
    if text.find(anchor) < 0 or end < 0 or "</head>" not in text:
        raise DashboardPagesError(f"{path}: asv's navigation bar was not found")
    links = (f'\n        <li id="nav-li-stages"><a href="{STAGES_PAGE}">Stages</a></li>'
             f'\n        <li id="nav-li-changes"><a href="{CHANGES_PAGE}">Changes</a></li>')
    text = text[:end + 5] + links + text[end + 5:]
    text = text.replace("</head>", f'    {_MARK}\n    <script src="{EXTRAS_JS}"></script>\n'
                        "  </head>", 1)
    path.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- entry points


@dataclass(frozen=True)
class BuildSummary:
    commits: int
    stage_commits: dict[str, int]  # by "measure series"
    flagged: int
    acknowledged: int
    summaries_fixed: int


def build_pages(html_dir: Path, *, results_dir: Path, repo: Path = ROOT,
                branches: Sequence[str] = ("main",), accepted_path: Path | None = None,
                repository_url: str = "") -> BuildSummary:
    """Write the dashboard's pages into a site ``asv publish`` just wrote to *html_dir*."""
    html_dir = Path(html_dir)
    site = load_site(html_dir, Path(results_dir), Path(repo), branches,
                     accepted_path if accepted_path is not None else Path(repo) / ACCEPTED,
                     repository_url.rstrip("/"))
    listed = changes(site.series, site.benchmarks, site.order)
    flagged = flagged_regressions(site)
    (html_dir / CHANGES_PAGE).write_text(changes_page(site, listed, flagged), encoding="utf-8")
    (html_dir / STAGES_PAGE).write_text(stages_page(site), encoding="utf-8")
    (html_dir / EXTRAS_JS).write_text(extras_script(site, flagged), encoding="utf-8")
    fixed = fix_summaries(html_dir, result_spread(site))
    fix_index(site)
    inject_into_index(html_dir)
    measures: tuple[Measure, ...] = ("timings", "counters")
    stage_commits = {f"{measure} {s.label}": len(s.commits)
                     for measure in measures for s in site.series
                     if has_stages(s, measure)}
    return BuildSummary(len(site.order), stage_commits, len(flagged),
                        sum(f.accepted is not None for f in flagged), fixed)


def build_from_config(conf: Any) -> BuildSummary:
    """``build_pages`` for an asv ``Config`` (asv runs in the config's folder)."""
    config = dict(vars(conf))
    branches = [b for b in (config.get("branches") or ["main"]) if b]
    repo = Path(str(config.get("repo") or ".")).resolve()
    return build_pages(Path(conf.html_dir).resolve(),
                       results_dir=Path(conf.results_dir).resolve(), repo=repo,
                       branches=branches or ["main"], accepted_path=repo / ACCEPTED,
                       repository_url=read_repository_url(config))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html_dir", nargs="?", default=None, type=Path,
                        help="the published site (default: html_dir of asv.conf.json)")
    parser.add_argument("--config", type=Path, default=ROOT / "asv.conf.json")
    args = parser.parse_args(argv)
    config = json.loads(args.config.read_text(encoding="utf-8"))
    base = args.config.resolve().parent
    html_dir = args.html_dir or base / config.get("html_dir", "html")
    try:
        summary = build_pages(
            html_dir, results_dir=base / config.get("results_dir", "results"),
            repo=(base / config.get("repo", ".")).resolve(),
            branches=config.get("branches") or ["main"],
            repository_url=read_repository_url(config))
    except (DashboardPagesError, DashboardDataError) as error:
        print(f"dashboard_pages: error: {error}", file=sys.stderr)
        return 1
    print(report(summary, html_dir))
    return 0


def report(summary: BuildSummary, html_dir: Path) -> str:
    stages = ", ".join(f"{k}: {v} commits" for k, v in summary.stage_commits.items())
    return (f"dashboard pages in {html_dir}: {STAGES_PAGE} ({stages}), {CHANGES_PAGE} "
            f"({summary.commits} commits; {summary.flagged} flagged changes, "
            f"{summary.acknowledged} acknowledged), {summary.summaries_fixed} list values "
            "set to the latest result")


if __name__ == "__main__":
    sys.exit(main())

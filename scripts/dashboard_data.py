"""The figures behind the dashboard's own pages (``scripts.dashboard_pages``).

Everything here works on plain data: the benchmarked commits of each machine with their raw
results (not asv's fitted steps), the units of ``results/benchmarks.json``, the accepted changes
of ``docs/accepted-changes.toml``. It computes

* what moved between each benchmarked commit and the previous benchmarked one (``changes``):
  deterministic figures beyond their measured spread, timings by asv's own statistics at the PR
  gate's factor;
* which flagged change an accepted-changes entry explains (``match_accepted``);
* the stages of the three end-to-end scenarios, stacked, per commit (``stage_rows``);
* the latest raw value of a series (``latest_point``).

Loading the results (``load_series``) uses asv's own reader, so it needs asv; the rest does not.
"""

from __future__ import annotations

import fnmatch
import itertools
import math
import re
import subprocess
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from scripts.pr_gate import DEFAULT_FACTOR

# Instruction counters move by at most this much between runs of the same commit (README,
# "Instruction counters": 0.133 % for the handoff, 0 for most): a larger change is real.
COUNTER_SPREAD = 0.00133
# Timings: asv's statistics at the PR gate's factor.
TIMING_FACTOR = DEFAULT_FACTOR

Kind = Literal["counter", "allocation", "timing"]
Direction = Literal["worse", "better"]


class DashboardDataError(ValueError):
    """Input the dashboard pages cannot be built from (named with what was wrong)."""


# --------------------------------------------------------------------------- benchmarks


def kind_of(name: str) -> Kind:
    """``counter`` for instruction counters (and their ratio to the floor), ``allocation`` for
    the tracemalloc twins (bytes, blocks), ``timing`` for the rest (timings and timing ratios)."""
    cls = name.split("(")[0].split(".")[1] if name.count(".") >= 2 else ""
    if "Instruction" in cls:
        return "counter"
    if cls.endswith(("AllocatedBytes", "AllocatedBlocks")):
        return "allocation"
    return "timing"


def unit_of(name: str, benchmarks: Mapping[str, Any]) -> str:
    """The unit ``benchmarks.json`` gives *name*, else the one its name implies."""
    base = name.split("(")[0]
    entry = benchmarks.get(base)
    unit = entry.get("unit") if isinstance(entry, Mapping) else None
    if unit and unit != "unit":
        return str(unit)
    parts = [part.lower() for part in base.split(".")[1:]]
    for suffix in ("bytes", "blocks"):
        if any(part.endswith(suffix) for part in parts):
            return suffix
    if any(part.endswith("instructions") for part in parts):
        return "instructions"
    if base.rsplit(".", 1)[-1].startswith("time_"):
        return "seconds"
    return ""


def suite_of(name: str) -> str:
    """The benchmark module, e.g. ``bench_orchestration``."""
    return name.split(".", 1)[0]


def param_names(params: Sequence[Sequence[str]]) -> list[str]:
    """asv's names of the parameter combinations, in its flat order: ``""`` when there are no
    parameters, else ``"10"``, ``"32, 8"``, ..."""
    if not params:
        return [""]
    return [", ".join(combo) for combo in itertools.product(*params)]


def full_name(base: str, combo: str) -> str:
    return f"{base}({combo})" if combo else base


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Measurement:
    """One benchmark's result at one commit: asv's value and, for timings, its statistics."""

    value: float | None
    stats: Mapping[str, Any] | None = None
    samples: Sequence[float] | None = None


@dataclass(frozen=True)
class CommitResults:
    commit: str  # full hash
    values: Mapping[str, Measurement]  # by full name, "name(params)" when parameterized


@dataclass(frozen=True)
class Series:
    """The benchmarked commits of one machine (and environment), oldest first."""

    machine: str
    env: str
    commits: Sequence[CommitResults]

    @property
    def label(self) -> str:
        return self.machine


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def load_series(results_dir: Path, benchmarks: Mapping[str, Any],
                order: Sequence[str]) -> list[Series]:
    """Every machine's results in *results_dir*, restricted to the commits of *order* (the
    published commits, oldest first) and to results whose benchmark version is the current one
    (as ``asv publish`` does)."""
    from asv.results import iter_results_for_machine

    position = {commit: i for i, commit in enumerate(order)}
    grouped: dict[tuple[str, str], dict[str, dict[str, Measurement]]] = {}
    machines = sorted(p.parent.name for p in Path(results_dir).glob("*/machine.json"))
    for machine in machines:
        for result in iter_results_for_machine(str(results_dir), machine):
            if result.commit_hash not in position:
                continue
            values = grouped.setdefault((machine, result.env_name), {}).setdefault(
                result.commit_hash, {})
            for key in result.get_all_result_keys():
                current = benchmarks.get(key)
                if not isinstance(current, Mapping):
                    continue
                if result.benchmark_version.get(key) != current.get("version"):
                    continue
                params = result.get_result_params(key)
                numbers = result.get_result_value(key, params)
                stats = result.get_result_stats(key, params)
                samples = result.get_result_samples(key, params)
                for i, combo in enumerate(param_names(params)):
                    if i >= len(numbers):
                        break
                    values[full_name(key, combo)] = Measurement(
                        _number(numbers[i]),
                        stats[i] if i < len(stats) else None,
                        samples[i] if i < len(samples) else None)
    series = []
    for (machine, env), by_commit in sorted(grouped.items()):
        ordered = sorted(by_commit, key=lambda c: position[c])
        commits = [CommitResults(c, by_commit[c]) for c in ordered]
        series.append(Series(machine, env, commits))
    if len({s.machine for s in series}) < len(series):  # one machine, several environments
        series = [Series(f"{s.machine} {s.env}", s.env, s.commits) for s in series]
    return series


# --------------------------------------------------------------------------- changes


def moved(kind: Kind, before: Measurement, after: Measurement) -> Direction | None:
    """Whether *after* differs from *before* beyond noise (lower is better), and which way.

    Allocation twins are exact: any change counts. Instruction counters: beyond their measured
    spread. Timings: asv's ``_is_result_better`` at the gate's factor, with the statistics asv
    stored (it falls back to the factor alone where there are none)."""
    a, b = before.value, after.value
    if a is None or b is None:
        return None
    if kind == "allocation":
        return None if a == b else ("worse" if b > a else "better")
    if kind == "counter":
        if a == 0:
            return None if b == 0 else "worse"
        if abs(b - a) <= COUNTER_SPREAD * abs(a):
            return None
        return "worse" if b > a else "better"
    from asv.commands.compare import _is_result_better

    ss_a = (before.stats, before.samples) if before.stats else None
    ss_b = (after.stats, after.samples) if after.stats else None
    if _is_result_better(b, a, ss_b, ss_a, TIMING_FACTOR):
        return "better"
    if _is_result_better(a, b, ss_a, ss_b, TIMING_FACTOR):
        return "worse"
    return None


@dataclass(frozen=True)
class Change:
    machine: str
    name: str
    kind: Kind
    unit: str
    before: float
    after: float
    direction: Direction
    previous: str  # the previous benchmarked commit (full hash)

    @property
    def ratio(self) -> float:
        return self.after / self.before if self.before else math.inf

    @property
    def suite(self) -> str:
        return suite_of(self.name)


@dataclass
class CommitChanges:
    """What moved at one benchmarked commit, against the previous benchmarked commit of each
    machine (``previous`` by machine; absent for a machine's first commit)."""

    commit: str
    previous: dict[str, str] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)


def changes(series: Iterable[Series], benchmarks: Mapping[str, Any],
            order: Sequence[str]) -> list[CommitChanges]:
    """Every benchmarked commit (newest first), each with what moved beyond noise against the
    previous benchmarked commit of the same machine. A commit where nothing moved is listed
    too, with no change."""
    by_commit: dict[str, CommitChanges] = {}
    for s in series:
        for i, cur in enumerate(s.commits):
            entry = by_commit.setdefault(cur.commit, CommitChanges(cur.commit))
            if i == 0:
                continue
            prev = s.commits[i - 1]
            entry.previous[s.label] = prev.commit
            for name in sorted(set(prev.values) & set(cur.values)):
                kind = kind_of(name)
                a, b = prev.values[name], cur.values[name]
                direction = moved(kind, a, b)
                if direction is None or a.value is None or b.value is None:
                    continue
                entry.changes.append(Change(s.label, name, kind, unit_of(name, benchmarks),
                                            a.value, b.value, direction, prev.commit))
    position = {commit: i for i, commit in enumerate(order)}
    return sorted(by_commit.values(), key=lambda c: position.get(c.commit, -1), reverse=True)


# --------------------------------------------------------------------------- accepted changes


@dataclass(frozen=True)
class AcceptedChange:
    """One ``[[change]]`` of docs/accepted-changes.toml."""

    index: int  # 1-based, in file order
    commit: str  # a hash prefix
    benchmarks: tuple[str, ...]
    figures: str
    why: str

    @property
    def anchor(self) -> str:
        return f"accepted-{self.index}-{self.commit}"

    @property
    def summary(self) -> str:
        """The first sentence of *why*, cut to 140 characters."""
        text = " ".join(self.why.split())
        match = re.match(r"(.+?\.)(\s|$)", text)
        sentence = match.group(1) if match else text
        return sentence if len(sentence) <= 140 else sentence[:139].rstrip() + "\u2026"


def load_accepted(path: Path) -> list[AcceptedChange]:
    """The entries of an accepted-changes file; a missing file has none."""
    path = Path(path)
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise DashboardDataError(f"{path}: not valid TOML: {error}") from error
    entries = []
    for i, raw in enumerate(data.get("change", []), start=1):
        where = f"{path}: [[change]] number {i}"
        commit = raw.get("commit")
        if not isinstance(commit, str) or not re.fullmatch(r"[0-9a-f]{4,40}", commit):
            raise DashboardDataError(f"{where}: 'commit' must be a hex hash prefix, got {commit!r}")
        patterns = raw.get("benchmarks")
        if (not isinstance(patterns, list) or not patterns
                or not all(isinstance(p, str) and p for p in patterns)):
            raise DashboardDataError(f"{where} ({commit}): 'benchmarks' must be a non-empty "
                                     "list of benchmark patterns")
        entries.append(AcceptedChange(i, commit, tuple(patterns), str(raw.get("figures", "")),
                                      str(raw.get("why", ""))))
    return entries


def expand_braces(pattern: str) -> list[str]:
    """``a{b,c}d`` -> ``["abd", "acd"]`` (nested and repeated groups too)."""
    match = re.search(r"\{([^{}]*)\}", pattern)
    if match is None:
        return [pattern]
    head, tail = pattern[:match.start()], pattern[match.end():]
    return [expanded for option in match.group(1).split(",")
            for expanded in expand_braces(head + option + tail)]


def pattern_matches(pattern: str, name: str) -> bool:
    """Whether a benchmark pattern of accepted-changes.toml names *name*.

    Shell-style wildcards and ``{a,b}`` alternatives. Names of parameterized benchmarks carry
    their parameters, ``name(10)``, ``name(32, 8)``; a pattern without parentheses names the
    benchmark whatever its parameters. The module may be left out: ``*Instructions.track_*``."""
    base = name.split("(")[0]
    for option in expand_braces(pattern):
        for candidate in (name, base) if "(" not in option else (name,):
            if fnmatch.fnmatchcase(candidate, option):
                return True
            # A pattern naming Class.method matches in any module.
            if not option.startswith("bench_") and not option.startswith("*"):
                if fnmatch.fnmatchcase(candidate.split(".", 1)[-1], option):
                    return True
    return False


def match_accepted(accepted: Sequence[AcceptedChange], name: str,
                   commits: Sequence[str]) -> AcceptedChange | None:
    """The accepted entry explaining a change of *name* made by one of *commits* (the full
    hashes the change may come from), or None."""
    for entry in accepted:
        if not any(commit.startswith(entry.commit) for commit in commits):
            continue
        if any(pattern_matches(pattern, name) for pattern in entry.benchmarks):
            return entry
    return None


def commits_between(history: Sequence[str], previous: str | None, commit: str) -> list[str]:
    """The commits of *history* (first-parent, oldest first) after *previous* up to *commit*
    included: those a change first seen at *commit* may come from. Without a history (no git),
    *commit* alone."""
    if commit not in history:
        return [commit]
    end = history.index(commit)
    start = history.index(previous) + 1 if previous in history else end
    return list(history[start:end + 1]) or [commit]


# --------------------------------------------------------------------------- stages


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    method: str  # ExecuteApproved's method name
    stages: tuple[tuple[str, str, str], ...]  # (stage label, module.Class, method)


_HANDOFF = ("handoff", "bench_handoff.EngineHandoff", "wrap_and_execute")
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("matching", "matching version", "matching_version", (
        ("resolution", "bench_resolution.ResolveAndStore", "matching_version"),
        _HANDOFF,
        ("recording", "bench_recording.OutcomeRecording", "executed"))),
    Scenario("stale", "rejected as stale", "rejected_as_stale", (
        ("resolution", "bench_resolution.ResolveAndStore", "rejected_as_stale"),
        ("recording", "bench_recording.OutcomeRecording", "rejected_as_stale"))),
    Scenario("revalidated", "revalidated, then executed", "revalidated_then_executed", (
        ("resolution", "bench_resolution.ResolveAndStore", "revalidation_required"),
        _HANDOFF,
        ("recording", "bench_recording.OutcomeRecording", "executed"))),
)

Measure = Literal["timings", "counters"]


def _benchmark(measure: Measure, cls: str, method: str, suffix: str = "") -> str:
    """The timing ``module.Class.time_method`` or its counter twin
    ``module.ClassInstructions.track_method``."""
    if measure == "timings":
        return f"{cls}{suffix}.time_{method}"
    return f"{cls}{suffix}Instructions.track_{method}"


def ratio_benchmark(measure: Measure, method: str) -> str:
    cls = "ExecuteApprovedRatioToFloor" if measure == "timings" else \
        "ExecuteApprovedInstructionRatioToFloor"
    return f"bench_orchestration.{cls}.track_{method}"


@dataclass(frozen=True)
class StageFigures:
    """One scenario at one commit: end to end, its stages, what remains, floor and ratio."""

    end_to_end: float | None
    stages: tuple[tuple[str, float | None], ...]
    floor: float | None
    ratio: float | None

    @property
    def remains(self) -> float | None:
        """End to end less the stages (negative when the stages, measured apart, add up to
        more); None when a figure is missing."""
        if self.end_to_end is None or any(v is None for _, v in self.stages):
            return None
        return self.end_to_end - sum(v for _, v in self.stages if v is not None)


@dataclass(frozen=True)
class StageRow:
    commit: str
    scenarios: Mapping[str, StageFigures]


def stage_rows(series: Series, measure: Measure) -> list[StageRow]:
    """For every commit of *series* (oldest first), the three scenarios' figures; a figure the
    commit lacks is None."""
    rows = []
    for commit in series.commits:
        def value(name: str, values: Mapping[str, Measurement] = commit.values) -> float | None:
            found = values.get(name)
            return found.value if found else None

        figures = {}
        for scenario in SCENARIOS:
            figures[scenario.key] = StageFigures(
                end_to_end=value(_benchmark(measure, "bench_orchestration.ExecuteApproved",
                                            scenario.method)),
                stages=tuple((label, value(_benchmark(measure, cls, method)))
                             for label, cls, method in scenario.stages),
                floor=value(_benchmark(measure, "bench_orchestration.ExecuteApproved",
                                       scenario.method, "Floor")),
                ratio=value(ratio_benchmark(measure, scenario.method)),
            )
        rows.append(StageRow(commit.commit, figures))
    return rows


def has_stages(series: Series, measure: Measure) -> bool:
    """Whether *series* holds any end-to-end figure of *measure*."""
    return any(f.end_to_end is not None for row in stage_rows(series, measure)
               for f in row.scenarios.values())


# --------------------------------------------------------------------------- latest values


def latest_point(points: Sequence[Sequence[Any]], idx: int | None
                 ) -> tuple[int, float] | None:
    """The last (revision, value) of an asv graph file's points with a value (at flat parameter
    index *idx* for a parameterized benchmark), or None."""
    for point in reversed(points):
        if len(point) < 2:
            continue
        revision, value = point[0], point[1]
        if idx is not None:
            if not isinstance(value, list) or idx >= len(value):
                continue
            value = value[idx]
        number = _number(value)
        if number is not None:
            return int(revision), number
    return None


# --------------------------------------------------------------------------- git


def git_lines(repo: Path, *args: str) -> list[str] | None:
    """``git -C repo ARGS`` output lines, or None when git or the repository is unavailable."""
    try:
        result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True,
                                text=True, check=False, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.splitlines() if result.returncode == 0 else None


def commit_subjects(repo: Path, commits: Iterable[str]) -> dict[str, str]:
    """The subject line of each commit, from ``git log``; commits git cannot name are left
    out (the pages then show the hash alone)."""
    wanted = sorted(set(commits))
    if not wanted:
        return {}
    lines = git_lines(repo, "log", "--no-walk=unsorted", "--format=%H%x00%s", *wanted)
    if lines is None:  # one unknown commit fails the whole call: ask one by one
        subjects = {}
        for commit in wanted:
            one = git_lines(repo, "log", "-1", "--format=%H%x00%s", commit)
            if one:
                subjects[commit] = one[0].partition("\0")[2]
        return subjects
    return {h: s for h, _, s in (line.partition("\0") for line in lines) if h in wanted}


def first_parent_history(repo: Path, branches: Sequence[str]) -> list[str]:
    """The first-parent commits of *branches*, oldest first ([] without git)."""
    seen: dict[str, None] = {}
    for branch in branches:
        lines = git_lines(repo, "rev-list", "--first-parent", "--reverse", branch)
        for commit in lines or []:
            seen.setdefault(commit.strip(), None)
    return list(seen)

"""The PR gate: ``asv continuous`` between a base (default ``main``) and ``HEAD`` on the governance
suites, with a verdict that tells the three outcomes apart.

Two kinds of figure, gated differently:

- Deterministic counters are the primary verdict: the instruction counters (``*Instructions``
  benchmarks, counted under callgrind) and the allocation twins (``*AllocatedBytes``,
  ``*AllocatedBlocks``). They do not move with the machine's load, so they are gated on a tight
  factor (``--counter-factor``, default 1.02, chosen from their measured spread): any counter
  more than 2 % worse is a regression, named with its figures.
- Timings are gated on a wide factor only (``--factor``, default 2.0): waits, locks and system
  calls show in time, not in instructions, but on a shared machine a timing moves by tens of
  percent with the neighbours, and a whole benchmark process can run 1.5-1.8x slow. A timing
  asv finds changed is measured again, on both sides, up to ``--confirm`` more times (default
  2), each rerun's samples pooled with the earlier ones
  (``--append-samples``); the last pooled comparison decides.

Exit 0: unchanged or better. Exit 1: a regression (asv's comparison table is printed, then the
regressed benchmarks). Exit 2: a benchmark is broken on either side; asv prints no table then,
so the gate names each broken benchmark and shows its error. ``--summary-json PATH`` also writes
the verdict and every compared figure as JSON, whatever the verdict. A machine name recorded
under ``results/`` with other hardware than this host's (``scripts/machines.py``) is refused
before anything runs: exit 2, no verdict file.

Results go to ``.asv/gate/results`` (git-ignored), never into the committed ``results/``, under
this host's machine name (``$ASV_MACHINE`` or ``--machine``, else the one its hardware takes).

Usage: python -m scripts.pr_gate [BASE] [HEAD] [--factor F] [--counter-factor F]
       [--bench REGEX] [--counter-bench REGEX] [--machine NAME] [--confirm N]
       [--summary-json PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scripts.asv_config import redirected_config
from scripts.machines import MachineMismatch, machine_name

ROOT = Path(__file__).resolve().parents[1]

STAGES = r"^bench_(orchestration|resolution|handoff|recording)\."
# The governance suites' timings. The real/floor ratio twins are left out: each is a ratio of
# two noisy timings and is read on the dashboard, not gated.
DEFAULT_BENCH = STAGES + r"(?!.*(RatioToFloor|Instruction))"
# Their instruction counters (the instruction ratios to the floor follow from them). Not the
# floors': plain Python that no commit of the package changes, whose count moves only with the
# heap the package leaves (up to 2.3 % once in the history, 0.3 % as a rule).
DEFAULT_COUNTER_BENCH = STAGES + r"(?!.*Floor).*Instructions\."
# Counters: well above their measured spread (docs/benchmarks.md, counters), well below the
# overhead the gate exists to catch.
DEFAULT_COUNTER_FACTOR = 1.02
# Timings: wide, for what only a timing shows; load on a shared machine moves timings by tens
# of percent (docs/gate.md).
DEFAULT_FACTOR = 2.0
# Pooled reruns of the timings the first comparison finds changed; the last one decides.
DEFAULT_CONFIRM = 2
# Deterministic figures, gated on the counter factor: instruction counters and the allocation
# twins (tracemalloc bytes and blocks of one call, which do not move with load either).
COUNTER_MARKS = ("Instruction", "AllocatedBytes", "AllocatedBlocks")


def gate_config() -> Path:
    """The project's asv configuration with results and html moved under ``.asv/gate``."""
    return redirected_config("gate")


def rev_parse(ref: str) -> str:
    return subprocess.run(["git", "rev-parse", "--verify", f"{ref}^{{commit}}"], cwd=ROOT,
                          check=True, capture_output=True, text=True).stdout.strip()


def broken_benchmarks(output: str) -> dict[str, str]:
    """Benchmarks reported as failed in asv's output, with the error text asv printed."""
    broken: dict[str, str] = {}
    lines = output.splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"\[\s*[\d.]+%\]\s+···\s+(\S+)\s+failed\s*$", line)
        if not match:
            continue
        error = []
        for follow in lines[index + 1:]:
            if re.match(r"\[\s*[\d.]+%\]\s+····", follow):
                error.append(re.sub(r"^\[\s*[\d.]+%\]\s+····\s?", "", follow))
            elif follow.startswith(" ") and error:
                error.append(follow.strip())
            else:
                break
        broken.setdefault(match.group(1), "\n".join(error).strip() or "(no error text)")
    return broken


@dataclass(frozen=True)
class ComparisonRow:
    """One row of the comparison table ``asv continuous`` and ``asv compare`` print."""

    mark: str
    """``+`` worse, ``-`` better, ``""`` unchanged, ``x`` not comparable (the benchmark's
    version changed), ``!`` failed on the after side, ``*`` failed on the before side."""
    before: str
    after: str
    ratio: float | None
    """after / before as printed (``~`` dropped: a change asv finds not significant); None
    where asv prints ``n/a``."""
    name: str
    """The benchmark, parameters in parentheses, with a ``[machine/env]`` suffix when the
    table compares several environments."""


def comparison_rows(output: str) -> list[ComparisonRow]:
    """Every row of every comparison table in ``output`` (asv 0.6 prints GitHub-style tables,
    one per group with ``--split``: ``| Change | Before [..] | After [..] | Ratio | Benchmark
    (Parameter) |``); other lines are skipped."""
    rows = []
    for line in output.splitlines():
        line = line.strip()
        if len(line) < 2 or not (line.startswith("|") and line.endswith("|")):
            continue
        cells = [cell.strip() for cell in line[1:-1].split("|")]
        if len(cells) < 5 or cells[0] == "Change" or all(set(c) <= set("-:") for c in cells):
            continue
        mark, before, after, ratio = cells[:4]
        rows.append(ComparisonRow(mark, before, after, _ratio(ratio), " | ".join(cells[4:])))
    return rows


def _ratio(cell: str) -> float | None:
    try:
        return float(cell.lstrip("~"))
    except ValueError:
        return None


def regressed_benchmarks(output: str) -> list[str]:
    """Names on the rows asv marks with ``+`` (worse) in its comparison table."""
    return [row.name for row in comparison_rows(output) if row.mark == "+"]


def improved_benchmarks(output: str) -> list[str]:
    """Names on the rows asv marks with ``-`` (better) in its comparison table."""
    return [row.name for row in comparison_rows(output) if row.mark == "-"]


def selection_regex(name: str) -> str:
    """An ``asv -b`` regex that selects exactly the benchmark (and parameter combination) named
    on a row of asv's comparison table."""
    name = re.sub(r"\s+\[[^\]]*\]$", "", name)  # the [machine/env] suffix of multi-env tables
    return "^" + re.escape(name) + "$"


@dataclass(frozen=True)
class Figure:
    """One benchmark's value on both sides (None where the side has no number)."""

    unit: str
    before: float | None
    after: float | None

    @property
    def ratio(self) -> float | None:
        """after / before, or None when either side has no positive number."""
        if self.before is None or self.after is None or self.before <= 0:
            return None
        return self.after / self.before


@dataclass(frozen=True)
class ContinuousRun:
    """What one ``asv continuous`` call returned: its exit status, everything it printed, and
    the figures it recorded for both commits (benchmark name -> Figure)."""

    status: int
    output: str
    figures: dict[str, Figure] = field(default_factory=dict)


Runner = Callable[[list[str], bool], ContinuousRun]
"""Runs ``asv continuous`` on the benchmarks the regexes select; with True, the new samples are
pooled with those already recorded for both commits (``--append-samples``)."""


def is_counter(name: str) -> bool:
    """Whether a benchmark is a deterministic counter (instructions, allocated bytes or
    blocks), gated on the counter factor."""
    return any(mark in name for mark in COUNTER_MARKS)


def compare_counters(figures: dict[str, Figure], factor: float
                     ) -> tuple[list[str], list[str]]:
    """The counters worse and better than ``factor`` between the two sides. Counts are
    deterministic, so one comparison decides: no statistics, no reruns."""
    worse, better = [], []
    for name, figure in sorted(figures.items()):
        ratio = figure.ratio
        if not is_counter(name) or ratio is None:
            continue
        if ratio > factor:
            worse.append(name)
        elif ratio < 1 / factor:
            better.append(name)
    return worse, better


@dataclass(frozen=True)
class Confirmation:
    """The benchmarks the pooled reruns found worse, and those the first run flagged as worse
    that they cleared."""

    regressed: list[str]
    cleared: list[str]
    broken_run: ContinuousRun | None = None
    figures: dict[str, Figure] = field(default_factory=dict)


def confirm_changes(worse: list[str], better: list[str], rerun: Runner,
                    confirm: int) -> Confirmation:
    """Measure again, ``confirm`` more times at most, every benchmark the first comparison
    found changed, worse or better.

    Each rerun adds its samples to those of the earlier runs, on both sides, and asv compares
    the pooled samples; the last comparison decides. A real slowdown shifts every run, so
    pooling only sharpens it. A neighbour's burst on a shared machine lands in one run: on the
    new commit it fakes a regression, on the base it hides one behind a seeming improvement,
    and the clean runs pooled with it undo both. A benchmark that a pooled comparison finds
    unchanged is not measured again.
    """
    candidates = [*worse, *better]
    regressed: list[str] = []
    figures: dict[str, Figure] = {}
    for attempt in range(1, confirm + 1):
        if not candidates:
            break
        print(f"== gate: re-measuring {len(candidates)} changed benchmark(s), pooled rerun "
              f"{attempt} of {confirm}", flush=True)
        run = rerun([selection_regex(name) for name in candidates], True)
        if run.status not in (0, 1):
            return Confirmation([], [], run)
        figures.update({name: run.figures[name] for name in candidates if name in run.figures})
        now_worse = set(regressed_benchmarks(run.output))
        changed = now_worse | set(improved_benchmarks(run.output))
        candidates = [name for name in candidates if name in changed]
        regressed = [name for name in candidates if name in now_worse]
    return Confirmation(regressed, [name for name in worse if name not in regressed],
                        figures=figures)


@dataclass
class Verdict:
    """What the gate decided, as written by ``--summary-json``."""

    verdict: str
    exit_status: int
    base: str
    head: str
    base_commit: str
    head_commit: str
    counter_factor: float
    timing_factor: float
    elapsed_seconds: float = 0.0
    rows: list[dict[str, Any]] = field(default_factory=list)
    regressed: list[str] = field(default_factory=list)
    broken: dict[str, str] = field(default_factory=dict)

    def add_rows(self, figures: dict[str, Figure], worse: set[str], better: set[str]) -> None:
        """One row per compared benchmark, counters first."""
        for name in sorted(figures, key=lambda n: (not is_counter(n), n)):
            figure = figures[name]
            self.rows.append({
                "benchmark": name, "kind": "counter" if is_counter(name) else "timing",
                "unit": figure.unit, "before": figure.before, "after": figure.after,
                "ratio": figure.ratio,
                "change": "worse" if name in worse else "better" if name in better else None,
            })


@dataclass(frozen=True)
class GateOptions:
    """The gate's settings (see ``main`` for their command-line names)."""

    factor: float = DEFAULT_FACTOR
    counter_factor: float = DEFAULT_COUNTER_FACTOR
    bench: str = DEFAULT_BENCH
    counter_bench: str = DEFAULT_COUNTER_BENCH
    machine: str | None = None
    """None: this host's machine name (``scripts.machines.machine_name``)."""
    confirm: int = DEFAULT_CONFIRM
    summary_json: Path | None = None


def run_gate(base: str, head: str, options: GateOptions = GateOptions(),
             runner: Runner | None = None) -> int:
    """Compare ``base`` and ``head``; return the gate's exit status (0, 1 or 2)."""
    started = time.monotonic()
    base_hash, head_hash = base, head
    if runner is None:
        machine = machine_name(options.machine)
        base_hash, head_hash = rev_parse(base), rev_parse(head)
        print(f"== gate: {base} ({base_hash[:8]}) -> {head} ({head_hash[:8]}) on machine "
              f"'{machine}', counters factor {options.counter_factor}, timings factor "
              f"{options.factor}", flush=True)
        runner = asv_continuous_runner(base_hash, head_hash, options.factor, machine)
    verdict = Verdict("pass", 0, base, head, base_hash, head_hash, options.counter_factor,
                      options.factor)
    status = _decide(runner, options, verdict, started)
    verdict.exit_status = status
    verdict.verdict = {0: "pass", 1: "regression"}.get(status, "broken")
    verdict.elapsed_seconds = round(time.monotonic() - started, 1)
    if options.summary_json is not None:
        options.summary_json.write_text(json.dumps(asdict(verdict), indent=2) + "\n")
    return status


def _decide(runner: Runner, options: GateOptions, verdict: Verdict, started: float) -> int:
    first = runner([options.bench, options.counter_bench], False)
    if first.status not in (0, 1):
        return report_broken(first, started, verdict)

    counters_worse, counters_better = compare_counters(first.figures, options.counter_factor)
    report_counters(first.figures, counters_worse, counters_better, options.counter_factor)
    # asv's own marks, at the timing factor, decide for timings only.
    worse = [n for n in regressed_benchmarks(first.output) if not is_counter(n)]
    better = [n for n in improved_benchmarks(first.output) if not is_counter(n)]
    timings_worse = worse
    figures = dict(first.figures)
    if options.confirm >= 1 and (worse or better):
        outcome = confirm_changes(worse, better, runner, options.confirm)
        if outcome.broken_run is not None:
            return report_broken(outcome.broken_run, started, verdict)
        figures.update({n: f for n, f in outcome.figures.items() if not is_counter(n)})
        if outcome.cleared:
            print("== gate: timings worse in the first run, cleared once the reruns' samples "
                  "were pooled (noise):")
            for name in outcome.cleared:
                print(f"   {name}")
        hidden = [name for name in outcome.regressed if name in better]
        if hidden:
            print("== gate: timings better in the first run (a slow base run), worse once "
                  "pooled:")
            for name in hidden:
                print(f"   {name}")
        timings_worse = outcome.regressed
    verdict.add_rows(figures, {*counters_worse, *timings_worse},
                     {*counters_better, *(n for n in better if n not in timings_worse)})
    elapsed = time.monotonic() - started
    if counters_worse or timings_worse:
        verdict.regressed = [*counters_worse, *timings_worse]
        return report_regression(counters_worse, timings_worse, options, elapsed)
    print(f"== gate verdict: PASS, no counter worse than {options.counter_factor}x, no timing "
          f"worse than {options.factor}x ({elapsed:.0f}s)")
    return 0


def report_counters(figures: dict[str, Figure], worse: list[str], better: list[str],
                    factor: float) -> None:
    """Print every counter's figures, marking those beyond ``factor``."""
    names = sorted(n for n in figures if is_counter(n))
    if not names:
        print("== gate: no counter was compared")
        return
    print(f"== gate: counters (per call; + worse, - better than {factor}x)")
    for name in names:
        figure = figures[name]
        mark = "+" if name in worse else "-" if name in better else " "
        ratio = figure.ratio
        print(f"   {mark} {_count(figure.before):>12} -> {_count(figure.after):>12} "
              f"{'' if ratio is None else f'{ratio:.4f}':>7}  {name}")


def _count(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3f}"


def report_regression(counters: list[str], timings: list[str], options: GateOptions,
                      elapsed: float) -> int:
    print(f"== gate verdict: REGRESSION ({elapsed:.0f}s).")
    if counters:
        print(f"   counters worse by more than {options.counter_factor}x:")
        for name in counters:
            print(f"   {name}")
    if timings:
        print(f"   timings worse by more than {options.factor}x"
              f"{' in the pooled comparison' if options.confirm >= 1 else ''}:")
        for name in timings:
            print(f"   {name}")
    return 1


def report_broken(run: ContinuousRun, started: float, verdict: Verdict) -> int:
    broken = broken_benchmarks(run.output) or {"(unknown)": run.output[-2000:]}
    verdict.broken = broken
    print(f"== gate verdict: BROKEN BENCHMARK (asv exit {run.status}, "
          f"{time.monotonic() - started:.0f}s). asv prints no comparison when a benchmark fails; "
          "the failures:")
    for name, error in broken.items():
        print(f"-- {name}\n{error}\n")
    return 2


def recorded_figures(results_dir: Path, machine: str, base_hash: str,
                     head_hash: str) -> dict[str, Figure]:
    """Every benchmark value asv recorded for both commits in ``results_dir`` (parameterized
    benchmarks as ``name(param, ...)``, as asv's table names them)."""
    from asv.results import iter_results_for_machine_and_hash

    sides: list[dict[str, tuple[str, float | None]]] = []
    for commit in (base_hash, head_hash):
        values: dict[str, tuple[str, float | None]] = {}
        try:
            found = list(iter_results_for_machine_and_hash(str(results_dir), machine, commit))
        except Exception:  # no result file for the commit: nothing to compare
            found = []
        for result in found:
            for key in result.get_all_result_keys():
                params = result.get_result_params(key)
                value = result.get_result_value(key, params)
                combos = _param_names(params)
                for combo, number in zip(combos, value, strict=False):
                    name = f"{key}({combo})" if combo else key
                    values[name] = (_unit_of(key), _number(number))
        sides.append(values)
    before, after = sides
    return {name: Figure(unit=(before.get(name) or after[name])[0],
                         before=before.get(name, ("", None))[1],
                         after=after.get(name, ("", None))[1])
            for name in sorted({*before, *after})}


def _param_names(params: list[list[str]]) -> list[str]:
    combos = [""]
    for values in params:
        combos = [f"{c}, {v}" if c else str(v) for c in combos for v in values]
    return combos


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


_UNITS: dict[str, str] = {}


def _unit_of(key: str) -> str:
    if not _UNITS:
        benchmarks = json.loads((ROOT / "results" / "benchmarks.json").read_text())
        gate = gate_config().parent / "results" / "benchmarks.json"
        if gate.exists():
            benchmarks.update(json.loads(gate.read_text()))
        _UNITS.update({name: b.get("unit", "") for name, b in benchmarks.items()
                       if isinstance(b, dict)})
    return _UNITS.get(key, "seconds" if ".time_" in key else "")


def asv_continuous_runner(base_hash: str, head_hash: str, factor: float, machine: str) -> Runner:
    """A runner that calls ``asv continuous`` on the gate's configuration, streaming its output."""
    config = gate_config()
    results_dir = Path(json.loads(config.read_text())["results_dir"])
    env = {**os.environ, "COLUMNS": "240"}
    subprocess.run([sys.executable, "-m", "asv", "machine", "--yes", "--machine", machine,
                    "--config", str(config)], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)

    def run(benches: list[str], append_samples: bool) -> ContinuousRun:
        selection = [arg for regex in benches for arg in ("-b", regex)]
        if append_samples:
            selection.append("--append-samples")
        command = [sys.executable, "-m", "asv", "continuous", "--config", str(config),
                   "--machine", machine, "--factor", str(factor), "--show-stderr",
                   "--split", *selection, base_hash, head_hash]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        captured = []
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            captured.append(line)
        status = process.wait()
        return ContinuousRun(status, "".join(captured),
                             recorded_figures(results_dir, machine, base_hash, head_hash))

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.pr_gate",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("base", nargs="?", default="main")
    parser.add_argument("head", nargs="?", default="HEAD")
    parser.add_argument("--factor", type=float, default=DEFAULT_FACTOR,
                        help=f"timings: worse by more than this fails (default {DEFAULT_FACTOR})")
    parser.add_argument("--counter-factor", type=float, default=DEFAULT_COUNTER_FACTOR,
                        help="instruction counters: worse by more than this fails (default "
                             f"{DEFAULT_COUNTER_FACTOR})")
    parser.add_argument("--bench", default=DEFAULT_BENCH, help="the timings compared")
    parser.add_argument("--counter-bench", default=DEFAULT_COUNTER_BENCH,
                        help="the instruction counters compared")
    parser.add_argument("--machine", default=None,
                        help="machine name of the gate's results (default $ASV_MACHINE, else "
                             "the name this host's hardware takes)")
    parser.add_argument("--confirm", type=int, default=DEFAULT_CONFIRM,
                        help="pooled reruns of changed timings (0: no confirmation)")
    parser.add_argument("--summary-json", type=Path, default=None,
                        help="also write the verdict and the compared figures here as JSON")
    args = parser.parse_args(argv)
    options = GateOptions(args.factor, args.counter_factor, args.bench, args.counter_bench,
                          args.machine, args.confirm, args.summary_json)
    try:
        return run_gate(args.base, args.head, options)
    except MachineMismatch as error:
        print(f"pr_gate: {error}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())

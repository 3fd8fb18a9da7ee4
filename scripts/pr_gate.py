"""The PR gate: ``asv continuous`` between a base (default ``main``) and ``HEAD`` on the governance
suites, with a verdict that tells the three outcomes apart.

Exit 0: unchanged or better. Exit 1: a regression (asv's comparison table is printed, then the
regressed benchmarks). Exit 2: a benchmark is broken on either side; asv prints no table then,
so the gate names each broken benchmark and shows its error.

A benchmark the first comparison finds changed (worse or better) is measured again, on both
sides, up to ``--confirm`` more times (default 2), each rerun's samples pooled with the earlier
ones (``--append-samples``); the last pooled comparison decides. On a shared machine a
neighbour's burst can slow one benchmark in one run, faking a regression on the new commit or
hiding one on the base; pooling dilutes it, while a real slowdown shifts every run.

Results go to ``.asv/gate-results`` (git-ignored), never into the committed ``results/``.

Usage: python scripts/pr_gate.py [BASE] [HEAD] [--factor F] [--bench REGEX] [--machine NAME]
       [--confirm N]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from asv_config import redirected_config  # noqa: E402

# The governance suites. The real/floor ratio twins are left out: each is a ratio of two noisy
# timings and is read on the dashboard, not gated.
DEFAULT_BENCH = r"^bench_(orchestration|resolution|handoff|recording)\.(?!.*RatioToFloor)"
# Chosen from the A/A spread measured on this machine class (README, "The PR gate").
DEFAULT_FACTOR = 1.12
# Pooled reruns of the benchmarks the first comparison finds changed; the last one decides.
DEFAULT_CONFIRM = 2
DEFAULT_MACHINE = os.environ.get("ASV_MACHINE", "governance-2vcpu")


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


def _marked_rows(output: str, mark: str) -> list[str]:
    names = []
    for line in output.splitlines():
        cells = ([c.strip() for c in line.strip().strip("|").split("|")] if "|" in line
                 else line.split())
        if cells and cells[0] == mark:
            names.append(cells[-1])
    return names


def regressed_benchmarks(output: str) -> list[str]:
    """Names on the rows asv marks with ``+`` (worse) in its comparison table."""
    return _marked_rows(output, "+")


def improved_benchmarks(output: str) -> list[str]:
    """Names on the rows asv marks with ``-`` (better) in its comparison table."""
    return _marked_rows(output, "-")


def selection_regex(name: str) -> str:
    """An ``asv -b`` regex that selects exactly the benchmark (and parameter combination) named
    on a row of asv's comparison table."""
    name = re.sub(r"\s+\[[^\]]*\]$", "", name)  # the [machine/env] suffix of multi-env tables
    return "^" + re.escape(name) + "$"


@dataclass(frozen=True)
class ContinuousRun:
    """What one ``asv continuous`` call returned: its exit status and everything it printed."""

    status: int
    output: str


Runner = Callable[[list[str], bool], ContinuousRun]
"""Runs ``asv continuous`` on the benchmarks the regexes select; with True, the new samples are
pooled with those already recorded for both commits (``--append-samples``)."""


@dataclass(frozen=True)
class Confirmation:
    """The benchmarks the pooled reruns found worse, and those the first run flagged as worse
    that they cleared."""

    regressed: list[str]
    cleared: list[str]
    broken_run: ContinuousRun | None = None


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
    for attempt in range(1, confirm + 1):
        if not candidates:
            break
        print(f"== gate: re-measuring {len(candidates)} changed benchmark(s), pooled rerun "
              f"{attempt} of {confirm}", flush=True)
        run = rerun([selection_regex(name) for name in candidates], True)
        if run.status not in (0, 1):
            return Confirmation([], [], run)
        now_worse = set(regressed_benchmarks(run.output))
        changed = now_worse | set(improved_benchmarks(run.output))
        candidates = [name for name in candidates if name in changed]
        regressed = [name for name in candidates if name in now_worse]
    return Confirmation(regressed, [name for name in worse if name not in regressed])


def run_gate(base: str, head: str, factor: float, bench: str, machine: str,
             confirm: int = DEFAULT_CONFIRM, runner: Runner | None = None) -> int:
    """Compare ``base`` and ``head``; return the gate's exit status (0, 1 or 2)."""
    started = time.monotonic()
    if runner is None:
        base_hash, head_hash = rev_parse(base), rev_parse(head)
        print(f"== gate: {base} ({base_hash[:8]}) -> {head} ({head_hash[:8]}), factor {factor}",
              flush=True)
        runner = asv_continuous_runner(base_hash, head_hash, factor, machine)
    first = runner([bench], False)
    if first.status not in (0, 1):
        return report_broken(first, started)

    worse = regressed_benchmarks(first.output) if first.status == 1 else []
    better = improved_benchmarks(first.output)
    if confirm < 1 or not (worse or better):
        elapsed = time.monotonic() - started
        if first.status == 0:
            print(f"== gate verdict: PASS, no significant regression ({elapsed:.0f}s)")
            return 0
        return report_regression(worse, factor, elapsed, pooled=False)

    outcome = confirm_changes(worse, better, runner, confirm)
    if outcome.broken_run is not None:
        return report_broken(outcome.broken_run, started)
    elapsed = time.monotonic() - started
    if outcome.cleared:
        print("== gate: worse in the first run, cleared once the reruns' samples were pooled "
              "(noise):")
        for name in outcome.cleared:
            print(f"   {name}")
    hidden = [name for name in outcome.regressed if name in better]
    if hidden:
        print("== gate: better in the first run (a slow base run), worse once pooled:")
        for name in hidden:
            print(f"   {name}")
    if outcome.regressed:
        return report_regression(outcome.regressed, factor, elapsed, pooled=True)
    print(f"== gate verdict: PASS, no regression in the pooled comparison ({elapsed:.0f}s)")
    return 0


def report_regression(names: list[str], factor: float, elapsed: float, *, pooled: bool) -> int:
    print(f"== gate verdict: REGRESSION ({elapsed:.0f}s). Worse by more than {factor}x"
          f"{' in the pooled comparison' if pooled else ''}:")
    for name in names or ["(asv reported a regression; see its table above)"]:
        print(f"   {name}")
    return 1


def report_broken(run: ContinuousRun, started: float) -> int:
    broken = broken_benchmarks(run.output)
    print(f"== gate verdict: BROKEN BENCHMARK (asv exit {run.status}, "
          f"{time.monotonic() - started:.0f}s). asv prints no comparison when a benchmark fails; "
          "the failures:")
    for name, error in broken.items() or {"(unknown)": run.output[-2000:]}.items():
        print(f"-- {name}\n{error}\n")
    return 2


def asv_continuous_runner(base_hash: str, head_hash: str, factor: float, machine: str) -> Runner:
    """A runner that calls ``asv continuous`` on the gate's configuration, streaming its output."""
    config = gate_config()
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
        return ContinuousRun(process.wait(), "".join(captured))

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", nargs="?", default="main")
    parser.add_argument("head", nargs="?", default="HEAD")
    parser.add_argument("--factor", type=float, default=DEFAULT_FACTOR)
    parser.add_argument("--bench", default=DEFAULT_BENCH)
    parser.add_argument("--machine", default=DEFAULT_MACHINE)
    parser.add_argument("--confirm", type=int, default=DEFAULT_CONFIRM,
                        help="pooled reruns of flagged benchmarks (0: no confirmation)")
    args = parser.parse_args(argv)
    return run_gate(args.base, args.head, args.factor, args.bench, args.machine, args.confirm)


if __name__ == "__main__":
    sys.exit(main())

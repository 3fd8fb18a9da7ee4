"""The PR gate: ``asv continuous`` between a base (default ``main``) and ``HEAD`` on the governance
suites, with a verdict that tells the three outcomes apart.

Exit 0: unchanged or better. Exit 1: a regression (asv's comparison table is printed, then the
regressed benchmarks). Exit 2: a benchmark is broken on either side; asv prints no table then,
so the gate names each broken benchmark and shows its error.

A benchmark flagged as worse is measured again, on both sides, up to ``--confirm`` more times
(default 2); it counts as a regression only when the majority of the runs flag it. On a shared
machine a neighbour's burst can slow one benchmark in one run; a real slowdown shows every time.

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
# Reruns of flagged benchmarks: a regression must show in the majority of 1 + DEFAULT_CONFIRM runs.
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


def regressed_benchmarks(output: str) -> list[str]:
    """Names on the rows asv marks with ``+`` (worse) in its comparison table."""
    names = []
    for line in output.splitlines():
        cells = ([c.strip() for c in line.strip().strip("|").split("|")] if "|" in line
                 else line.split())
        if cells and cells[0] == "+":
            names.append(cells[-1])
    return names


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


Runner = Callable[[list[str]], ContinuousRun]


def confirm_regressions(
    flagged: list[str], rerun: Runner, confirm: int
) -> tuple[list[str], list[str], ContinuousRun | None]:
    """Re-measure the benchmarks the first comparison flagged, ``confirm`` more times at most.

    A benchmark is a regression when the majority of all runs (the first and the reruns) flag
    it; a noisy neighbour on a shared machine rarely slows the same benchmark in most of several
    interleaved runs, while a real slowdown does. Reruns stop as soon as every benchmark is
    decided. Returns (confirmed, not confirmed, the failing rerun if a rerun broke a benchmark).
    """
    needed = (confirm + 1) // 2 + 1
    votes = dict.fromkeys(flagged, 1)
    confirmed = [name for name in flagged if votes[name] >= needed]
    undecided = [name for name in flagged if name not in confirmed]
    for attempt in range(1, confirm + 1):
        if not undecided:
            break
        print(f"== gate: confirming {len(undecided)} flagged benchmark(s), rerun {attempt} of "
              f"at most {confirm}", flush=True)
        run = rerun([selection_regex(name) for name in undecided])
        if run.status not in (0, 1):
            return confirmed, [], run
        again = set(regressed_benchmarks(run.output)) if run.status == 1 else set()
        remaining = confirm - attempt
        still = []
        for name in undecided:
            votes[name] += name in again
            if votes[name] >= needed:
                confirmed.append(name)
            elif votes[name] + remaining >= needed:
                still.append(name)
        undecided = still
    cleared = [name for name in flagged if name not in confirmed]
    return confirmed, cleared, None


def run_gate(base: str, head: str, factor: float, bench: str, machine: str,
             confirm: int = 2, runner: Runner | None = None) -> int:
    """Compare ``base`` and ``head``; return the gate's exit status (0, 1 or 2)."""
    started = time.monotonic()
    if runner is None:
        base_hash, head_hash = rev_parse(base), rev_parse(head)
        print(f"== gate: {base} ({base_hash[:8]}) -> {head} ({head_hash[:8]}), factor {factor}",
              flush=True)
        runner = asv_continuous_runner(base_hash, head_hash, factor, machine)
    first = runner([bench])

    if first.status == 0:
        print(f"== gate verdict: PASS, no significant regression "
              f"({time.monotonic() - started:.0f}s)")
        return 0
    if first.status == 1:
        flagged = regressed_benchmarks(first.output)
        confirmed, cleared, broken_run = confirm_regressions(flagged, runner, confirm)
        if broken_run is not None:
            return report_broken(broken_run, started)
        elapsed = time.monotonic() - started
        if cleared:
            print(f"== gate: flagged once, not confirmed by the majority of {confirm + 1} runs "
                  "(noise):")
            for name in cleared:
                print(f"   {name}")
        if confirmed or not flagged:
            print(f"== gate verdict: REGRESSION ({elapsed:.0f}s). Worse by more than {factor}x"
                  f"{' in the majority of runs' if confirm else ''}:")
            for name in confirmed or ["(asv reported a regression; see its table above)"]:
                print(f"   {name}")
            return 1
        print(f"== gate verdict: PASS, no confirmed regression ({elapsed:.0f}s)")
        return 0
    return report_broken(first, started)


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

    def run(benches: list[str]) -> ContinuousRun:
        selection = [arg for regex in benches for arg in ("-b", regex)]
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
                        help="reruns of flagged benchmarks; a regression needs the majority")
    args = parser.parse_args(argv)
    return run_gate(args.base, args.head, args.factor, args.bench, args.machine, args.confirm)


if __name__ == "__main__":
    sys.exit(main())

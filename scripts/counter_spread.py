"""The spread of every instruction counter over repeated runs, quiet and while every core is
kept busy by a load generator: the figures behind the gate's counter factor.

Each run is one valgrind process counting every scenario of ``benchmarks/callgrind.py`` against
the ``governance`` package this interpreter imports. Spread: (max - min) / median of a counter
over the runs, in percent.

Usage: python -m scripts.counter_spread [--runs N] [--no-load] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from benchmarks.callgrind import run_counter_child
from scripts.cpu_load import saturated_cpus

ROOT = Path(__file__).resolve().parents[1]


def counted_runs(runs: int, *, loaded: bool, keys: list[str] | None = None
                 ) -> tuple[list[dict[str, int]], list[float]]:
    """``runs`` counter runs, under load when ``loaded``; their counts and durations."""
    counts, seconds = [], []
    for _ in range(runs):
        load = saturated_cpus(300) if loaded else nullcontext()
        with load:
            started = time.monotonic()
            result = run_counter_child(ROOT / "benchmarks", keys=keys)
            seconds.append(time.monotonic() - started)
        counts.append({key: value["instructions"] for key, value in result.items()
                       if "instructions" in value})
    return counts, seconds


def spread(counts: list[dict[str, int]]) -> dict[str, dict[str, float]]:
    """Per counter: median, min, max and spread in percent of the median."""
    table = {}
    for key in counts[0]:
        values = [run[key] for run in counts]
        median = statistics.median(values)
        table[key] = {"median": median, "min": min(values), "max": max(values),
                      "spread_percent": 100 * (max(values) - min(values)) / median}
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.counter_spread",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-load", action="store_true", help="skip the loaded runs")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    report: dict[str, Any] = {}
    every: list[dict[str, int]] = []
    for label, loaded in (("quiet", False), ("loaded", True)):
        if loaded and args.no_load:
            continue
        counts, seconds = counted_runs(args.runs, loaded=loaded)
        every.extend(counts)
        report[label] = {"runs": args.runs, "seconds": seconds, "counters": spread(counts)}
        print(f"== {label}: {args.runs} runs, {min(seconds):.0f}-{max(seconds):.0f}s each")
        _print(report[label]["counters"])
    if len(report) > 1:
        report["all"] = {"runs": len(every), "counters": spread(every)}
        print(f"== all {len(every)} runs together")
        _print(report["all"]["counters"])
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def _print(table: dict[str, dict[str, float]]) -> None:
    print(f"   {'counter':<48} {'median':>10} {'min':>10} {'max':>10} {'spread':>8}")
    for key, row in table.items():
        print(f"   {key:<48} {row['median']:>10,.0f} {row['min']:>10,} {row['max']:>10,} "
              f"{row['spread_percent']:>7.3f}%")


if __name__ == "__main__":
    sys.exit(main())

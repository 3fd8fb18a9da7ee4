"""Where the time of one governed execution goes, stage by stage.

Each stage of ``execute_approved`` is timed on its own, on a fresh fixture per call (the
benchmarks' ``ExecutionFixture``: a strict engine with one allow policy, a new store and one
approved request, built just before the call as asv's ``setup`` builds it), with the garbage
collector off, and reported as the median of ``--calls``
calls in microseconds. The stages run in the order ``execute_approved`` runs them, each on the
output of the one before, so their sum is close to the whole call. ``--cprofile`` adds the
functions with the most own time under cProfile, for the matching-version scenario.

These are in-process figures for reading a profile; the numbers that count are the asv
benchmarks' (``bench_orchestration``, ``bench_resolution``, ``bench_handoff``,
``bench_recording``).

Usage: python scripts/profile_stages.py [--calls N] [--cprofile]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import EXPECTED_VERSION, STALE_VERSION, ExecutionFixture  # noqa: E402

Stage = tuple[str, Callable[[ExecutionFixture, dict[str, Any]], Any]]


def _resolve(f: ExecutionFixture, held: dict[str, Any]) -> Any:
    held["resolution"] = f.resolution.resolve_for_execution(
        f.request_id, f.state.version, f.context, held["strategy"])
    return held["resolution"]


def _wrap(f: ExecutionFixture, held: dict[str, Any]) -> Any:
    held["governed"] = f.g.GovernedMutation(f.mutation, held["resolution"].request)
    return held["governed"]


def _engine(f: ExecutionFixture, held: dict[str, Any]) -> Any:
    held["result"] = f.engine.execute(held["governed"], f.state)
    return held["result"]


def _record(f: ExecutionFixture, held: dict[str, Any]) -> Any:
    result = held["result"]
    return f.manager.recorder.record_executed(
        held["resolution"].request, f.context, result, result.new_state.version)


def _whole(f: ExecutionFixture, held: dict[str, Any]) -> Any:
    return f.execute(held["strategy"])


SCENARIOS: dict[str, tuple[str, list[Stage]]] = {
    "matching version": (EXPECTED_VERSION, [
        ("resolve and claim (resolve_for_execution)", _resolve),
        ("wrap (GovernedMutation)", _wrap),
        ("engine (MutationEngine.execute)", _engine),
        ("record (OutcomeRecorder.record_executed)", _record),
    ]),
    "rejected as stale": (STALE_VERSION, [
        ("resolve, reject and store (resolve_for_execution)", _resolve),
    ]),
}


def median_us(state_version: str, stages: list[Stage], timed: int, calls: int) -> float:
    """The median time of stage ``timed`` (the earlier stages run untimed before it)."""
    samples = []
    for _ in range(calls):
        # Built just before it is timed, as asv's setup does for each sample.
        fixture = ExecutionFixture(state_version)
        held: dict[str, Any] = {"strategy": fixture.g.ResolutionStrategy.REJECT_STALE}
        for _, stage in stages[:timed]:
            stage(fixture, held)
        run = stages[timed][1]
        started = time.perf_counter()
        run(fixture, held)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--cprofile", action="store_true")
    args = parser.parse_args(argv)
    gc.disable()
    for scenario, (version, stages) in SCENARIOS.items():
        print(f"{scenario}:")
        total = 0.0
        for index, (name, _) in enumerate(stages):
            value = median_us(version, stages, index, args.calls)
            total += value
            print(f"  {name:<52} {value:7.1f} us")
        whole = median_us(version, [("execute_approved", _whole)], 0, args.calls)
        print(f"  {'sum of the stages':<52} {total:7.1f} us")
        print(f"  {'execute_approved as one call':<52} {whole:7.1f} us")
    if args.cprofile:
        fixtures = [ExecutionFixture(EXPECTED_VERSION) for _ in range(args.calls)]
        strategy = fixtures[0].g.ResolutionStrategy.REJECT_STALE
        profile = cProfile.Profile()
        profile.enable()
        for fixture in fixtures:
            fixture.execute(strategy)
        profile.disable()
        print(f"\ncProfile, {args.calls} matching-version executions, by own time:")
        pstats.Stats(profile).sort_stats("tottime").print_stats(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())

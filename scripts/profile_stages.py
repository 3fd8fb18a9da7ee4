"""Where the time of one governed execution goes, stage by stage.

Each stage of ``execute_approved`` is timed on its own, on a fresh fixture per call (the
benchmarks' ``ExecutionFixture``: a strict engine with one allow policy, a new store and one
approved request, built just before the call as asv's ``setup`` builds it), with the garbage
collector off, and reported as the median of ``--calls``
calls in microseconds. The stages run in the order ``execute_approved`` runs them, each on the
output of the one before, so their sum is close to the whole call. ``--cprofile`` adds the
functions with the most own time under cProfile, for the matching-version scenario.

``--records`` times the records alone: every object a matching-version execution returns or
leaves behind (snapshots, decisions, claim, governed intent and context, the mutation's result,
audit, history and metrics entries, the result records), built from ready values with the
package's fastest internal builders, with no checks, locks, clock reads or calls between them.
It runs interleaved with the benchmarks' plain-Python floor, as ``ExecuteApprovedRatioToFloor``
does, and prints both ratios to the floor: what the record shapes cost on their own, and what
the whole call costs. It builds every record eagerly, as the runtime did before it kept the
governed intent and context, the decisions, the result's metrics and the audit and history
entries as their values until read: the figure is what those records cost when all are read.

These are in-process figures for reading a profile; the numbers that count are the asv
benchmarks' (``bench_orchestration``, ``bench_resolution``, ``bench_handoff``,
``bench_recording``).

Usage: python -m scripts.profile_stages [--calls N] [--cprofile] [--records]
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
from typing import Any

from benchmarks.common import EXPECTED_VERSION, STALE_VERSION
from benchmarks.fixtures_execution import (
    ExecutionFixture,
    FloorFixture,
    VersionedState,
    floor_execute,
    next_version,
)

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


def records_only(fixture: ExecutionFixture) -> Callable[[], Any]:
    """The objects of one matching-version execution, and nothing else (see ``--records``)."""
    from datetime import timedelta

    from governance import _models
    from governance.core.audit import MutationAuditEntry
    from governance.core.changes import ChangeSet, ChangeType, StateChange
    from governance.core.history import MutationHistoryEntry
    from governance.core.policies import PolicyDecision, PolicyDecisionSeverity
    from governance.core.results import MutationMetrics, MutationResult, ValidationResult
    from governance.decisions import (
        DecisionLog,
        DecisionType,
        LifecycleDecision,
        RequestDecision,
        VersionResolutionDecision,
    )
    from governance.execution import GovernedExecutionResult, GovernedMutation
    from governance.requests import ExecutionClaim, RequestStatus
    from governance.resolution import ResolutionOutcome, VersionResolution

    assemble, evolve = _models.assemble, _models.evolve

    def build(cls: Any, values: dict[str, Any]) -> Any:
        return (_models.BUILDERS.get(cls) or _models.record_builder(cls))(**values)

    resolution_of = _models.record_builder(VersionResolution, positional=True)
    result_of = _models.record_builder(GovernedExecutionResult, positional=True)
    validated = DecisionType.version_resolution(VersionResolutionDecision.VALIDATED)
    executed = DecisionType.lifecycle(LifecycleDecision.EXECUTED)
    request, context, intent, state = (fixture.request, fixture.context, fixture.intent,
                                       fixture.state)
    store: dict[str, Any] = {}
    audit: list[Any] = []
    history: list[Any] = []
    collected: dict[str, Any] = {}
    now = request.lifecycle.created_at
    elapsed = timedelta(microseconds=20)
    zero = timedelta(0)
    outcome = ResolutionOutcome.EXECUTE_APPROVED_VERSION

    def metrics() -> Any:
        return build(MutationMetrics, {
            "recorded_at": now, "execution_time": zero, "validation_time": zero,
            "policy_evaluation_time": zero, "validated_rules": 0, "evaluated_policies": 0,
            "changes_count": 0, "state_size": None, "memory_used": None, "used_cache": False,
            "additional_metrics": {}})

    def run() -> Any:
        # Resolution and claim.
        decision = assemble(RequestDecision, {
            "type": validated, "context": context, "reason": "State version 'v10' is current",
            "timestamp": now, "metadata": {"ExpectedStateVersion": "v10",
                                           "CurrentStateVersion": "v10"}})
        items = request.decisions._items
        items.append(decision)
        claim = assemble(ExecutionClaim, {"claim_id": "c", "claimed_at": now, "actor_id": None})
        claimed = evolve(request, decisions=DecisionLog._view(items, len(items)), revision=1,
                         execution=evolve(request.execution, claim=claim))
        store["req"] = claimed
        resolution_of(claimed, outcome, "v10", "v10", False)
        # The governed wrapper.
        governed = object.__new__(GovernedMutation)
        governed.inner = fixture.mutation
        governed.request = claimed
        governed._inner_intent, governed._inner_context = intent, context
        governed._intent = evolve(intent, metadata={"GovernanceRequestId": "req",
                                                    "GovernanceExecutionKind": "STANDARD"})
        governed._context = evolve(context, state_id="s", metadata={
            "GovernanceRequestId": "req", "GovernanceExecutionKind": "STANDARD"})
        # The engine, and what the benchmark's mutation and policy build through the factories.
        policy = assemble(PolicyDecision, {
            "is_allowed": True, "reason": None, "policy_name": "allow-all",
            "severity": PolicyDecisionSeverity.INFO, "modifications": None,
            "requirements": None, "metadata": None, "timestamp": now})
        ValidationResult()
        new_state = VersionedState(state.value + 1, next_version(state.version))
        change = build(StateChange, {"path": "Value", "old_value": 42, "new_value": 43,
                                     "type": ChangeType.MODIFIED, "timestamp": now,
                                     "priority": 0, "metadata": None})
        changes = ChangeSet._of((change,), now)
        result = build(MutationResult, {
            "is_success": True, "new_state": new_state, "changes": changes,
            "validation_result": ValidationResult(), "policy_decisions": [],
            "side_effects": [], "metrics": metrics(), "exception": None, "completed_at": now})
        audit.append(build(MutationAuditEntry, {
            "execution_id": "e", "mutation_intent": governed._intent,
            "context": governed._context, "is_success": True, "state_id": "s",
            "state_type": "VersionedState", "changes": changes, "error_message": None,
            "policy_decisions": [policy], "side_effects": [], "timestamp": now,
            "duration": elapsed, "source_ip_address": None, "user_agent": None,
            "metadata": None}))
        history.append(build(MutationHistoryEntry, {
            "execution_id": "e", "state_id": "s", "intent": governed._intent,
            "context": governed._context, "changes": changes, "side_effects": [],
            "timestamp": now, "execution_time": elapsed, "previous_state_hash": None,
            "new_state_hash": None}))
        measured = metrics()
        collected["e"] = measured
        final = build(MutationResult, {**result.__dict__, "metrics": measured})
        # The terminal outcome.
        done = assemble(RequestDecision, {
            "type": executed, "context": context, "reason": "Request executed",
            "timestamp": now, "metadata": {"ExecutionKind": "STANDARD",
                                           "ResultingStateVersion": "v11", "ChangeCount": 1,
                                           "SideEffectCount": 0}})
        items.append(done)
        recorded = evolve(claimed, decisions=DecisionLog._view(items, len(items)), revision=2,
                          lifecycle=evolve(claimed.lifecycle, status=RequestStatus.EXECUTED,
                                           updated_at=now),
                          versioning=evolve(claimed.versioning, expected_state_version="v11",
                                            resulting_state_version="v11", executed_at=now),
                          side_effects=())
        store["req"] = recorded
        return result_of(recorded, resolution_of(recorded, outcome, "v10", "v10", False),
                         final, True, "v11", recorded.execution.kind, None)

    return run


def _operation(name: str) -> Callable[[], Any]:
    """A fresh fixture's operation: the records alone, the whole call, or the floor."""
    if name == "floor":
        floor = FloorFixture(EXPECTED_VERSION)
        return lambda: floor_execute(floor.store, "req-1", floor.state, False)
    fixture = ExecutionFixture(EXPECTED_VERSION)
    if name == "records":
        return records_only(fixture)
    strategy = fixture.g.ResolutionStrategy.REJECT_STALE
    return lambda: fixture.execute(strategy)


def records_versus_floor(rounds: int) -> tuple[float, float, float]:
    """Median times (us) of the records alone, the whole call and the floor, interleaved."""
    samples: dict[str, list[float]] = {"records": [], "whole": [], "floor": []}
    for _ in range(rounds):
        for name in samples:
            op = _operation(name)
            started = time.perf_counter()
            op()
            samples[name].append(time.perf_counter() - started)
    return tuple(statistics.median(samples[n]) * 1e6  # type: ignore[return-value]
                 for n in ("records", "whole", "floor"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.profile_stages",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--records", action="store_true")
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
    if args.records:
        records, whole, floor = records_versus_floor(args.calls)
        print(f"\nmatching version, {args.calls} interleaved rounds (garbage collector off):")
        for label, value in (("the records alone", records),
                             ("execute_approved as one call", whole)):
            print(f"  {label:<52} {value:7.1f} us  {value / floor:5.1f}x floor")
        print(f"  {'the plain-Python floor':<52} {floor:7.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())

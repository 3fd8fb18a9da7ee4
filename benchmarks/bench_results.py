"""The engine's records on their own: results, history entries and audit entries.

``ResultCreation``: one timed call is one ``MutationResult.success`` with a prebuilt new state,
one prebuilt change and 0, 1 or 4 prebuilt side effects (the result copies the list).
``ResultRecords``: one timed call builds one ``MutationHistoryEntry`` or ``MutationAuditEntry``
from one finished COMMIT's result, as the engine does after every successful execution.

Nothing is consumed and there is no ``setup``: the inputs are built on the first call (asv's
calibration call) and asv times many calls per sample, which matters at this sub-microsecond to
microsecond scale.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from types import SimpleNamespace
from typing import Any

from .common import BASE_TIME
from .fixtures_engine import CounterState, counter_engine, counter_mutation
from .harness import ReadOnlyBenchmark, allocation_twins, kept

SIDE_EFFECT_COUNTS = {"no_side_effects": 0, "one_side_effect": 1, "four_side_effects": 4}


def _success(g: Any, count: int) -> Any:
    effects = [g.SideEffect.create(f"counter.effect-{i}", f"Side effect {i}",
                                   timestamp=BASE_TIME) for i in range(count)]
    change = g.StateChange.modified("Value", 42, 43)
    return partial(g.MutationResult.success, CounterState(43), change, effects or None)


def _finished(g: Any) -> SimpleNamespace:
    engine = counter_engine(g, "performance")
    mutation = counter_mutation(g, "records")
    return SimpleNamespace(mutation=mutation, result=engine.execute(mutation, CounterState(42)))


def _history_entry(g: Any) -> Any:
    done = _finished(g)
    mutation, result, entry = done.mutation, done.result, g.MutationHistoryEntry
    context = mutation.context

    def build() -> Any:
        return entry(execution_id="benchmark-execution-1", state_id=context.state_id,
                     intent=mutation.intent, context=context, changes=result.changes,
                     side_effects=result.side_effects, timestamp=context.timestamp,
                     execution_time=result.metrics.execution_time)

    return build


def _audit_entry(g: Any) -> Any:
    done = _finished(g)
    mutation, result, entry = done.mutation, done.result, g.MutationAuditEntry
    context = mutation.context
    decisions = [g.PolicyDecision.allow()]

    def build() -> Any:
        return entry(execution_id="benchmark-execution-1", mutation_intent=mutation.intent,
                     context=context, is_success=result.is_success, state_id=context.state_id,
                     state_type="CounterState", changes=result.changes,
                     policy_decisions=decisions, side_effects=result.side_effects,
                     timestamp=context.timestamp, duration=timedelta(microseconds=7),
                     source_ip_address=context.source_ip_address,
                     user_agent=context.user_agent, metadata=context.metadata or None)

    return build


_RESULT_SCENARIOS = {f"success_{name}": (lambda g, n=n: _success(g, n))
                     for name, n in SIDE_EFFECT_COUNTS.items()}
_RECORD_SCENARIOS = {"history_entry": _history_entry, "audit_entry": _audit_entry}


class ResultCreation(ReadOnlyBenchmark):
    """``MutationResult.success`` with one change and no, one or four side effects."""

    version = "1"
    rounds = 2
    repeat = (10, 25, 0.25)

    def build(self, g: Any) -> dict[str, Any]:
        return {name: build(g) for name, build in _RESULT_SCENARIOS.items()}

    def time_success_no_side_effects(self) -> None:
        self.fixtures[None]["success_no_side_effects"]()

    def time_success_one_side_effect(self) -> None:
        self.fixtures[None]["success_one_side_effect"]()

    def time_success_four_side_effects(self) -> None:
        self.fixtures[None]["success_four_side_effects"]()


class ResultRecords(ReadOnlyBenchmark):
    """The history entry and the audit entry of one finished COMMIT (IncrementCounter)."""

    version = "1"
    rounds = 2
    repeat = (10, 25, 0.25)

    def build(self, g: Any) -> dict[str, Any]:
        return {name: build(g) for name, build in _RECORD_SCENARIOS.items()}

    def time_history_entry(self) -> None:
        self.fixtures[None]["history_entry"]()

    def time_audit_entry(self) -> None:
        self.fixtures[None]["audit_entry"]()


ResultCreationAllocatedBytes, ResultCreationAllocatedBlocks = allocation_twins(
    "ResultCreation", kept(_RESULT_SCENARIOS), what="one MutationResult.success")

ResultRecordsAllocatedBytes, ResultRecordsAllocatedBlocks = allocation_twins(
    "ResultRecords", kept(_RECORD_SCENARIOS), what="building one history or audit entry")

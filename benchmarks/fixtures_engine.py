"""Fixtures of the engine-wide benchmarks (``bench_engine``, ``bench_policies``,
``bench_diagnostics``, ``bench_concurrency``, ``bench_results``, ``bench_materialization``): the
counter and slot states, the mutations, policies, interceptors and metrics collector built on the
installed package, and engines configured for each benchmark. Append-only, as ``common`` says.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from .common import BASE_TIME, COUNTER_STATE_ID, MATERIALIZATION_CONTRACT, SLOTS_STATE_ID
from .fixtures_execution import VersionedState, next_version


@dataclass(frozen=True, slots=True)
class CounterState:
    """The engine benchmarks' state: one counter."""

    value: int


@dataclass(frozen=True, slots=True)
class SlotState:
    """The throughput benchmarks' state: ``size`` integer slots and a revision."""

    slots: tuple[int, ...]
    revision: int


def slot_state(size: int) -> SlotState:
    """Slots 0..size-1 at revision 0."""
    return SlotState(tuple(range(size)), 0)


@functools.cache
def engine_classes(g: Any) -> SimpleNamespace:
    """The engine benchmarks' mutations, policies, interceptors and collectors, built once."""
    class IncrementCounterMutation(g.MutationBase):  # type: ignore[misc, name-defined]
        """Adds one to the counter (one Modified change); valid while it is not negative."""

        def apply(self, state: CounterState) -> Any:
            new_state = CounterState(state.value + 1)
            return g.MutationResult.success(
                new_state, g.StateChange.modified("Value", state.value, new_state.value))

        def validate(self, state: CounterState) -> Any:
            result = g.ValidationResult.success()
            if state.value < 0:
                result.add_error("Value", "The counter must not be negative")
            return result

    class ReplaceSlotMutation(g.MutationBase):  # type: ignore[misc, name-defined]
        """Copies the slots, adds ``delta`` to slot ``slot`` and bumps the revision (one
        Modified change on ``Slots[slot]``): O(slots) by construction."""

        def __init__(self, intent: Any, context: Any, slot: int, delta: int) -> None:
            super().__init__(intent, context)
            self.slot, self.delta = slot, delta

        def apply(self, state: SlotState) -> Any:
            slots = list(state.slots)
            old = slots[self.slot]
            slots[self.slot] = old + self.delta
            return g.MutationResult.success(
                SlotState(tuple(slots), state.revision + 1),
                g.StateChange.modified(f"Slots[{self.slot}]", old, old + self.delta))

    class AllowPolicy:
        """Allows every mutation (no modifications, so the engine asks every policy)."""

        def __init__(self, name: str = "allow-all-counter", priority: int = 0) -> None:
            self.name, self.priority = name, priority

        def evaluate(self, mutation: Any, state: Any) -> Any:
            return g.PolicyDecision.allow(self.name)

    class PassiveInterceptor(g.InterceptorBase):  # type: ignore[misc, name-defined]
        """Runs for every mutation and does nothing in its hooks."""

    class FormattingLoggingInterceptor(g.InterceptorBase):  # type: ignore[misc, name-defined]
        """Formats a log line before and after each mutation and hands it to a logger whose
        level drops it (the formatting is paid, nothing is written)."""

        order = 10

        def __init__(self) -> None:
            self.logger = logging.getLogger("governance.benchmarks.interceptor")
            self.logger.setLevel(logging.WARNING)
            self.logger.propagate = False

        def on_before_mutation(self, intent: Any, context: Any, state: Any,
                               execution_id: str) -> None:
            self.logger.debug(f"before {intent.operation_name} ({intent.category}) on "
                              f"{context.state_id} by {context.actor_type.name}: {execution_id}")

        def on_after_mutation(self, intent: Any, context: Any, old_state: Any, new_state: Any,
                              changes: Any, execution_id: str) -> None:
            self.logger.debug(f"after {intent.operation_name} on {context.state_id}: "
                              f"{len(changes)} change(s), {old_state!r} -> {new_state!r}: "
                              f"{execution_id}")

    class LatestMetricsCollector:
        """Builds detailed metrics scopes like the in-memory collector, but keeps only the
        latest metrics, so an engine reused across calls does not grow."""

        def __init__(self) -> None:
            self.latest: Any = None

        def begin_scope(self, execution_id: str) -> Any:
            return g.MetricsScope(execution_id)

        def record(self, execution_id: str, metrics: Any) -> None:
            self.latest = metrics

        def get_aggregated(self, start: Any, end: Any) -> Any:
            raise NotImplementedError("the benchmark collector keeps no history")

    class BlockingMutation(IncrementCounterMutation):
        """Signals ``entered`` from ``apply`` and then waits (bounded) for ``release``."""

        def __init__(self, intent: Any, context: Any) -> None:
            super().__init__(intent, context)
            self.entered = threading.Event()
            self.release = threading.Event()

        def apply(self, state: CounterState) -> Any:
            self.entered.set()
            self.release.wait(GATE_WAIT_LIMIT)
            return super().apply(state)

    @g.side_effect_contract(*MATERIALIZATION_CONTRACT)
    @dataclass(frozen=True, slots=True)
    class MaterializationPayload:
        """The typed payload of the materialization benchmark's critical side effect."""

        alert: str
        value: int

    class MaterializedMutation(g.MutationBase):  # type: ignore[misc, name-defined]
        """Moves a ``VersionedState`` to the next version with two changes (value and version)
        and two side effects: an INFO one and a CRITICAL one with a contract payload."""

        def apply(self, state: VersionedState) -> Any:
            new_state = VersionedState(state.value + 1, next_version(state.version))
            changes = g.ChangeSet([
                g.StateChange.modified("Value", state.value, new_state.value),
                g.StateChange.modified("Version", state.version, new_state.version),
            ])
            effects = [
                g.SideEffect.create("cache.invalidate", "Cached value is stale",
                                    timestamp=BASE_TIME),
                g.SideEffect.create("operator.alert", "Value crossed its limit",
                                    MaterializationPayload("value-limit", new_state.value),
                                    g.SideEffectSeverity.CRITICAL, timestamp=BASE_TIME),
            ]
            return g.MutationResult.success(new_state, changes, effects)

    ns = SimpleNamespace(
        IncrementCounterMutation=IncrementCounterMutation, ReplaceSlotMutation=ReplaceSlotMutation,
        AllowPolicy=AllowPolicy, PassiveInterceptor=PassiveInterceptor,
        FormattingLoggingInterceptor=FormattingLoggingInterceptor,
        LatestMetricsCollector=LatestMetricsCollector, BlockingMutation=BlockingMutation,
        MaterializationPayload=MaterializationPayload, MaterializedMutation=MaterializedMutation)
    return ns


GATE_WAIT_LIMIT = 2.0
"""Seconds any wait of the gate-contention benchmark may take before it gives up (so a broken
runtime fails the benchmark instead of hanging it)."""

COUNTER_INTENT = ("IncrementCounter", "Benchmark")


def counter_context(g: Any, suffix: str, mode: Any = None, state_id: str = COUNTER_STATE_ID
                    ) -> Any:
    """System("benchmark") on ``state_id``, correlation ``benchmark-counter:{suffix}``."""
    fields: dict[str, Any] = {"state_id": state_id}
    if mode is not None:
        fields["mode"] = mode
    return g.MutationContext.system("benchmark", f"benchmark-counter:{suffix}", **fields)


def counter_mutation(g: Any, suffix: str, mode: Any = None, state_id: str = COUNTER_STATE_ID,
                     cls: Any = None) -> Any:
    """An ``IncrementCounterMutation`` (or ``cls``) with the benchmark intent and context."""
    classes = engine_classes(g)
    intent = g.MutationIntent.create(*COUNTER_INTENT)
    return (cls or classes.IncrementCounterMutation)(
        intent, counter_context(g, suffix, mode, state_id))


def counter_engine(g: Any, preset: str = "performance", *, policies: int = 0,
                   in_memory: bool = False, interceptors: tuple[str, ...] = (),
                   max_concurrent: int | None = None) -> Any:
    """An engine for the counter benchmarks.

    ``preset``: ``performance`` or ``strict``. ``in_memory``: the engine's own in-memory
    auditor, history and metrics (they grow with every call: rebuild the engine per call);
    otherwise ``NullAuditor``, ``NullHistoryStore`` and a collector keeping only the latest
    metrics, so the engine can be reused. ``policies``: that many allow policies (see
    ``POLICY_PRIORITIES``). ``interceptors``: ``passive`` and/or ``logging``.
    """
    classes = engine_classes(g)
    options = getattr(g.EngineOptions, preset)()
    if max_concurrent is not None:
        options = dataclasses.replace(options, max_concurrent_mutations=max_concurrent)
    if in_memory:
        engine = g.MutationEngine(options)
    else:
        engine = g.MutationEngine(options, auditor=g.NullAuditor(), history=g.NullHistoryStore(),
                                  metrics=classes.LatestMetricsCollector())
    for name, priority in policy_set(policies):
        engine.register_policy(classes.AllowPolicy(name, priority))
    for kind in interceptors:
        engine.register_interceptor(classes.PassiveInterceptor() if kind == "passive"
                                    else classes.FormattingLoggingInterceptor())
    return engine


POLICY_PRIORITIES = (300, 200, 100, 0)
"""Priorities of the mixed policy set, cycled: four policies get 300, 200, 100 and 0."""


def policy_set(count: int) -> list[tuple[str, int]]:
    """Names and priorities of ``count`` allow policies: one policy gets priority 100 (the
    single-policy case of the reference suite); more cycle through ``POLICY_PRIORITIES``."""
    if count == 1:
        return [("allow-policy-0", 100)]
    return [(f"allow-policy-{i}", POLICY_PRIORITIES[i % len(POLICY_PRIORITIES)])
            for i in range(count)]


def slot_mutations(g: Any, size: int, count: int) -> list[Any]:
    """``count`` ReplaceSlot mutations on a state of ``size`` slots: slot ``i % size``, delta
    ``i % 4 + 1`` (the batch shape of the reference suite)."""
    classes = engine_classes(g)
    intent = g.MutationIntent.create("ReplaceSlot", "Benchmark")
    context = g.MutationContext.system("benchmark", "benchmark-slots", state_id=SLOTS_STATE_ID)
    return [classes.ReplaceSlotMutation(intent, context, i % size, i % 4 + 1)
            for i in range(count)]


def single_slot_mutation(g: Any, size: int) -> Any:
    """The single-mutation case: slot ``size // 2``, delta 1."""
    classes = engine_classes(g)
    intent = g.MutationIntent.create("ReplaceSlot", "Benchmark")
    context = g.MutationContext.system("benchmark", "benchmark-slots", state_id=SLOTS_STATE_ID)
    return classes.ReplaceSlotMutation(intent, context, size // 2, 1)

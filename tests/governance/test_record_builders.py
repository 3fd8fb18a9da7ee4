"""Every frozen record the runtime builds without its constructor carries every field of its
class: the builders (``record_builder``) agree with the records, and the records the runtime
hands out hold a value for each declared field."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, make_dataclass
from typing import Any

import pytest
from pydantic import BaseModel

import governance.core.results as results_module
from governance import (
    ChangeSet,
    EngineOptions,
    GovernanceExecutionManager,
    InMemoryAuditor,
    InMemoryHistoryStore,
    InMemoryRequestStore,
    MutationContext,
    MutationEngine,
    MutationResult,
    PolicyDecision,
    ResolutionStrategy,
    StateChange,
    ValidationResult,
    VersionResolutionManager,
)
from governance._models import BUILDERS, record_builder, record_fields
from governance.core.metrics import InMemoryMetricsCollector
from governance.core.results import MutationMetrics
from governance.testing import (
    DenyPolicy,
    IncrementMutation,
    VersionedState,
    approved_request,
)


def _field_names(record: Any) -> set[str]:
    return set(record_fields(type(record)))


def _held_names(record: Any) -> set[str]:
    if isinstance(record, MutationResult):
        # Built when read: every field must be readable, and reading keeps it.
        return {name for name in record_fields(type(record)) if hasattr(record, name)}
    if isinstance(record, BaseModel) or not hasattr(type(record), "__slots__"):
        return set(vars(record))
    return {name for name in record_fields(type(record)) if hasattr(record, name)}


def _records(value: Any, seen: set[int] | None = None) -> Iterator[Any]:
    """``value`` and every package record reachable from it through fields and collections."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    is_record = (isinstance(value, BaseModel) or dataclasses.is_dataclass(value)) \
        and not isinstance(value, type)
    if is_record and type(value).__module__.startswith("governance."):
        yield value
        for name in _held_names(value):
            yield from _records(getattr(value, name), seen)
    elif isinstance(value, list | tuple | frozenset | set):
        for item in value:
            yield from _records(item, seen)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _records(item, seen)
    elif isinstance(value, ChangeSet):
        for change in value:
            yield from _records(change, seen)


def _engine_outputs(options: EngineOptions) -> list[Any]:
    auditor, history = InMemoryAuditor(), InMemoryHistoryStore()
    metrics = InMemoryMetricsCollector()
    engine = MutationEngine(options, auditor=auditor, history=history, metrics=metrics)
    context = MutationContext.service("counter-service", "increment", state_id="counter-1")
    mutation = IncrementMutation(context=context)
    executed = engine.execute(mutation, VersionedState(1, "10"))
    blocked_engine = MutationEngine(options, auditor=auditor, history=history)
    blocked_engine.register_policy(DenyPolicy())
    blocked = blocked_engine.execute(mutation, VersionedState(1, "10"))
    invalid = engine.execute(mutation, VersionedState(-1, "10"))
    return [executed, blocked, invalid, auditor.get_audit_log("counter-1"),
            history.get_history("counter-1")]


def _governed_outputs() -> list[Any]:
    store = InMemoryRequestStore()
    request = store.create(approved_request(request_id="req-records",
                                            expected_state_version="10"))
    resolution = VersionResolutionManager(store)
    executor = GovernanceExecutionManager(store, resolution, MutationEngine())
    mutation = IncrementMutation()
    executed = executor.execute_approved(
        request.request_id, mutation, VersionedState(1, "10"),
        governance_context=mutation.context, strategy=ResolutionStrategy.REJECT_STALE)
    return [executed, store.all()]


SOURCES: dict[str, Callable[[], Any]] = {
    "MutationResult.success": lambda: MutationResult.success(1),
    "MutationResult.success with a change": lambda: MutationResult.success(
        1, StateChange.modified("value", 0, 1)),
    "MutationResult.failure": lambda: MutationResult.failure(
        ValidationResult.with_error("value", "negative")),
    "MutationResult.policy_blocked": lambda: MutationResult.policy_blocked(
        PolicyDecision.deny("frozen", "freeze")),
    "StateChange factories": lambda: [StateChange.modified("p", 1, 2), StateChange.added("p", 1),
                                      StateChange.removed("p", 1),
                                      StateChange.replaced("p", 1, 2)],
    "PolicyDecision factories": lambda: [PolicyDecision.allow("p"), PolicyDecision.deny("r"),
                                         PolicyDecision.deny_critical("r")],
    "engine, strict (detailed metrics)": lambda: _engine_outputs(EngineOptions.strict()),
    "engine, performance": lambda: _engine_outputs(EngineOptions.performance()),
    "governed execution": _governed_outputs,
}


@pytest.mark.parametrize("source", SOURCES)
def test_every_record_the_runtime_builds_holds_every_field_of_its_class(source: str) -> None:
    built = list(_records(SOURCES[source]()))

    assert built
    for record in built:
        assert _held_names(record) == _field_names(record), type(record).__name__


def test_a_success_result_carries_every_metrics_field() -> None:
    metrics = MutationResult.success(1).metrics

    assert set(vars(metrics)) == {f.name for f in dataclasses.fields(MutationMetrics)}


@pytest.mark.parametrize("record", list(BUILDERS), ids=lambda cls: cls.__qualname__)
def test_every_builder_takes_exactly_the_fields_of_its_record(record: type[Any]) -> None:
    parameters = inspect.signature(BUILDERS[record]).parameters

    assert tuple(parameters) == record_fields(record)
    assert all(p.default is inspect.Parameter.empty for p in parameters.values())


def test_the_hot_records_are_built_through_builders() -> None:
    names = {cls.__name__ for cls in BUILDERS}

    assert {"MutationMetrics", "StateChange", "PolicyDecision",
            "RequestDecision", "ExecutionClaim", "MutationAuditEntry", "MutationHistoryEntry",
            "VersionResolution", "GovernedExecutionResult"} <= names


@dataclass(frozen=True)
class _Probe:
    kept: int
    added: list[int] = field(default_factory=list)


def test_a_builder_refuses_a_call_that_leaves_out_a_defaulted_field() -> None:
    build = record_builder(_Probe)
    try:
        with pytest.raises(TypeError, match="added"):
            build(kept=1)
        assert build(kept=1, added=[2]) == _Probe(1, [2])
    finally:
        BUILDERS.pop(_Probe)


def test_a_field_added_to_mutation_metrics_cannot_go_missing_from_success_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # MutationMetrics with one more defaulted field, as a later change might add it: the
    # success factory, which names every field it fills, must fail loudly rather than hand out
    # metrics without it.
    extended = make_dataclass(
        "MutationMetrics", [("probe_counter", int, field(default=0))], bases=(MutationMetrics,))
    monkeypatch.setattr(results_module, "build_metrics", record_builder(extended))
    try:
        with pytest.raises(TypeError, match="probe_counter"):
            MutationResult.success(1).metrics  # noqa: B018 - the read builds the record
    finally:
        BUILDERS.pop(extended)

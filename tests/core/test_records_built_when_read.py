"""The engine's records kept as their values and built when read: a success result's validation,
policy decisions, side effects and metrics; the in-memory auditor's, history store's and metrics
collector's entries. What a reader gets is the record the eager engine built, field for field."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from governance.core import (
    EngineOptions,
    InMemoryAuditor,
    InMemoryHistoryStore,
    InMemoryMetricsCollector,
    MutationAuditEntry,
    MutationContext,
    MutationEngine,
    MutationHistoryEntry,
    MutationIntent,
    MutationMetrics,
    MutationMode,
    MutationResult,
    PolicyDecision,
    StateChange,
    ValidationResult,
)
from governance.core.audit import build_audit_entry
from governance.core.history import build_history_entry
from governance.errors import InvalidOperationError
from governance.testing import IncrementMutation, VersionedState

AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_a_success_result_reads_as_the_record_the_constructor_builds() -> None:
    change = StateChange.modified("value", 1, 2)
    lazy = MutationResult.success(2, change)

    eager = MutationResult(
        is_success=True, new_state=2, changes=lazy.changes,
        validation_result=ValidationResult(), policy_decisions=[], side_effects=[],
        metrics=MutationMetrics(recorded_at=lazy.completed_at), completed_at=lazy.completed_at)

    assert lazy == eager
    assert dataclasses.asdict(lazy) == dataclasses.asdict(eager)
    assert repr(lazy) == repr(eager)
    assert lazy.metrics.recorded_at == lazy.completed_at


def test_a_field_read_once_is_kept_so_later_reads_see_the_same_object() -> None:
    result = MutationResult.success(1)

    validation = result.validation_result
    validation.add_warning("value", "large")

    assert result.validation_result is validation
    assert result.metrics is result.metrics
    assert result.side_effects is result.side_effects


def test_a_result_built_when_read_survives_copies_and_pickling() -> None:
    result = MutationResult.success(VersionedState(1, "1"), StateChange.added("value", 1))

    assert copy.copy(result) == result
    assert copy.deepcopy(result) == result
    assert pickle.loads(pickle.dumps(result)) == result
    assert dataclasses.replace(result, new_state=VersionedState(2, "2")).metrics \
        == result.metrics


def test_a_missing_attribute_is_still_an_attribute_error() -> None:
    result = MutationResult.success(1)

    with pytest.raises(AttributeError, match="no_such_field"):
        result.no_such_field  # noqa: B018 - the read is what is tested
    assert not hasattr(result, "no_such_field")


def _engine(options: EngineOptions, **collaborators: Any) -> MutationEngine:
    return MutationEngine(options, **collaborators)


def _context() -> MutationContext:
    return MutationContext.service("counter-service", "increment", state_id="counter-1")


@pytest.mark.parametrize("options", [EngineOptions.strict(), EngineOptions.performance()],
                         ids=["strict", "performance"])
def test_the_engine_records_read_the_same_duration_everywhere(options: EngineOptions) -> None:
    auditor, history = InMemoryAuditor(), InMemoryHistoryStore()
    metrics = InMemoryMetricsCollector()
    engine = _engine(options, auditor=auditor, history=history, metrics=metrics)

    result = engine.execute(IncrementMutation(context=_context()), VersionedState(1, "1"))

    (audit,) = auditor.entries
    (entry,) = history.get_history("counter-1")
    assert isinstance(audit, MutationAuditEntry)
    assert isinstance(entry, MutationHistoryEntry)
    assert audit.duration == entry.execution_time == result.metrics.execution_time > timedelta(0)
    if options.enable_detailed_metrics:
        # The result carries the record the collector keeps.
        assert metrics.get(audit.execution_id) is result.metrics
        assert result.metrics.evaluated_policies == 0
        assert result.metrics.validated_rules == 1
        assert result.metrics.changes_count == 1
        assert result.metrics.state_size is not None
        assert metrics.get_aggregated(AT - timedelta(days=3650),
                                      datetime.now(UTC) + timedelta(days=1)).count == 1
    else:
        assert metrics.count == 0
        assert result.metrics.recorded_at == result.completed_at


def test_entries_are_built_once_and_then_kept() -> None:
    auditor, history = InMemoryAuditor(), InMemoryHistoryStore()
    engine = _engine(EngineOptions.strict(), auditor=auditor, history=history)
    engine.execute(IncrementMutation(context=_context()), VersionedState(1, "1"))

    assert auditor.entries[0] is auditor.entries[0]
    assert auditor.get_audit_log("counter-1")[0] is auditor.entries[0]
    assert history.get_history("counter-1")[0] is history.get_recent("counter-1", 1)[0]


def test_the_engine_hands_other_auditors_and_history_stores_whole_records() -> None:
    class ListAuditor(InMemoryAuditor):
        """A subclass: it gets records through ``audit``, as any Auditor does."""

        def __init__(self) -> None:
            super().__init__()
            self.received: list[Any] = []

        def audit(self, entry: MutationAuditEntry) -> None:
            self.received.append(entry)
            super().audit(entry)

    class ListHistory(InMemoryHistoryStore):
        def __init__(self) -> None:
            super().__init__()
            self.received: list[Any] = []

        def store(self, entry: MutationHistoryEntry) -> None:
            self.received.append(entry)
            super().store(entry)

    auditor, history = ListAuditor(), ListHistory()
    engine = _engine(EngineOptions.strict(), auditor=auditor, history=history)
    engine.execute(IncrementMutation(context=_context()), VersionedState(1, "1"))

    assert [type(e) for e in auditor.received] == [MutationAuditEntry]
    assert [type(e) for e in history.received] == [MutationHistoryEntry]
    assert auditor.received[0].context.state_id == "counter-1"


def test_a_kept_audit_entry_reads_every_field_from_its_values() -> None:
    context = MutationContext.user("alice", state_id="s-9", source_ip_address="10.0.0.1",
                                   user_agent="cli", metadata={"Ticket": "T-1"})
    intent = MutationIntent.create("Op", "Cat")
    auditor = InMemoryAuditor()

    auditor.keep(("e-1", None, intent, context, False, "VersionedState", None, "refused", [],
                  [], 0.25))  # type: ignore[arg-type]

    (entry,) = auditor.get_audit_log("s-9")
    assert entry == MutationAuditEntry(
        execution_id="e-1", mutation_intent=intent, context=context, is_success=False,
        state_id="s-9", state_type="VersionedState", changes=None,  # type: ignore[arg-type]
        error_message="refused", policy_decisions=[], side_effects=[],
        timestamp=context.timestamp, duration=timedelta(seconds=0.25),
        source_ip_address="10.0.0.1", user_agent="cli", metadata={"Ticket": "T-1"})


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_kept_history_entry_needs_a_state_id(blank: str) -> None:
    history = InMemoryHistoryStore()
    context = MutationContext.system("test")

    with pytest.raises(InvalidOperationError, match="'e-1' has no state id"):
        history.keep(("e-1", blank, None, MutationIntent.create("Op", "Cat"), context, None,
                      [], 0.1))  # type: ignore[arg-type]
    assert history.get_history(blank) == []


def test_the_builders_of_kept_values_name_the_context_fields() -> None:
    context = MutationContext.system("test", state_id="s-1")
    intent = MutationIntent.create("Op", "Cat")

    audit = build_audit_entry(("e", None, intent, context, True, "int", None, None, [], [],
                               0.0))  # type: ignore[arg-type]
    entry = build_history_entry(("e", "s-1", None, intent, context, None, [], 0.0))  # type: ignore[arg-type]

    assert audit.timestamp == entry.timestamp == context.timestamp
    assert audit.metadata is None  # an empty context metadata is recorded as None


def test_kept_metrics_build_one_record_even_when_read_from_many_threads() -> None:
    collector = InMemoryMetricsCollector()
    collector.keep("e-1", 0.5, 0.1, 0.2, 1, 2, 3, 64)
    seen: list[MutationMetrics] = []
    start = threading.Barrier(8)

    def read() -> None:
        start.wait()
        record = collector.get("e-1")
        assert record is not None
        seen.append(record)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    record = collector.get("e-1")
    assert record is not None
    assert all(read is record for read in seen)
    assert record.recorded_at.tzinfo is UTC
    assert abs(record.recorded_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert record == MutationMetrics(
        recorded_at=record.recorded_at,
        execution_time=timedelta(seconds=0.5), validation_time=timedelta(seconds=0.1),
        policy_evaluation_time=timedelta(seconds=0.2), validated_rules=1,
        evaluated_policies=2, changes_count=3, state_size=64)


def test_a_collector_with_its_own_clock_records_its_time() -> None:
    collector = InMemoryMetricsCollector(clock=lambda: AT)
    engine = _engine(EngineOptions.strict(), metrics=collector)

    result = engine.execute(IncrementMutation(context=_context()), VersionedState(1, "1"))

    assert result.metrics.recorded_at == AT
    assert collector.get_aggregated(AT, AT).count == 1


class _Allow:
    name, priority = "allow", 0

    def evaluate(self, mutation: Any, state: Any) -> PolicyDecision:
        return PolicyDecision.allow(self.name)


class _OwnCollector(InMemoryMetricsCollector):
    """Not the in-memory collector itself: the engine opens a scope for it and hands it the
    record."""


@pytest.mark.parametrize("collector", [InMemoryMetricsCollector, _OwnCollector],
                         ids=["kept-values", "scope-and-record"])
@pytest.mark.parametrize(("mode", "validations"), [("COMMIT", 1), ("VALIDATE", 2)])
def test_detailed_metrics_count_what_ran_whichever_the_collector(
        collector: type[InMemoryMetricsCollector], mode: str, validations: int) -> None:
    metrics = collector()
    engine = _engine(EngineOptions.strict(), metrics=metrics)
    engine.register_policy(_Allow())
    context = MutationContext.service("counter-service", "increment", state_id="counter-1",
                                      mode=MutationMode[mode])

    result = engine.execute(IncrementMutation(context=context), VersionedState(1, "1"))

    (audit,) = engine.auditor.entries
    record = metrics.get(audit.execution_id)
    assert record is result.metrics
    assert record.evaluated_policies == 1
    assert record.validated_rules == validations
    assert record.policy_evaluation_time > timedelta(0)
    assert record.validation_time > timedelta(0)
    assert record.execution_time == audit.duration

"""Audit, history, metrics and engine options."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from governance.core import (
    AggregatedMetrics,
    Auditor,
    ChangeSet,
    EngineOptions,
    HistoryStore,
    InMemoryAuditor,
    InMemoryHistoryStore,
    InMemoryMetricsCollector,
    MetricsCollector,
    MutationAuditEntry,
    MutationContext,
    MutationHistory,
    MutationHistoryEntry,
    MutationIntent,
    MutationMetrics,
    NullAuditor,
    NullHistoryStore,
    StateChange,
)
from governance.errors import InvalidArgumentError, InvalidOperationError

BASE = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return BASE + timedelta(minutes=minutes)


def audit_entry(
    execution_id: str, state_id: str | None = "s-1", minutes: int = 0, success: bool = True
) -> MutationAuditEntry:
    return MutationAuditEntry(
        execution_id=execution_id,
        mutation_intent=MutationIntent.create("Op", "Cat"),
        context=MutationContext.system("test", state_id=state_id),
        is_success=success,
        state_id=state_id,
        timestamp=at(minutes),
    )


def history_entry(
    execution_id: str,
    minutes: int,
    *changes: StateChange,
    state_id: str = "s-1",
    actor: str | None = "alice",
    category: str = "Cat",
    reason: str = "why",
) -> MutationHistoryEntry:
    ctx = (
        MutationContext.user(actor, reason=reason) if actor else MutationContext(reason=reason)
    )
    return MutationHistoryEntry(
        execution_id=execution_id,
        state_id=state_id,
        intent=MutationIntent.create("Op", category),
        context=ctx,
        changes=ChangeSet(changes),
        timestamp=at(minutes),
    )


# -- audit ---------------------------------------------------------------------------------------


def test_audit_entries_are_immutable_with_empty_defaults() -> None:
    entry = audit_entry("e-1")

    assert entry.changes.count == 0
    assert tuple(entry.policy_decisions) == () and tuple(entry.side_effects) == ()
    assert entry.duration == timedelta(0) and entry.error_message is None
    with pytest.raises(AttributeError):
        entry.is_success = False  # type: ignore[misc]


def test_in_memory_auditor_filters_by_state_and_inclusive_time_bounds() -> None:
    auditor = InMemoryAuditor()
    for entry in [
        audit_entry("late", minutes=10),
        audit_entry("early", minutes=0),
        audit_entry("other-state", state_id="s-2", minutes=5),
        audit_entry("middle", minutes=5),
    ]:
        auditor.audit(entry)

    assert [e.execution_id for e in auditor.get_audit_log("s-1")] == ["early", "middle", "late"]
    assert [e.execution_id for e in auditor.get_audit_log("s-1", at(5), at(10))] == [
        "middle", "late",
    ]
    assert [e.execution_id for e in auditor.get_audit_log("s-1", end=at(5))] == [
        "early", "middle",
    ]
    assert auditor.get_audit_log("unknown") == []
    assert [e.execution_id for e in auditor.entries] == ["late", "early", "other-state", "middle"]
    assert auditor.is_enabled and isinstance(auditor, Auditor)


def test_auditor_entries_is_a_snapshot() -> None:
    auditor = InMemoryAuditor()
    auditor.audit(audit_entry("a"))
    snapshot = auditor.entries

    auditor.audit(audit_entry("b"))

    assert len(snapshot) == 1 and len(auditor.entries) == 2


def test_auditor_keeps_every_entry_written_from_many_threads() -> None:
    auditor = InMemoryAuditor()

    def write(worker: int) -> None:
        for i in range(200):
            auditor.audit(audit_entry(f"{worker}-{i}"))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({e.execution_id for e in auditor.entries}) == 1600


def test_null_auditor_is_disabled_and_stores_nothing() -> None:
    auditor = NullAuditor()
    auditor.audit(audit_entry("a"))

    assert auditor.is_enabled is False
    assert auditor.get_audit_log("s-1") == []
    assert isinstance(auditor, Auditor)


# -- history store -------------------------------------------------------------------------------


@pytest.mark.parametrize("blank", ["", "  "])
def test_history_store_refuses_entries_without_a_state_id(blank: str) -> None:
    with pytest.raises(InvalidOperationError, match="e-1"):
        InMemoryHistoryStore().store(history_entry("e-1", 0, state_id=blank))


def test_history_is_returned_oldest_first_per_state() -> None:
    store = InMemoryHistoryStore()
    for entry in [
        history_entry("third", 20),
        history_entry("first", 0),
        history_entry("elsewhere", 5, state_id="s-2"),
        history_entry("second", 10),
    ]:
        store.store(entry)

    assert [e.execution_id for e in store.get_history("s-1")] == ["first", "second", "third"]
    assert [e.execution_id for e in store.get_history("s-2")] == ["elsewhere"]
    assert store.get_history("unknown") == []
    assert store.is_enabled and isinstance(store, HistoryStore)


def test_history_range_includes_both_bounds() -> None:
    store = InMemoryHistoryStore()
    for i, minutes in enumerate([0, 10, 20, 30]):
        store.store(history_entry(f"e{i}", minutes))

    assert [e.execution_id for e in store.get_history_range("s-1", at(10), at(20))] == [
        "e1", "e2",
    ]


def test_recent_history_is_newest_first_and_limited() -> None:
    store = InMemoryHistoryStore()
    for i, minutes in enumerate([0, 30, 10, 20]):
        store.store(history_entry(f"e{i}", minutes))

    assert [e.execution_id for e in store.get_recent("s-1", 2)] == ["e1", "e3"]
    assert len(store.get_recent("s-1", 10)) == 4
    assert store.get_recent("s-1", 0) == []
    with pytest.raises(InvalidArgumentError):
        store.get_recent("s-1", -1)


def test_null_history_store_is_disabled_and_stores_nothing() -> None:
    store = NullHistoryStore()
    store.store(history_entry("e", 0))

    assert store.is_enabled is False
    assert store.get_history("s-1") == []
    assert store.get_history_range("s-1", at(0), at(1)) == []
    assert store.get_recent("s-1", 3) == []


# -- mutation history ----------------------------------------------------------------------------


def counter_history() -> MutationHistory:
    return MutationHistory(
        "s-1",
        "Counter",
        [
            history_entry("e2", 20, StateChange.modified("Value", 1, 3), actor="bob",
                          reason="second"),
            history_entry("e1", 10, StateChange.modified("Value", 0, 1),
                          StateChange.added("Label", "x"), category="Setup", reason="first"),
            history_entry("e3", 30, StateChange.modified("Value", 3, 6), actor=None,
                          reason="third"),
        ],
    )


def add_value_changes(state: int, changes: ChangeSet) -> int:
    for change in changes.get_changes("Value"):
        state += change.new_value - change.old_value
    return state


def test_mutation_history_reports_its_span_and_size() -> None:
    history = counter_history()

    assert history.first_mutation_at == at(10)
    assert history.last_mutation_at == at(30)
    assert history.total_mutations == 3
    empty = MutationHistory("s", None, [])
    assert (empty.first_mutation_at, empty.last_mutation_at, empty.total_mutations) == (
        None, None, 0,
    )


def test_replay_folds_every_change_set_oldest_first() -> None:
    seen: list[str] = []

    def apply(state: int, changes: ChangeSet) -> int:
        seen.append(str(changes.get_changes("Value")[0].new_value))
        return add_value_changes(state, changes)

    assert counter_history().replay(0, apply) == 6
    assert seen == ["1", "3", "6"]


def test_replay_until_stops_after_the_given_time_inclusive() -> None:
    history = counter_history()

    assert history.replay_until(0, at(20), add_value_changes) == 3
    assert history.replay_until(0, at(19), add_value_changes) == 1
    assert history.replay_until(0, at(0), add_value_changes) == 0


def test_timeline_for_a_path_lists_its_changes_with_who_and_why() -> None:
    timeline = counter_history().get_timeline_for_path("Value")

    assert [(t.execution_id, t.change.new_value) for t in timeline] == [
        ("e1", 1), ("e2", 3), ("e3", 6),
    ]
    assert [(t.actor_id, t.reason) for t in timeline] == [
        ("alice", "first"), ("bob", "second"), (None, "third"),
    ]
    assert [t.timestamp for t in timeline] == [at(10), at(20), at(30)]
    assert [t.execution_id for t in counter_history().get_timeline_for_path("Label")] == ["e1"]


def test_history_statistics_count_actors_categories_and_changes() -> None:
    stats = counter_history().get_statistics()

    assert stats.total_mutations == 3
    assert stats.unique_actors == 2
    assert stats.mutations_by_category == {"Cat": 2, "Setup": 1}
    assert stats.average_changes_per_mutation == pytest.approx(4 / 3)
    assert MutationHistory("s", None, []).get_statistics().average_changes_per_mutation == 0.0


def test_mutation_history_can_be_read_from_a_store() -> None:
    store = InMemoryHistoryStore()
    store.store(history_entry("b", 5))
    store.store(history_entry("a", 1))

    history = MutationHistory.from_store(store, "s-1", "Counter")

    assert [e.execution_id for e in history.entries] == ["a", "b"]
    assert history.state_type == "Counter"


# -- metrics -------------------------------------------------------------------------------------


def test_metrics_scope_accumulates_times_and_keeps_the_last_sizes() -> None:
    collector = InMemoryMetricsCollector(clock=lambda: at(0))
    scope = collector.begin_scope("e-1")

    scope.record_validation_time(timedelta(milliseconds=2), 1)
    scope.record_validation_time(timedelta(milliseconds=3), 1)
    scope.record_policy_time(timedelta(milliseconds=4), 2)
    scope.record_changes(5)
    scope.record_state_size(100)
    scope.record_memory(2048)
    scope.record_custom("cache", "hit")
    metrics = scope.build()

    assert scope.execution_id == "e-1"
    assert metrics.recorded_at == at(0)
    assert metrics.validation_time == timedelta(milliseconds=5)
    assert (metrics.validated_rules, metrics.evaluated_policies) == (2, 2)
    assert metrics.policy_evaluation_time == timedelta(milliseconds=4)
    assert (metrics.changes_count, metrics.state_size, metrics.memory_used) == (5, 100, 2048)
    assert metrics.additional_metrics == {"cache": "hit"}
    assert isinstance(metrics.execution_time, timedelta)
    assert metrics.execution_time >= timedelta(0)


def record(collector: InMemoryMetricsCollector, execution_id: str, ms: int, minutes: int) -> None:
    collector.record(
        execution_id,
        MutationMetrics(recorded_at=at(minutes), execution_time=timedelta(milliseconds=ms)),
    )


def test_aggregation_computes_average_extremes_percentiles_and_throughput() -> None:
    collector = InMemoryMetricsCollector()
    for i in range(1, 21):  # 1..20 ms, recorded at minute 0
        record(collector, f"e{i}", i, 0)
    record(collector, "outside", 999, 11)

    aggregated = collector.get_aggregated(at(0), at(10))

    ms = timedelta(milliseconds=1)
    assert aggregated.count == 20
    assert aggregated.average_execution_time == 10.5 * ms
    assert (aggregated.min_execution_time, aggregated.max_execution_time) == (1 * ms, 20 * ms)
    assert aggregated.p50_execution_time == 11 * ms  # sorted[20 // 2]
    assert aggregated.p95_execution_time == 20 * ms  # sorted[int(19.0)]
    assert aggregated.p99_execution_time == 20 * ms  # sorted[int(19.8)]
    assert aggregated.throughput_per_second == pytest.approx(20 / 600)
    assert isinstance(collector, MetricsCollector)


def test_aggregation_percentiles_follow_the_index_rule_for_larger_samples() -> None:
    collector = InMemoryMetricsCollector()
    for i in range(200):  # 0..199 ms
        record(collector, f"e{i}", i, 1)

    aggregated = collector.get_aggregated(at(0), at(2))

    ms = timedelta(milliseconds=1)
    assert aggregated.p50_execution_time == 100 * ms
    assert aggregated.p95_execution_time == 190 * ms
    assert aggregated.p99_execution_time == 198 * ms


def test_aggregation_bounds_are_inclusive_and_an_empty_window_is_all_zero() -> None:
    collector = InMemoryMetricsCollector()
    record(collector, "edge-start", 4, 0)
    record(collector, "edge-end", 6, 10)

    assert collector.get_aggregated(at(0), at(10)).count == 2
    assert collector.get_aggregated(at(1), at(9)) == AggregatedMetrics.empty()
    empty = collector.get_aggregated(at(1), at(9))
    assert empty.count == 0 and empty.p99_execution_time == timedelta(0)
    assert empty.throughput_per_second == 0.0


def test_aggregation_over_a_zero_length_window_has_no_throughput() -> None:
    collector = InMemoryMetricsCollector()
    record(collector, "a", 4, 0)

    aggregated = collector.get_aggregated(at(0), at(0))

    assert aggregated.count == 1 and aggregated.throughput_per_second == 0.0


def test_aggregation_refuses_a_window_that_ends_before_it_starts() -> None:
    with pytest.raises(InvalidArgumentError):
        InMemoryMetricsCollector().get_aggregated(at(1), at(0))


def test_collector_keeps_metrics_recorded_from_many_threads() -> None:
    collector = InMemoryMetricsCollector()

    def write(worker: int) -> None:
        for i in range(200):
            record(collector, f"{worker}-{i}", 1, 0)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert collector.count == 1600
    assert collector.get("3-7") is not None and collector.get("missing") is None


# -- options -------------------------------------------------------------------------------------


def test_default_options() -> None:
    options = EngineOptions.default()

    assert options == EngineOptions()
    assert options.always_validate is True
    assert options.execution_timeout is None and options.policy_evaluation_timeout is None
    assert options.stop_batch_on_first_failure is True
    assert options.enable_detailed_metrics is False
    assert options.max_concurrent_mutations == 10


def test_strict_options_validate_stop_batches_and_record_detailed_metrics() -> None:
    options = EngineOptions.strict()

    assert options.always_validate and options.stop_batch_on_first_failure
    assert options.enable_detailed_metrics is True
    assert options.max_concurrent_mutations == 10


def test_performance_options_skip_validation_and_detailed_metrics() -> None:
    options = EngineOptions.performance()

    assert options.always_validate is False
    assert options.enable_detailed_metrics is False
    assert options.stop_batch_on_first_failure is True


def test_options_are_frozen() -> None:
    with pytest.raises(AttributeError):
        EngineOptions().always_validate = False  # type: ignore[misc]

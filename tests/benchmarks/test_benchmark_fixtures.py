"""The benchmarks measure what their names say: each scenario really executes or rejects."""

from __future__ import annotations

import pytest

import governance as g
from benchmarks import bench_handoff, bench_orchestration, bench_recording, bench_resolution
from benchmarks.common import api
from benchmarks.fixtures_execution import FloorFixture, VersionedState, floor_execute


def _stored_status(fixture: object) -> g.RequestStatus:
    store = fixture.store  # type: ignore[attr-defined]
    request_id = fixture.request_id  # type: ignore[attr-defined]
    return store.get(request_id).status


_OUTCOMES = [
    ("matching_version", g.RequestStatus.EXECUTED, True),
    ("rejected_as_stale", g.RequestStatus.REJECTED, False),
    ("revalidated_then_executed", g.RequestStatus.EXECUTED, True),
]


@pytest.mark.parametrize(("name", "status", "executed"), _OUTCOMES)
def test_each_orchestration_benchmark_ends_in_the_outcome_its_name_says(
    name: str, status: g.RequestStatus, executed: bool
) -> None:
    bench = bench_orchestration.ExecuteApproved()
    bench.setup()

    result = bench.ops[name]()

    assert result.request.status == status
    assert result.was_executed is executed
    assert (result.request.versioning.resulting_state_version is not None) is executed


@pytest.mark.parametrize(("name", "status", "executed"), _OUTCOMES)
def test_each_orchestration_fixture_runs_the_engine_only_when_it_executes(
    name: str, status: g.RequestStatus, executed: bool
) -> None:
    fixture, call = bench_orchestration.scenario(api(), name)
    assert _stored_status(fixture) == g.RequestStatus.APPROVED

    call()

    assert _stored_status(fixture) == status
    state_id = fixture.request.state_id
    assert len(fixture.engine.history.get_history(state_id)) == (1 if executed else 0)
    assert len(fixture.engine.auditor.get_audit_log(state_id)) == (1 if executed else 0)


def test_a_second_call_on_the_same_fixture_is_refused_so_setup_must_run_per_call() -> None:
    bench = bench_orchestration.ExecuteApproved()
    bench.setup()
    bench.time_matching_version()
    with pytest.raises(g.RequestNotExecutableError):
        bench.time_matching_version()


@pytest.mark.parametrize(
    ("revalidate", "version", "status", "new_version"),
    [(False, "v10", "EXECUTED", "v11"), (False, "v15", "REJECTED", None),
     (True, "v15", "EXECUTED", "v16")],
)
def test_the_floor_follows_the_same_flow(
    revalidate: bool, version: str, status: str, new_version: str | None
) -> None:
    fixture = FloorFixture(version)
    new_state = floor_execute(fixture.store, "req-1", fixture.state, revalidate)
    assert fixture.store["req-1"]["status"] == status
    assert (new_state.version if new_state else None) == new_version


@pytest.mark.parametrize(
    ("name", "status", "pending_reason"),
    [
        ("matching_version", g.RequestStatus.APPROVED, None),
        ("rejected_as_stale", g.RequestStatus.REJECTED, None),
        ("revalidation_required", g.RequestStatus.PENDING, g.PendingReason.REVALIDATION),
        ("renewed_approval_required", g.RequestStatus.PENDING, g.PendingReason.APPROVAL),
    ],
)
def test_each_resolution_benchmark_persists_the_outcome_its_name_says(
    name: str, status: g.RequestStatus, pending_reason: g.PendingReason | None
) -> None:
    bench = bench_resolution.ResolveAndStore()
    bench.setup()
    resolution = bench.ops[name]()
    assert resolution.request.status == status
    assert resolution.request.pending_reason == pending_reason
    assert resolution.request.revision == 1


def test_the_handoff_benchmark_runs_the_mutation_through_the_engine() -> None:
    result = bench_handoff._handoff(api())()
    assert result.is_success
    assert result.new_state == VersionedState(43, "v11")


@pytest.mark.parametrize(
    ("name", "status"),
    [("executed", g.RequestStatus.EXECUTED), ("rejected_as_stale", g.RequestStatus.REJECTED),
     ("rejected_by_policy", g.RequestStatus.REJECTED)],
)
def test_each_recording_benchmark_records_the_outcome_its_name_says(
    name: str, status: g.RequestStatus
) -> None:
    bench = bench_recording.OutcomeRecording()
    bench.setup()
    recorded = bench.ops[name]()
    assert recorded.status == status


def test_allocation_twins_are_deterministic() -> None:
    twins = bench_orchestration.ExecuteApprovedAllocatedBlocks()
    twins.setup()
    first = twins.track_matching_version()
    assert first > 0
    assert twins.track_matching_version() == first


def test_ratio_twins_report_the_runtime_slower_than_its_floor() -> None:
    ratios = bench_orchestration.ExecuteApprovedRatioToFloor()
    ratios.setup()
    assert ratios.track_rejected_as_stale() > 1.0

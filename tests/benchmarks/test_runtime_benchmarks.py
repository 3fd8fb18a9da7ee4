"""The runtime-wide benchmarks measure what their names say: each stateful call ends in the
state it names, read-only fixtures have the documented sizes, and nothing a benchmark reuses
changes from call to call."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

import governance as g
from benchmarks import (
    bench_approval,
    bench_concurrency,
    bench_diagnostics,
    bench_engine,
    bench_growth,
    bench_lifecycle,
    bench_materialization,
    bench_policies,
    bench_queries,
    bench_results,
)
from benchmarks.common import REJECTION_CODE, SkipNotImplemented, api
from benchmarks.fixtures_engine import (
    CounterState,
    SlotState,
    counter_engine,
    counter_mutation,
    policy_set,
)
from benchmarks.fixtures_requests import (
    BACKGROUND_KINDS,
    background_store,
    seeded_approval_store,
    seeded_decision_store,
    seeded_pending_store,
)
from benchmarks.harness import ReadOnlyBenchmark


def _stateful(cls: type, *params: Any) -> Any:
    bench = cls()
    bench.setup(*params)
    return bench


# -- lifecycle -------------------------------------------------------------------------------

def test_submission_stores_each_pending_request_as_it_is() -> None:
    bench = _stateful(bench_lifecycle.RequestSubmission)
    stored = bench.ops["submit_100_pending_requests"]()
    assert len({r.request_id for r in stored}) == bench_lifecycle.SUBMITTED_PER_CALL == 100
    assert all(r.status == g.RequestStatus.PENDING and r.revision == 0
               and len(r.decisions) == 2 for r in stored)
    with pytest.raises(g.RequestAlreadyExistsError):
        bench.ops["submit_100_pending_requests"]()


@pytest.mark.parametrize(
    ("name", "status"),
    [("approve_pending", g.RequestStatus.APPROVED), ("reject_pending", g.RequestStatus.REJECTED),
     ("cancel_pending", g.RequestStatus.CANCELED)],
)
def test_each_transition_benchmark_ends_in_the_status_its_name_says(
    name: str, status: g.RequestStatus
) -> None:
    bench = _stateful(bench_lifecycle.LifecycleTransitions)
    moved = bench.ops[name]()
    assert moved.status == status
    assert moved.revision == 1
    assert moved.pending_reason is None
    with pytest.raises(g.InvalidTransitionError):
        bench.ops[name]()


def test_the_lifecycle_sweep_expires_only_the_due_request() -> None:
    expired = _stateful(bench_lifecycle.LifecycleExpiration).ops["expire_due_requests_sweep"]()
    assert [r.request_id for r in expired] == ["lifecycle-expired-1"]
    assert expired[0].status == g.RequestStatus.EXPIRED


# -- approval --------------------------------------------------------------------------------

@pytest.mark.parametrize(("shape", "count"),
                         [("single_step", 1), ("two_step", 2), ("role_based", 1)])
def test_creation_benchmarks_build_the_shape_they_name(shape: str, count: int) -> None:
    bench = bench_approval.ApprovalRequestCreation()
    getattr(bench, f"time_pending_approval_{shape}")()
    request = bench.fixtures[None][f"pending_approval_{shape}"]()
    assert request.status == g.RequestStatus.PENDING
    assert request.pending_reason == g.PendingReason.APPROVAL
    assert len(request.approval_requirements) == count
    if shape == "role_based":
        assert request.approval_requirements[0].approver_role == "security-approver"
    if shape == "two_step":
        assert [r.step_order for r in request.approval_requirements] == [1, 2]


@pytest.mark.parametrize(
    ("name", "status"),
    [("approve_requirement_granted", g.RequestStatus.APPROVED),
     ("approve_first_step_request_still_pending", g.RequestStatus.PENDING),
     ("approve_second_step_finalizes", g.RequestStatus.APPROVED),
     ("reject_requirement_with_structured_reason", g.RequestStatus.REJECTED)],
)
def test_each_decision_benchmark_ends_in_the_status_its_name_says(
    name: str, status: g.RequestStatus
) -> None:
    bench = _stateful(bench_approval.ApprovalDecisions)
    decided = bench.ops[name]()
    assert decided.status == status
    if name.startswith("reject"):
        assert decided.approval_requirements[0].rejection.code == REJECTION_CODE
    if name == "approve_first_step_request_still_pending":
        statuses = [r.status for r in decided.approval_requirements]
        assert statuses == [g.ApprovalRequirementStatus.APPROVED,
                            g.ApprovalRequirementStatus.PENDING]
    with pytest.raises(g.GovernanceError):
        bench.ops[name]()


def test_the_approval_sweep_rejects_the_request_whose_requirement_expired() -> None:
    rejected = _stateful(bench_approval.ApprovalExpiration).ops[
        "expire_pending_approvals_sweep"]()
    assert len(rejected) == 1
    assert rejected[0].status == g.RequestStatus.REJECTED
    assert rejected[0].approval_requirements[0].status == g.ApprovalRequirementStatus.EXPIRED


# -- queries ---------------------------------------------------------------------------------

def test_seeded_query_stores_have_the_documented_sizes() -> None:
    pending = seeded_pending_store(g)
    assert len(pending) == 144
    statuses = Counter(r.status for r in pending.all())
    assert statuses == {g.RequestStatus.PENDING: 96, g.RequestStatus.APPROVED: 24,
                        g.RequestStatus.EXECUTED: 24}
    assert Counter(r.pending_reason for r in pending.get_pending()) == {
        g.PendingReason.APPROVAL: 48, g.PendingReason.EXTERNAL_CHECK: 48}

    approvals = seeded_approval_store(g)
    assert len(approvals) == 112
    queued = approvals.get_pending(g.PendingReason.APPROVAL)
    assert len(queued) == 64
    assert all(len(r.approval_requirements) == 3 for r in queued)

    decisions = seeded_decision_store(g)
    assert len(decisions) == 104
    assert Counter(len(r.decisions) for r in decisions.all()) == {3: 72, 1: 32}


def test_query_benchmarks_return_the_documented_matches() -> None:
    bench = bench_queries.GovernanceQueries()
    bench.time_pending_requests()
    reads = bench.fixtures[None]
    assert len(reads.pending_requests()) == 96
    assert len(reads.pending_approval_queue()) == 64
    outcomes = reads.recent_execution_outcomes()
    assert len(outcomes) == 64
    assert {v.decision.code for v in outcomes} == {"EXECUTED", "REJECTED", "CANCELED",
                                                   "EXPIRED"}


# -- materialization -------------------------------------------------------------------------

def test_the_materialization_fixture_is_one_governed_execution_with_the_documented_output(
) -> None:
    done = bench_materialization.governed_execution(g)
    result = done.result.mutation_result
    assert done.result.request.status == g.RequestStatus.EXECUTED
    assert result.changes.count == 2
    severities = [e.severity for e in result.side_effects]
    assert severities == [g.SideEffectSeverity.INFO, g.SideEffectSeverity.CRITICAL]
    assert result.side_effects[1].data_contract_type == "governance.materialization.side-effect"
    bench = bench_materialization.GovernedOutputs()
    bench.time_audit_entry()
    outputs = bench.fixtures[None]
    assert outputs.audit_entry().metadata == {"ExecutionKind": "STANDARD",
                                              "RequestStatus": "EXECUTED"}
    assert outputs.history_entry().side_effects == result.side_effects
    assert len(outputs.decision_views()) == len(done.result.request.decisions)


# -- engine ----------------------------------------------------------------------------------

def test_engine_benchmarks_succeed_on_the_same_input_every_call() -> None:
    bench = bench_engine.EngineCommit()
    bench.time_commit_performance_no_policy()
    for op in bench.fixtures[None].values():
        first, second = op(), op()
        assert first.is_success and second.is_success
        assert first.new_state == second.new_state == CounterState(43)
    modes = bench_engine.EngineModes()
    modes.time_simulate_strict_with_policy()
    assert modes.fixtures[None]["simulate_strict_with_policy"]().new_state == CounterState(43)
    assert modes.fixtures[None]["validate_only_strict_with_policy"]().new_state == CounterState(
        42)


@pytest.mark.parametrize("batch_size", bench_engine.BATCH_SIZES)
def test_the_batch_benchmark_commits_every_mutation(batch_size: int) -> None:
    result = bench_engine._batch(api(), batch_size)()
    assert result.success_count == batch_size
    assert result.final_state == CounterState(42 + batch_size)


def test_throughput_mutations_copy_the_slots_and_bump_one() -> None:
    single = bench_engine._single_slot(api(), 32)()
    assert single.new_state == SlotState(tuple(i + (i == 16) for i in range(32)), 1)
    batch = bench_engine._slot_batch(api(), 32, 8)()
    assert batch.final_state.revision == 8
    assert sum(batch.final_state.slots) == sum(range(32)) + sum(i % 4 + 1 for i in range(8))


def test_reused_engines_write_nothing_that_grows() -> None:
    engine = counter_engine(api(), "strict", policies=1)
    for _ in range(3):
        engine.execute(counter_mutation(api(), "grow"), CounterState(42))
    assert engine.auditor.get_audit_log("benchmark-counter") == []
    assert engine.get_history("benchmark-counter") == []


def test_policy_sets_have_the_documented_priorities() -> None:
    assert policy_set(0) == []
    assert policy_set(1) == [("allow-policy-0", 100)]
    assert [p for _, p in policy_set(4)] == [300, 200, 100, 0]
    assert len({name for name, _ in policy_set(16)}) == 16
    assert bench_policies._commit(api(), 16)().is_success


def test_diagnostics_variants_write_what_their_names_say() -> None:
    bench = _stateful(bench_diagnostics.DiagnosticsOverhead)
    for name in bench.ops:
        assert bench.ops[name]().is_success
    null, memory, combined = (bench_diagnostics._diagnostics(api(), n)
                              for n in bench_diagnostics._DIAGNOSTICS)
    for op, written in ((null, 0), (memory, 1), (combined, 1)):
        op()
        engine = op.func.__self__
        assert len(engine.auditor.get_audit_log("benchmark-counter")) == written
        assert len(engine.get_history("benchmark-counter")) == written


def test_result_benchmarks_build_the_records_they_name() -> None:
    creation = bench_results.ResultCreation()
    creation.time_success_no_side_effects()
    made = creation.fixtures[None]
    assert [len(made[f"success_{n}"]().side_effects) for n in bench_results.SIDE_EFFECT_COUNTS
            ] == [0, 1, 4]
    records = bench_results.ResultRecords()
    records.time_history_entry()
    assert records.fixtures[None]["history_entry"]().state_id == "benchmark-counter"
    assert records.fixtures[None]["audit_entry"]().is_success


# -- concurrency -----------------------------------------------------------------------------

@pytest.mark.parametrize("threads", bench_concurrency.THREADS)
def test_parallel_executions_run_on_distinct_states(threads: int) -> None:
    bench = bench_concurrency.ParallelDistinctStates()
    bench.time_execute_on_distinct_states(threads)
    fixture = bench.fixtures[threads]
    assert len({m.context.state_id for m, _ in fixture.work}) == threads


def test_concurrent_batches_all_succeed() -> None:
    bench = bench_concurrency.ConcurrentBatches()
    bench.time_batches_on_two_runtime_slots(4, 4)
    fixture = bench.fixtures[(4, 4)]
    futures = [fixture.pool.submit(fixture.engine.execute_batch, batch, CounterState(42))
               for batch in fixture.batches]
    assert all(f.result(5).final_state == CounterState(46) for f in futures)


def test_gate_contention_finishes_both_executions_in_order_many_times() -> None:
    bench = bench_concurrency.SharedStateGate()
    for _ in range(200):
        bench.time_two_executions_contend_for_one_state()
    fixture = bench.fixtures[None]
    first, second = bench_concurrency.contend_for_shared_gate(fixture)
    assert first.is_success and second.is_success
    assert first.new_state == second.new_state == CounterState(43)


# -- growth ----------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [10, 1000])
def test_the_background_store_has_the_documented_size_and_mix(size: int) -> None:
    store = background_store(api(), size).store
    background = [r for r in store.all() if r.request_id.startswith("background-")]
    assert len(background) == size
    kinds = Counter(
        "EXECUTED" if r.status == g.RequestStatus.EXECUTED
        else "APPROVED" if r.status == g.RequestStatus.APPROVED
        else f"PENDING_{r.pending_reason.name}" for r in background)
    assert set(kinds) <= set(BACKGROUND_KINDS)
    assert max(kinds.values()) - min(kinds.values()) <= 1 or size < 4
    assert all(r.expires_at is None for r in background)
    assert len({r.state_id for r in background}) == size


@pytest.mark.parametrize(
    ("cls", "name", "check"),
    [
        (bench_growth.StoreSizeExecution, "execute_approved",
         lambda r: r.was_executed and r.request.status == g.RequestStatus.EXECUTED),
        (bench_growth.StoreSizeLifecycle, "approve_pending",
         lambda r: r.status == g.RequestStatus.APPROVED),
        (bench_growth.StoreSizeLifecycle, "expire_due_requests_sweep",
         lambda r: [x.request_id for x in r] == ["growth-sweep-probe"]),
        (bench_growth.StoreSizeApproval, "approve_requirement_granted",
         lambda r: r.status == g.RequestStatus.APPROVED),
        (bench_growth.StoreSizeApproval, "expire_pending_approvals_sweep",
         lambda r: [x.request_id for x in r] == ["growth-approval-sweep-probe"]
         and r[0].status == g.RequestStatus.REJECTED),
    ],
)
def test_store_size_writes_consume_only_their_probe_and_keep_the_store_size(
    cls: type, name: str, check: Any
) -> None:
    size = 1000
    bench = cls()
    for _ in range(3):
        bench.setup(size)
        assert check(bench.ops[name]())
    store = background_store(api(), size).store
    probes = [r for r in store.all() if r.request_id.startswith("growth-")]
    assert len(store) == size + len(probes)
    assert len(probes) <= 5


def test_store_size_reads_match_the_documented_counts() -> None:
    bench = bench_growth.StoreSizeQueries()
    bench.time_pending_by_state_id(1000)
    reads = bench.fixtures[1000]
    assert [r.state_id for r in reads.pending_requests_of_one_state()] == [
        bench_growth.ONE_STATE]
    assert len(reads.pending_by_state_id()) == 1
    assert len(reads.recent_execution_outcomes()) == 64


@pytest.mark.parametrize("decisions", bench_growth.HISTORY_LENGTHS)
def test_execution_with_history_appends_to_the_padded_history(decisions: int) -> None:
    bench = _stateful(bench_growth.ExecuteApprovedHistoryLength, decisions)
    result = bench.ops["matching_version"]()
    assert result.was_executed
    assert len(result.request.decisions) == decisions + 2


@pytest.mark.parametrize("decisions", bench_growth.APPROVAL_HISTORY_LENGTHS)
def test_approval_with_history_appends_to_the_padded_history(decisions: int) -> None:
    bench = _stateful(bench_growth.ApproveRequirementHistoryLength, decisions)
    approved = bench.ops["approve_requirement_granted"]()
    assert approved.status == g.RequestStatus.APPROVED
    assert len(approved.decisions) == decisions + 2


@pytest.mark.parametrize("steps", bench_growth.APPROVAL_STEPS)
def test_approval_step_benchmarks_end_approved(steps: int) -> None:
    bench = _stateful(bench_growth.ApprovalSteps, steps)
    final = bench.ops["approve_final_step"]()
    every = bench.ops["approve_every_step"]()
    assert final.status == every.status == g.RequestStatus.APPROVED
    assert len(every.approval_requirements) == steps
    creation = bench_growth.ApprovalStepsCreation()
    creation.time_create_request(steps)
    created = creation.fixtures[steps]()
    assert sorted(r.step_order for r in created.approval_requirements) == list(
        range(1, steps + 1))


# -- the machinery ---------------------------------------------------------------------------

def test_a_read_only_benchmark_is_skipped_when_the_commit_lacks_its_api() -> None:
    class NeedsTheFuture(ReadOnlyBenchmark):
        required_api = ("NoSuchGovernanceName",)

        def build(self, g: Any) -> Any:
            return lambda: None

        def time_never(self) -> None:
            self.fixtures[None]()

    with pytest.raises(SkipNotImplemented):
        NeedsTheFuture().time_never()


def test_parameterized_allocation_twins_are_deterministic_and_grow_with_the_work() -> None:
    twins = bench_engine.SingleMutationThroughputAllocatedBytes()
    twins.setup(32)
    small = twins.track_single_commit(32)
    assert twins.track_single_commit(32) == small
    assert twins.track_single_commit(16384) > 10 * small

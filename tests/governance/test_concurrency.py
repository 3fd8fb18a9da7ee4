"""Callers on several threads: one request executes at most once, and one writer wins a race.

Every round starts its threads on a ``threading.Barrier`` so that they hit the request at the
same moment; nothing here measures time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from governance import (
    EngineOptions,
    GovernanceExecutionManager,
    InMemoryRequestStore,
    InvalidOperationError,
    InvalidTransitionError,
    LifecycleManager,
    MutationContext,
    MutationEngine,
    MutationRequest,
    RequestConcurrencyError,
    RequestNotExecutableError,
    RequestStatus,
    ResolutionStrategy,
    VersionResolutionManager,
)
from governance.testing import (
    ApplyCounter,
    IncrementMutation,
    VersionedState,
    approved_request,
    governance_context,
    pending_request,
)

THREADS = 8
ROUNDS = 50


def _race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` on one thread each, released together; return each result or exception."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(slot: int) -> None:
        barrier.wait()
        try:
            outcomes[slot] = calls[slot]()
        except Exception as error:
            outcomes[slot] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.fixture
def world() -> tuple[InMemoryRequestStore, GovernanceExecutionManager]:
    store = InMemoryRequestStore()
    engine = MutationEngine(EngineOptions.strict())
    return store, GovernanceExecutionManager(store, VersionResolutionManager(store), engine)


@pytest.mark.parametrize(("state_version", "strategy", "resolution_code"), [
    ("10", ResolutionStrategy.REJECT_STALE, "VALIDATED"),
    ("15", ResolutionStrategy.REVALIDATE_ON_LATEST_STATE, "REVALIDATION_REQUIRED"),
], ids=["matching-version", "revalidation"])
def test_threads_racing_to_execute_one_approved_request_execute_it_exactly_once(
        world: tuple[InMemoryRequestStore, GovernanceExecutionManager], state_version: str,
        strategy: ResolutionStrategy, resolution_code: str) -> None:
    store, executor = world
    counter = ApplyCounter()
    context = governance_context()
    state = VersionedState(42, state_version)

    for round_no in range(ROUNDS):
        request_id = f"race-{round_no}"
        store.create(approved_request(request_id=request_id))

        def execute(request_id: str = request_id) -> Any:
            return executor.execute_approved(
                request_id, IncrementMutation(counter, request_id), state,
                governance_context=context, strategy=strategy)

        outcomes = _race([execute] * THREADS)

        executed = [o for o in outcomes if not isinstance(o, Exception)]
        refused = [o for o in outcomes if isinstance(o, Exception)]
        assert len(executed) == 1, f"round {round_no}: {outcomes}"
        assert executed[0].was_executed
        assert all(isinstance(e, (RequestConcurrencyError, RequestNotExecutableError))
                   for e in refused), refused
        assert all(request_id in str(e) for e in refused)
        assert counter[request_id] == 1
        stored = store.get(request_id)
        assert stored == executed[0].request
        assert stored.status == RequestStatus.EXECUTED
        assert [d.code for d in stored.decisions] == [
            "SUBMITTED", "APPROVED", resolution_code, "EXECUTED"]
        assert stored.revision == 2

    assert counter.total() == ROUNDS


def test_threads_executing_different_requests_on_one_state_all_succeed(
        world: tuple[InMemoryRequestStore, GovernanceExecutionManager]) -> None:
    store, executor = world
    counter = ApplyCounter()
    request_ids = [f"parallel-{i}" for i in range(THREADS)]
    for request_id in request_ids:
        store.create(approved_request(request_id=request_id))

    outcomes = _race([
        lambda request_id=request_id: executor.execute_approved(
            request_id, IncrementMutation(counter, request_id), VersionedState(42, "10"),
            governance_context=governance_context())
        for request_id in request_ids])

    assert all(not isinstance(o, Exception) and o.was_executed for o in outcomes), outcomes
    assert all(counter[r] == 1 for r in request_ids)
    assert all(store.get(r).status == RequestStatus.EXECUTED for r in request_ids)


def test_lifecycle_writers_racing_on_one_request_leave_exactly_one_transition() -> None:
    store = InMemoryRequestStore()
    lifecycle = LifecycleManager(store)
    actor = MutationContext.user("rita", reason="race")
    # Terminal targets only: whoever loses cannot follow up on the winner's status.
    moves: list[Callable[[str], MutationRequest]] = [
        lambda rid: lifecycle.reject(rid, actor),
        lambda rid: lifecycle.cancel(rid, actor),
        lambda rid: lifecycle.expire(rid, actor),
        lambda rid: lifecycle.supersede(rid, "req-newer", actor),
    ]

    assigned = [moves[i % len(moves)] for i in range(THREADS)]
    for round_no in range(ROUNDS):
        request_id = f"lifecycle-{round_no}"
        before = store.create(pending_request(request_id=request_id))

        outcomes = _race([lambda move=move, rid=request_id: move(rid) for move in assigned])

        winners = [o for o in outcomes if isinstance(o, MutationRequest)]
        losers = [o for o in outcomes if not isinstance(o, MutationRequest)]
        assert len(winners) == 1, f"round {round_no}: {outcomes}"
        assert all(isinstance(e, (RequestConcurrencyError, InvalidTransitionError))
                   for e in losers), losers
        stored = store.get(request_id)
        assert stored == winners[0]
        assert stored.revision == 1
        assert stored.decisions[:-1] == before.decisions
        assert stored.status.is_terminal


def test_a_cancel_racing_an_execution_never_records_a_cancel_for_an_applied_mutation(
        world: tuple[InMemoryRequestStore, GovernanceExecutionManager]) -> None:
    store, executor = world
    lifecycle = LifecycleManager(store)
    counter = ApplyCounter()
    actor = MutationContext.user("rita", reason="cancel race")

    for round_no in range(ROUNDS):
        request_id = f"cancel-race-{round_no}"
        store.create(approved_request(request_id=request_id))

        outcomes = _race([
            lambda rid=request_id: executor.execute_approved(
                rid, IncrementMutation(counter, rid), VersionedState(42, "10"),
                governance_context=governance_context()),
            lambda rid=request_id: lifecycle.cancel(rid, actor),
        ])

        stored = store.get(request_id)
        if counter[request_id] == 1:
            assert stored.status == RequestStatus.EXECUTED, outcomes
            assert isinstance(outcomes[1], (RequestConcurrencyError, InvalidOperationError))
        else:
            assert counter[request_id] == 0
            assert stored.status == RequestStatus.CANCELED, outcomes
            assert isinstance(outcomes[0], (RequestConcurrencyError,
                                            RequestNotExecutableError))
        assert stored.revision in (1, 2)

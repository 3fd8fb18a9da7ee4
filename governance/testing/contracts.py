"""The store contracts: ``RequestStoreContract`` and ``RequestQueryStoreContract``, the behaviour
every ``RequestStore`` and ``RequestQueryStore`` must have, as plain-assert test methods."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from governance import (
    ApprovalQuery,
    ApprovalRequirementStatus,
    ApprovalView,
    ApprovalWorkflowManager,
    DecisionCategory,
    DecisionQuery,
    DecisionView,
    GovernanceError,
    InvalidArgumentError,
    LifecycleDecision,
    LifecycleFilter,
    LifecycleManager,
    MetadataFilter,
    MissingArgumentError,
    MutationContext,
    MutationRequest,
    MutationRequestQuery,
    PendingReason,
    PolicyRequirement,
    RequestAlreadyExistsError,
    RequestConcurrencyError,
    RequestDecision,
    RequestNotFoundError,
    RequestQueries,
    RequestQueryStore,
    RequestScope,
    RequestStatus,
    RequestStore,
    ScopeFilter,
)
from governance.testing.doubles import (
    BASE_TIME,
    STATE_ID,
    FixedClock,
    _stored,
    approval_request,
    approved_request,
    pending_request,
)

# == The store contracts =======================================================================

_E = TypeVar("_E", bound=BaseException)


class _Raised(Generic[_E]):
    """What ``_raises`` caught: ``value`` is the exception."""

    value: _E


@contextmanager
def _raises(expected: type[_E]) -> Iterator[_Raised[_E]]:
    """Assert that the block raises ``expected`` (or a subclass); any other exception
    propagates unchanged."""
    caught: _Raised[_E] = _Raised()
    try:
        yield caught
    except expected as error:
        caught.value = error
    else:
        raise AssertionError(f"expected {expected.__name__} to be raised, nothing was")




RACE_THREADS = 8
"""Threads racing in each round of the contract's concurrency tests."""
RACE_ROUNDS = 50
"""Rounds of the contract's concurrency tests."""


def _with_status(request: MutationRequest, status: RequestStatus,
                 reason: PendingReason | None = None) -> MutationRequest:
    lifecycle = request.lifecycle.model_copy(update={"status": status, "pending_reason": reason})
    return request.model_copy(update={"lifecycle": lifecycle})


def _with_note(request: MutationRequest, note: str) -> MutationRequest:
    return request.model_copy(update={"metadata": {**request.metadata, "Note": note}})


class RequestStoreContract:
    """Behaviour every ``RequestStore`` must have: writes, optimistic concurrency, lookups and
    their orderings, and one winner among racing writers. Subclasses implement ``make_store``;
    every ``test_*`` method starts from a new store of its own."""

    def make_store(self) -> RequestStore:
        """A new, empty store of the implementation under test."""
        raise NotImplementedError

    # -- create / get -------------------------------------------------------------------------

    def test_create_stores_the_request_at_revision_zero_whatever_revision_it_carries(
            self) -> None:
        store = self.make_store()
        request = approved_request().model_copy(update={"revision": 7})

        created = store.create(request)

        assert created.revision == 0
        assert created.model_copy(update={"revision": 7}) == request
        assert store.get(request.request_id) == created
        assert len(store) == 1

    def test_get_answers_none_for_an_unknown_id(self) -> None:
        store = self.make_store()
        store.create(approved_request())

        assert store.get("no-such-request") is None

    def test_creating_a_duplicate_id_is_refused_and_keeps_the_stored_request(
            self) -> None:
        store = self.make_store()
        original = store.create(approved_request(request_id="req-dup"))
        store.try_store(_with_note(original, "first write"), 0)
        before = store.get("req-dup")

        with _raises(RequestAlreadyExistsError) as raised:
            store.create(pending_request(request_id="req-dup"))

        assert isinstance(raised.value, GovernanceError)
        assert raised.value.request_id == "req-dup"
        assert "req-dup" in str(raised.value)
        assert store.get("req-dup") == before
        assert _stored(store, "req-dup").revision == 1
        assert len(store) == 1

    def test_creating_none_is_refused_as_a_missing_argument(self) -> None:
        store = self.make_store()
        with _raises(MissingArgumentError) as raised:
            store.create(None)  # type: ignore[arg-type]

        assert isinstance(raised.value, TypeError)
        assert len(store) == 0

    # -- try_store ----------------------------------------------------------------------------

    def test_try_store_at_the_stored_revision_replaces_the_snapshot_and_bumps_the_revision(
            self) -> None:
        store = self.make_store()
        created = store.create(approved_request())
        changed = _with_note(created, "second look")

        stored = store.try_store(changed, 0)

        assert stored is not None
        assert stored.revision == 1
        assert stored.metadata["Note"] == "second look"
        assert store.get(created.request_id) == stored

    def test_try_store_ignores_the_revision_carried_by_the_incoming_request(
            self) -> None:
        store = self.make_store()
        created = store.create(approved_request())

        stored = store.try_store(_with_note(created, "x").model_copy(update={"revision": 41}), 0)

        assert stored is not None
        assert stored.revision == 1
        assert _stored(store, created.request_id).revision == 1

    def test_successive_writes_each_bump_the_revision_by_one(self) -> None:
        store = self.make_store()
        current = store.create(approved_request())

        for expected in range(1, 6):
            stored = store.try_store(_with_note(current, str(expected)), current.revision)
            assert stored is not None
            assert stored.revision == expected
            current = stored

        assert store.get(current.request_id) == current

    def test_try_store_at_a_stale_revision_answers_none_and_changes_nothing(
            self) -> None:
        store = self.make_store()
        created = store.create(approved_request())
        first = store.try_store(_with_note(created, "winner"), 0)

        stale = store.try_store(_with_note(created, "loser"), 0)

        assert stale is None
        assert store.get(created.request_id) == first
        assert _stored(store, created.request_id).revision == 1
        assert _stored(store, created.request_id).metadata["Note"] == "winner"

    def test_try_store_at_a_future_revision_answers_none_and_changes_nothing(
            self) -> None:
        store = self.make_store()
        created = store.create(approved_request())

        assert store.try_store(_with_note(created, "ahead"), 3) is None
        assert store.get(created.request_id) == created

    def test_try_store_of_an_unknown_id_answers_none_and_stores_nothing(
            self) -> None:
        store = self.make_store()
        existing = store.create(approved_request())

        assert store.try_store(approved_request(request_id="never-created"), 0) is None
        assert store.get("never-created") is None
        assert len(store) == 1
        assert store.get(existing.request_id) == existing

    def test_try_store_of_none_is_refused_as_a_missing_argument(self) -> None:
        store = self.make_store()
        with _raises(MissingArgumentError):
            store.try_store(None, 0)  # type: ignore[arg-type]

    # -- require / store_next -----------------------------------------------------------------

    def test_require_returns_the_stored_snapshot(self) -> None:
        store = self.make_store()
        created = store.create(approved_request())

        assert store.require(created.request_id) == created

    def test_require_refuses_a_blank_id(self) -> None:
        store = self.make_store()
        for blank in ("", "   ", None):
            with _raises(InvalidArgumentError) as raised:
                store.require(blank)  # type: ignore[arg-type]

            assert isinstance(raised.value, ValueError), repr(blank)

    def test_require_of_an_unknown_id_raises_not_found_naming_it(
            self) -> None:
        store = self.make_store()
        with _raises(RequestNotFoundError) as raised:
            store.require("req-missing")

        assert isinstance(raised.value, LookupError)
        assert raised.value.request_id == "req-missing"
        assert "req-missing" in str(raised.value)

    def test_store_next_at_a_stale_revision_raises_concurrency_with_the_expected_revision(
            self) -> None:
        store = self.make_store()
        created = store.create(approved_request(request_id="req-stale"))
        winner = store.store_next(_with_note(created, "winner"), 0)

        with _raises(RequestConcurrencyError) as raised:
            store.store_next(_with_note(created, "loser"), 0)

        assert raised.value.request_id == "req-stale"
        assert raised.value.expected_revision == 0
        assert "req-stale" in str(raised.value)
        assert store.get("req-stale") == winner

    def test_store_next_of_an_unknown_id_raises_not_found(self) -> None:
        store = self.make_store()
        with _raises(RequestNotFoundError) as raised:
            store.store_next(approved_request(request_id="req-ghost"), 0)

        assert raised.value.request_id == "req-ghost"
        assert store.get("req-ghost") is None

    # -- ordering and indexes -----------------------------------------------------------------

    def test_all_orders_requests_by_creation_time_then_id(self) -> None:
        store = self.make_store()
        t0, t1 = BASE_TIME, BASE_TIME + timedelta(minutes=1)
        specs = [("req-b", t1), ("req-c", t0), ("req-a", t1), ("req-d", t0)]
        shuffled = specs[:]
        random.Random(7).shuffle(shuffled)
        for request_id, created_at in shuffled:
            store.create(approved_request(request_id=request_id, now=created_at))

        assert [r.request_id for r in store.all()] == ["req-c", "req-d", "req-a", "req-b"]

    def test_get_by_state_id_returns_only_that_state_in_creation_order(
            self) -> None:
        store = self.make_store()
        store.create(approved_request(request_id="req-2", now=BASE_TIME + timedelta(seconds=2)))
        store.create(approved_request(request_id="other", state_id="other-state", now=BASE_TIME))
        store.create(pending_request(request_id="req-1", now=BASE_TIME + timedelta(seconds=1)))

        assert [r.request_id for r in store.get_by_state_id(STATE_ID)] == ["req-1", "req-2"]
        assert [r.request_id for r in store.get_by_state_id("other-state")] == ["other"]
        assert store.get_by_state_id("nobody") == []

    def test_get_pending_returns_pending_requests_filtered_by_reason_in_order(
            self) -> None:
        store = self.make_store()
        store.create(pending_request(PendingReason.QUOTA, request_id="quota",
                                     now=BASE_TIME + timedelta(seconds=3)))
        store.create(pending_request(PendingReason.SCHEDULE, request_id="schedule",
                                     now=BASE_TIME + timedelta(seconds=1)))
        store.create(pending_request(PendingReason.QUOTA, request_id="quota-early",
                                     state_id="other-state", now=BASE_TIME))
        store.create(approved_request(request_id="approved", now=BASE_TIME))

        assert [r.request_id for r in store.get_pending()] == ["quota-early", "schedule", "quota"]
        assert [r.request_id for r in store.get_pending(PendingReason.QUOTA)] == [
            "quota-early", "quota"]
        assert store.get_pending(PendingReason.APPROVAL) == []

    def test_get_pending_due_returns_pending_requests_past_their_deadline_in_order(
            self) -> None:
        store = self.make_store()
        store.create(pending_request(request_id="due-late", expires_at=BASE_TIME,
                                     now=BASE_TIME + timedelta(seconds=2)))
        store.create(pending_request(request_id="due-early", expires_at=BASE_TIME,
                                     now=BASE_TIME))
        store.create(pending_request(request_id="not-yet",
                                     expires_at=BASE_TIME + timedelta(hours=1),
                                     now=BASE_TIME + timedelta(seconds=3)))
        store.create(pending_request(request_id="no-deadline"))
        store.create(approved_request(request_id="approved"))

        assert [r.request_id for r in store.get_pending_due(BASE_TIME)] == [
            "due-early", "due-late"]
        assert [r.request_id for r in store.get_pending_due(
            BASE_TIME + timedelta(hours=2))] == ["due-early", "due-late", "not-yet"]

    def test_a_request_leaves_the_due_list_once_it_is_no_longer_pending(
            self) -> None:
        store = self.make_store()
        created = store.create(pending_request(request_id="due", expires_at=BASE_TIME))
        later = BASE_TIME + timedelta(minutes=1)
        assert [r.request_id for r in store.get_pending_due(later)] == ["due"]

        decided = created.model_copy(update={"lifecycle": created.lifecycle.model_copy(
            update={"status": RequestStatus.REJECTED, "pending_reason": None})})
        store.store_next(decided, created.revision)

        assert store.get_pending_due(later) == []

    def test_get_pending_approvals_due_finds_pending_requirements_past_their_deadline(
            self) -> None:
        store = self.make_store()
        due = PolicyRequirement.approval("bob", "sign-off", ExpiresAt=BASE_TIME)
        later = PolicyRequirement.approval("bob", "sign-off",
                                           ExpiresAt=BASE_TIME + timedelta(hours=1))
        store.create(approval_request(due, request_id="approval-due"))
        store.create(approval_request(later, request_id="approval-later"))
        store.create(approval_request(request_id="approval-no-deadline"))

        assert [r.request_id for r in store.get_pending_approvals_due(BASE_TIME)] == [
            "approval-due"]
        assert store.get_pending_approvals_due(BASE_TIME - timedelta(seconds=1)) == []

    def test_get_pending_by_state_id_combines_state_status_and_reason(
            self) -> None:
        store = self.make_store()
        store.create(pending_request(PendingReason.QUOTA, request_id="mine-quota"))
        store.create(pending_request(PendingReason.SCHEDULE, request_id="mine-schedule"))
        store.create(pending_request(PendingReason.QUOTA, request_id="theirs",
                                     state_id="other-state"))
        store.create(approved_request(request_id="mine-approved"))

        assert {r.request_id for r in store.get_pending_by_state_id(STATE_ID)} == {
            "mine-quota", "mine-schedule"}
        assert [r.request_id for r in store.get_pending_by_state_id(
            STATE_ID, PendingReason.QUOTA)] == ["mine-quota"]
        assert store.get_pending_by_state_id("nobody") == []

    def test_pending_queries_follow_a_write_that_changes_the_status(
            self) -> None:
        store = self.make_store()
        pending = store.create(pending_request(PendingReason.QUOTA, request_id="req-p"))
        approved = store.create(approved_request(request_id="req-a"))

        store.try_store(_with_status(pending, RequestStatus.APPROVED), 0)
        store.try_store(_with_status(approved, RequestStatus.PENDING, PendingReason.SCHEDULE), 0)

        assert [r.request_id for r in store.get_pending()] == ["req-a"]
        assert store.get_pending(PendingReason.QUOTA) == []
        assert [r.request_id for r in store.get_pending(PendingReason.SCHEDULE)] == ["req-a"]
        assert [r.request_id for r in store.get_pending_by_state_id(STATE_ID)] == ["req-a"]

    def test_state_id_index_follows_a_write_that_moves_the_request(
            self) -> None:
        store = self.make_store()
        created = store.create(approved_request(request_id="req-move"))
        moved = created.model_copy(update={"scope": RequestScope(
            state_id="new-state", state_type="VersionedState",
            mutation_type="IncrementMutation")})

        store.try_store(moved, 0)

        assert store.get_by_state_id(STATE_ID) == []
        assert [r.request_id for r in store.get_by_state_id("new-state")] == ["req-move"]
        assert store.get_by_state_id("new-state")[0].revision == 1

    def test_queries_return_the_latest_snapshots(self) -> None:
        store = self.make_store()
        created = store.create(pending_request(request_id="req-latest"))
        latest = store.try_store(_with_note(created, "v2"), 0)

        assert store.get_by_state_id(STATE_ID) == [latest]
        assert store.get_pending() == [latest]
        assert store.all() == [latest]

    def test_a_stale_write_does_not_change_any_index(self) -> None:
        store = self.make_store()
        created = store.create(pending_request(request_id="req-idx"))
        store.try_store(_with_note(created, "fresh"), 0)

        assert store.try_store(_with_status(created, RequestStatus.APPROVED), 0) is None

        assert [r.request_id for r in store.get_pending()] == ["req-idx"]
        assert store.get_pending()[0].revision == 1

    # -- concurrency --------------------------------------------------------------------------

    def test_writers_racing_from_one_revision_produce_exactly_one_winner(
            self) -> None:
        store = self.make_store()
        current = store.create(approved_request(request_id="req-race"))
        for round_no in range(RACE_ROUNDS):
            barrier = threading.Barrier(RACE_THREADS)
            results: list[MutationRequest | None] = [None] * RACE_THREADS
            base = current

            def write(slot: int, base: MutationRequest = base,
                      barrier: threading.Barrier = barrier,
                      results: list[MutationRequest | None] = results) -> None:
                candidate = _with_note(base, f"writer-{slot}")
                barrier.wait()
                results[slot] = store.try_store(candidate, base.revision)

            threads = [threading.Thread(target=write, args=(i,)) for i in range(RACE_THREADS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

            winners = [r for r in results if r is not None]
            assert len(winners) == 1, f"round {round_no}: {len(winners)} winners"
            current = _stored(store, "req-race")
            assert current == winners[0]
            assert current.revision == round_no + 1

    def test_creators_racing_on_one_id_produce_exactly_one_request(
            self) -> None:
        store = self.make_store()
        for round_no in range(RACE_ROUNDS):
            request_id = f"req-create-{round_no}"
            barrier = threading.Barrier(RACE_THREADS)
            outcomes: list[object] = [None] * RACE_THREADS

            def create(slot: int, request_id: str = request_id,
                       barrier: threading.Barrier = barrier,
                       outcomes: list[object] = outcomes) -> None:
                candidate = _with_note(approved_request(request_id=request_id), f"c-{slot}")
                barrier.wait()
                try:
                    outcomes[slot] = store.create(candidate)
                except RequestAlreadyExistsError as error:
                    outcomes[slot] = error

            threads = [threading.Thread(target=create, args=(i,)) for i in range(RACE_THREADS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

            created = [o for o in outcomes if isinstance(o, MutationRequest)]
            refused = [o for o in outcomes if isinstance(o, RequestAlreadyExistsError)]
            assert len(created) == 1
            assert len(refused) == RACE_THREADS - 1
            assert store.get(request_id) == created[0]
        assert len(store) == RACE_ROUNDS


# -- the query store contract -----------------------------------------------------------------

T0 = BASE_TIME


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _one_approval(approver: str = "ann", **data: Any) -> PolicyRequirement:
    return PolicyRequirement(type="Approval", description=f"{approver} signs off",
                             data={"Approver": approver, **data})


class RequestQueryStoreContract:
    """Behaviour every ``RequestQueryStore`` must have: which requests, approvals and decisions
    each query returns, and in exactly which order. Subclasses implement ``make_store`` (a store
    that is both a ``RequestStore`` and a ``RequestQueryStore``).

    The seeded store (``make_seeded_store``), by creation time::

        q-0-idle              t0    PENDING (manual review)
        q-granted             t0    approval by ann granted at t0+10 → APPROVED
        q-approved            t0+1  APPROVED at submission (no approval activity)
        q-granted-late        t0+1  approval by ann granted at t0+20 → APPROVED
        q-review              t0+2  PENDING (manual review), metadata Ticket=OPS-1
        q-wait-a              t0+3  PENDING approval: ann (step 1), ben (step 2)
        q-wait-b              t0+3  PENDING approval: ann
        q-rejected            t0+4  approval rejected by ann at t0+15 → REJECTED
        q-lifecycle-approved  t0+5  stored already APPROVED at t0+12 by a lifecycle decision, its
                                    requirement fulfilled elsewhere (no GRANTED)
    """

    def make_store(self) -> Any:
        """A new, empty store that implements ``RequestStore`` and ``RequestQueryStore``."""
        raise NotImplementedError

    def make_seeded_store(self) -> Any:
        """A new store from ``make_store`` holding the requests listed in the class docstring."""
        store = self.make_store()
        assert isinstance(store, RequestStore), f"{type(store).__name__} is no RequestStore"
        assert isinstance(store, RequestQueryStore), (
            f"{type(store).__name__} is no RequestQueryStore")
        clock = FixedClock(T0)
        workflow = ApprovalWorkflowManager(store, clock=clock)

        store.create(pending_request(request_id="q-0-idle", now=_at(0)))
        granted = store.create(approval_request(_one_approval(), request_id="q-granted",
                                                now=_at(0)))
        store.create(approved_request(request_id="q-approved", now=_at(1)))
        late = store.create(approval_request(_one_approval(), request_id="q-granted-late",
                                             now=_at(1)))
        review = pending_request(request_id="q-review", now=_at(2))
        store.create(review.model_copy(update={"metadata": {"Ticket": "OPS-1"}}))
        store.create(approval_request(_one_approval("ann", StepOrder=1),
                                      _one_approval("ben", StepOrder=2),
                                      request_id="q-wait-a", now=_at(3)))
        store.create(approval_request(_one_approval(), request_id="q-wait-b", now=_at(3)))
        rejected = store.create(approval_request(_one_approval(), request_id="q-rejected",
                                                 now=_at(4)))
        imported = approval_request(_one_approval(), request_id="q-lifecycle-approved",
                                    now=_at(5))
        lead = MutationContext.user("lead", timestamp=_at(12))
        store.create(imported.with_decision(
            RequestDecision.lifecycle(LifecycleDecision.APPROVED, lead, timestamp=_at(12)),
            lifecycle_changes={"status": RequestStatus.APPROVED, "pending_reason": None},
            approval_requirements=tuple(
                r.model_copy(update={"status": ApprovalRequirementStatus.SATISFIED,
                                     "decided_at": _at(12), "decision_context": lead})
                for r in imported.approval_requirements)))

        ann = MutationContext.user("ann", "Ann", timestamp=T0)
        clock.now = _at(10)
        workflow.approve_requirement("q-granted", granted.approval_requirements[0].approval_id,
                                     ann)
        clock.now = _at(12)
        clock.now = _at(15)
        workflow.reject_requirement("q-rejected", rejected.approval_requirements[0].approval_id,
                                    ann, "not now")
        clock.now = _at(20)
        workflow.approve_requirement("q-granted-late",
                                     late.approval_requirements[0].approval_id, ann)
        return store

    # -- query ----------------------------------------------------------------------------------

    def test_an_empty_query_returns_every_request_by_creation_time_then_id(
            self) -> None:
        seeded = self.make_seeded_store()
        assert _ids(seeded.query(MutationRequestQuery())) == [
            "q-0-idle", "q-granted", "q-approved", "q-granted-late", "q-review", "q-wait-a",
            "q-wait-b", "q-rejected", "q-lifecycle-approved"]

    def test_a_query_returns_only_matching_requests_as_their_latest_snapshots(
            self) -> None:
        seeded = self.make_seeded_store()
        approved = seeded.query(MutationRequestQuery(
            lifecycle=LifecycleFilter(statuses={RequestStatus.APPROVED})))

        assert _ids(approved) == ["q-granted", "q-approved", "q-granted-late",
                                  "q-lifecycle-approved"]
        assert all(r == seeded.get(r.request_id) for r in approved)

    def test_query_groups_are_combined_with_and(self) -> None:
        seeded = self.make_seeded_store()
        query = MutationRequestQuery(
            lifecycle=LifecycleFilter(statuses={RequestStatus.PENDING}),
            metadata=MetadataFilter(values={"Ticket": "OPS-1"}))

        assert _ids(seeded.query(query)) == ["q-review"]
        assert seeded.query(MutationRequestQuery(
            scope=ScopeFilter(request_ids={"q-review"}),
            lifecycle=LifecycleFilter(statuses={RequestStatus.APPROVED}))) == []

    def test_a_query_follows_later_writes(self) -> None:
        seeded = self.make_seeded_store()
        pending = MutationRequestQuery(lifecycle=LifecycleFilter(statuses={RequestStatus.PENDING}))
        LifecycleManager(seeded).cancel("q-review", MutationContext.user("ops"))

        assert "q-review" not in _ids(seeded.query(pending))
        assert "q-review" in _ids(seeded.query(MutationRequestQuery(
            lifecycle=LifecycleFilter(statuses={RequestStatus.CANCELED}))))

    def test_query_results_are_new_lists_each_time(self) -> None:
        seeded = self.make_seeded_store()
        first = seeded.query(MutationRequestQuery())
        first.clear()

        assert len(seeded.query(MutationRequestQuery())) == 9

    # -- pending requests and the approval queue ------------------------------------------------

    def test_pending_requests_are_every_pending_request_in_creation_order(
            self) -> None:
        seeded = self.make_seeded_store()
        assert _ids(seeded.get_pending_requests()) == [
            "q-0-idle", "q-review", "q-wait-a", "q-wait-b"]

    def test_pending_requests_are_narrowed_by_a_query(self) -> None:
        seeded = self.make_seeded_store()
        query = MutationRequestQuery(scope=ScopeFilter(request_ids={"q-review", "q-approved"}))

        assert _ids(seeded.get_pending_requests(query)) == ["q-review"]
        assert _ids(seeded.get_pending_requests(RequestQueries.pending())) == [
            "q-0-idle", "q-review", "q-wait-a", "q-wait-b"]

    def test_the_approval_queue_holds_requests_pending_for_approval_in_creation_order(
            self) -> None:
        seeded = self.make_seeded_store()
        assert _ids(seeded.get_pending_approval_queue()) == ["q-wait-a", "q-wait-b"]
        assert _ids(seeded.get_pending_approval_queue(
            RequestQueries.pending_approval_queue())) == ["q-wait-a", "q-wait-b"]
        assert _ids(seeded.get_pending_approval_queue(MutationRequestQuery(
            scope=ScopeFilter(request_ids={"q-wait-b", "q-review"})))) == ["q-wait-b"]

    # -- recent approvals -----------------------------------------------------------------------

    def test_recent_approvals_default_to_approved_or_executed_requests_latest_first(
            self) -> None:
        seeded = self.make_seeded_store()
        # q-lifecycle-approved has no GRANTED decision: its updated_at (t0+12) orders it.
        assert _ids(seeded.get_recent_approvals()) == [
            "q-granted-late", "q-lifecycle-approved", "q-granted"]

    def test_recent_approvals_keep_the_first_take_when_take_is_not_negative(self) -> None:
        seeded = self.make_seeded_store()
        every = ["q-granted-late", "q-lifecycle-approved", "q-granted"]
        for take, expected in ((None, every), (-1, every), (0, []), (1, every[:1]),
                               (2, every[:2]), (99, every)):
            assert _ids(seeded.get_recent_approvals(take=take)) == expected, f"take={take}"

    def test_recent_approvals_only_list_requests_with_approval_activity(
            self) -> None:
        seeded = self.make_seeded_store()
        every_status = MutationRequestQuery()

        found = _ids(seeded.get_recent_approvals(every_status))

        assert "q-approved" not in found and "q-0-idle" not in found
        # The rejection at t0+15 is approval activity too; pending requests fall back to their
        # updated_at (t0+3), ties broken by request id.
        assert found == ["q-granted-late", "q-rejected", "q-lifecycle-approved", "q-granted",
                         "q-wait-a", "q-wait-b"]

    def test_recent_approvals_break_equal_activity_by_updated_at_then_request_id(
            self) -> None:
        store = self.make_store()
        clock = FixedClock(_at(30))
        workflow = ApprovalWorkflowManager(store, clock=clock)
        for request_id in ("r-b", "r-a", "r-c"):
            created = store.create(approval_request(_one_approval(), request_id=request_id,
                                                    now=T0))
            workflow.approve_requirement(request_id,
                                         created.approval_requirements[0].approval_id,
                                         MutationContext.user("ann", timestamp=T0))
        # r-c gets a later write that is not an approval decision: same activity, later update.
        stored = store.get("r-c")
        store.try_store(stored.model_copy(update={"lifecycle": stored.lifecycle.model_copy(
            update={"updated_at": _at(40)})}), stored.revision)

        assert _ids(store.get_recent_approvals()) == ["r-c", "r-a", "r-b"]

    # -- pending approvals ----------------------------------------------------------------------

    def test_pending_approvals_default_to_pending_requirements_of_waiting_requests(
            self) -> None:
        seeded = self.make_seeded_store()
        views = seeded.get_pending_approvals()

        assert [(v.request.request_id, v.approval.approver_id, v.approval.step_order)
                for v in views] == [("q-wait-a", "ann", 1), ("q-wait-a", "ben", 2),
                                    ("q-wait-b", "ann", 1)]
        assert all(isinstance(v, ApprovalView) for v in views)
        assert all(v.request == seeded.get(v.request.request_id) for v in views)

    def test_pending_approvals_order_equal_steps_by_approval_id(self) -> None:
        store = self.make_store()
        store.create(approval_request(
            PolicyRequirement(type="Approval", description="any two",
                              data={"Approvers": ["x", "y", "z"], "Quorum": 2}),
            _one_approval("w", StepOrder=0), request_id="r-1", now=T0))

        views = store.get_pending_approvals()

        assert [v.approval.step_order for v in views] == [0, 1, 1, 1]
        assert [v.approval.approval_id for v in views[1:]] == sorted(
            v.approval.approval_id for v in views[1:])

    def test_pending_approvals_follow_an_approval_query(self) -> None:
        seeded = self.make_seeded_store()
        decided = seeded.get_pending_approvals(ApprovalQuery(
            approval_statuses={ApprovalRequirementStatus.APPROVED,
                               ApprovalRequirementStatus.REJECTED}))
        bens = seeded.get_pending_approvals(ApprovalQuery(approver_ids={"ben"}))

        assert [(v.request.request_id, v.approval.status.name) for v in decided] == [
            ("q-granted", "APPROVED"), ("q-granted-late", "APPROVED"),
            ("q-rejected", "REJECTED")]
        assert [(v.request.request_id, v.approval.approver_id) for v in bens] == [
            ("q-wait-a", "ben")]

    # -- recent decisions -----------------------------------------------------------------------

    def test_recent_decisions_run_latest_first_then_by_update_then_request_id(
            self) -> None:
        seeded = self.make_seeded_store()
        views = seeded.get_recent_decisions()
        head = [(v.request.request_id, v.decision.code) for v in views[:7]]

        assert head == [
            ("q-granted-late", "APPROVED"), ("q-granted-late", "GRANTED"),
            ("q-rejected", "REJECTED"), ("q-rejected", "REJECTED"),
            ("q-lifecycle-approved", "APPROVED"),
            ("q-granted", "APPROVED"), ("q-granted", "GRANTED")]
        assert views[5].decision.category == DecisionCategory.LIFECYCLE
        stamps = [v.decision.timestamp for v in views]
        assert stamps == sorted(stamps, reverse=True)
        assert len(views) == sum(len(r.decisions) for r in seeded.all())

    def test_decisions_at_one_time_are_ordered_by_request_update_before_request_id(
            self) -> None:
        seeded = self.make_seeded_store()
        at_t0 = [v.request.request_id for v in seeded.get_recent_decisions(
            DecisionQuery(from_timestamp=T0, to_timestamp=T0))]

        # q-granted (updated t0+10) before q-0-idle (updated t0), although "q-0" < "q-g".
        assert at_t0 == ["q-granted"] * 3 + ["q-0-idle"] * 2

    def test_recent_decisions_take_and_filter(self) -> None:
        seeded = self.make_seeded_store()
        assert seeded.get_recent_decisions(take=0) == []
        assert len(seeded.get_recent_decisions(take=2)) == 2
        assert len(seeded.get_recent_decisions(take=-5)) == len(seeded.get_recent_decisions())
        outcomes = seeded.get_recent_decisions(DecisionQuery.recent_execution_outcomes())
        assert [(v.request.request_id, v.decision.code) for v in outcomes] == [
            ("q-rejected", "REJECTED")]
        assert all(isinstance(v, DecisionView) for v in outcomes)
        assert seeded.get_recent_decisions(DecisionQuery.recent_version_resolutions()) == []

    def test_recent_decisions_are_narrowed_by_the_decision_actor_and_the_request_query(
            self) -> None:
        seeded = self.make_seeded_store()
        by_ann = seeded.get_recent_decisions(DecisionQuery(actor_ids={"ann"}))
        on_b = seeded.get_recent_decisions(DecisionQuery(
            request_query=MutationRequestQuery(scope=ScopeFilter(request_ids={"q-wait-b"}))))

        assert {v.decision.code for v in by_ann} == {"GRANTED", "APPROVED", "REJECTED"}
        assert [v.decision.code for v in on_b] == ["REQUESTED", "PENDING", "SUBMITTED"]


def _ids(requests: list[MutationRequest]) -> list[str]:
    return [r.request_id for r in requests]

"""``LifecycleManager``: the transition table, every transition, expiry sweeps and stale writers."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from governance import (
    ALLOWED_TRANSITIONS,
    DecisionCategory,
    GovernanceError,
    InMemoryRequestStore,
    InvalidArgumentError,
    InvalidOperationError,
    InvalidTransitionError,
    LifecycleManager,
    MissingArgumentError,
    MutationContext,
    MutationRequest,
    PendingReason,
    RequestAlreadyExistsError,
    RequestConcurrencyError,
    RequestNotFoundError,
    RequestStatus,
    ResolutionStrategy,
    VersionResolutionManager,
    can_transition,
)
from governance.testing import (
    BASE_TIME,
    STATE_ID,
    FixedClock,
    RacingStore,
    approved_request,
    pending_request,
    request_in_status,
)

S = RequestStatus

# The table of DOMAIN.md 2.2, written out independently of the implementation.
EXPECTED_TABLE: dict[RequestStatus, set[RequestStatus]] = {
    S.CREATED: {S.PENDING, S.APPROVED, S.CANCELED, S.SUPERSEDED},
    S.PENDING: {S.APPROVED, S.REJECTED, S.CANCELED, S.EXPIRED, S.SUPERSEDED},
    S.APPROVED: {S.PENDING, S.REJECTED, S.CANCELED, S.SUPERSEDED, S.EXECUTED},
    S.REJECTED: set(),
    S.CANCELED: set(),
    S.EXPIRED: set(),
    S.SUPERSEDED: set(),
    S.EXECUTED: set(),
}

REVIEWER = MutationContext.user("rita", "Rita", "lifecycle review")

Transition = Callable[[LifecycleManager, str, MutationContext], MutationRequest]

# How to ask the manager for each target status (CREATED is never a target).
TRANSITIONS: dict[RequestStatus, Transition] = {
    S.PENDING: lambda m, rid, ctx: m.move_to_pending(
        rid, PendingReason.QUOTA, ctx, "waiting for quota", expires_at=BASE_TIME),
    S.APPROVED: lambda m, rid, ctx: m.approve(rid, ctx, "looks good", {"Ticket": "T-1"}),
    S.REJECTED: lambda m, rid, ctx: m.reject(rid, ctx, "too risky"),
    S.CANCELED: lambda m, rid, ctx: m.cancel(rid, ctx, "not needed"),
    S.EXPIRED: lambda m, rid, ctx: m.expire(rid, ctx, "too old"),
    S.SUPERSEDED: lambda m, rid, ctx: m.supersede(rid, "req-newer", ctx),
    S.EXECUTED: lambda m, rid, ctx: m.mark_executed(rid, ctx, "ran elsewhere"),
}

TARGET_IDS = [t.name for t in TRANSITIONS]
ALL_PAIRS = list(itertools.product(list(RequestStatus), list(TRANSITIONS)))


def test_the_transition_table_matches_the_domain_reference() -> None:
    assert {s: set(targets) for s, targets in ALLOWED_TRANSITIONS.items()} == EXPECTED_TABLE


@pytest.mark.parametrize("current", list(RequestStatus), ids=lambda s: s.name)
def test_no_status_may_move_to_itself_or_back_to_created(current: RequestStatus) -> None:
    assert not can_transition(current, current)
    assert not can_transition(current, S.CREATED)


@pytest.mark.parametrize("current", [s for s in RequestStatus if s.is_terminal],
                         ids=lambda s: s.name)
def test_terminal_statuses_allow_no_transition(current: RequestStatus) -> None:
    assert not any(can_transition(current, target) for target in RequestStatus)


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS,
                         ids=[f"{c.name}->{t.name}" for c, t in ALL_PAIRS])
def test_every_status_pair_is_either_an_allowed_transition_or_refused_without_a_write(
        current: RequestStatus, target: RequestStatus) -> None:
    store = InMemoryRequestStore()
    clock = FixedClock(BASE_TIME + timedelta(minutes=10))
    manager = LifecycleManager(store, clock=clock)
    before = store.create(request_in_status(current, request_id="req-pair"))

    if target in EXPECTED_TABLE[current]:
        after = TRANSITIONS[target](manager, "req-pair", REVIEWER)

        assert after.status == target
        assert after.revision == 1
        assert store.get("req-pair") == after
        assert after.decisions[:-1] == before.decisions
        decision = after.decisions[-1]
        assert decision.category == DecisionCategory.LIFECYCLE
        assert decision.code == target.name
        assert decision.context == REVIEWER
        assert decision.timestamp == clock.now
        assert after.updated_at == clock.now
        assert after.created_at == before.created_at
    else:
        with pytest.raises(InvalidTransitionError) as raised:
            TRANSITIONS[target](manager, "req-pair", REVIEWER)

        error = raised.value
        assert isinstance(error, GovernanceError)
        assert error.request_id == "req-pair"
        assert error.current_status == current
        assert error.target_status == target
        assert "req-pair" in str(error)
        assert store.get("req-pair") is before
        assert store.get("req-pair").revision == 0


# -- transition-specific field edits ----------------------------------------------------------

def test_move_to_pending_keeps_its_reason_and_deadline_together_with_the_new_status(
        lifecycle: LifecycleManager) -> None:
    lifecycle.submit(approved_request(request_id="req-1"))
    deadline = BASE_TIME + timedelta(hours=4)

    pending = lifecycle.move_to_pending("req-1", PendingReason.DEPENDENCY, REVIEWER,
                                        "waits for req-0", expires_at=deadline,
                                        metadata={"DependsOn": "req-0"})

    assert pending.status == S.PENDING
    assert pending.pending_reason == PendingReason.DEPENDENCY
    assert pending.expires_at == deadline
    assert pending.decisions[-1].reason == "waits for req-0"
    assert pending.decisions[-1].metadata == {"DependsOn": "req-0"}


def test_approve_clears_the_pending_reason(lifecycle: LifecycleManager) -> None:
    lifecycle.submit(pending_request(PendingReason.MANUAL_REVIEW, request_id="req-1"))

    approved = lifecycle.approve("req-1", REVIEWER, "reviewed")

    assert approved.status == S.APPROVED
    assert approved.pending_reason is None
    assert approved.decisions[-1].reason == "reviewed"


@pytest.mark.parametrize("target", [S.REJECTED, S.CANCELED, S.EXPIRED, S.SUPERSEDED],
                         ids=lambda s: s.name)
def test_terminal_transitions_clear_pending_reason_and_deadline(
        lifecycle: LifecycleManager, target: RequestStatus) -> None:
    lifecycle.submit(pending_request(PendingReason.QUOTA, request_id="req-1",
                                     expires_at=BASE_TIME))

    after = TRANSITIONS[target](lifecycle, "req-1", REVIEWER)

    assert after.status == target
    assert after.pending_reason is None
    assert after.expires_at is None


def test_mark_executed_clears_pending_state_of_an_approved_request(
        lifecycle: LifecycleManager) -> None:
    lifecycle.submit(approved_request(request_id="req-1"))

    executed = lifecycle.mark_executed("req-1", REVIEWER)

    assert executed.status == S.EXECUTED
    assert executed.pending_reason is None
    assert executed.expires_at is None


def test_supersede_records_the_superseding_request_in_metadata_and_default_reason(
        lifecycle: LifecycleManager) -> None:
    lifecycle.submit(pending_request(request_id="req-old"))

    superseded = lifecycle.supersede("req-old", "req-new", REVIEWER,
                                     metadata={"Ticket": "OPS-3"})

    decision = superseded.decisions[-1]
    assert decision.metadata == {"Ticket": "OPS-3", "SupersedingRequestId": "req-new"}
    assert "req-new" in decision.reason


def test_supersede_keeps_a_given_reason_and_overrides_a_caller_superseding_id(
        lifecycle: LifecycleManager) -> None:
    lifecycle.submit(pending_request(request_id="req-old"))

    superseded = lifecycle.supersede("req-old", "req-new", REVIEWER, "merged",
                                     {"SupersedingRequestId": "wrong"})

    assert superseded.decisions[-1].reason == "merged"
    assert superseded.decisions[-1].metadata["SupersedingRequestId"] == "req-new"


@pytest.mark.parametrize("blank", ["", "  ", None])
def test_supersede_refuses_a_blank_superseding_id_without_a_write(
        lifecycle: LifecycleManager, store: InMemoryRequestStore, blank: str | None) -> None:
    before = lifecycle.submit(pending_request(request_id="req-old"))

    with pytest.raises(InvalidArgumentError) as raised:
        lifecycle.supersede("req-old", blank, REVIEWER)  # type: ignore[arg-type]

    assert isinstance(raised.value, ValueError)
    assert "req-old" in str(raised.value)
    assert store.get("req-old") is before


def test_a_request_cannot_supersede_itself(
        lifecycle: LifecycleManager, store: InMemoryRequestStore) -> None:
    before = lifecycle.submit(pending_request(request_id="req-old"))

    with pytest.raises(InvalidArgumentError, match="req-old"):
        lifecycle.supersede("req-old", "req-old", REVIEWER)

    assert store.get("req-old") is before


def test_transitions_do_not_touch_other_parts_of_the_request(
        lifecycle: LifecycleManager) -> None:
    submitted = lifecycle.submit(approved_request(request_id="req-1",
                                                  metadata={"Ticket": "T"}))

    canceled = lifecycle.cancel("req-1", REVIEWER)

    for part in ("scope", "payload", "execution", "requirements", "approval_requirements",
                 "side_effects", "versioning", "metadata"):
        assert getattr(canceled, part) == getattr(submitted, part), part


# -- submit -----------------------------------------------------------------------------------

def test_submit_stores_the_request_as_it_is_without_a_decision(
        lifecycle: LifecycleManager, store: InMemoryRequestStore) -> None:
    request = request_in_status(S.CREATED, request_id="req-new")

    stored = lifecycle.submit(request)

    assert stored.status == S.CREATED
    assert stored.decisions == request.decisions
    assert stored.revision == 0
    assert store.get("req-new") == stored


def test_submitting_an_existing_id_is_refused(lifecycle: LifecycleManager,
                                              store: InMemoryRequestStore) -> None:
    first = lifecycle.submit(approved_request(request_id="req-1"))

    with pytest.raises(RequestAlreadyExistsError) as raised:
        lifecycle.submit(pending_request(request_id="req-1"))

    assert "req-1" in str(raised.value)
    assert store.get("req-1") is first


# -- refusals ---------------------------------------------------------------------------------

@pytest.mark.parametrize("target", list(TRANSITIONS), ids=TARGET_IDS)
@pytest.mark.parametrize("blank", ["", "   "])
def test_every_transition_refuses_a_blank_request_id(
        lifecycle: LifecycleManager, target: RequestStatus, blank: str) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        TRANSITIONS[target](lifecycle, blank, REVIEWER)

    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize("target", list(TRANSITIONS), ids=TARGET_IDS)
def test_every_transition_of_an_unknown_request_raises_not_found_naming_it(
        lifecycle: LifecycleManager, target: RequestStatus) -> None:
    with pytest.raises(RequestNotFoundError) as raised:
        TRANSITIONS[target](lifecycle, "req-ghost", REVIEWER)

    assert isinstance(raised.value, LookupError)
    assert raised.value.request_id == "req-ghost"
    assert "req-ghost" in str(raised.value)


@pytest.mark.parametrize("target", list(TRANSITIONS), ids=TARGET_IDS)
def test_every_transition_refuses_a_missing_context_without_a_write(
        lifecycle: LifecycleManager, store: InMemoryRequestStore,
        target: RequestStatus) -> None:
    before = lifecycle.submit(approved_request(request_id="req-1"))

    with pytest.raises(MissingArgumentError) as raised:
        TRANSITIONS[target](lifecycle, "req-1", None)  # type: ignore[arg-type]

    assert isinstance(raised.value, TypeError)
    assert "req-1" in str(raised.value)
    assert store.get("req-1") is before


def test_move_to_pending_refuses_a_missing_reason_without_a_write(
        lifecycle: LifecycleManager, store: InMemoryRequestStore) -> None:
    before = lifecycle.submit(approved_request(request_id="req-1"))

    with pytest.raises(MissingArgumentError) as raised:
        lifecycle.move_to_pending("req-1", None, REVIEWER)  # type: ignore[arg-type]

    assert "req-1" in str(raised.value)
    assert store.get("req-1") is before


def test_a_manager_needs_a_store() -> None:
    with pytest.raises(MissingArgumentError):
        LifecycleManager(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("target", list(TRANSITIONS), ids=TARGET_IDS)
def test_a_transition_that_loses_the_race_raises_concurrency_and_keeps_the_winner(
        target: RequestStatus) -> None:
    store = RacingStore()
    manager = LifecycleManager(store)
    start = S.APPROVED if target in (S.PENDING, S.EXECUTED) else S.PENDING
    store.create(request_in_status(start, request_id="req-1"))
    store.interfere_once("req-1")

    with pytest.raises(RequestConcurrencyError) as raised:
        TRANSITIONS[target](manager, "req-1", REVIEWER)

    assert raised.value.request_id == "req-1"
    assert raised.value.expected_revision == 0
    assert "req-1" in str(raised.value)
    winner = store.get("req-1")
    assert winner.revision == 1
    assert winner.metadata["TouchedBy"] == "another writer"
    assert len(winner.decisions) == 2


def test_a_cancel_computed_from_an_old_snapshot_cannot_overwrite_an_approval(
        lifecycle: LifecycleManager, store: InMemoryRequestStore) -> None:
    old = lifecycle.submit(pending_request(request_id="req-1"))
    approved = lifecycle.approve("req-1", REVIEWER)
    stale_cancel = old.model_copy(update={"lifecycle": old.lifecycle.model_copy(
        update={"status": S.CANCELED})})

    with pytest.raises(RequestConcurrencyError) as raised:
        store.store_next(stale_cancel, old.revision)

    assert raised.value.expected_revision == 0
    assert store.get("req-1") == approved
    assert store.get("req-1").status == S.APPROVED
    assert store.get("req-1").revision == 1


# -- expiry sweep -----------------------------------------------------------------------------

def test_expire_due_requests_expires_pending_requests_at_or_past_their_deadline(
        store: InMemoryRequestStore) -> None:
    manager = LifecycleManager(store)
    now = BASE_TIME
    store.create(pending_request(PendingReason.QUOTA, request_id="due-earlier",
                                 expires_at=now - timedelta(minutes=5),
                                 now=now - timedelta(hours=2)))
    store.create(pending_request(PendingReason.APPROVAL, request_id="due-now", expires_at=now,
                                 now=now - timedelta(hours=1)))
    store.create(pending_request(PendingReason.QUOTA, request_id="not-yet",
                                 expires_at=now + timedelta(seconds=1)))
    store.create(pending_request(PendingReason.QUOTA, request_id="no-deadline"))
    approved = approved_request(request_id="approved-past")
    store.create(approved.model_copy(update={"lifecycle": approved.lifecycle.model_copy(
        update={"expires_at": now - timedelta(days=1)})}))
    sweeper = MutationContext.service("lifecycle-sweeper", "expiry sweep")

    expired = manager.expire_due_requests(now, sweeper)

    assert [r.request_id for r in expired] == ["due-earlier", "due-now"]
    for request in expired:
        assert request.status == S.EXPIRED
        assert request.expires_at is None
        assert request.pending_reason is None
        assert request.revision == 1
        assert request.decisions[-1].code == "EXPIRED"
        assert request.decisions[-1].context == sweeper
        assert store.get(request.request_id) == request
    assert "2030-01-01T11:55:00" in expired[0].decisions[-1].reason
    for untouched in ("not-yet", "no-deadline", "approved-past"):
        assert store.get(untouched).revision == 0
    assert {r.request_id for r in manager.get_pending()} == {"not-yet", "no-deadline"}


def test_expire_due_requests_with_nothing_due_writes_nothing(
        lifecycle: LifecycleManager, store: InMemoryRequestStore) -> None:
    store.create(pending_request(request_id="later", expires_at=BASE_TIME + timedelta(days=1)))

    assert lifecycle.expire_due_requests(BASE_TIME, REVIEWER) == []
    assert store.get("later").revision == 0


@pytest.mark.parametrize("missing", ["now", "context"])
def test_expire_due_requests_refuses_missing_arguments(lifecycle: LifecycleManager,
                                                       missing: str) -> None:
    args: dict[str, Any] = {"now": BASE_TIME, "context": REVIEWER}
    args[missing] = None

    with pytest.raises(MissingArgumentError):
        lifecycle.expire_due_requests(**args)


def test_pending_queries_delegate_to_the_store(lifecycle: LifecycleManager,
                                               store: InMemoryRequestStore) -> None:
    store.create(pending_request(PendingReason.QUOTA, request_id="q", now=BASE_TIME))
    store.create(pending_request(PendingReason.SCHEDULE, request_id="s",
                                 now=BASE_TIME + timedelta(seconds=1)))
    store.create(pending_request(PendingReason.QUOTA, request_id="elsewhere",
                                 state_id="other", now=BASE_TIME))

    assert [r.request_id for r in lifecycle.get_pending()] == ["elsewhere", "q", "s"]
    assert [r.request_id for r in lifecycle.get_pending(PendingReason.SCHEDULE)] == ["s"]
    assert [r.request_id for r in lifecycle.get_pending_by_state_id(
        STATE_ID, PendingReason.QUOTA)] == ["q"]
    assert lifecycle.store is store


@pytest.mark.parametrize("target", [S.PENDING, S.REJECTED, S.CANCELED, S.SUPERSEDED,
                                    S.EXECUTED], ids=lambda s: s.name)
def test_a_request_claimed_by_a_running_execution_refuses_lifecycle_transitions(
        store: InMemoryRequestStore, lifecycle: LifecycleManager, target: RequestStatus) -> None:
    store.create(approved_request(request_id="req-1"))
    claimed = VersionResolutionManager(store).resolve_for_execution(
        "req-1", "10", REVIEWER, ResolutionStrategy.REJECT_STALE).request

    with pytest.raises(InvalidOperationError) as raised:
        TRANSITIONS[target](lifecycle, "req-1", REVIEWER)

    assert "req-1" in str(raised.value)
    assert claimed.execution.claim.claim_id in str(raised.value)
    assert store.get("req-1") is claimed

"""Bad values are refused where they enter, with a ``GovernanceError`` naming the request, and
never stored: naive datetimes, values of the wrong type in lifecycle actions and factories,
versions that are not text.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import pytest

from governance import (
    ApprovalWorkflowManager,
    GovernanceError,
    GovernanceExecutionManager,
    InMemoryRequestStore,
    InvalidApprovalConfigurationError,
    InvalidArgumentError,
    LifecycleManager,
    MissingArgumentError,
    MutationContext,
    MutationRequest,
    PendingReason,
    PolicyRequirement,
    RequestStatus,
    ResolutionStrategy,
    VersionResolutionManager,
)
from governance.testing import (
    BASE_TIME,
    STATE_ID,
    IncrementMutation,
    VersionedState,
    approval_request,
    approved_request,
    governance_context,
    increment_intent,
    pending_request,
    requester_context,
)

NAIVE = datetime(2030, 1, 1, 12, 0)


def _argument_error(raised: BaseException, request_id: str | None = None) -> None:
    assert isinstance(raised, GovernanceError)
    assert isinstance(raised, ValueError | TypeError)
    if request_id is not None:
        assert request_id in str(raised)


# -- case 8: instants without a timezone ------------------------------------------------------

@pytest.mark.parametrize("factory", ["approved", "pending", "pending_approval"])
def test_the_factories_refuse_a_naive_now(factory: str) -> None:
    builders: dict[str, Any] = {
        "approved": lambda: approved_request(request_id="req-1", now=NAIVE),
        "pending": lambda: pending_request(request_id="req-1", now=NAIVE),
        "pending_approval": lambda: approval_request(request_id="req-1", now=NAIVE),
    }
    with pytest.raises(GovernanceError) as raised:
        builders[factory]()
    _argument_error(raised.value, "req-1")


@pytest.mark.parametrize("expires_at", [NAIVE, "2030-01-01T12:00:00"])
def test_an_approval_expiry_without_a_timezone_is_refused(expires_at: Any) -> None:
    with pytest.raises(InvalidApprovalConfigurationError) as raised:
        approval_request(PolicyRequirement.approval("bob", "sign-off", ExpiresAt=expires_at),
                         request_id="req-1")
    _argument_error(raised.value, "req-1")


def test_a_request_expiry_without_a_timezone_is_refused() -> None:
    for build in (lambda: pending_request(request_id="req-1", expires_at=NAIVE),
                  lambda: approval_request(request_id="req-1", expires_at=NAIVE)):
        with pytest.raises(GovernanceError) as raised:
            build()
        _argument_error(raised.value, "req-1")


def test_a_pending_move_with_a_naive_deadline_writes_nothing(
        store: InMemoryRequestStore, lifecycle: LifecycleManager) -> None:
    created = store.create(approved_request(request_id="req-1"))

    with pytest.raises(GovernanceError) as raised:
        lifecycle.move_to_pending("req-1", PendingReason.SCHEDULE, governance_context(),
                                  expires_at=NAIVE)

    _argument_error(raised.value, "req-1")
    assert store.get("req-1") is created


def test_json_with_a_naive_instant_is_refused_and_the_store_stays_readable(
        store: InMemoryRequestStore) -> None:
    text = approved_request(request_id="req-1", now=BASE_TIME).model_dump_json()
    naive = text.replace("2030-01-01T12:00:00Z", "2030-01-01T12:00:00")
    assert naive != text

    with pytest.raises(ValueError):
        MutationRequest.model_validate_json(naive)
    assert store.all() == []


def test_a_naive_clock_is_refused_before_anything_is_written(
        store: InMemoryRequestStore) -> None:
    created = store.create(approved_request(request_id="req-1"))
    lifecycle = LifecycleManager(store, clock=lambda: NAIVE)

    with pytest.raises(GovernanceError) as raised:
        lifecycle.cancel("req-1", governance_context())

    _argument_error(raised.value, "req-1")
    assert store.get("req-1") is created


# -- case 9: lifecycle actions validate what they store ---------------------------------------

@pytest.mark.parametrize(("call", "error"), [
    (lambda m: m.move_to_pending("req-1", PendingReason.SCHEDULE, governance_context(),
                                 expires_at="tomorrow"), InvalidArgumentError),
    (lambda m: m.move_to_pending("req-1", 99, governance_context()), InvalidArgumentError),
    (lambda m: m.cancel("req-1", "ops"), InvalidArgumentError),
    (lambda m: m.cancel("req-1", governance_context(), 42), InvalidArgumentError),
    (lambda m: m.cancel("req-1", governance_context(), "why", ["not", "a", "map"]),
     InvalidArgumentError),
], ids=["expires-at-text", "pending-reason-int", "context-text", "reason-int",
        "metadata-list"])
def test_a_lifecycle_action_with_a_bad_value_writes_nothing(
        store: InMemoryRequestStore, lifecycle: LifecycleManager, call: Any,
        error: type[Exception]) -> None:
    created = store.create(approved_request(request_id="req-1"))

    with pytest.raises(error) as raised:
        call(lifecycle)

    _argument_error(raised.value, "req-1")
    assert store.get("req-1") is created


def test_a_resulting_version_that_is_not_text_is_recorded_as_text(
        store: InMemoryRequestStore, executor: GovernanceExecutionManager) -> None:
    store.create(approved_request(request_id="req-1"))

    result = executor.execute_approved(
        "req-1", IncrementMutation(), VersionedState(1, "10"),
        governance_context=governance_context(), strategy=ResolutionStrategy.REJECT_STALE,
        resulting_version=lambda state: 11)  # type: ignore[arg-type, return-value]

    stored = store.get("req-1")
    assert result.resulting_state_version == "11"
    assert stored.versioning.resulting_state_version == "11"
    assert MutationRequest.model_validate_json(stored.model_dump_json()) == stored


# -- case 10: plain Python errors become argument errors naming the request -------------------

@pytest.mark.parametrize("version", [10, math.nan, 10.0, b"10"])
def test_a_current_state_version_that_is_not_text_is_refused(
        store: InMemoryRequestStore, resolution: VersionResolutionManager,
        executor: GovernanceExecutionManager, version: Any) -> None:
    created = store.create(approved_request(request_id="req-1"))

    for call in (
        lambda: resolution.resolve_and_store("req-1", version, governance_context(),
                                             ResolutionStrategy.REJECT_STALE),
        lambda: executor.execute_approved(
            "req-1", IncrementMutation(), VersionedState(1, "10"),
            governance_context=governance_context(), current_state_version=version),
    ):
        with pytest.raises(InvalidArgumentError) as raised:
            call()
        _argument_error(raised.value, "req-1")
    assert store.get("req-1") is created


@pytest.mark.parametrize(("data", "detail"), [
    ({"Approver": "bob", "StepOrder": "abc"}, "StepOrder"),
    ({"Approvers": 5}, "Approvers"),
    ({"Approver": "bob", "RequiredApprovals": "two"}, "RequiredApprovals"),
    ({"Approver": "bob", "ExpiresAt": "soon"}, "soon"),
])
def test_misconfigured_approval_data_is_an_argument_error(data: dict[str, Any],
                                                          detail: str) -> None:
    with pytest.raises(InvalidApprovalConfigurationError) as raised:
        approval_request(PolicyRequirement(type="Approval", description="gate", data=data),
                         request_id="req-1")
    _argument_error(raised.value, "req-1")
    assert detail in str(raised.value)


@pytest.mark.parametrize(("changes", "detail"), [
    ({"state_type": None}, "state type"),
    ({"mutation_type": 5}, "mutation type"),
    ({"request_id": ["req-1"]}, "request id"),
    ({"metadata": ["a", "b"]}, "metadata"),
    ({"expected_state_version": 10}, "expected state version"),
    ({"context": "alice"}, "context"),
    ({"intent": "increment"}, "intent"),
])
def test_factory_arguments_of_the_wrong_type_are_argument_errors(
        changes: dict[str, Any], detail: str) -> None:
    arguments: dict[str, Any] = {
        "state_id": STATE_ID, "state_type": VersionedState, "mutation_type": IncrementMutation,
        "intent": increment_intent(), "context": requester_context(),
        "expected_state_version": "10", "request_id": "req-1", **changes}
    with pytest.raises(GovernanceError) as raised:
        MutationRequest.approved(**arguments)
    _argument_error(raised.value)
    assert detail in str(raised.value)


def test_the_approval_manager_refuses_a_naive_context_time(store: InMemoryRequestStore) -> None:
    created = store.create(approval_request(request_id="req-1"))
    workflow = ApprovalWorkflowManager(store)
    bob = MutationContext.user("bob").model_copy(update={"timestamp": NAIVE})

    with pytest.raises(InvalidArgumentError) as raised:
        workflow.approve_requirement("req-1", created.approval_requirements[0].approval_id, bob)

    _argument_error(raised.value, "req-1")
    assert store.get("req-1") is created


def test_the_sweeps_and_queries_keep_working_next_to_refused_values(
        store: InMemoryRequestStore, lifecycle: LifecycleManager) -> None:
    store.create(pending_request(request_id="req-1", expires_at=BASE_TIME, now=BASE_TIME))
    for bad in (lambda: pending_request(request_id="req-2", expires_at=NAIVE),
                lambda: approved_request(request_id="req-3", now=NAIVE)):
        with pytest.raises(GovernanceError):
            store.create(bad())

    expired = lifecycle.expire_due_requests(BASE_TIME + timedelta(seconds=1),
                                            governance_context())

    assert [r.request_id for r in expired] == ["req-1"]
    assert [r.status for r in store.all()] == [RequestStatus.EXPIRED]
    assert len(store.get_recent_decisions()) == 3


def test_a_missing_context_is_still_a_missing_argument(
        store: InMemoryRequestStore, lifecycle: LifecycleManager) -> None:
    store.create(approved_request(request_id="req-1"))

    with pytest.raises(MissingArgumentError, match="req-1"):
        lifecycle.cancel("req-1", None)  # type: ignore[arg-type]

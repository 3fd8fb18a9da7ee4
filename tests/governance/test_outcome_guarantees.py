"""Every outcome recorded: a claimed request is written only by the execution that claimed it,
``execute_approved`` never leaves a request claimed, and the store refuses snapshots that break
the rules every change obeys.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from governance import (
    CompensationKind,
    CompensationPlan,
    CompensationTrigger,
    EngineOptions,
    ExecutionClaim,
    GovernanceError,
    GovernanceExecutionManager,
    InMemoryAuditor,
    InMemoryRequestStore,
    InvalidArgumentError,
    InvalidOperationError,
    LifecycleManager,
    MissingArgumentError,
    MutationEngine,
    MutationRequest,
    MutationResult,
    PendingReason,
    PolicyRequirement,
    RequestClaimedError,
    RequestNotExecutableError,
    RequestStatus,
    ResolutionStrategy,
    VersionResolutionManager,
)
from governance.testing import (
    BASE_TIME,
    STATE_ID,
    ApplyCounter,
    FailingMutation,
    IncrementMutation,
    VersionedState,
    approval_request,
    approved_request,
    governance_context,
    increment_intent,
    pending_request,
    requester_context,
)

STATE = VersionedState(1, "10")


def _execute(executor: GovernanceExecutionManager, mutation: Any, request_id: str = "req-1",
             state: VersionedState = STATE,
             strategy: ResolutionStrategy = ResolutionStrategy.REJECT_STALE) -> Any:
    return executor.execute_approved(request_id, mutation, state,
                                     governance_context=governance_context(), strategy=strategy)


def _not_held(request: MutationRequest) -> bool:
    return request.status.is_terminal or request.execution.claim is None


# -- case 1: nobody else writes to a claimed request ------------------------------------------

class ResolvingMutation(IncrementMutation):
    """An increment whose ``apply`` first tries to resolve its own (claimed) request."""

    def __init__(self, resolution: VersionResolutionManager, counter: ApplyCounter) -> None:
        super().__init__(counter, "req-1")
        self.resolution = resolution
        self.refusal: BaseException | None = None

    def apply(self, state: VersionedState) -> MutationResult[VersionedState]:
        try:
            self.resolution.resolve_and_store("req-1", "99", governance_context(),
                                              ResolutionStrategy.REJECT_STALE)
        except GovernanceError as exc:
            self.refusal = exc
        return super().apply(state)


def test_resolving_a_claimed_request_from_its_own_mutation_is_refused_and_it_ends_executed(
        store: InMemoryRequestStore, resolution: VersionResolutionManager,
        executor: GovernanceExecutionManager, counter: ApplyCounter) -> None:
    store.create(approved_request(request_id="req-1"))
    mutation = ResolvingMutation(resolution, counter)

    result = _execute(executor, mutation)

    assert isinstance(mutation.refusal, RequestClaimedError)
    assert isinstance(mutation.refusal, InvalidOperationError)
    assert "req-1" in str(mutation.refusal)
    assert result.was_executed
    stored = store.get("req-1")
    assert stored.status == RequestStatus.EXECUTED
    assert counter["req-1"] == 1


@pytest.mark.parametrize("strategy", list(ResolutionStrategy))
def test_resolving_a_request_claimed_by_a_running_execution_writes_nothing(
        store: InMemoryRequestStore, resolution: VersionResolutionManager,
        strategy: ResolutionStrategy) -> None:
    store.create(approved_request(request_id="req-1"))
    claimed = resolution.resolve_for_execution("req-1", "10", governance_context(),
                                               ResolutionStrategy.REJECT_STALE).request

    with pytest.raises(RequestClaimedError) as raised:
        resolution.resolve_and_store("req-1", "11", governance_context(), strategy)

    assert claimed.execution.claim is not None
    assert claimed.execution.claim.claim_id in str(raised.value)
    assert store.get("req-1") is claimed


def test_a_compensation_of_an_original_still_in_flight_is_refused_before_anything_runs(
        store: InMemoryRequestStore, resolution: VersionResolutionManager,
        executor: GovernanceExecutionManager, counter: ApplyCounter) -> None:
    store.create(approved_request(request_id="req-original"))
    claimed = resolution.resolve_for_execution("req-original", "10", governance_context(),
                                               ResolutionStrategy.REJECT_STALE).request
    compensation = store.create(MutationRequest.approved_compensation(
        STATE_ID, "S", "M", increment_intent(), requester_context(),
        CompensationPlan(original_request_id="req-original"), expected_state_version="10",
        request_id="req-comp"))

    with pytest.raises(RequestNotExecutableError) as raised:
        _execute(executor, IncrementMutation(counter, "req-comp"), "req-comp")

    assert "req-original" in str(raised.value)
    assert counter["req-comp"] == 0
    assert store.get("req-comp") is compensation
    assert store.get("req-original") is claimed


# -- case 2: a bad mutation never leaves the request claimed ----------------------------------

class _NoContext(IncrementMutation):
    @property
    def context(self) -> Any:
        return None


class _NoMetadata(IncrementMutation):
    @property
    def intent(self) -> Any:
        return increment_intent().model_copy(update={"metadata": None})


@pytest.mark.parametrize("mutation", [object(), "increment", _NoContext(), _NoMetadata()],
                         ids=["object", "string", "no-context", "no-metadata"])
def test_something_that_is_not_a_usable_mutation_is_refused_before_the_claim(
        store: InMemoryRequestStore, executor: GovernanceExecutionManager,
        mutation: Any) -> None:
    created = store.create(approved_request(request_id="req-1"))

    with pytest.raises(GovernanceError) as raised:
        _execute(executor, mutation)

    assert isinstance(raised.value, InvalidArgumentError | MissingArgumentError)
    assert "req-1" in str(raised.value)
    assert store.get("req-1") is created


@pytest.mark.parametrize("exception", [KeyboardInterrupt(), SystemExit(3),
                                       GeneratorExit()], ids=lambda e: type(e).__name__)
def test_an_apply_raising_a_base_exception_is_recorded_rejected_and_re_raised(
        store: InMemoryRequestStore, executor: GovernanceExecutionManager,
        counter: ApplyCounter, exception: BaseException) -> None:
    store.create(approved_request(request_id="req-1"))

    with pytest.raises(type(exception)):
        _execute(executor, FailingMutation(counter, "req-1", exception))

    stored = store.get("req-1")
    assert stored.status == RequestStatus.REJECTED
    assert stored.decisions[-1].metadata["ExecutionFailureType"] == type(exception).__name__
    assert _not_held(stored)
    # and the next caller is told why, not that the request is claimed
    with pytest.raises(RequestNotExecutableError, match="REJECTED"):
        _execute(executor, IncrementMutation(counter, "req-1"))


def test_an_engine_error_is_re_raised_with_a_note_naming_the_request(
        store: InMemoryRequestStore, executor: GovernanceExecutionManager,
        counter: ApplyCounter) -> None:
    store.create(approved_request(request_id="req-1"))

    with pytest.raises(GovernanceError) as raised:
        _execute(executor, FailingMutation(counter, "req-1"))

    assert any("req-1" in note for note in getattr(raised.value, "__notes__", ()))


# -- case 3: the lifecycle sweep skips a claimed request --------------------------------------

def test_the_lifecycle_sweep_skips_a_claimed_request_and_expires_the_others(
        store: InMemoryRequestStore, resolution: VersionResolutionManager) -> None:
    lifecycle = LifecycleManager(store)
    store.create(pending_request(PendingReason.MANUAL_REVIEW, request_id="req-1",
                                 expires_at=BASE_TIME + timedelta(hours=1), now=BASE_TIME))
    lifecycle.approve("req-1", governance_context())
    # revalidation puts it back to PENDING with its deadline and the execution's claim
    claimed = resolution.resolve_for_execution(
        "req-1", "11", governance_context(),
        ResolutionStrategy.REVALIDATE_ON_LATEST_STATE).request
    assert claimed.status == RequestStatus.PENDING and claimed.execution.claim is not None
    store.create(pending_request(request_id="req-2", expires_at=BASE_TIME + timedelta(hours=1),
                                 now=BASE_TIME))

    expired = lifecycle.expire_due_requests(BASE_TIME + timedelta(hours=2), governance_context())

    assert [r.request_id for r in expired] == ["req-2"]
    assert store.get("req-1") is claimed


# -- case 11: the compensation facts handed to the engine use the reference keys ------------

def test_the_engine_sees_the_compensation_under_the_reference_keys() -> None:
    store = InMemoryRequestStore()
    auditor = InMemoryAuditor()
    executor = GovernanceExecutionManager(
        store, VersionResolutionManager(store), MutationEngine(EngineOptions.strict(),
                                                               auditor=auditor))
    store.create(approved_request(request_id="req-original"))
    _execute(executor, IncrementMutation(), "req-original")
    plan = CompensationPlan(original_request_id="req-original",
                            kind=CompensationKind.FORWARD_CORRECTION,
                            trigger=CompensationTrigger.BATCH_FAILURE, batch_id="b-1",
                            related_request_ids=("req-x",), reason="batch failed")
    store.create(MutationRequest.approved_compensation(
        STATE_ID, "S", "M", increment_intent(), requester_context(), plan,
        expected_state_version="11", request_id="req-comp"))

    _execute(executor, IncrementMutation(), "req-comp", VersionedState(2, "11"))

    expected = {"OriginalRequestId": "req-original", "Kind": "FORWARD_CORRECTION",
                "Trigger": "BATCH_FAILURE", "BatchId": "b-1", "RelatedRequestIds": ["req-x"],
                "Reason": "batch failed"}
    entry = auditor.entries[-1]
    assert entry.context.metadata["GovernanceCompensation"] == expected
    assert entry.mutation_intent.metadata["GovernanceCompensation"] == expected


# -- case 12: the store refuses snapshots that break the rules --------------------------------

def _with_lifecycle(request: MutationRequest, **changes: Any) -> MutationRequest:
    return request.model_copy(update={"lifecycle": request.lifecycle.model_copy(update=changes)})


def test_the_store_refuses_an_approved_request_whose_approvals_are_pending(
        store: InMemoryRequestStore) -> None:
    forged = _with_lifecycle(approval_request(request_id="req-1"),
                             status=RequestStatus.APPROVED, pending_reason=None)

    with pytest.raises(InvalidArgumentError, match="req-1"):
        store.create(forged)

    assert store.get("req-1") is None


def test_the_store_refuses_a_new_request_that_is_already_claimed(
        store: InMemoryRequestStore) -> None:
    request = approved_request(request_id="req-1")
    forged = request.model_copy(update={"execution": request.execution.model_copy(update={
        "claim": ExecutionClaim(claim_id="c-1", claimed_at=BASE_TIME)})})

    with pytest.raises(InvalidArgumentError, match="req-1"):
        store.create(forged)

    assert store.get("req-1") is None


@pytest.mark.parametrize("status", ["7", 7, None])
def test_the_store_refuses_a_status_that_is_not_a_request_status(
        store: InMemoryRequestStore, status: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="req-1"):
        store.create(_with_lifecycle(approved_request(request_id="req-1"), status=status))

    assert store.get("req-1") is None


@pytest.mark.parametrize("revision", [0.0, "0", None, True])
def test_try_store_refuses_an_expected_revision_that_is_not_an_int(
        store: InMemoryRequestStore, revision: Any) -> None:
    created = store.create(approved_request(request_id="req-1"))

    with pytest.raises(InvalidArgumentError, match="req-1"):
        store.try_store(created, revision)

    assert store.get("req-1") is created


def test_an_approval_requirement_still_pending_keeps_its_request_out_of_execution(
        store: InMemoryRequestStore) -> None:
    """The control case for the refusals above: the factory's own snapshot is accepted."""
    created = store.create(approval_request(PolicyRequirement.approval("bob", "sign-off"),
                                            request_id="req-1"))
    assert created.status == RequestStatus.PENDING

"""No approval bypass: approval requirements are decided only through the approval workflow,
approval groups never pool approvals across requirements, a renewed approval is a new round,
and actors are identified the same way everywhere (see docs/approval.md).
"""

from __future__ import annotations

from typing import Any

import pytest

from governance import (
    ApprovalRejectionReason,
    ApprovalRequirementStatus,
    ApprovalWorkflowManager,
    GovernanceExecutionManager,
    InMemoryRequestStore,
    InvalidApprovalActionError,
    InvalidApprovalConfigurationError,
    InvalidArgumentError,
    InvalidOperationError,
    LifecycleManager,
    MutationContext,
    MutationRequest,
    PendingReason,
    PolicyRequirement,
    RequestStatus,
    ResolutionStrategy,
    map_approval_requirements,
)
from governance.testing import (
    ApplyCounter,
    IncrementMutation,
    VersionedState,
    approval_request,
    approver,
    governance_context,
)

RID = "req-approval"


def _approval(**data: Any) -> PolicyRequirement:
    return PolicyRequirement(type="Approval", description=data.pop("description", "sign-off"),
                             data=data)


def _id(request: MutationRequest, target: str) -> str:
    return next(r.approval_id for r in request.approval_requirements
                if target in (r.approver_id, r.approver_role, r.approver_group))


@pytest.fixture
def workflow(store: InMemoryRequestStore) -> ApprovalWorkflowManager:
    return ApprovalWorkflowManager(store)


def _refused(store: InMemoryRequestStore, error: type[Exception], call: Any) -> Exception:
    before = store.get(RID)
    with pytest.raises(error) as raised:
        call()
    assert RID in str(raised.value)
    assert store.get(RID) is before
    return raised.value


# -- case 4: the lifecycle manager does not approve past pending approvals --------------------

def test_the_lifecycle_manager_cannot_approve_a_request_whose_approvals_are_pending(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager,
        executor: GovernanceExecutionManager, counter: ApplyCounter) -> None:
    created = store.create(approval_request(
        _approval(Approvers=["ann", "ben"], RequiredApprovals=2), request_id=RID))
    workflow.approve_requirement(RID, _id(created, "ann"), approver("ann"))
    lifecycle = LifecycleManager(store)

    error = _refused(store, InvalidOperationError,
                     lambda: lifecycle.approve(RID, MutationContext.user("mallory")))

    assert "PENDING" in str(error)
    assert store.get(RID).status == RequestStatus.PENDING
    assert counter.total() == 0


# -- case 5: approval groups never pool approvals across requirements -------------------------

def test_two_requirements_cannot_share_an_explicit_approval_group_id() -> None:
    with pytest.raises(InvalidApprovalConfigurationError) as raised:
        map_approval_requirements([
            _approval(Approver="ann", ApprovalGroupId="g"),
            _approval(Approvers=["ben", "cid"], RequiredApprovals=2, ApprovalGroupId="g"),
        ], request_id=RID)

    assert RID in str(raised.value) and "'g'" in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_a_generated_group_id_never_takes_an_explicit_one(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = store.create(approval_request(
        _approval(Approvers=["ben", "cid"], RequiredApprovals=2, StepOrder=1),
        _approval(Approver="ann", ApprovalGroupId="approval-group-1-0", StepOrder=1),
        request_id=RID))
    groups = {r.approver_id: r.approval_group_id for r in created.approval_requirements}
    assert groups["ann"] == "approval-group-1-0"
    assert groups["ben"] == groups["cid"] != "approval-group-1-0"

    after_ann = workflow.approve_requirement(RID, _id(created, "ann"), approver("ann"))
    after_ben = workflow.approve_requirement(RID, _id(created, "ben"), approver("ben"))

    statuses = {r.approver_id: r.status for r in after_ben.approval_requirements}
    assert after_ann.status == RequestStatus.PENDING
    assert statuses["cid"] == ApprovalRequirementStatus.PENDING
    assert after_ben.status == RequestStatus.PENDING


# -- case 6: a renewed approval is a new round ------------------------------------------------

def test_renewed_approval_reopens_every_requirement_and_the_workflow_approves_again(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager,
        executor: GovernanceExecutionManager, counter: ApplyCounter) -> None:
    created = store.create(approval_request(
        _approval(Approvers=["ann", "ben"], RequiredApprovals=1), request_id=RID))
    workflow.approve_requirement(RID, _id(created, "ann"), approver("ann"))

    stale = executor.execute_approved(
        RID, IncrementMutation(counter, RID), VersionedState(1, "11"),
        governance_context=governance_context(),
        strategy=ResolutionStrategy.REQUIRE_RENEWED_APPROVAL)

    renewed = stale.request
    assert (renewed.status, renewed.pending_reason) == (RequestStatus.PENDING,
                                                       PendingReason.APPROVAL)
    assert [r.status for r in renewed.approval_requirements] == [
        ApprovalRequirementStatus.PENDING] * 2
    assert all(r.decided_at is None and r.decision_context is None
               for r in renewed.approval_requirements)

    approved = workflow.approve_requirement(RID, _id(created, "ben"), approver("ben"))
    assert approved.status == RequestStatus.APPROVED
    done = executor.execute_approved(
        RID, IncrementMutation(counter, RID), VersionedState(1, "11"),
        governance_context=governance_context(), strategy=ResolutionStrategy.REJECT_STALE)
    assert done.request.status == RequestStatus.EXECUTED
    assert counter[RID] == 1


# -- case 7: actor identity -------------------------------------------------------------------

@pytest.mark.parametrize("spelling", ["SEC-ANA", " sec-ana ", "Sec-Ana\t"])
def test_one_actor_spelled_differently_counts_once_towards_a_quorum(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager, spelling: str) -> None:
    created = store.create(approval_request(
        _approval(Approvers=["sec-ana", "sec-ben"], ApproverRole="security",
                  RequiredApprovals=2), request_id=RID))
    workflow.approve_requirement(RID, _id(created, "sec-ana"), approver("sec-ana"))

    _refused(store, InvalidApprovalActionError, lambda: workflow.approve_requirement(
        RID, _id(created, "security"), approver(spelling, roles=["security"])))


@pytest.mark.parametrize("spelling", ["SEC-ANA", " sec-ana "])
def test_an_approver_id_matches_whatever_its_case_and_surrounding_blanks(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager, spelling: str) -> None:
    created = store.create(approval_request(_approval(Approver="sec-ana"), request_id=RID))

    approved = workflow.approve_requirement(RID, _id(created, "sec-ana"), approver(spelling))

    assert approved.status == RequestStatus.APPROVED


def test_one_requirement_cannot_list_the_same_approver_twice() -> None:
    with pytest.raises(InvalidApprovalConfigurationError, match="sec-ana"):
        map_approval_requirements([_approval(Approvers=["sec-ana", "SEC-ANA "],
                                             RequiredApprovals=2)], request_id=RID)


@pytest.mark.parametrize("key", ["ApprovalId", "ApproverId", "StepOrder", "ApprovalGroupId",
                                 "RequiredApprovals", "ApproverRole"])
def test_caller_metadata_cannot_rewrite_what_identifies_the_decision(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager, key: str) -> None:
    created = store.create(approval_request(_approval(Approver="ann"), request_id=RID))
    approval_id = _id(created, "ann")

    for call in (
        lambda: workflow.approve_requirement(RID, approval_id, approver("ann"),
                                             metadata={key: "forged"}),
        lambda: workflow.reject_requirement(RID, approval_id, approver("ann"),
                                            metadata={key: "forged"}),
        lambda: workflow.reject_requirement(
            RID, approval_id, approver("ann"),
            rejection=ApprovalRejectionReason(code="c", metadata={key: "forged"})),
    ):
        error = _refused(store, InvalidArgumentError, call)
        assert key in str(error)


def test_caller_metadata_adds_keys_of_its_own(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = store.create(approval_request(_approval(Approver="ann"), request_id=RID))
    approval_id = _id(created, "ann")

    approved = workflow.approve_requirement(RID, approval_id, approver("ann"),
                                            metadata={"Ticket": "SEC-1"})

    granted = approved.decisions[-2]
    assert granted.metadata["Ticket"] == "SEC-1"
    assert granted.metadata["ApprovalId"] == approval_id
    assert granted.metadata["ApproverId"] == "ann"


def test_caller_metadata_must_be_a_mapping(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = store.create(approval_request(_approval(Approver="ann"), request_id=RID))

    _refused(store, InvalidArgumentError, lambda: workflow.approve_requirement(
        RID, _id(created, "ann"), approver("ann"), metadata=["Ticket"]))  # type: ignore[arg-type]


@pytest.mark.parametrize("spelling", ["alice", "ALICE", " alice"])
def test_the_requester_cannot_approve_its_own_request(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager, spelling: str) -> None:
    # the requester of approval_request() is "alice", here also carrying the approving role
    created = store.create(approval_request(_approval(ApproverRole="lead"), request_id=RID))

    error = _refused(store, InvalidApprovalActionError, lambda: workflow.approve_requirement(
        RID, _id(created, "lead"), approver(spelling, roles=["lead"])))

    assert "requested" in str(error)


def test_the_requester_may_still_reject_its_own_request(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = store.create(approval_request(_approval(ApproverRole="lead"), request_id=RID))

    rejected = workflow.reject_requirement(RID, _id(created, "lead"),
                                           approver("alice", roles=["lead"]), "withdrawn")

    assert rejected.status == RequestStatus.REJECTED


def test_self_approval_is_allowed_only_when_the_manager_is_told_so(
        store: InMemoryRequestStore) -> None:
    workflow = ApprovalWorkflowManager(store, allow_self_approval=True)
    created = store.create(approval_request(_approval(ApproverRole="lead"), request_id=RID))

    approved = workflow.approve_requirement(RID, _id(created, "lead"),
                                            approver("alice", roles=["lead"]))

    assert approved.status == RequestStatus.APPROVED

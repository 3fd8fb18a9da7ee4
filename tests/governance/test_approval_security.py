"""Security of the approval workflow: every way of acting without the right to act is refused
with the documented error, and the stored request stays exactly as it was (same snapshot, same
revision).

Covered: actors who are not targets, approvals out of step order, decisions on expired
requirements, requirements decided twice, approval actions on requests that are not pending
approval (or are claimed by an execution), and actors claiming a role or a group through
context metadata they do not actually carry.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from governance import (
    ApprovalRejectionReason,
    ApprovalRequirementExpiredError,
    ApprovalRequirementStatus,
    ApprovalWorkflowManager,
    ExecutionClaim,
    GovernanceError,
    InMemoryRequestStore,
    InvalidApprovalActionError,
    InvalidApprovalWorkflowStateError,
    MutationContext,
    MutationRequest,
    PendingReason,
    PolicyRequirement,
    RequestStatus,
)
from governance.testing import BASE_TIME, FixedClock, approval_request, approver

NOW = BASE_TIME + timedelta(minutes=5)
DEADLINE = BASE_TIME + timedelta(hours=1)
RID = "req-secure"

Call = Callable[[], Any]


def _approval(**data: Any) -> PolicyRequirement:
    return PolicyRequirement(type="Approval", description="gate", data=data)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def workflow(store: InMemoryRequestStore, clock: FixedClock) -> ApprovalWorkflowManager:
    return ApprovalWorkflowManager(store, clock=clock)


def _create(store: InMemoryRequestStore, *requirements: PolicyRequirement) -> MutationRequest:
    return store.create(approval_request(*requirements, request_id=RID, now=BASE_TIME))


def _id(request: MutationRequest, target: str) -> str:
    for r in request.approval_requirements:
        if target in (r.approver_id, r.approver_role, r.approver_group):
            return r.approval_id
    raise AssertionError(target)


def _refused(store: InMemoryRequestStore, error: type[GovernanceError], call: Call,
             approval_id: str | None = None) -> GovernanceError:
    """Run ``call``; it must raise ``error`` naming the request (and approval), and leave the
    stored request the same object at the same revision."""
    before = store.get(RID)
    assert before is not None
    with pytest.raises(error) as raised:
        call()
    after = store.get(RID)
    assert after is before
    assert after.revision == before.revision
    assert RID in str(raised.value)
    if approval_id is not None:
        assert approval_id in str(raised.value)
        assert getattr(raised.value, "approval_id", None) == approval_id
    return raised.value


def _both_actions(workflow: ApprovalWorkflowManager, approval_id: str,
                  context: MutationContext) -> list[Call]:
    return [
        lambda: workflow.approve_requirement(RID, approval_id, context),
        lambda: workflow.reject_requirement(
            RID, approval_id, context,
            rejection=ApprovalRejectionReason(code="no", message="no")),
    ]


# -- actors who are not targets ---------------------------------------------------------------

@pytest.mark.parametrize(("target", "intruder"), [
    ("ann", approver("mallory")),
    ("ann", MutationContext.user("mallory", "ann")),
    # "ANN" and "ann " are ann: ids are compared through actor_identity (test_approval_rules)
    ("ann", approver("anne")),
    ("sre", approver("mallory")),
    ("sre", approver("mallory", roles=["dba"])),
    ("ops", approver("mallory", groups=["platform"])),
])
def test_an_actor_who_is_not_a_target_can_neither_approve_nor_reject(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager, target: str,
        intruder: MutationContext) -> None:
    created = _create(store, _approval(Approver="ann", StepOrder=1),
                      _approval(ApproverRole="sre", StepOrder=1),
                      _approval(ApproverGroup="ops", StepOrder=1))
    approval_id = _id(created, target)

    for call in _both_actions(workflow, approval_id, intruder):
        error = _refused(store, InvalidApprovalActionError, call, approval_id)
        assert "not a target" in str(error)


def test_an_actor_without_an_actor_id_cannot_act_even_with_the_right_role(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(ApproverRole="sre"))
    approval_id = _id(created, "sre")

    for actor_id in (None, "", "   "):
        context = MutationContext(actor_id=actor_id, metadata={"ActorRoles": ["sre"]})
        for call in _both_actions(workflow, approval_id, context):
            _refused(store, InvalidApprovalActionError, call, approval_id)


# -- step order -------------------------------------------------------------------------------

def test_a_later_step_cannot_be_approved_or_rejected_before_the_current_one(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(Approver="ann", StepOrder=1),
                      _approval(Approver="ben", StepOrder=2),
                      _approval(Approver="cat", StepOrder=3))

    for target in ("ben", "cat"):
        approval_id = _id(created, target)
        for call in _both_actions(workflow, approval_id, approver(target)):
            _refused(store, InvalidApprovalActionError, call, approval_id)


def test_a_step_stays_closed_while_any_requirement_of_the_previous_step_is_pending(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(Approver="ann", StepOrder=1),
                      _approval(Approvers=["ben", "cat"], RequiredApprovals=2, StepOrder=1),
                      _approval(Approver="dan", StepOrder=2))
    workflow.approve_requirement(RID, _id(created, "ann"), approver("ann"))
    workflow.approve_requirement(RID, _id(created, "ben"), approver("ben"))

    approval_id = _id(created, "dan")
    for call in _both_actions(workflow, approval_id, approver("dan")):
        error = _refused(store, InvalidApprovalActionError, call, approval_id)
        assert "step 2" in str(error)


# -- expiry -----------------------------------------------------------------------------------

@pytest.mark.parametrize("late_by", ["context", "clock", "both"])
def test_an_expired_requirement_can_neither_be_approved_nor_rejected(
        store: InMemoryRequestStore, clock: FixedClock, workflow: ApprovalWorkflowManager,
        late_by: str) -> None:
    created = _create(store, _approval(Approver="ann", ExpiresAt=DEADLINE))
    approval_id = _id(created, "ann")
    if late_by in ("clock", "both"):
        clock.now = DEADLINE + timedelta(minutes=1)
    stamp = DEADLINE if late_by in ("context", "both") else BASE_TIME

    for call in _both_actions(workflow, approval_id, approver("ann", timestamp=stamp)):
        error = _refused(store, ApprovalRequirementExpiredError, call, approval_id)
        assert error.expires_at == DEADLINE  # type: ignore[attr-defined]


# -- decided twice ----------------------------------------------------------------------------

def test_an_approved_requirement_cannot_be_decided_again_by_anyone(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(Approvers=["ann", "ben"], RequiredApprovals=2),
                      _approval(Approver="cat"))
    approval_id = _id(created, "ann")
    workflow.approve_requirement(RID, approval_id, approver("ann"))

    for actor in (approver("ann"), approver("ben")):
        for call in _both_actions(workflow, approval_id, actor):
            error = _refused(store, InvalidApprovalActionError, call, approval_id)
            assert "already APPROVED" in str(error)


def test_a_requirement_satisfied_by_quorum_cannot_be_decided(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(Approvers=["ann", "ben"]), _approval(Approver="cat"))
    workflow.approve_requirement(RID, _id(created, "ann"), approver("ann"))
    approval_id = _id(created, "ben")
    assert store.get(RID).approval_requirements[1].status == ApprovalRequirementStatus.SATISFIED

    for call in _both_actions(workflow, approval_id, approver("ben")):
        error = _refused(store, InvalidApprovalActionError, call, approval_id)
        assert "already SATISFIED" in str(error)


def test_one_actor_cannot_approve_twice_within_one_quorum_group(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(Approvers=["ann"], ApproverRole="sre",
                                       ApproverGroup="ops", RequiredApprovals=2))
    ann = approver("ann", roles=["sre"], groups=["ops"])
    workflow.approve_requirement(RID, _id(created, "ann"), ann)

    for target in ("sre", "ops"):
        approval_id = _id(created, target)
        _refused(store, InvalidApprovalActionError,
                 lambda approval_id=approval_id: workflow.approve_requirement(  # type: ignore[misc]
                     RID, approval_id, ann), approval_id)


# -- requests that are not pending approval ---------------------------------------------------

def _in_state(request: MutationRequest, status: RequestStatus,
              reason: PendingReason | None) -> MutationRequest:
    return request.model_copy(update={"lifecycle": request.lifecycle.model_copy(
        update={"status": status, "pending_reason": reason})})


NOT_OPEN = [
    *[(status, None) for status in RequestStatus if status != RequestStatus.PENDING],
    *[(RequestStatus.PENDING, reason) for reason in PendingReason
      if reason != PendingReason.APPROVAL],
    (RequestStatus.PENDING, None),
]


@pytest.mark.parametrize(("status", "reason"), NOT_OPEN,
                         ids=[f"{s.name}-{r.name if r else 'none'}" for s, r in NOT_OPEN])
def test_no_approval_action_touches_a_request_that_is_not_pending_approval(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager, status: RequestStatus,
        reason: PendingReason | None) -> None:
    request = approval_request(_approval(Approver="ann"), request_id=RID, now=BASE_TIME)
    # The store refuses to create an APPROVED request whose approvals are pending; the
    # compare-and-set trusts its caller.
    store.try_store(_in_state(store.create(request), status, reason), 0)
    approval_id = request.approval_requirements[0].approval_id

    for call in _both_actions(workflow, approval_id, approver("ann")):
        error = _refused(store, InvalidApprovalWorkflowStateError, call)
        assert status.name in str(error)


def test_no_approval_action_touches_a_request_without_approval_requirements(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    request = approval_request(_approval(Approver="ann"), request_id=RID, now=BASE_TIME)
    approval_id = request.approval_requirements[0].approval_id
    store.create(request.model_copy(update={"approval_requirements": ()}))

    for call in _both_actions(workflow, approval_id, approver("ann")):
        _refused(store, InvalidApprovalWorkflowStateError, call)


def test_no_approval_action_touches_a_request_claimed_by_an_execution(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    request = approval_request(_approval(Approver="ann"), request_id=RID, now=BASE_TIME)
    claim = ExecutionClaim(claim_id="claim-7", claimed_at=BASE_TIME, actor_id="runner")
    # A claim only ever comes from resolution; written here straight through the store's
    # compare-and-set, which trusts its caller.
    store.try_store(store.create(request).model_copy(update={
        "execution": request.execution.model_copy(update={"claim": claim})}), 0)

    for call in _both_actions(workflow, request.approval_requirements[0].approval_id,
                              approver("ann")):
        error = _refused(store, InvalidApprovalWorkflowStateError, call)
        assert "claim-7" in str(error)


# -- role and group claims the actor does not carry -------------------------------------------

FORGED_ROLE_CLAIMS: dict[str, dict[str, Any]] = {
    "roles as a bare string": {"ActorRoles": "sre"},
    "roles as a string containing the role": {"ActorRoles": "sre-lead,dba"},
    "roles as a mapping": {"ActorRoles": {"sre": True}},
    "roles as bytes": {"ActorRoles": b"sre"},
    "roles nested in a list": {"ActorRoles": [["sre"]]},
    "role in another case": {"ActorRoles": ["SRE"]},
    "role with surrounding spaces": {"ActorRoles": [" sre "]},
    "key in lower camel case": {"actorRoles": ["sre"]},
    "key in lower case": {"actorroles": ["sre"]},
    "key in snake case": {"actor_roles": ["sre"]},
    "key in the singular": {"ActorRole": ["sre"]},
    "role listed as a group": {"ActorGroups": ["sre"]},
    "another actor's id in metadata": {"ActorId": "ann", "ApproverId": "ann"},
    "role as a single key": {"sre": True, "Role": "sre"},
}

FORGED_GROUP_CLAIMS: dict[str, dict[str, Any]] = {
    "groups as a bare string": {"ActorGroups": "ops"},
    "key in lower case": {"actorgroups": ["ops"]},
    "group listed as a role": {"ActorRoles": ["ops"]},
    "group in another case": {"ActorGroups": ["Ops"]},
}


@pytest.mark.parametrize("metadata", list(FORGED_ROLE_CLAIMS.values()),
                         ids=list(FORGED_ROLE_CLAIMS))
def test_a_role_claimed_through_metadata_the_actor_does_not_carry_is_refused(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager,
        metadata: dict[str, Any]) -> None:
    created = _create(store, _approval(Approver="ann", ApproverRole="sre"))
    mallory = MutationContext.user("mallory", "Mallory", metadata=metadata)

    for target in ("ann", "sre"):
        approval_id = _id(created, target)
        for call in _both_actions(workflow, approval_id, mallory):
            _refused(store, InvalidApprovalActionError, call, approval_id)


@pytest.mark.parametrize("metadata", list(FORGED_GROUP_CLAIMS.values()),
                         ids=list(FORGED_GROUP_CLAIMS))
def test_a_group_claimed_through_metadata_the_actor_does_not_carry_is_refused(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager,
        metadata: dict[str, Any]) -> None:
    created = _create(store, _approval(ApproverGroup="ops"))
    approval_id = _id(created, "ops")
    mallory = MutationContext.user("mallory", metadata=metadata)

    for call in _both_actions(workflow, approval_id, mallory):
        _refused(store, InvalidApprovalActionError, call, approval_id)


def test_the_documented_claims_do_grant_the_role_and_the_group(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    """The control case for the forged claims above: the same actor, correctly described."""
    created = _create(store, _approval(ApproverRole="sre"), _approval(ApproverGroup="ops"))
    mallory = MutationContext.user("mallory", metadata={"ActorRoles": ["sre"],
                                                        "ActorGroups": ["ops"]})

    workflow.approve_requirement(RID, _id(created, "sre"), mallory)
    approved = workflow.approve_requirement(RID, _id(created, "ops"), mallory)

    assert approved.status == RequestStatus.APPROVED

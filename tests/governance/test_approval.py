"""The approval workflow: mapping policy requirements, ``ApprovalWorkflowManager`` approvals,
rejections, quorums, ordered steps, the expiry sweep, and the helpers around them."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from governance import (
    ACTOR_GROUPS_KEY,
    ACTOR_ROLES_KEY,
    ApprovalRejectionReason,
    ApprovalRequirement,
    ApprovalRequirementExpiredError,
    ApprovalRequirementNotFoundError,
    ApprovalRequirementStatus,
    ApprovalWorkflowManager,
    DecisionCategory,
    ExecutionClaim,
    GovernanceError,
    GovernanceExecutionManager,
    InMemoryRequestStore,
    InvalidApprovalActionError,
    InvalidApprovalConfigurationError,
    InvalidApprovalWorkflowStateError,
    InvalidArgumentError,
    MissingArgumentError,
    MutationContext,
    MutationRequest,
    PendingReason,
    PolicyRequirement,
    RequestConcurrencyError,
    RequestNotFoundError,
    RequestStatus,
    ResolutionStrategy,
    actor_groups,
    actor_roles,
    approval_decision_metadata,
    current_approval_step,
    is_approval_target,
    is_fully_approved,
    map_approval_requirements,
)
from governance.testing import (
    BASE_TIME,
    ApplyCounter,
    FixedClock,
    IncrementMutation,
    RacingStore,
    VersionedState,
    approval_request,
    approver,
    governance_context,
    pending_request,
)

DEADLINE = BASE_TIME + timedelta(hours=1)


def _approval(**data: Any) -> PolicyRequirement:
    return PolicyRequirement(type="Approval", description=data.pop("description", "sign-off"),
                             data=data)


def _codes(request: MutationRequest) -> list[tuple[DecisionCategory, str]]:
    return [(d.category, d.code) for d in request.decisions]


def _by_target(request: MutationRequest, target: str) -> ApprovalRequirement:
    for requirement in request.approval_requirements:
        if target in (requirement.approver_id, requirement.approver_role,
                      requirement.approver_group):
            return requirement
    raise AssertionError(f"no requirement targets {target!r}")


def _statuses(request: MutationRequest) -> list[ApprovalRequirementStatus]:
    return [r.status for r in request.approval_requirements]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(BASE_TIME + timedelta(minutes=5))


@pytest.fixture
def workflow(store: InMemoryRequestStore, clock: FixedClock) -> ApprovalWorkflowManager:
    return ApprovalWorkflowManager(store, clock=clock)


def _create(store: InMemoryRequestStore, *requirements: PolicyRequirement,
            request_id: str = "req-approval") -> MutationRequest:
    return store.create(approval_request(*requirements, request_id=request_id, now=BASE_TIME))


# -- mapping policy requirements --------------------------------------------------------------

def test_mapping_makes_one_requirement_per_approver_id_skipping_blank_ids() -> None:
    mapped = map_approval_requirements([_approval(Approvers=["ann", "", "  ", None, "ben"],
                                                  RequiredApprovals=2)])

    assert [a.approver_id for a in mapped] == ["ann", "ben"]
    assert all(a.approver_role is None and a.approver_group is None for a in mapped)


def test_mapping_reads_a_single_approver_when_no_approver_list_is_given() -> None:
    (only,) = map_approval_requirements([_approval(Approver="ann")])

    assert only.approver_id == "ann"
    assert only.approval_group_id is None
    assert only.required_approvals == 1
    assert only.status == ApprovalRequirementStatus.PENDING


def test_mapping_turns_a_role_and_a_group_into_targets_without_an_approver_id() -> None:
    mapped = map_approval_requirements([_approval(ApproverRole="sre", ApproverGroup="platform")])

    assert [(a.approver_id, a.approver_role, a.approver_group) for a in mapped] == [
        ("", "sre", None), ("", None, "platform")]


def test_several_targets_share_a_generated_approval_group_per_requirement() -> None:
    mapped = map_approval_requirements([
        _approval(Approver="ann"),
        _approval(Approvers=["ben", "cat"]),
        _approval(ApproverRole="sre", ApproverGroup="ops"),
    ])

    assert [a.approval_group_id for a in mapped] == [
        None, "approval-group-2-1", "approval-group-2-1", "approval-group-3-2",
        "approval-group-3-2"]


def test_an_explicit_group_id_or_its_alias_names_the_approval_group() -> None:
    mapped = map_approval_requirements([
        _approval(Approvers=["ann", "ben"], ApprovalGroupId="owners"),
        _approval(Approvers=["cat", "dan"], GroupId="reviewers"),
        _approval(Approver="eve", GroupId="solo"),
    ])

    assert [a.approval_group_id for a in mapped] == [
        "owners", "owners", "reviewers", "reviewers", "solo"]


def test_steps_default_to_the_position_among_approval_requirements_only() -> None:
    mapped = map_approval_requirements([
        PolicyRequirement.two_factor(),
        _approval(Approver="ann"),
        PolicyRequirement(type="approval", description="wrong case is not an approval",
                          data={"Approver": "x"}),
        _approval(Approver="ben"),
        _approval(Approver="cat", StepOrder=7),
    ])

    assert [(a.approver_id, a.step_order) for a in mapped] == [("ann", 1), ("ben", 2),
                                                                ("cat", 7)]


def test_a_quorum_is_read_from_required_approvals_or_its_quorum_alias() -> None:
    explicit = map_approval_requirements([_approval(Approvers=["a", "b", "c"],
                                                    RequiredApprovals=3, Quorum=1)])
    alias = map_approval_requirements([_approval(Approvers=["a", "b", "c"], Quorum=2)])

    assert {a.required_approvals for a in explicit} == {3}
    assert {a.required_approvals for a in alias} == {2}


def test_expiry_is_read_as_a_datetime_or_an_iso_string() -> None:
    mapped = map_approval_requirements([
        _approval(Approver="ann", ExpiresAt=DEADLINE),
        _approval(Approver="ben", ExpiresAt=DEADLINE.isoformat()),
        _approval(Approver="cat"),
    ])

    assert [a.expires_at for a in mapped] == [DEADLINE, DEADLINE, None]


def test_mapping_copies_description_name_and_reason_onto_every_target() -> None:
    mapped = map_approval_requirements([_approval(
        description="Security review", Approvers=["ann"], ApproverRole="sec",
        ApproverName="Security", Reason="touches secrets")])

    assert {(a.type, a.description, a.approver_name) for a in mapped} == {
        ("Approval", "Security review", "Security")}
    assert all(a.metadata == {"RequirementDescription": "Security review",
                              "RequirementReason": "touches secrets"} for a in mapped)
    assert map_approval_requirements([_approval(Approver="x")])[0].metadata[
        "RequirementReason"] == ""


def test_mapping_reads_an_object_with_attributes_and_ignores_none_entries() -> None:
    requirement = PolicyRequirement(
        type="Approval", description="attrs",
        data=SimpleNamespace(Approvers=("ann", "ben"), Quorum=2, StepOrder=2, ExpiresAt=None))

    mapped = map_approval_requirements([None, requirement])  # type: ignore[list-item]

    assert [(a.approver_id, a.step_order, a.required_approvals) for a in mapped] == [
        ("ann", 2, 2), ("ben", 2, 2)]


def test_mapping_nothing_but_other_requirement_types_gives_no_approval_requirement() -> None:
    assert map_approval_requirements([PolicyRequirement.two_factor()]) == ()
    assert map_approval_requirements([]) == ()


@pytest.mark.parametrize(("data", "fragment"), [
    ({}, "no approver, role or group"),
    ({"Approvers": ["", " "]}, "no approver, role or group"),
    ({"Approver": "ann", "RequiredApprovals": 0}, "asks for 0 approvals"),
    ({"Approver": "ann", "Quorum": -2}, "asks for -2 approvals"),
    ({"Approvers": ["ann", "ben"], "RequiredApprovals": 3}, "only 2 target"),
    ({"Approver": "ann", "ApproverRole": "sre", "ApproverGroup": "ops", "Quorum": 4},
     "only 3 target"),
    ({"Approver": "ann", "ExpiresAt": "soon"}, "'soon' is not a date"),
])
def test_an_impossible_configuration_is_refused_naming_the_request_and_the_requirement(
        data: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidApprovalConfigurationError) as raised:
        map_approval_requirements([_approval(description="ops gate", **data)],
                                  request_id="req-config")

    assert isinstance(raised.value, GovernanceError)
    assert isinstance(raised.value, RuntimeError)
    assert raised.value.request_id == "req-config"
    assert "req-config" in str(raised.value)
    assert fragment in str(raised.value)
    if "date" not in fragment:
        assert "ops gate" in str(raised.value)


def test_a_requirement_without_data_has_no_target() -> None:
    with pytest.raises(InvalidApprovalConfigurationError):
        map_approval_requirements([PolicyRequirement(type="Approval", description="empty")])


def test_a_quorum_equal_to_the_number_of_targets_is_accepted() -> None:
    mapped = map_approval_requirements([_approval(Approvers=["a", "b"], ApproverRole="r",
                                                  RequiredApprovals=3)])

    assert len(mapped) == 3


# -- helpers ----------------------------------------------------------------------------------

def test_actor_roles_and_groups_read_collections_under_the_documented_keys() -> None:
    context = MutationContext.user("ann", metadata={
        ACTOR_ROLES_KEY: ("sre", "", 7, "dba"), ACTOR_GROUPS_KEY: {"ops"}})

    assert actor_roles(context) == frozenset({"sre", "dba"})
    assert actor_groups(context) == frozenset({"ops"})
    assert actor_roles(MutationContext.user("ben")) == frozenset()


@pytest.mark.parametrize("value", ["sre", b"sre", {"sre": True}, 42, None])
def test_actor_roles_given_in_any_other_shape_carry_no_role(value: Any) -> None:
    assert actor_roles(MutationContext.user("ann", metadata={"ActorRoles": value})) == frozenset()


def test_an_actor_is_a_target_by_its_id_its_roles_or_its_groups() -> None:
    by_id = ApprovalRequirement(approver_id="ann")
    by_role = ApprovalRequirement(approver_role="sre")
    by_group = ApprovalRequirement(approver_group="ops")
    ann = approver("ann", roles=["sre"], groups=["ops"])
    ben = approver("ben")

    assert [is_approval_target(r, ann) for r in (by_id, by_role, by_group)] == [True] * 3
    assert [is_approval_target(r, ben) for r in (by_id, by_role, by_group)] == [False] * 3


def test_the_current_step_is_the_lowest_step_still_pending() -> None:
    request = approval_request(_approval(Approver="ann", StepOrder=3),
                               _approval(Approver="ben", StepOrder=1))
    first, second = request.approval_requirements
    decided = request.model_copy(update={"approval_requirements": (
        first, second.model_copy(update={"status": ApprovalRequirementStatus.APPROVED}))})
    done = decided.model_copy(update={"approval_requirements": tuple(
        r.model_copy(update={"status": ApprovalRequirementStatus.SATISFIED})
        for r in decided.approval_requirements)})

    assert current_approval_step(request) == 1
    assert current_approval_step(decided) == 3
    assert current_approval_step(done) is None
    assert not is_fully_approved(decided)
    assert is_fully_approved(done)
    assert not is_fully_approved(pending_request())


def test_decision_metadata_lists_the_documented_keys_and_the_caller_only_adds() -> None:
    requirement = ApprovalRequirement(approval_id="ap-1", approver_role="sre", step_order=2,
                                      approval_group_id="g", required_approvals=2,
                                      expires_at=DEADLINE)
    rejection = ApprovalRejectionReason(code="freeze", message="m", metadata={"Until": "May"})

    data = approval_decision_metadata(requirement, rejection, {"StepOrder": "overridden",
                                                               "Ticket": "T-1"})

    assert data == {
        "ApprovalId": "ap-1", "ApproverId": "", "ApproverRole": "sre", "ApproverGroup": "",
        "StepOrder": 2, "ApprovalGroupId": "g", "RequiredApprovals": 2,
        "ApprovalExpiresAt": DEADLINE.isoformat(), "RejectionCode": "freeze",
        "RejectionCategory": "", "Until": "May", "Ticket": "T-1"}
    assert "ApprovalExpiresAt" not in approval_decision_metadata(ApprovalRequirement())


# -- approving --------------------------------------------------------------------------------

def test_the_only_approval_approves_the_request(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager,
        clock: FixedClock) -> None:
    created = _create(store)
    bob = approver("bob", reason="looks right")

    approved = workflow.approve_requirement("req-approval",
                                            created.approval_requirements[0].approval_id, bob)

    assert approved == store.get("req-approval")
    assert approved.revision == 1
    assert approved.status == RequestStatus.APPROVED
    assert approved.pending_reason is None
    assert approved.updated_at == clock.now
    assert _codes(approved)[len(created.decisions):] == [
        (DecisionCategory.APPROVAL, "GRANTED"), (DecisionCategory.LIFECYCLE, "APPROVED")]
    assert approved.decisions[:len(created.decisions)] == created.decisions
    granted, lifecycle = approved.decisions[-2:]
    assert granted.reason == "looks right"
    assert granted.context == bob
    assert granted.timestamp == lifecycle.timestamp == clock.now
    (requirement,) = approved.approval_requirements
    assert requirement.status == ApprovalRequirementStatus.APPROVED
    assert requirement.decided_at == clock.now
    assert requirement.decision_context == bob
    assert requirement.decision_reason == "looks right"


def test_an_explicit_reason_wins_over_the_context_reason(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store)

    approved = workflow.approve_requirement(
        "req-approval", created.approval_requirements[0].approval_id,
        approver("bob", reason="context reason"), "explicit reason")

    assert approved.decisions[-2].reason == "explicit reason"
    assert approved.approval_requirements[0].decision_reason == "explicit reason"


def test_the_granted_decision_carries_the_documented_metadata_and_the_callers(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(Approvers=["ann", "ben"], Quorum=2, StepOrder=1,
                                       ExpiresAt=DEADLINE, GroupId="owners"))
    ann = _by_target(created, "ann")

    updated = workflow.approve_requirement("req-approval", ann.approval_id, approver("ann"),
                                           metadata={"Ticket": "OPS-1"})

    assert updated.decisions[-1].metadata == {
        "ApprovalId": ann.approval_id, "ApproverId": "ann", "ApproverRole": "",
        "ApproverGroup": "", "StepOrder": 1, "ApprovalGroupId": "owners",
        "RequiredApprovals": 2, "ApprovalExpiresAt": DEADLINE.isoformat(), "Ticket": "OPS-1"}


def test_approving_one_of_several_steps_keeps_the_request_pending_for_approval(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(Approver="ann"), _approval(Approver="ben"))

    updated = workflow.approve_requirement(
        "req-approval", _by_target(created, "ann").approval_id, approver("ann"))

    assert updated.status == RequestStatus.PENDING
    assert updated.pending_reason == PendingReason.APPROVAL
    assert _statuses(updated) == [ApprovalRequirementStatus.APPROVED,
                                  ApprovalRequirementStatus.PENDING]
    assert _codes(updated)[-1] == (DecisionCategory.APPROVAL, "GRANTED")
    assert current_approval_step(updated) == 2


def test_steps_are_decided_in_order_and_the_last_one_approves_the_request(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(Approver="cat", StepOrder=3),
                      _approval(Approver="ann", StepOrder=1),
                      _approval(Approver="ben", StepOrder=2))

    for actor in ("ann", "ben", "cat"):
        updated = workflow.approve_requirement(
            "req-approval", _by_target(created, actor).approval_id, approver(actor))

    assert updated.status == RequestStatus.APPROVED
    assert updated.revision == 3
    assert [d.metadata.get("StepOrder") for d in updated.decisions
            if d.code == "GRANTED"] == [1, 2, 3]


def test_approving_a_later_step_before_the_current_one_is_refused(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(Approver="ann"), _approval(Approver="ben"))
    later = _by_target(created, "ben")

    with pytest.raises(InvalidApprovalActionError) as raised:
        workflow.approve_requirement("req-approval", later.approval_id, approver("ben"))

    assert raised.value.approval_id == later.approval_id
    assert "step 2" in str(raised.value) and "step 1" in str(raised.value)
    assert store.get("req-approval") is created


def test_two_requirements_in_one_step_both_need_approval(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(Approver="ann", StepOrder=1),
                      _approval(Approver="ben", StepOrder=1))

    first = workflow.approve_requirement(
        "req-approval", _by_target(created, "ben").approval_id, approver("ben"))
    second = workflow.approve_requirement(
        "req-approval", _by_target(created, "ann").approval_id, approver("ann"))

    assert first.status == RequestStatus.PENDING
    assert second.status == RequestStatus.APPROVED


def test_a_two_of_three_quorum_satisfies_the_third_member_on_the_second_approval(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager,
        clock: FixedClock) -> None:
    created = _create(store, _approval(Approvers=["ann", "ben"], ApproverRole="sre",
                                       RequiredApprovals=2))

    first = workflow.approve_requirement(
        "req-approval", _by_target(created, "ann").approval_id, approver("ann"))
    clock.advance()
    second = workflow.approve_requirement(
        "req-approval", _by_target(created, "sre").approval_id,
        approver("zed", roles=["sre"]))

    assert first.status == RequestStatus.PENDING
    assert _codes(first)[-1] == (DecisionCategory.APPROVAL, "GRANTED")
    assert second.status == RequestStatus.APPROVED
    assert _statuses(second) == [ApprovalRequirementStatus.APPROVED,
                                 ApprovalRequirementStatus.SATISFIED,
                                 ApprovalRequirementStatus.APPROVED]
    assert _codes(second)[len(first.decisions):] == [
        (DecisionCategory.APPROVAL, "GRANTED"),
        (DecisionCategory.APPROVAL, "QUORUM_SATISFIED"),
        (DecisionCategory.LIFECYCLE, "APPROVED")]
    quorum = second.decisions[-2]
    assert quorum.metadata == {"ApprovalGroupId": "approval-group-1-0", "RequiredApprovals": 2}
    assert "approval-group-1-0" in (quorum.reason or "")
    satisfied = _by_target(second, "ben")
    assert satisfied.decided_at == clock.now
    assert "quorum" in (satisfied.decision_reason or "")


def test_a_one_of_n_group_is_satisfied_by_its_first_approval(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(Approvers=["ann", "ben"], ApproverGroup="ops"),
                      _approval(Approver="cat"))

    updated = workflow.approve_requirement(
        "req-approval", _by_target(created, "ops").approval_id, approver("dan", groups=["ops"]))

    assert _statuses(updated) == [ApprovalRequirementStatus.SATISFIED,
                                  ApprovalRequirementStatus.SATISFIED,
                                  ApprovalRequirementStatus.APPROVED,
                                  ApprovalRequirementStatus.PENDING]
    assert updated.status == RequestStatus.PENDING
    assert current_approval_step(updated) == 2
    assert _codes(updated)[-2:] == [(DecisionCategory.APPROVAL, "GRANTED"),
                                    (DecisionCategory.APPROVAL, "QUORUM_SATISFIED")]


def test_an_all_of_group_records_its_quorum_when_the_last_member_approves(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(Approvers=["ann", "ben"], RequiredApprovals=2))

    workflow.approve_requirement("req-approval", _by_target(created, "ann").approval_id,
                                 approver("ann"))
    updated = workflow.approve_requirement(
        "req-approval", _by_target(created, "ben").approval_id, approver("ben"))

    assert _statuses(updated) == [ApprovalRequirementStatus.APPROVED] * 2
    assert [c for _, c in _codes(updated)][-3:] == ["GRANTED", "QUORUM_SATISFIED", "APPROVED"]
    assert updated.status == RequestStatus.APPROVED


def test_a_satisfied_member_cannot_be_approved_afterwards(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(Approvers=["ann", "ben"]), _approval(Approver="cat"))
    after = workflow.approve_requirement(
        "req-approval", _by_target(created, "ann").approval_id, approver("ann"))

    with pytest.raises(InvalidApprovalActionError) as raised:
        workflow.approve_requirement("req-approval", _by_target(created, "ben").approval_id,
                                     approver("ben"))

    assert "already SATISFIED" in str(raised.value)
    assert store.get("req-approval") is after


def test_one_actor_cannot_fill_two_places_of_a_quorum(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(Approvers=["ann", "ben"], ApproverRole="sre",
                                       RequiredApprovals=2))
    ann = approver("ann", roles=["sre"])
    after = workflow.approve_requirement("req-approval",
                                         _by_target(created, "ann").approval_id, ann)

    with pytest.raises(InvalidApprovalActionError) as raised:
        workflow.approve_requirement("req-approval", _by_target(created, "sre").approval_id,
                                     ann)

    assert "distinct approvers" in str(raised.value)
    assert store.get("req-approval") is after


def test_one_actor_may_approve_different_steps(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(Approvers=["ann", "ben"]),
                      _approval(ApproverRole="sre"))
    ann = approver("ann", roles=["sre"])

    workflow.approve_requirement("req-approval", _by_target(created, "ann").approval_id, ann)
    updated = workflow.approve_requirement("req-approval",
                                           _by_target(created, "sre").approval_id, ann)

    assert updated.status == RequestStatus.APPROVED


def test_roles_and_groups_are_accepted_as_any_collection_of_names(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(ApproverRole="sre"), _approval(ApproverGroup="ops"))
    by_role = MutationContext.user("ann", metadata={"ActorRoles": ("dba", "sre")})
    by_group = MutationContext.user("ben", metadata={"ActorGroups": frozenset({"ops"})})

    workflow.approve_requirement("req-approval", _by_target(created, "sre").approval_id,
                                 by_role)
    updated = workflow.approve_requirement("req-approval",
                                           _by_target(created, "ops").approval_id, by_group)

    assert updated.status == RequestStatus.APPROVED


def test_an_approved_request_round_trips_through_json(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    # The policy requirement's free-form data round-trips as JSON values: an ISO string.
    created = _create(store, _approval(Approvers=["ann", "ben"], ApproverRole="sre",
                                       ExpiresAt=DEADLINE.isoformat()))
    approved = workflow.approve_requirement(
        "req-approval", _by_target(created, "sre").approval_id, approver("x", roles=["sre"]))

    assert MutationRequest.model_validate_json(approved.model_dump_json()) == approved


def test_a_request_approved_by_the_workflow_executes_through_governed_execution(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager,
        executor: GovernanceExecutionManager, counter: ApplyCounter) -> None:
    created = _create(store, _approval(Approver="ann"), _approval(Approvers=["ben", "cat"]))
    workflow.approve_requirement("req-approval", _by_target(created, "ann").approval_id,
                                 approver("ann"))
    workflow.approve_requirement("req-approval", _by_target(created, "cat").approval_id,
                                 approver("cat"))

    result = executor.execute_approved(
        "req-approval", IncrementMutation(counter, "req-approval"), VersionedState(1, "10"),
        governance_context=governance_context(), strategy=ResolutionStrategy.REJECT_STALE)

    assert result.was_executed
    assert result.request.status == RequestStatus.EXECUTED
    assert counter["req-approval"] == 1
    assert [c for _, c in _codes(result.request)] == [
        "SUBMITTED", "PENDING", "REQUESTED", "GRANTED", "GRANTED", "QUORUM_SATISFIED",
        "APPROVED", "VALIDATED", "EXECUTED"]


# -- rejecting --------------------------------------------------------------------------------

def test_a_rejection_rejects_the_request_and_keeps_the_structured_reason(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager,
        clock: FixedClock) -> None:
    created = store.create(approval_request(_approval(Approver="ann"),
                                            _approval(Approver="ben"),
                                            expires_at=DEADLINE, now=BASE_TIME))
    rejection = ApprovalRejectionReason(code="freeze", category="policy",
                                        message="change freeze until Monday",
                                        metadata={"Until": "2030-01-07"})
    ann = approver("ann", reason="context reason")
    target = _by_target(created, "ann")

    rejected = workflow.reject_requirement("req-approval", target.approval_id, ann,
                                           rejection=rejection, metadata={"Ticket": "T-1"})

    assert rejected == store.get("req-approval")
    assert rejected.revision == 1
    assert rejected.status == RequestStatus.REJECTED
    assert rejected.pending_reason is None
    assert rejected.expires_at is None
    assert rejected.updated_at == clock.now
    requirement = _by_target(rejected, "ann")
    assert requirement.status == ApprovalRequirementStatus.REJECTED
    assert requirement.rejection == rejection
    assert requirement.decision_reason == "change freeze until Monday"
    assert requirement.decided_at == clock.now
    assert _by_target(rejected, "ben").status == ApprovalRequirementStatus.PENDING
    assert _codes(rejected)[-2:] == [(DecisionCategory.APPROVAL, "REJECTED"),
                                     (DecisionCategory.LIFECYCLE, "REJECTED")]
    approval_decision, lifecycle_decision = rejected.decisions[-2:]
    assert approval_decision.reason == lifecycle_decision.reason == "change freeze until Monday"
    assert approval_decision.metadata == {
        "ApprovalId": target.approval_id, "ApproverId": "ann", "ApproverRole": "",
        "ApproverGroup": "", "StepOrder": 1, "ApprovalGroupId": "", "RequiredApprovals": 1,
        "RejectionCode": "freeze", "RejectionCategory": "policy", "Until": "2030-01-07",
        "Ticket": "T-1"}


@pytest.mark.parametrize(("reason", "message", "context_reason", "expected", "lifecycle"), [
    ("explicit", "from rejection", "from context", "explicit", "explicit"),
    (None, "from rejection", "from context", "from rejection", "from rejection"),
    (None, "", "from context", "from context", "from context"),
    (None, None, None, None, "An approver rejected the request"),
])
def test_the_rejection_reason_falls_back_from_reason_to_message_to_context(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager, reason: str | None,
        message: str | None, context_reason: str | None, expected: str | None,
        lifecycle: str) -> None:
    created = _create(store)
    rejection = None if message is None else ApprovalRejectionReason(code="c", message=message)

    rejected = workflow.reject_requirement(
        "req-approval", created.approval_requirements[0].approval_id,
        approver("bob", reason=context_reason), reason, rejection)

    assert rejected.decisions[-2].reason == expected
    assert rejected.approval_requirements[0].decision_reason == expected
    assert rejected.decisions[-1].reason == lifecycle
    assert ("RejectionCode" in rejected.decisions[-2].metadata) == (rejection is not None)


def test_a_rejected_request_refuses_any_further_approval_action(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(Approver="ann"), _approval(Approver="ben"))
    rejected = workflow.reject_requirement(
        "req-approval", _by_target(created, "ann").approval_id, approver("ann"))

    with pytest.raises(InvalidApprovalWorkflowStateError):
        workflow.approve_requirement("req-approval", _by_target(created, "ben").approval_id,
                                     approver("ben"))

    assert store.get("req-approval") is rejected


def test_a_rejection_also_respects_targets_and_steps(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(Approver="ann"), _approval(Approver="ben"))

    with pytest.raises(InvalidApprovalActionError):
        workflow.reject_requirement("req-approval", _by_target(created, "ann").approval_id,
                                    approver("mallory"))
    with pytest.raises(InvalidApprovalActionError):
        workflow.reject_requirement("req-approval", _by_target(created, "ben").approval_id,
                                    approver("ben"))

    assert store.get("req-approval") is created


# -- validation order -------------------------------------------------------------------------

@pytest.mark.parametrize("action", ["approve", "reject"])
@pytest.mark.parametrize(("request_id", "approval_id"), [("", "ap"), ("  ", "ap"),
                                                         (None, "ap"), ("req-approval", ""),
                                                         ("req-approval", " "),
                                                         ("req-approval", None)])
def test_blank_ids_are_invalid_arguments(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager, action: str,
        request_id: Any, approval_id: Any) -> None:
    created = _create(store)
    call = workflow.approve_requirement if action == "approve" else workflow.reject_requirement

    with pytest.raises(InvalidArgumentError) as raised:
        call(request_id, approval_id, approver("bob"))

    assert isinstance(raised.value, ValueError)
    assert store.get("req-approval") is created


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_a_missing_context_is_a_missing_argument(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager, action: str) -> None:
    created = _create(store)
    call = workflow.approve_requirement if action == "approve" else workflow.reject_requirement

    with pytest.raises(MissingArgumentError) as raised:
        call("req-approval", created.approval_requirements[0].approval_id, None)  # type: ignore[arg-type]

    assert isinstance(raised.value, TypeError)
    assert "req-approval" in str(raised.value)


def test_an_unknown_request_is_not_found(workflow: ApprovalWorkflowManager) -> None:
    with pytest.raises(RequestNotFoundError) as raised:
        workflow.approve_requirement("req-nowhere", "ap-1", approver("bob"))

    assert raised.value.request_id == "req-nowhere"


def test_an_unknown_approval_id_is_a_lookup_error_naming_request_and_approval(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store)

    with pytest.raises(ApprovalRequirementNotFoundError) as raised:
        workflow.approve_requirement("req-approval", "ap-unknown", approver("bob"))

    assert isinstance(raised.value, LookupError)
    assert (raised.value.request_id, raised.value.approval_id) == ("req-approval", "ap-unknown")
    assert "req-approval" in str(raised.value) and "ap-unknown" in str(raised.value)
    assert store.get("req-approval") is created


def test_the_workflow_state_is_checked_before_the_approval_id(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    store.create(pending_request(request_id="req-review"))

    with pytest.raises(InvalidApprovalWorkflowStateError) as raised:
        workflow.approve_requirement("req-review", "ap-unknown", approver("bob"))

    assert raised.value.request_id == "req-review"
    assert "MANUAL_REVIEW" in str(raised.value)


def test_an_already_decided_requirement_is_reported_before_its_expiry(
        store: InMemoryRequestStore, clock: FixedClock) -> None:
    workflow = ApprovalWorkflowManager(store, clock=clock)
    created = _create(store, _approval(Approver="ann", ExpiresAt=DEADLINE),
                      _approval(Approver="ben"))
    workflow.approve_requirement("req-approval", _by_target(created, "ann").approval_id,
                                 approver("ann"))
    clock.advance(timedelta(hours=2))

    with pytest.raises(InvalidApprovalActionError) as raised:
        workflow.approve_requirement("req-approval", _by_target(created, "ann").approval_id,
                                     approver("ann"))

    assert "already APPROVED" in str(raised.value)


def test_expiry_is_reported_before_a_missing_actor_id_or_a_wrong_actor(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(Approver="ann", ExpiresAt=DEADLINE))
    late = DEADLINE + timedelta(seconds=1)
    anonymous = MutationContext.system("sweeper", timestamp=late)

    for context in (anonymous, approver("mallory", timestamp=late)):
        with pytest.raises(ApprovalRequirementExpiredError) as raised:
            workflow.approve_requirement("req-approval",
                                         created.approval_requirements[0].approval_id, context)
        assert raised.value.expires_at == DEADLINE

    assert store.get("req-approval") is created


def test_a_missing_actor_id_is_reported_before_the_target_check(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(ApproverRole="sre"))
    no_actor = MutationContext.system("automation", metadata={"ActorRoles": ["sre"]})

    with pytest.raises(InvalidApprovalActionError) as raised:
        workflow.approve_requirement("req-approval",
                                     created.approval_requirements[0].approval_id, no_actor)

    assert "actor id" in str(raised.value)
    assert store.get("req-approval") is created


def test_a_wrong_actor_is_reported_before_a_wrong_step(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(Approver="ann"), _approval(Approver="ben"))

    with pytest.raises(InvalidApprovalActionError) as raised:
        workflow.approve_requirement("req-approval", _by_target(created, "ben").approval_id,
                                     approver("mallory"))

    assert "not a target" in str(raised.value)
    assert "approver 'ben'" in str(raised.value)


def test_a_deadline_exactly_at_the_context_timestamp_has_expired(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(Approver="ann", ExpiresAt=DEADLINE))

    with pytest.raises(ApprovalRequirementExpiredError):
        workflow.approve_requirement("req-approval",
                                     created.approval_requirements[0].approval_id,
                                     approver("ann", timestamp=DEADLINE))


def test_a_deadline_passed_on_the_managers_clock_has_expired_whatever_the_context_says(
        store: InMemoryRequestStore, clock: FixedClock,
        workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(Approver="ann", ExpiresAt=DEADLINE))
    clock.now = DEADLINE

    with pytest.raises(ApprovalRequirementExpiredError):
        workflow.approve_requirement("req-approval",
                                     created.approval_requirements[0].approval_id,
                                     approver("ann", timestamp=BASE_TIME))

    assert store.get("req-approval") is created


def test_an_approval_before_its_deadline_is_accepted(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(Approver="ann", ExpiresAt=DEADLINE))

    approved = workflow.approve_requirement(
        "req-approval", created.approval_requirements[0].approval_id,
        approver("ann", timestamp=DEADLINE - timedelta(microseconds=1)))

    assert approved.status == RequestStatus.APPROVED


def test_a_concurrent_write_makes_the_approval_fail_and_keeps_the_other_writers_snapshot(
        clock: FixedClock) -> None:
    store = RacingStore()
    workflow = ApprovalWorkflowManager(store, clock=clock)
    created = _create(store)  # type: ignore[arg-type]
    store.interfere_once("req-approval")

    with pytest.raises(RequestConcurrencyError) as raised:
        workflow.approve_requirement("req-approval",
                                     created.approval_requirements[0].approval_id,
                                     approver("bob"))

    assert raised.value.expected_revision == 0
    stored = store.get("req-approval")
    assert stored.revision == 1
    assert stored.metadata["TouchedBy"] == "another writer"
    assert stored.approval_requirements == created.approval_requirements


def test_the_manager_needs_a_store() -> None:
    with pytest.raises(MissingArgumentError):
        ApprovalWorkflowManager(None)  # type: ignore[arg-type]


def test_the_manager_exposes_its_store(store: InMemoryRequestStore) -> None:
    assert ApprovalWorkflowManager(store).store is store


# -- the expiry sweep -------------------------------------------------------------------------

def test_the_sweep_rejects_requests_with_a_due_requirement_and_records_each_expiry(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager,
        clock: FixedClock) -> None:
    created = _create(store, _approval(Approvers=["ann", "ben"], ExpiresAt=DEADLINE),
                      _approval(Approver="cat", ExpiresAt=DEADLINE + timedelta(days=1)))
    sweeper = MutationContext.system("approval sweep")

    (rejected,) = workflow.expire_pending_approvals(DEADLINE, sweeper)

    assert rejected == store.get("req-approval")
    assert rejected.revision == 1
    assert rejected.status == RequestStatus.REJECTED
    assert rejected.pending_reason is None
    assert _statuses(rejected) == [ApprovalRequirementStatus.EXPIRED,
                                   ApprovalRequirementStatus.EXPIRED,
                                   ApprovalRequirementStatus.PENDING]
    assert _codes(rejected)[len(created.decisions):] == [
        (DecisionCategory.APPROVAL, "EXPIRED"), (DecisionCategory.APPROVAL, "EXPIRED"),
        (DecisionCategory.LIFECYCLE, "REJECTED")]
    first, second, lifecycle = rejected.decisions[-3:]
    assert first.metadata["ApprovalId"] == created.approval_requirements[0].approval_id
    assert second.metadata["ApprovalId"] == created.approval_requirements[1].approval_id
    assert first.metadata["ApprovalExpiresAt"] == DEADLINE.isoformat()
    assert DEADLINE.isoformat() in (first.reason or "")
    assert lifecycle.metadata["ExpiredApprovalIds"] == [
        r.approval_id for r in created.approval_requirements[:2]]
    assert all(d.context == sweeper and d.timestamp == clock.now
               for d in rejected.decisions[-3:])
    assert rejected.approval_requirements[0].decision_context == sweeper


def test_the_sweep_leaves_requests_without_a_due_pending_requirement_alone(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    not_due = _create(store, _approval(Approver="ann", ExpiresAt=DEADLINE),
                      request_id="req-not-due")
    no_deadline = _create(store, _approval(Approver="ann"), request_id="req-no-deadline")
    review = store.create(pending_request(request_id="req-review", expires_at=BASE_TIME))
    decided = _create(store, _approval(Approver="ann", ExpiresAt=BASE_TIME + timedelta(minutes=30)),
                      _approval(Approver="ben"), request_id="req-decided")
    decided = workflow.approve_requirement(
        "req-decided", _by_target(decided, "ann").approval_id,
        approver("ann", timestamp=BASE_TIME))

    # req-decided's only due requirement is already APPROVED: nothing expires.
    assert workflow.expire_pending_approvals(
        DEADLINE - timedelta(seconds=1), MutationContext.system("sweep")) == []
    assert store.get("req-not-due") is not_due
    assert store.get("req-no-deadline") is no_deadline
    assert store.get("req-review") is review
    assert store.get("req-decided") is decided


def test_the_sweep_returns_every_rejected_request_in_creation_order(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    for request_id, minutes in (("req-late", 2), ("req-early", 1)):
        store.create(approval_request(_approval(Approver="ann", ExpiresAt=DEADLINE),
                                      request_id=request_id,
                                      now=BASE_TIME + timedelta(minutes=minutes)))

    swept = workflow.expire_pending_approvals(DEADLINE + timedelta(days=1),
                                              MutationContext.system("sweep"))

    assert [r.request_id for r in swept] == ["req-early", "req-late"]


def test_the_sweep_skips_a_request_claimed_by_an_execution(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    request = store.create(approval_request(_approval(Approver="ann", ExpiresAt=DEADLINE),
                                            now=BASE_TIME))
    # A claim only ever comes from resolution; written here straight through the store's
    # compare-and-set, which trusts its caller.
    claimed = store.try_store(request.model_copy(update={"execution": request.execution.model_copy(
        update={"claim": ExecutionClaim(claim_id="c-1", claimed_at=BASE_TIME)})}), 0)

    assert workflow.expire_pending_approvals(DEADLINE, MutationContext.system("sweep")) == []
    assert store.get("req-approval") is claimed


def test_the_sweep_needs_a_time_and_a_context(workflow: ApprovalWorkflowManager) -> None:
    with pytest.raises(MissingArgumentError):
        workflow.expire_pending_approvals(None, MutationContext.system("s"))  # type: ignore[arg-type]
    with pytest.raises(MissingArgumentError):
        workflow.expire_pending_approvals(DEADLINE, None)  # type: ignore[arg-type]


def test_a_swept_request_refuses_further_approval_actions(
        store: InMemoryRequestStore, workflow: ApprovalWorkflowManager) -> None:
    created = _create(store, _approval(Approver="ann", ExpiresAt=DEADLINE))
    (rejected,) = workflow.expire_pending_approvals(DEADLINE, MutationContext.system("sweep"))

    with pytest.raises(InvalidApprovalWorkflowStateError):
        workflow.approve_requirement("req-approval",
                                     created.approval_requirements[0].approval_id,
                                     approver("ann", timestamp=BASE_TIME))

    assert store.get("req-approval") is rejected

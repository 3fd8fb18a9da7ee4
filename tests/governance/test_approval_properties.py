"""Property-based tests of the approval workflow.

For random approval configurations (approver ids, roles, groups, quorums, steps, deadlines),
random actor profiles (which roles and groups each actor really carries) and random sequences
of approve / reject / expire actions by random actors at advancing times:

- a model predicts, from the stored snapshot alone, whether each action is refused and with which
  error; a refused action leaves the stored request the same object at the same revision;
- the request is APPROVED exactly when every requirement is APPROVED or SATISFIED, and never
  otherwise; SATISFIED only comes from a group that reached its quorum; approvals happen in step
  order, by targets, before the deadline, by distinct actors within a group;
- decisions only append; every successful write moves the revision by exactly one; once the
  request leaves PENDING (approved, rejected, expired) no approval action changes it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from governance import (
    ApprovalRejectionReason,
    ApprovalRequirement,
    ApprovalRequirementExpiredError,
    ApprovalRequirementStatus,
    ApprovalWorkflowManager,
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
from tests.governance.conftest import BASE_TIME, FixedClock, approval_request

ACTORS = ["ann", "ben", "cat", "dan"]
OUTSIDERS = ["mallory"]
ROLES = ["sre", "dba"]
GROUPS = ["ops", "sec"]
RID = "req-prop"
FULFILLED = {ApprovalRequirementStatus.APPROVED, ApprovalRequirementStatus.SATISFIED}
PENDING = ApprovalRequirementStatus.PENDING


@st.composite
def approval_configurations(draw: st.DrawFn) -> list[PolicyRequirement]:
    """One to three approval policy requirements with random targets, quorum, step, deadline."""
    requirements = []
    for index in range(draw(st.integers(1, 3))):
        approvers = draw(st.lists(st.sampled_from(ACTORS), unique=True, max_size=3))
        role = draw(st.none() | st.sampled_from(ROLES))
        group = draw(st.none() | st.sampled_from(GROUPS))
        if not approvers and role is None and group is None:
            approvers = [draw(st.sampled_from(ACTORS))]
        targets = len(approvers) + (role is not None) + (group is not None)
        data: dict[str, Any] = {"Approvers": approvers,
                                "RequiredApprovals": draw(st.integers(1, targets))}
        if role is not None:
            data["ApproverRole"] = role
        if group is not None:
            data["ApproverGroup"] = group
        step = draw(st.none() | st.integers(1, 3))
        if step is not None:
            data["StepOrder"] = step
        hours = draw(st.none() | st.integers(1, 5))
        if hours is not None:
            data["ExpiresAt"] = BASE_TIME + timedelta(hours=hours)
        requirements.append(PolicyRequirement(type="Approval", description=f"gate {index}",
                                              data=data))
    return requirements


@dataclass(frozen=True)
class Profile:
    """What an actor really carries."""

    roles: tuple[str, ...]
    groups: tuple[str, ...]

    def context(self, actor_id: str, at: datetime) -> MutationContext:
        return MutationContext.user(actor_id, timestamp=at, metadata={
            "ActorRoles": list(self.roles), "ActorGroups": list(self.groups)})


profiles = st.fixed_dictionaries({
    actor: st.builds(Profile,
                     roles=st.lists(st.sampled_from(ROLES), unique=True).map(tuple),
                     groups=st.lists(st.sampled_from(GROUPS), unique=True).map(tuple))
    for actor in [*ACTORS, *OUTSIDERS]})

TARGET = "<a target>"
"""Stands for an actor who really is a target of the picked requirement (when there is one)."""

# Approvals dominate, and half of them come from a real target, so that many runs get through
# several steps before a rejection or an expiry ends them; time advances slowly enough for some
# deadlines to pass mid-run.
actions = st.lists(st.tuples(
    st.sampled_from(["approve"] * 8 + ["reject", "expire"]),
    st.integers(0, 11),
    st.one_of(st.just(TARGET), st.sampled_from([*ACTORS, *OUTSIDERS])),
    st.integers(0, 20),
), min_size=6, max_size=40)


# -- the model --------------------------------------------------------------------------------

def _is_target(requirement: ApprovalRequirement, actor: str, profile: Profile) -> bool:
    return (requirement.approver_id == actor
            or (requirement.approver_role is not None and requirement.approver_role
                in profile.roles)
            or (requirement.approver_group is not None and requirement.approver_group
                in profile.groups))


def _group(request: MutationRequest, requirement: ApprovalRequirement
           ) -> list[ApprovalRequirement]:
    if not requirement.approval_group_id:
        return [requirement]
    return [r for r in request.approval_requirements
            if r.approval_group_id == requirement.approval_group_id
            and r.step_order == requirement.step_order]


def _predicted_refusal(request: MutationRequest, requirement: ApprovalRequirement, kind: str,
                       actor: str, profile: Profile, now: datetime
                       ) -> type[GovernanceError] | None:
    if request.status != RequestStatus.PENDING or request.pending_reason != PendingReason.APPROVAL:
        return InvalidApprovalWorkflowStateError
    if requirement.status != PENDING:
        return InvalidApprovalActionError
    if requirement.expires_at is not None and requirement.expires_at <= now:
        return ApprovalRequirementExpiredError
    if not _is_target(requirement, actor, profile):
        return InvalidApprovalActionError
    current = min(r.step_order for r in request.approval_requirements if r.status == PENDING)
    if requirement.step_order != current:
        return InvalidApprovalActionError
    if kind == "approve" and any(
            r.status == ApprovalRequirementStatus.APPROVED and r.decision_context is not None
            and r.decision_context.actor_id == actor for r in _group(request, requirement)):
        return InvalidApprovalActionError
    return None


def _check_request(request: MutationRequest, profiles: dict[str, Profile]) -> None:
    """The invariants of one snapshot."""
    requirements = request.approval_requirements
    fulfilled = all(r.status in FULFILLED for r in requirements)
    assert (request.status == RequestStatus.APPROVED) == fulfilled
    assert request.status in (RequestStatus.PENDING, RequestStatus.APPROVED,
                              RequestStatus.REJECTED)
    assert (request.status == RequestStatus.PENDING) == (request.pending_reason is not None)
    for requirement in requirements:
        members = _group(request, requirement)
        approved = [m for m in members if m.status == ApprovalRequirementStatus.APPROVED]
        if requirement.status == ApprovalRequirementStatus.SATISFIED:
            assert len(members) > 1
            assert len(approved) >= requirement.required_approvals
        if requirement.status == ApprovalRequirementStatus.APPROVED:
            context = requirement.decision_context
            assert context is not None and context.actor_id is not None
            assert _is_target(requirement, context.actor_id, profiles[context.actor_id])
            assert requirement.decided_at is not None
            assert requirement.expires_at is None or requirement.decided_at < \
                requirement.expires_at
            # Every earlier step was fulfilled before this one was decided.
            assert all(r.status in FULFILLED for r in requirements
                       if r.step_order < requirement.step_order)
        actors = [m.decision_context.actor_id for m in approved if m.decision_context]
        assert len(actors) == len(set(actors))
    granted_steps = [d.metadata["StepOrder"] for d in request.decisions if d.code == "GRANTED"]
    assert granted_steps == sorted(granted_steps)


@settings(max_examples=200, deadline=None)
@given(config=approval_configurations(), profiles=profiles, steps=actions)
def test_random_approval_sequences_approve_only_when_every_requirement_is_fulfilled_in_order(
        config: list[PolicyRequirement], profiles: dict[str, Profile],
        steps: list[tuple[str, int, str, int]]) -> None:
    store = InMemoryRequestStore()
    clock = FixedClock(BASE_TIME)
    workflow = ApprovalWorkflowManager(store, clock=clock)
    current = store.create(approval_request(*config, request_id=RID, now=BASE_TIME))
    writes = 0

    for kind, pick, actor, advance in steps:
        clock.advance(timedelta(minutes=advance))
        now = clock.now
        before = current
        if kind == "expire":
            sweep_at = now + timedelta(hours=pick % 4)
            due = before.status == RequestStatus.PENDING and any(
                r.status == PENDING and r.expires_at is not None and r.expires_at <= sweep_at
                for r in before.approval_requirements)
            swept = workflow.expire_pending_approvals(sweep_at, MutationContext.system("sweep"))
            assert [r.request_id for r in swept] == ([RID] if due else [])
            current = store.get(RID)
            if due:
                writes += 1
                assert current.status == RequestStatus.REJECTED
                assert any(r.status == ApprovalRequirementStatus.EXPIRED
                           for r in current.approval_requirements)
            else:
                assert current is before
        else:
            requirement = before.approval_requirements[pick % len(before.approval_requirements)]
            if actor == TARGET:
                targets = [a for a in [*ACTORS, *OUTSIDERS]
                           if _is_target(requirement, a, profiles[a])] or OUTSIDERS
                actor = targets[pick % len(targets)]
            context = profiles[actor].context(actor, now)
            expected = _predicted_refusal(before, requirement, kind, actor, profiles[actor], now)
            try:
                if kind == "approve":
                    workflow.approve_requirement(RID, requirement.approval_id, context)
                else:
                    workflow.reject_requirement(
                        RID, requirement.approval_id, context,
                        rejection=ApprovalRejectionReason(code="no", message="declined"))
            except GovernanceError as error:
                assert expected is not None, f"refused unexpectedly: {error}"
                assert type(error) is expected, f"{type(error).__name__}: {error}"
                assert store.get(RID) is before
                continue
            assert expected is None, f"expected {expected.__name__}, the call succeeded"
            writes += 1
            current = store.get(RID)
            decided = next(r for r in current.approval_requirements
                           if r.approval_id == requirement.approval_id)
            if kind == "approve":
                assert decided.status == ApprovalRequirementStatus.APPROVED
            else:
                assert decided.status == ApprovalRequirementStatus.REJECTED
                assert current.status == RequestStatus.REJECTED

        assert current.revision == writes
        assert current.decisions[:len(before.decisions)] == before.decisions
        if before.status != RequestStatus.PENDING:
            assert current is before
        _check_request(current, profiles)
    event(f"final status: {current.status.name}")
    if any(r.status == ApprovalRequirementStatus.SATISFIED
           for r in current.approval_requirements):
        event("a quorum satisfied other members")
    event(f"successful writes: {min(writes, 3)}{'+' if writes >= 3 else ''}")


@settings(max_examples=100, deadline=None)
@given(config=approval_configurations())
def test_approving_each_current_step_by_distinct_targets_always_approves_the_request(
        config: list[PolicyRequirement]) -> None:
    store = InMemoryRequestStore()
    workflow = ApprovalWorkflowManager(store, clock=FixedClock(BASE_TIME))
    current = store.create(approval_request(*config, request_id=RID, now=BASE_TIME))
    writes = 0

    while current.status == RequestStatus.PENDING:
        step = min(r.step_order for r in current.approval_requirements if r.status == PENDING)
        requirement = next(r for r in current.approval_requirements
                           if r.status == PENDING and r.step_order == step)
        # A fresh actor per approval, holding exactly the requirement's target.
        actor = requirement.approver_id or f"member-{writes}"
        context = MutationContext.user(actor, timestamp=BASE_TIME, metadata={
            "ActorRoles": [requirement.approver_role] if requirement.approver_role else [],
            "ActorGroups": [requirement.approver_group] if requirement.approver_group else []})
        current = workflow.approve_requirement(RID, requirement.approval_id, context)
        writes += 1
        assert current.revision == writes

    assert current.status == RequestStatus.APPROVED
    assert all(r.status in FULFILLED for r in current.approval_requirements)
    assert writes <= len(current.approval_requirements)
    assert [d.code for d in current.decisions].count("APPROVED") == 1

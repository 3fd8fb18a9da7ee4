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
  request leaves PENDING (approved, rejected, expired) no approval action changes it again;
- approval groups: requirements that name the same ``ApprovalGroupId`` are refused when the
  request is built, a generated group id never takes an explicit one, and a quorum only ever
  counts members of one policy requirement;
- actor identity: actors act under spellings of their id that differ in case and surrounding
  blanks, and the model compares ids trimmed and case-insensitively (one actor, one approval
  per group); the requester ("alice", who may carry an approving role or group) never approves;
- renewal: after a stale resolution with ``REQUIRE_RENEWED_APPROVAL`` every requirement is
  PENDING again, and approving each step anew approves the request again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
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
    InvalidApprovalConfigurationError,
    InvalidApprovalWorkflowStateError,
    MutationContext,
    MutationRequest,
    PendingReason,
    PolicyRequirement,
    RequestStatus,
    ResolutionStrategy,
    VersionResolutionManager,
    actor_identity,
)
from governance.testing import BASE_TIME, FixedClock, approval_request

ACTORS = ["ann", "ben", "cat", "dan"]
OUTSIDERS = ["mallory"]
REQUESTER = "alice"
"""Files every request (``approval_request``); acts too, sometimes with an approving role."""
GROUP_IDS = ["g1", "g2", "approval-group-1-0", "approval-group-2-1"]
"""Explicit approval group ids, two of them spelled as generated ones."""
SPELLINGS = {"as-is": lambda a: a, "upper": str.upper, "padded": lambda a: f" {a} ",
             "title": str.title}
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
        group_id = draw(st.none() | st.none() | st.sampled_from(GROUP_IDS))
        if group_id is not None:
            data["ApprovalGroupId"] = group_id
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
    for actor in [*ACTORS, *OUTSIDERS, REQUESTER]})

TARGET = "<a target>"
"""Stands for an actor who really is a target of the picked requirement (when there is one)."""

# Approvals dominate, and half of them come from a real target, so that many runs get through
# several steps before a rejection or an expiry ends them; time advances slowly enough for some
# deadlines to pass mid-run.
actions = st.lists(st.tuples(
    st.sampled_from(["approve"] * 8 + ["reject", "expire"]),
    st.integers(0, 11),
    st.one_of(st.just(TARGET), st.sampled_from([*ACTORS, *OUTSIDERS, REQUESTER])),
    st.integers(0, 20),
    st.sampled_from(sorted(SPELLINGS)),
), min_size=6, max_size=40)


def _shared_group_ids(config: list[PolicyRequirement]) -> bool:
    explicit = [r.data["ApprovalGroupId"] for r in config if "ApprovalGroupId" in r.data]
    return len(explicit) != len(set(explicit))


def _create(store: InMemoryRequestStore, config: list[PolicyRequirement]
            ) -> MutationRequest | None:
    """The stored request, or None when the configuration is refused as it should be."""
    if _shared_group_ids(config):
        with pytest.raises(InvalidApprovalConfigurationError):
            approval_request(*config, request_id=RID, now=BASE_TIME)
        event("refused: two requirements share an approval group id")
        return None
    return store.create(approval_request(*config, request_id=RID, now=BASE_TIME))


# -- the model --------------------------------------------------------------------------------

def _is_target(requirement: ApprovalRequirement, actor: str, profile: Profile) -> bool:
    return ((bool(requirement.approver_id) and actor_identity(requirement.approver_id)
            == actor_identity(actor))
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
    if kind == "approve" and actor == REQUESTER:
        return InvalidApprovalActionError
    if kind == "approve" and any(
            r.status == ApprovalRequirementStatus.APPROVED and r.decision_context is not None
            and actor_identity(r.decision_context.actor_id or "") == actor
            for r in _group(request, requirement)):
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
        # a group never spans two policy requirements
        assert {m.description for m in members} == {requirement.description}
        if requirement.status == ApprovalRequirementStatus.SATISFIED:
            assert len(members) > 1
            assert len(approved) >= requirement.required_approvals
        if requirement.status == ApprovalRequirementStatus.APPROVED:
            context = requirement.decision_context
            assert context is not None and context.actor_id is not None
            actor = actor_identity(context.actor_id)
            assert actor != REQUESTER
            assert _is_target(requirement, actor, profiles[actor])
            assert requirement.decided_at is not None
            assert requirement.expires_at is None or requirement.decided_at < \
                requirement.expires_at
            # Every earlier step was fulfilled before this one was decided.
            assert all(r.status in FULFILLED for r in requirements
                       if r.step_order < requirement.step_order)
        actors = [actor_identity(m.decision_context.actor_id or "") for m in approved
                  if m.decision_context]
        assert len(actors) == len(set(actors))
    group_sources: dict[str, set[str]] = {}
    for requirement in requirements:
        if requirement.approval_group_id:
            group_sources.setdefault(requirement.approval_group_id, set()).add(
                requirement.description)
    assert all(len(sources) == 1 for sources in group_sources.values())
    granted_steps = [d.metadata["StepOrder"] for d in request.decisions if d.code == "GRANTED"]
    assert granted_steps == sorted(granted_steps)


@settings(max_examples=200, deadline=None)
@given(config=approval_configurations(), profiles=profiles, steps=actions)
def test_random_approval_sequences_approve_only_when_every_requirement_is_fulfilled_in_order(
        config: list[PolicyRequirement], profiles: dict[str, Profile],
        steps: list[tuple[str, int, str, int, str]]) -> None:
    store = InMemoryRequestStore()
    clock = FixedClock(BASE_TIME)
    workflow = ApprovalWorkflowManager(store, clock=clock)
    created = _create(store, config)
    if created is None:
        return
    current = created
    writes = 0

    for kind, pick, actor, advance, spelling in steps:
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
            context = profiles[actor].context(SPELLINGS[spelling](actor), now)
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
    created = _create(store, config)
    if created is None:
        return
    current = created
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


def _approve_every_step(workflow: ApprovalWorkflowManager, current: MutationRequest,
                        limit: int | None = None) -> MutationRequest:
    """Approve the current step's first pending requirement by a fresh target, ``limit`` times
    (or until the request leaves PENDING)."""
    done = 0
    while current.status == RequestStatus.PENDING and (limit is None or done < limit):
        step = min(r.step_order for r in current.approval_requirements if r.status == PENDING)
        requirement = next(r for r in current.approval_requirements
                           if r.status == PENDING and r.step_order == step)
        actor = requirement.approver_id or f"member-{current.revision}"
        context = MutationContext.user(actor, timestamp=BASE_TIME, metadata={
            "ActorRoles": [requirement.approver_role] if requirement.approver_role else [],
            "ActorGroups": [requirement.approver_group] if requirement.approver_group else []})
        current = workflow.approve_requirement(RID, requirement.approval_id, context)
        done += 1
    return current


@settings(max_examples=100, deadline=None)
@given(config=approval_configurations(), approvals_first=st.integers(0, 6),
       version=st.sampled_from(["11", "12"]))
def test_a_renewed_approval_is_a_new_round_that_approves_again(
        config: list[PolicyRequirement], approvals_first: int, version: str) -> None:
    store = InMemoryRequestStore()
    workflow = ApprovalWorkflowManager(store, clock=FixedClock(BASE_TIME))
    created = _create(store, config)
    if created is None:
        return
    before = _approve_every_step(workflow, created, approvals_first)
    event(f"renewed while {before.status.name}")

    resolution = VersionResolutionManager(store).resolve_and_store(
        RID, version, MutationContext.system("resolver"),
        ResolutionStrategy.REQUIRE_RENEWED_APPROVAL)

    renewed = resolution.request
    assert (renewed.status, renewed.pending_reason) == (RequestStatus.PENDING,
                                                       PendingReason.APPROVAL)
    assert renewed.expected_state_version == version
    assert [r.approval_id for r in renewed.approval_requirements] == [
        r.approval_id for r in before.approval_requirements]
    assert all(r.status == PENDING and r.decided_at is None and r.decision_context is None
               for r in renewed.approval_requirements)
    assert renewed.decisions[:len(before.decisions)] == before.decisions

    again = _approve_every_step(workflow, renewed)

    assert again.status == RequestStatus.APPROVED
    assert all(r.status in FULFILLED for r in again.approval_requirements)
    codes = [d.code for d in again.decisions]
    assert codes.count("RENEWED_APPROVAL_REQUIRED") == 1
    assert codes.count("APPROVED") == (2 if before.status == RequestStatus.APPROVED else 1)

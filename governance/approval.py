"""The approval workflow: who may act on an approval requirement, and the manager that records
approvals, rejections and expiries on stored requests. The requirements themselves, and their
mapping from policy requirements, are ``governance.approval_requirements``.

A request waits for approval while it is PENDING for ``PendingReason.APPROVAL``. Its approval
requirements are decided step by step (the current step is the lowest ``step_order`` still
PENDING); within a step, the members of an approval group are satisfied together once
``required_approvals`` of them are APPROVED. The request becomes APPROVED when every requirement
is APPROVED or SATISFIED, and REJECTED on the first rejection or expiry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from governance._clock import Clock, utc_now
from governance._ids import is_blank
from governance._models import evolve
from governance.approval_requirements import (
    ACTOR_GROUPS_KEY,
    ACTOR_ROLES_KEY,
    FULFILLED_APPROVAL_STATUSES,
    ApprovalRejectionReason,
    ApprovalRequirement,
    ApprovalRequirementStatus,
    actor_identity,
)
from governance.core.context import MutationContext
from governance.decisions import ApprovalDecision, LifecycleDecision, RequestDecision
from governance.errors import (
    ApprovalRequirementExpiredError,
    ApprovalRequirementNotFoundError,
    InvalidApprovalActionError,
    InvalidApprovalWorkflowStateError,
    InvalidArgumentError,
    MissingArgumentError,
)
from governance.requests import (
    TO_REJECTED,
    MutationRequest,
    PendingReason,
    RequestStatus,
    held_claim,
    snapshot_after,
)
from governance.store import RequestStore

# -- who may act ------------------------------------------------------------------------------

_CLAIM_CONTAINERS = (list, tuple, set, frozenset)


def _claims(context: MutationContext, key: str) -> frozenset[str]:
    # Only a real collection of names counts. A bare string would make ``in`` a substring test
    # ("sre" in "sre-lead"), and a mapping or any other shape is not a list of memberships.
    value = context.metadata.get(key)
    if not isinstance(value, _CLAIM_CONTAINERS):
        return frozenset()
    return frozenset(v for v in value if isinstance(v, str) and v.strip())


def actor_roles(context: MutationContext) -> frozenset[str]:
    """The roles ``context`` carries: the strings listed under ``metadata["ActorRoles"]``.

    Only a list, tuple, set or frozenset counts; anything else (a bare string, a mapping, the
    key spelled differently) carries no role. Names are compared exactly (case-sensitive).
    """
    return _claims(context, ACTOR_ROLES_KEY)


def actor_groups(context: MutationContext) -> frozenset[str]:
    """The groups ``context`` belongs to: the strings under ``metadata["ActorGroups"]``, read
    as ``actor_roles`` reads roles."""
    return _claims(context, ACTOR_GROUPS_KEY)


def is_approval_target(requirement: ApprovalRequirement, context: MutationContext) -> bool:
    """Whether the actor of ``context`` is a target of ``requirement``.

    It is when its non-blank ``actor_id`` is the requirement's ``approver_id`` (compared through
    ``actor_identity``: trimmed, case-insensitive), when the requirement's ``approver_role`` is
    one of ``actor_roles(context)``, or when its ``approver_group`` is one of
    ``actor_groups(context)``. Nothing else in the context (its actor name, an id written into
    its metadata) makes an actor a target.
    """
    actor_id = context.actor_id
    if requirement.approver_id and actor_id and actor_id.strip() \
            and actor_identity(actor_id) == actor_identity(requirement.approver_id):
        return True
    if requirement.approver_role and requirement.approver_role in actor_roles(context):
        return True
    return bool(requirement.approver_group
                and requirement.approver_group in actor_groups(context))


def current_approval_step(request: MutationRequest) -> int | None:
    """The step being decided: the lowest ``step_order`` among PENDING approval requirements,
    or None when none is pending."""
    steps = [r.step_order for r in request.approval_requirements
             if r.status == ApprovalRequirementStatus.PENDING]
    return min(steps) if steps else None


def is_fully_approved(request: MutationRequest) -> bool:
    """Whether the request has approval requirements and every one is APPROVED or SATISFIED."""
    return bool(request.approval_requirements) and all(
        r.status in FULFILLED_APPROVAL_STATUSES for r in request.approval_requirements)




def _decided(request: MutationRequest, requirements: Sequence[ApprovalRequirement],
             decisions: Sequence[RequestDecision],
             lifecycle_changes: Mapping[str, Any]) -> MutationRequest:
    """The next snapshot of ``request`` after an approval action (``next_snapshot``): its
    requirements replaced, ``decisions`` appended, its lifecycle edited by
    ``lifecycle_changes``."""
    held = request.__dict__
    return snapshot_after(held, held["execution"].claim, decisions, None, lifecycle_changes,
                          True, {"approval_requirements": tuple(requirements)})


def _requirement_decided(requirement: ApprovalRequirement, status: ApprovalRequirementStatus,
                         at: datetime, context: MutationContext, reason: str | None,
                         **changes: Any) -> ApprovalRequirement:
    """``requirement`` in ``status``, decided at ``at`` by ``context`` for ``reason``."""
    return evolve(requirement, status=status, decided_at=at, decision_context=context,
                  decision_reason=reason, **changes)


def _describe_target(requirement: ApprovalRequirement) -> str:
    if requirement.approver_id:
        return f"approver '{requirement.approver_id}'"
    if requirement.approver_role:
        return f"role '{requirement.approver_role}'"
    return f"group '{requirement.approver_group}'"


APPROVAL_DECISION_KEYS = frozenset({
    "ApprovalId", "ApproverId", "ApproverRole", "ApproverGroup", "StepOrder",
    "ApprovalGroupId", "RequiredApprovals", "ApprovalExpiresAt", "RejectionCode",
    "RejectionCategory",
})
"""The keys of an approval decision's metadata that the workflow writes: they say which
requirement was decided and how, and neither the caller's metadata nor a rejection's can
replace them."""


def approval_decision_metadata(
    requirement: ApprovalRequirement,
    rejection: ApprovalRejectionReason | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The metadata of an approval decision about ``requirement``.

    Keys, in order: ``ApprovalId``, ``ApproverId``, ``ApproverRole``, ``ApproverGroup``,
    ``StepOrder``, ``ApprovalGroupId``, ``RequiredApprovals`` (absent values as ""),
    ``ApprovalExpiresAt`` (ISO 8601, when the requirement expires), ``RejectionCode`` and
    ``RejectionCategory`` plus the rejection's own metadata (with a rejection), then the
    caller's ``metadata``. The caller and the rejection add keys; the workflow's own
    (``APPROVAL_DECISION_KEYS``) always keep the values written here (the manager refuses
    metadata that tries to replace them).
    """
    data: dict[str, Any] = {
        "ApprovalId": requirement.approval_id,
        "ApproverId": requirement.approver_id,
        "ApproverRole": requirement.approver_role or "",
        "ApproverGroup": requirement.approver_group or "",
        "StepOrder": requirement.step_order,
        "ApprovalGroupId": requirement.approval_group_id or "",
        "RequiredApprovals": requirement.required_approvals,
    }
    if requirement.expires_at is not None:
        data["ApprovalExpiresAt"] = requirement.expires_at.isoformat()
    if rejection is not None:
        data["RejectionCode"] = rejection.code
        data["RejectionCategory"] = rejection.category or ""
        data.update((k, v) for k, v in rejection.metadata.items()
                    if k not in APPROVAL_DECISION_KEYS)
    if metadata:
        data.update((k, v) for k, v in metadata.items() if k not in APPROVAL_DECISION_KEYS)
    return data


def _check_caller_metadata(request_id: str, approval_id: str, metadata: Any,
                           what: str) -> None:
    if metadata is None:
        return
    if not isinstance(metadata, Mapping):
        raise InvalidArgumentError(
            f"request '{request_id}', approval '{approval_id}': {what} must be a mapping, not "
            f"{type(metadata).__name__}")
    reserved = sorted(str(k) for k in metadata if k in APPROVAL_DECISION_KEYS)
    if reserved:
        raise InvalidArgumentError(
            f"request '{request_id}', approval '{approval_id}': {what} cannot set "
            f"{', '.join(reserved)}; the workflow writes these keys to say which requirement "
            "was decided")


# -- the manager ------------------------------------------------------------------------------

class ApprovalWorkflowManager:
    """Records approvals, rejections and expiries on requests pending approval.

    Every action validates fully before it computes anything, appends its decisions, and
    persists through the store's compare-and-set (``store_next``) against the revision it
    loaded: a refused or conflicting call leaves the stored request exactly as it was.

    Actors are compared through ``actor_identity`` (trimmed, case-insensitive) wherever
    identity matters: matching an approver id, counting the distinct approvers of a quorum, and
    telling the requester apart. The requester of a request cannot approve it (separation of
    duties) unless the manager is built with ``allow_self_approval=True``; it may reject it.

    Args:
        store: where the requests live.
        clock: the time decisions are recorded at (defaults to the current UTC time).
        allow_self_approval: let the requester approve its own request (default False).
    """

    def __init__(self, store: RequestStore, *, clock: Clock | None = None,
                 allow_self_approval: bool = False) -> None:
        if store is None:
            raise MissingArgumentError("an approval workflow manager needs a request store")
        self._store = store
        self._clock = clock or utc_now
        self._allow_self_approval = bool(allow_self_approval)

    @property
    def store(self) -> RequestStore:
        """The store the manager writes to."""
        return self._store

    def _open_requirement(
        self, request_id: str, approval_id: str, context: MutationContext, action: str,
        reason: Any, metadata: Any, rejection: Any = None,
    ) -> tuple[MutationRequest, int, datetime]:
        """Check the arguments, load the request and run every check of DOMAIN §2.7, in its
        order.

        Returns the loaded request, the index of the requirement, and the decision time.
        """
        if is_blank(request_id):
            raise InvalidArgumentError(f"{action} needs a non-blank request id")
        if is_blank(approval_id):
            raise InvalidArgumentError(
                f"{action} on request '{request_id}' needs a non-blank approval id")
        if context is None:
            raise MissingArgumentError(
                f"{action} on request '{request_id}', approval '{approval_id}' needs the "
                "actor's context")
        if not isinstance(context, MutationContext):
            raise InvalidArgumentError(
                f"{action} on request '{request_id}', approval '{approval_id}' needs a "
                f"MutationContext, not {type(context).__name__}")
        if context.timestamp.utcoffset() is None:
            raise InvalidArgumentError(
                f"{action} on request '{request_id}', approval '{approval_id}': the context's "
                "timestamp has no timezone; every instant must be timezone-aware")
        if reason is not None and not isinstance(reason, str):
            raise InvalidArgumentError(
                f"{action} on request '{request_id}', approval '{approval_id}' needs a text "
                f"reason, not {type(reason).__name__}")
        _check_caller_metadata(request_id, approval_id, metadata, "the caller's metadata")
        if rejection is not None:
            if not isinstance(rejection, ApprovalRejectionReason):
                raise InvalidArgumentError(
                    f"request '{request_id}', approval '{approval_id}': a rejection reason must "
                    f"be an ApprovalRejectionReason, not {type(rejection).__name__}")
            _check_caller_metadata(request_id, approval_id, rejection.metadata,
                                   "the rejection's metadata")
        loaded = self._store.require(request_id)
        status = loaded.lifecycle.status
        reason = loaded.lifecycle.pending_reason
        if status != RequestStatus.PENDING or reason != PendingReason.APPROVAL:
            waiting = f" for {reason.name}" if reason is not None else ""
            raise InvalidApprovalWorkflowStateError(
                request_id, f"it is {status.name}{waiting}, not PENDING for APPROVAL")
        if not loaded.approval_requirements:
            raise InvalidApprovalWorkflowStateError(request_id, "it has no approval requirements")
        claim = held_claim(loaded)
        if claim is not None:
            # As for lifecycle transitions: a claimed request belongs to the execution that
            # claimed it until that execution records its outcome.
            raise InvalidApprovalWorkflowStateError(
                request_id, f"execution '{claim.claim_id}' has claimed it")
        index = next((i for i, r in enumerate(loaded.approval_requirements)
                      if r.approval_id == approval_id), None)
        if index is None:
            raise ApprovalRequirementNotFoundError(request_id, approval_id)
        requirement = loaded.approval_requirements[index]
        if requirement.status != ApprovalRequirementStatus.PENDING:
            raise InvalidApprovalActionError(
                request_id, approval_id, f"the requirement is already {requirement.status.name}")
        now = self._clock()
        expires_at = requirement.expires_at
        # DOMAIN compares the deadline with the context's timestamp; the manager's clock is
        # checked too, so a context with a back-dated timestamp cannot act after the deadline.
        if expires_at is not None and (expires_at <= context.timestamp or expires_at <= now):
            raise ApprovalRequirementExpiredError(request_id, approval_id, expires_at)
        actor_id = context.actor_id
        if is_blank(actor_id):
            raise InvalidApprovalActionError(
                request_id, approval_id, f"{action} needs a context with a non-blank actor id")
        if not is_approval_target(requirement, context):
            raise InvalidApprovalActionError(
                request_id, approval_id,
                f"actor '{actor_id}' is not a target of this requirement, which expects "
                f"{_describe_target(requirement)}")
        step = current_approval_step(loaded)
        if requirement.step_order != step:
            raise InvalidApprovalActionError(
                request_id, approval_id,
                f"the requirement belongs to step {requirement.step_order}, but step {step} "
                "is still being decided")
        return loaded, index, now

    def approve_requirement(
        self,
        request_id: str,
        approval_id: str,
        context: MutationContext,
        reason: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> MutationRequest:
        """Approve one approval requirement of a request pending approval.

        The requirement becomes APPROVED. When it belongs to an approval group of more than one
        member in its step and the group now has ``required_approvals`` approvals, the group's
        other PENDING members become SATISFIED. Decisions appended: approval GRANTED, approval
        QUORUM_SATISFIED when this approval reached the group's quorum, and lifecycle APPROVED
        when every requirement is APPROVED or SATISFIED, in which case the request becomes
        APPROVED (no pending reason); otherwise it stays PENDING for approval.

        Args:
            request_id: the stored request.
            approval_id: the requirement to approve.
            context: the approving actor; its ``actor_id``, ``metadata["ActorRoles"]`` and
                ``metadata["ActorGroups"]`` decide whether it is a target.
            reason: the decision reason (defaults to ``context.reason``).
            metadata: extra decision metadata; it adds keys, and may not set the workflow's
                own (``APPROVAL_DECISION_KEYS``).

        Returns:
            The stored snapshot (revision + 1).

        Raises:
            InvalidArgumentError: ``request_id`` or ``approval_id`` is blank.
            MissingArgumentError: ``context`` is None.
            RequestNotFoundError: no such request.
            InvalidApprovalWorkflowStateError: the request is not PENDING for APPROVAL, has no
                approval requirements, or is claimed by a governed execution.
            ApprovalRequirementNotFoundError: the request has no such approval requirement.
            InvalidArgumentError: ``reason`` is not text; ``metadata`` is not a mapping or
                sets one of ``APPROVAL_DECISION_KEYS``; the context's timestamp has no
                timezone.
            InvalidApprovalActionError: the requirement is already decided, the context has no
                actor id, the actor is not a target, the requirement is not in the current
                step, the actor already approved another member of the same approval group
                (a quorum counts distinct actors, compared through ``actor_identity``), or the
                actor is the requester (unless ``allow_self_approval``).
            ApprovalRequirementExpiredError: the requirement's deadline is at or before the
                context's timestamp or the manager's clock.
            RequestConcurrencyError: another writer changed the request first.
        """
        loaded, index, now = self._open_requirement(request_id, approval_id, context, "approval",
                                                    reason, metadata)
        requirements = list(loaded.approval_requirements)
        requirement = requirements[index]
        actor_id = context.actor_id
        assert actor_id is not None  # _open_requirement refuses a blank actor id
        identity = actor_identity(actor_id)
        requester = loaded.payload.context.actor_id
        if (not self._allow_self_approval and requester
                and actor_identity(requester) == identity):
            raise InvalidApprovalActionError(
                request_id, approval_id,
                f"actor '{actor_id}' requested this change and cannot approve it; the "
                "requester and its approvers must be different actors")
        group_id = requirement.approval_group_id
        members: list[int] = []
        if group_id:
            step = requirement.step_order
            members = [i for i, r in enumerate(requirements)
                       if r.approval_group_id == group_id and r.step_order == step]
            # DOMAIN counts approvals per requirement; without this check one actor matching
            # several members (its id and a role) would meet an N-of-M quorum alone.
            for i in members:
                other = requirements[i]
                if (other.status == ApprovalRequirementStatus.APPROVED
                        and other.decision_context is not None
                        and other.decision_context.actor_id
                        and actor_identity(other.decision_context.actor_id) == identity):
                    raise InvalidApprovalActionError(
                        request_id, approval_id,
                        f"actor '{actor_id}' already approved requirement '{other.approval_id}' "
                        f"of approval group '{group_id}'; its quorum needs distinct approvers")

        requirements[index] = _requirement_decided(
            requirement, ApprovalRequirementStatus.APPROVED, now, context,
            reason or context.reason)
        decisions = [RequestDecision.approval(
            ApprovalDecision.GRANTED, context, reason or context.reason,
            approval_decision_metadata(requirement, None, metadata), now)]

        if len(members) > 1:
            approved = sum(1 for i in members
                           if requirements[i].status == ApprovalRequirementStatus.APPROVED)
            if approved >= requirement.required_approvals:
                for i in members:
                    if requirements[i].status == ApprovalRequirementStatus.PENDING:
                        requirements[i] = _requirement_decided(
                            requirements[i], ApprovalRequirementStatus.SATISFIED, now, context,
                            f"Approval group '{group_id}' reached its quorum")
                decisions.append(RequestDecision.approval(
                    ApprovalDecision.QUORUM_SATISFIED, context,
                    f"Approval group '{group_id}' reached its quorum of "
                    f"{requirement.required_approvals}",
                    {"ApprovalGroupId": group_id,
                     "RequiredApprovals": requirement.required_approvals}, now))

        lifecycle_changes: dict[str, Any] = {"updated_at": now}
        if all(r.status in FULFILLED_APPROVAL_STATUSES for r in requirements):
            decisions.append(RequestDecision.lifecycle(
                LifecycleDecision.APPROVED, context, "Every approval requirement is fulfilled",
                timestamp=now))
            lifecycle_changes.update(status=RequestStatus.APPROVED, pending_reason=None)
        return self._store.store_next(
            _decided(loaded, requirements, decisions, lifecycle_changes), loaded.revision)

    def reject_requirement(
        self,
        request_id: str,
        approval_id: str,
        context: MutationContext,
        reason: str | None = None,
        rejection: ApprovalRejectionReason | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> MutationRequest:
        """Reject one approval requirement, which rejects the request.

        The requirement becomes REJECTED and keeps ``rejection``; decisions appended: approval
        REJECTED then lifecycle REJECTED; the request becomes REJECTED (terminal) with no
        pending reason or deadline. The reason is ``reason``, else the rejection's message,
        else ``context.reason`` (the lifecycle decision falls back to a generic reason).

        Args:
            request_id: the stored request.
            approval_id: the requirement to reject.
            context: the rejecting actor, a target of the requirement.
            reason: the decision reason.
            rejection: a structured reason (code, category, message, metadata); its code,
                category and metadata go into the approval decision's metadata.
            metadata: extra decision metadata; it adds keys, and may not set the workflow's
                own (``APPROVAL_DECISION_KEYS``).

        Returns:
            The stored snapshot (revision + 1).

        Raises:
            The errors of ``approve_requirement``, except the distinct-approver and the
            self-approval checks (a requester may reject its own request); a ``rejection``
            whose metadata sets one of ``APPROVAL_DECISION_KEYS`` is refused as the caller's
            metadata is.
        """
        loaded, index, now = self._open_requirement(request_id, approval_id, context,
                                                    "rejection", reason, metadata, rejection)
        requirement = loaded.approval_requirements[index]
        text = reason or (rejection.message if rejection is not None else None) or context.reason
        requirements = list(loaded.approval_requirements)
        requirements[index] = _requirement_decided(
            requirement, ApprovalRequirementStatus.REJECTED, now, context, text,
            rejection=rejection)
        decisions = (
            RequestDecision.approval(
                ApprovalDecision.REJECTED, context, text,
                approval_decision_metadata(requirement, rejection, metadata), now),
            RequestDecision.lifecycle(
                LifecycleDecision.REJECTED, context,
                text or "An approver rejected the request", timestamp=now),
        )
        return self._store.store_next(
            _decided(loaded, requirements, decisions,
                     {**TO_REJECTED.edits, "expires_at": None, "updated_at": now}),
            loaded.revision)

    def expire_pending_approvals(
        self, now: datetime, context: MutationContext
    ) -> list[MutationRequest]:
        """Reject every request pending approval that has a PENDING requirement whose deadline
        is at or before ``now``.

        For each such request: the due requirements become EXPIRED, one approval EXPIRED
        decision is appended per requirement, then a lifecycle REJECTED decision (metadata
        ``ExpiredApprovalIds``); the request becomes REJECTED (not EXPIRED: the request's own
        deadline is the lifecycle's business). Requests claimed by a governed execution are
        skipped.

        Args:
            now: the time deadlines are compared with.
            context: the sweeping actor.

        Returns:
            The stored snapshots of the rejected requests, in creation order.

        Raises:
            MissingArgumentError: ``now`` or ``context`` is None.
            RequestConcurrencyError: another writer changed a request first; the sweep stops,
                and the requests rejected before it stay rejected.
        """
        if now is None:
            raise MissingArgumentError("an approval expiry sweep needs the time to compare with")
        if context is None:
            raise MissingArgumentError("an approval expiry sweep needs the sweeper's context")
        rejected: list[MutationRequest] = []
        for request in self._store.get_pending_approvals_due(now):
            if held_claim(request) is not None:
                continue
            due = [i for i, r in enumerate(request.approval_requirements)
                   if r.status == ApprovalRequirementStatus.PENDING
                   and r.expires_at is not None and r.expires_at <= now]
            if not due:
                continue
            at = self._clock()
            requirements = list(request.approval_requirements)
            decisions: list[RequestDecision] = []
            for i in due:
                requirement = requirements[i]
                assert requirement.expires_at is not None
                text = f"Approval deadline {requirement.expires_at.isoformat()} passed"
                requirements[i] = _requirement_decided(
                    requirement, ApprovalRequirementStatus.EXPIRED, at, context, text)
                decisions.append(RequestDecision.approval(
                    ApprovalDecision.EXPIRED, context, text,
                    approval_decision_metadata(requirement), at))
            decisions.append(RequestDecision.lifecycle(
                LifecycleDecision.REJECTED, context,
                "Rejected because an approval requirement expired before it was decided",
                {"ExpiredApprovalIds": [requirements[i].approval_id for i in due]}, at))
            rejected.append(self._store.store_next(
                _decided(request, requirements, decisions,
                         {**TO_REJECTED.edits, "expires_at": None, "updated_at": at}),
                request.revision))
        return rejected

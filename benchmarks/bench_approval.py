"""The approval workflow: building requests that wait for approval, and
``ApprovalWorkflowManager`` deciding and expiring their requirements.

``ApprovalRequestCreation``: one timed call is one ``MutationRequest.pending_approval`` factory
call (requirements mapped to approval requirements, three decisions, the request validated).
It is pure: there is no ``setup``, the inputs are built on the first call (asv's calibration
call), and asv times many calls per sample.

``ApprovalDecisions`` and ``ApprovalExpiration``: one timed call is one manager action on a
stored request pending approval (load, every check of the workflow, new requirement and request
snapshots, decisions appended, compare-and-set). Each consumes its request, so ``setup`` builds
a fresh store, manager and request for every call (``number = 1``); none of that is timed.
Requests are on ``governance-benchmark:approval``, expected version v10, created at the fixed
``BASE_TIME``; the expiry sweep runs at the fixed ``SWEEP_AT``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from .common import (
    APPROVAL_STATE_ID,
    BASE_TIME,
    EXPECTED_VERSION,
    GOVERNANCE_MUTATION_TYPE,
    GOVERNANCE_STATE_TYPE,
    SWEEP_AT,
)
from .fixtures_requests import (
    approval_request,
    approval_requirements,
    approver_context,
    governance_intent,
    rejection_reason,
    requester_context,
)
from .harness import FreshPerCall, ReadOnlyBenchmark, allocation_twins, kept

REQUEST_ID = "approval-request-1"
_REQUIRED = ("ApprovalWorkflowManager",)
CREATION_SHAPES = ("single_step", "two_step", "role_based")


def _create(g: Any, shape: str) -> Any:
    return partial(
        g.MutationRequest.pending_approval, APPROVAL_STATE_ID, GOVERNANCE_STATE_TYPE,
        GOVERNANCE_MUTATION_TYPE, governance_intent(g), requester_context(g),
        approval_requirements(g, shape), expected_state_version=EXPECTED_VERSION,
        request_id=REQUEST_ID, now=BASE_TIME)


def stored_approval(g: Any, shape: str) -> tuple[Any, Any, Any]:
    """A fresh store and manager holding the ``shape`` request; returns (manager, request,
    approval ids by approver)."""
    store = g.InMemoryRequestStore()
    manager = g.ApprovalWorkflowManager(store)
    request = store.create(approval_request(g, approval_requirements(g, shape), REQUEST_ID))
    ids = {r.approver_id: r.approval_id for r in request.approval_requirements}
    return manager, request, ids


def _granted(g: Any) -> Any:
    manager, _, ids = stored_approval(g, "single_step")
    alice = approver_context(g, "alice")
    return lambda: manager.approve_requirement(REQUEST_ID, ids["alice"], alice)


def _first_step(g: Any) -> Any:
    manager, _, ids = stored_approval(g, "two_step")
    alice = approver_context(g, "alice")
    return lambda: manager.approve_requirement(REQUEST_ID, ids["alice"], alice)


def _second_step(g: Any) -> Any:
    manager, _, ids = stored_approval(g, "two_step")
    manager.approve_requirement(REQUEST_ID, ids["alice"], approver_context(g, "alice"))
    bob = approver_context(g, "bob")
    return lambda: manager.approve_requirement(REQUEST_ID, ids["bob"], bob)


def _rejected(g: Any) -> Any:
    manager, _, ids = stored_approval(g, "single_step")
    alice, rejection = approver_context(g, "alice"), rejection_reason(g)
    return lambda: manager.reject_requirement(REQUEST_ID, ids["alice"], alice,
                                              rejection=rejection)


def _expire(g: Any) -> Any:
    manager, _, _ = stored_approval(g, "expired")
    sweeper = g.MutationContext.service("approval-sweeper", "Approval expiry sweep")
    return lambda: manager.expire_pending_approvals(SWEEP_AT, sweeper)


CREATION = {f"pending_approval_{shape}": (lambda g, shape=shape: _create(g, shape))
            for shape in CREATION_SHAPES}
DECISIONS = {
    "approve_requirement_granted": _granted,
    "approve_first_step_request_still_pending": _first_step,
    "approve_second_step_finalizes": _second_step,
    "reject_requirement_with_structured_reason": _rejected,
}
EXPIRATION = {"expire_pending_approvals_sweep": _expire}


class ApprovalRequestCreation(ReadOnlyBenchmark):
    """``pending_approval`` with a fixed id and time:

    - single_step: one approver (alice, "Manager approval").
    - two_step: alice (step 1) then bob (step 2, "Security approval").
    - role_based: the role security-approver, step 1.
    """

    version = "1"
    rounds = 2
    repeat = (10, 25, 0.25)

    def build(self, g: Any) -> dict[str, Any]:
        return {name: build(g) for name, build in CREATION.items()}

    def time_pending_approval_single_step(self) -> None:
        self.fixtures[None]["pending_approval_single_step"]()

    def time_pending_approval_two_step(self) -> None:
        self.fixtures[None]["pending_approval_two_step"]()

    def time_pending_approval_role_based(self) -> None:
        self.fixtures[None]["pending_approval_role_based"]()


class ApprovalDecisions(FreshPerCall):
    """One approval decision on a fresh stored request.

    - approve_requirement_granted: alice approves the single-step request: APPROVED.
    - approve_first_step_request_still_pending: alice approves step 1 of the two-step request:
      it stays PENDING for approval.
    - approve_second_step_finalizes: bob approves step 2 (alice approved step 1 in ``setup``):
      APPROVED.
    - reject_requirement_with_structured_reason: alice rejects the single-step request with
      code benchmark-rejection, category policy: REJECTED.
    """

    required = _REQUIRED
    scenarios = DECISIONS

    def time_approve_requirement_granted(self) -> None:
        self.ops["approve_requirement_granted"]()

    def time_approve_first_step_request_still_pending(self) -> None:
        self.ops["approve_first_step_request_still_pending"]()

    def time_approve_second_step_finalizes(self) -> None:
        self.ops["approve_second_step_finalizes"]()

    def time_reject_requirement_with_structured_reason(self) -> None:
        self.ops["reject_requirement_with_structured_reason"]()


class ApprovalExpiration(FreshPerCall):
    """``expire_pending_approvals`` (service context approval-sweeper) over a store holding one
    request whose only requirement's deadline passed: the requirement becomes EXPIRED and the
    request REJECTED."""

    required = _REQUIRED
    scenarios = EXPIRATION

    def time_expire_pending_approvals_sweep(self) -> None:
        self.ops["expire_pending_approvals_sweep"]()


ApprovalRequestCreationAllocatedBytes, ApprovalRequestCreationAllocatedBlocks = (
    allocation_twins("ApprovalRequestCreation", kept(CREATION),
                     what="one pending_approval factory call"))

ApprovalDecisionsAllocatedBytes, ApprovalDecisionsAllocatedBlocks = allocation_twins(
    "ApprovalDecisions", {**DECISIONS, **EXPIRATION},
    what="one approval workflow action on a fresh store", required=_REQUIRED)

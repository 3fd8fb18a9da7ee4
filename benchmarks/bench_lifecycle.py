"""The request lifecycle: ``LifecycleManager`` submitting, moving and expiring requests.

One timed call is one lifecycle action: ``submit`` of unsaved requests (100 per call: one
submit is sub-microsecond), one transition of a stored PENDING request (load, check the
transition table, append the lifecycle decision, compare-and-set), or one expiry sweep. Each
action consumes its requests, so ``setup`` builds a fresh in-memory store, manager and
request(s) for every call (``number = 1``); none of that is timed. Requests are PENDING for
APPROVAL on ``governance-benchmark:lifecycle``, expected version v12, created at the fixed
``BASE_TIME``; the sweep runs at the fixed ``SWEEP_AT``.
"""

from __future__ import annotations

from typing import Any

from .common import DUE_AT, NOT_DUE_AT, SWEEP_AT
from .fixtures_requests import approver_context, lifecycle_request
from .harness import FreshPerCall, allocation_twins

REQUEST_ID = "lifecycle-request-1"


SUBMITTED_PER_CALL = 100
"""One submit takes under a microsecond, below what one individually timed call measures
reliably (ASV.md), so a submission call submits this many requests."""


def _submit(g: Any) -> Any:
    submit = g.LifecycleManager(g.InMemoryRequestStore()).submit
    template = lifecycle_request(g, REQUEST_ID)
    requests = [template.model_copy(update={"request_id": f"lifecycle-submit-{i:03d}"})
                for i in range(SUBMITTED_PER_CALL)]

    def run() -> list[Any]:
        return [submit(request) for request in requests]

    return run


def _transition(g: Any, action: str) -> Any:
    manager = g.LifecycleManager(g.InMemoryRequestStore())
    manager.submit(lifecycle_request(g, REQUEST_ID))
    context = approver_context(g, "reviewer")
    move = getattr(manager, action)
    return lambda: move(REQUEST_ID, context, f"Reviewer chose to {action}")


def _sweep(g: Any) -> Any:
    manager = g.LifecycleManager(g.InMemoryRequestStore())
    manager.submit(lifecycle_request(g, "lifecycle-expired-1", expires_at=DUE_AT))
    manager.submit(lifecycle_request(g, "lifecycle-active-1", expires_at=NOT_DUE_AT))
    context = g.MutationContext.service("lifecycle-sweeper", "Expiry sweep")
    return lambda: manager.expire_due_requests(SWEEP_AT, context)


_TRANSITIONS = {"approve_pending": "approve", "reject_pending": "reject",
                "cancel_pending": "cancel"}
SCENARIOS = {
    "submit_100_pending_requests": _submit,
    **{name: (lambda g, action=action: _transition(g, action))
       for name, action in _TRANSITIONS.items()},
    "expire_due_requests_sweep": _sweep,
}


class RequestSubmission(FreshPerCall):
    """``submit`` of 100 unsaved PENDING requests (distinct ids) into an empty store, one after
    the other (each stored as it is, revision 0, no decision added). The figure is for all 100:
    divide by 100 for one submit."""

    scenarios = {"submit_100_pending_requests": _submit}

    def time_submit_100_pending_requests(self) -> None:
        self.ops["submit_100_pending_requests"]()


class LifecycleTransitions(FreshPerCall):
    """One transition of the stored PENDING request: APPROVED (pending reason cleared),
    REJECTED or CANCELED (terminal; pending reason and deadline cleared)."""

    scenarios = {name: SCENARIOS[name] for name in _TRANSITIONS}

    def time_approve_pending(self) -> None:
        self.ops["approve_pending"]()

    def time_reject_pending(self) -> None:
        self.ops["reject_pending"]()

    def time_cancel_pending(self) -> None:
        self.ops["cancel_pending"]()


class LifecycleExpiration(FreshPerCall):
    """``expire_due_requests`` over a store holding one PENDING request whose deadline passed
    (``DUE_AT``) and one whose deadline is ahead (``NOT_DUE_AT``): the first becomes EXPIRED."""

    scenarios = {"expire_due_requests_sweep": _sweep}

    def time_expire_due_requests_sweep(self) -> None:
        self.ops["expire_due_requests_sweep"]()


LifecycleAllocatedBytes, LifecycleAllocatedBlocks = allocation_twins(
    "Lifecycle", SCENARIOS, what="one lifecycle action on a fresh store")

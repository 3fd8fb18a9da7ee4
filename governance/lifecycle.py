"""The request lifecycle: the transition table and the manager that enforces it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from governance._clock import Clock, utc_now
from governance.core.context import MutationContext
from governance.decisions import LifecycleDecision, RequestDecision, check_decision_inputs
from governance.errors import (
    InvalidArgumentError,
    InvalidTransitionError,
    MissingArgumentError,
    RequestClaimedError,
)
from governance.requests import MutationRequest, PendingReason, RequestStatus, held_claim
from governance.store import RequestStore

ALLOWED_TRANSITIONS: Mapping[RequestStatus, frozenset[RequestStatus]] = {
    RequestStatus.CREATED: frozenset({
        RequestStatus.PENDING, RequestStatus.APPROVED, RequestStatus.CANCELED,
        RequestStatus.SUPERSEDED,
    }),
    RequestStatus.PENDING: frozenset({
        RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.CANCELED,
        RequestStatus.EXPIRED, RequestStatus.SUPERSEDED,
    }),
    RequestStatus.APPROVED: frozenset({
        RequestStatus.PENDING, RequestStatus.REJECTED, RequestStatus.CANCELED,
        RequestStatus.SUPERSEDED, RequestStatus.EXECUTED,
    }),
    RequestStatus.REJECTED: frozenset(),
    RequestStatus.CANCELED: frozenset(),
    RequestStatus.EXPIRED: frozenset(),
    RequestStatus.SUPERSEDED: frozenset(),
    RequestStatus.EXECUTED: frozenset(),
}
"""Status → the statuses the lifecycle manager may move it to. A same-status move is refused."""

_DECISION_FOR = {
    RequestStatus.PENDING: LifecycleDecision.PENDING,
    RequestStatus.APPROVED: LifecycleDecision.APPROVED,
    RequestStatus.REJECTED: LifecycleDecision.REJECTED,
    RequestStatus.CANCELED: LifecycleDecision.CANCELED,
    RequestStatus.EXPIRED: LifecycleDecision.EXPIRED,
    RequestStatus.SUPERSEDED: LifecycleDecision.SUPERSEDED,
    RequestStatus.EXECUTED: LifecycleDecision.EXECUTED,
}


def can_transition(current: RequestStatus, target: RequestStatus) -> bool:
    """Whether the lifecycle table allows ``current`` → ``target``."""
    return target in ALLOWED_TRANSITIONS[current]


class LifecycleManager:
    """Moves stored requests through the lifecycle, one checked, recorded write at a time.

    Every transition validates against ``ALLOWED_TRANSITIONS``, appends a lifecycle decision, and
    persists through the store's compare-and-set; a refused or conflicting call writes nothing.
    """

    def __init__(self, store: RequestStore, *, clock: Clock | None = None) -> None:
        if store is None:
            raise MissingArgumentError("a lifecycle manager needs a request store")
        self._store = store
        self._clock = clock or utc_now

    @property
    def store(self) -> RequestStore:
        """The store the manager writes to."""
        return self._store

    def submit(self, request: MutationRequest) -> MutationRequest:
        """Store a new request as it is (its status is kept; no decision is added).

        Raises:
            RequestAlreadyExistsError: the id is already stored.
        """
        return self._store.create(request)

    def _transition(
        self,
        request_id: str,
        target: RequestStatus,
        context: MutationContext,
        reason: str | None,
        metadata: Mapping[str, Any] | None,
        **lifecycle_edits: Any,
    ) -> MutationRequest:
        if context is None:
            raise MissingArgumentError(
                f"moving request '{request_id}' to {target.name} needs the actor's context")
        loaded = self._store.require(request_id)
        current = loaded.lifecycle.status
        if not can_transition(current, target):
            raise InvalidTransitionError(request_id, current, target)
        claim = held_claim(loaded)
        if claim is not None:
            # A claimed request belongs to the governed execution that claimed it until that
            # execution records its outcome; a transition now (say a cancel while the engine
            # runs) would record CANCELED for a mutation that was applied. ``next_snapshot``
            # refuses it too; checked here first to name the transition.
            raise RequestClaimedError(request_id, claim.claim_id, f"moved to {target.name}")
        action = f"moving request '{request_id}' to {target.name}"
        check_decision_inputs(action, context, reason, metadata)
        now = self._clock()
        if now.tzinfo is None:
            raise InvalidArgumentError(
                f"{action}: the lifecycle manager's clock returned {now!r}, without a "
                "timezone; every instant must be timezone-aware")
        decision = RequestDecision.lifecycle(_DECISION_FOR[target], context, reason, metadata,
                                             timestamp=now)
        return self._store.store_next(
            loaded.with_decision(decision, lifecycle_changes={"status": target, **lifecycle_edits}),
            loaded.revision)

    def move_to_pending(
        self,
        request_id: str,
        pending_reason: PendingReason,
        context: MutationContext,
        reason: str | None = None,
        *,
        expires_at: datetime | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> MutationRequest:
        """Move to PENDING for ``pending_reason``, with an optional deadline.

        Raises:
            InvalidArgumentError: ``request_id`` is blank; ``context`` is not a
                ``MutationContext``, ``reason`` not text, ``metadata`` not a mapping,
                ``pending_reason`` not a ``PendingReason``, ``expires_at`` not a
                timezone-aware datetime, or the clock returned a naive instant.
            MissingArgumentError: ``pending_reason`` or ``context`` is None.
            RequestNotFoundError: no such request.
            InvalidTransitionError: the table refuses the move.
            RequestClaimedError: a running governed execution holds the request (an
                ``InvalidOperationError``).
            RequestConcurrencyError: another writer changed the request first.
        """
        if pending_reason is None:
            raise MissingArgumentError(
                f"moving request '{request_id}' to PENDING needs a pending reason")
        return self._transition(request_id, RequestStatus.PENDING, context, reason, metadata,
                                pending_reason=pending_reason, expires_at=expires_at)

    def approve(self, request_id: str, context: MutationContext, reason: str | None = None,
                metadata: Mapping[str, Any] | None = None) -> MutationRequest:
        """Move to APPROVED (clears the pending reason). Raises as ``move_to_pending``."""
        return self._transition(request_id, RequestStatus.APPROVED, context, reason, metadata,
                                pending_reason=None)

    def reject(self, request_id: str, context: MutationContext, reason: str | None = None,
               metadata: Mapping[str, Any] | None = None) -> MutationRequest:
        """Move to REJECTED (terminal; clears pending reason and deadline)."""
        return self._transition(request_id, RequestStatus.REJECTED, context, reason, metadata,
                                pending_reason=None, expires_at=None)

    def cancel(self, request_id: str, context: MutationContext, reason: str | None = None,
               metadata: Mapping[str, Any] | None = None) -> MutationRequest:
        """Move to CANCELED (terminal; clears pending reason and deadline)."""
        return self._transition(request_id, RequestStatus.CANCELED, context, reason, metadata,
                                pending_reason=None, expires_at=None)

    def expire(self, request_id: str, context: MutationContext, reason: str | None = None,
               metadata: Mapping[str, Any] | None = None) -> MutationRequest:
        """Move to EXPIRED (terminal; clears pending reason and deadline)."""
        return self._transition(request_id, RequestStatus.EXPIRED, context, reason, metadata,
                                pending_reason=None, expires_at=None)

    def supersede(self, request_id: str, superseding_request_id: str, context: MutationContext,
                  reason: str | None = None,
                  metadata: Mapping[str, Any] | None = None) -> MutationRequest:
        """Move to SUPERSEDED by ``superseding_request_id`` (terminal), recorded in the metadata.

        Raises:
            InvalidArgumentError: ``superseding_request_id`` is blank or is ``request_id``.
        """
        if superseding_request_id is None or not str(superseding_request_id).strip():
            raise InvalidArgumentError(
                f"superseding request '{request_id}' needs the id of the request replacing it")
        if superseding_request_id == request_id:
            raise InvalidArgumentError(f"request '{request_id}' cannot supersede itself")
        merged = {**(metadata or {}), "SupersedingRequestId": superseding_request_id}
        return self._transition(
            request_id, RequestStatus.SUPERSEDED, context,
            reason or f"Replaced by request '{superseding_request_id}'", merged,
            pending_reason=None, expires_at=None)

    def mark_executed(self, request_id: str, context: MutationContext, reason: str | None = None,
                      metadata: Mapping[str, Any] | None = None) -> MutationRequest:
        """Move to EXECUTED (terminal) without running anything: for executions done elsewhere."""
        return self._transition(request_id, RequestStatus.EXECUTED, context, reason, metadata,
                                pending_reason=None, expires_at=None)

    def expire_due_requests(self, now: datetime, context: MutationContext) -> list[MutationRequest]:
        """Expire every PENDING request whose deadline is at or before ``now``.

        Returns the expired snapshots. Requests held by a running governed execution (a
        revalidation puts a claimed request back to PENDING with its deadline) are skipped: the
        execution records their outcome. A concurrency conflict aborts the sweep with
        ``RequestConcurrencyError``; requests expired before it stay expired.
        """
        if now is None:
            raise MissingArgumentError("an expiry sweep needs the time to compare deadlines with")
        if context is None:
            raise MissingArgumentError("an expiry sweep needs the sweeper's context")
        expired = []
        for request in self._store.get_pending_due(now):
            if held_claim(request) is not None:
                continue
            deadline = request.lifecycle.expires_at
            assert deadline is not None
            expired.append(self.expire(
                request.request_id, context, f"Pending deadline {deadline.isoformat()} passed"))
        return expired

    def get_pending(self, reason: PendingReason | None = None) -> list[MutationRequest]:
        """PENDING requests, ordered by creation time."""
        return self._store.get_pending(reason)

    def get_pending_by_state_id(self, state_id: str,
                                reason: PendingReason | None = None) -> list[MutationRequest]:
        """PENDING requests for ``state_id``, ordered by creation time."""
        return self._store.get_pending_by_state_id(state_id, reason)

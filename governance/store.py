"""The request store contract: optimistic concurrency on every write.

Every runtime write follows the same steps: load a snapshot, compute the next snapshot, then
``try_store(next, expected_revision=loaded.revision)``. A ``None`` answer means another writer got
there first, and the caller raises ``RequestConcurrencyError``; nothing is overwritten.

The in-memory implementation is ``governance.memory``; the query contract beside it,
``RequestQueryStore``, is ``governance.queries``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from governance.approval_requirements import ApprovalRequirementStatus
from governance.errors import (
    InvalidArgumentError,
    RequestConcurrencyError,
    RequestNotFoundError,
)
from governance.requests import MutationRequest, PendingReason


def lifecycle_due(request: MutationRequest, now: datetime) -> bool:
    """Whether ``request`` has its own deadline (``expires_at``) at or before ``now``."""
    deadline = request.lifecycle.expires_at
    return deadline is not None and deadline <= now


def approval_due(request: MutationRequest, now: datetime) -> bool:
    """Whether ``request`` waits for APPROVAL with a PENDING approval requirement whose
    deadline is at or before ``now``."""
    return request.lifecycle.pending_reason == PendingReason.APPROVAL and any(
        a.status == ApprovalRequirementStatus.PENDING and a.expires_at is not None
        and a.expires_at <= now for a in request.approval_requirements)


def creation_order(request: MutationRequest) -> tuple[object, str]:
    """The order every store listing follows: creation time, then request id."""
    return (request.lifecycle.created_at, request.request_id)


class RequestStore(ABC):
    """Where governed requests live. Implementations must be safe for callers on several threads.

    Stored requests are immutable snapshots: a store may hand out the object it holds.
    """

    @abstractmethod
    def create(self, request: MutationRequest) -> MutationRequest:
        """Store a new request with ``revision = 0`` and return the stored snapshot.

        The snapshot must obey the rules every change obeys (``check_snapshot``): a
        ``RequestStatus``, timezone-aware instants, no claim held by an execution, APPROVED only
        with every approval requirement fulfilled.

        Raises:
            MissingArgumentError: ``request`` is None.
            InvalidArgumentError: the snapshot breaks one of those rules; nothing is stored.
            RequestAlreadyExistsError: a request with the same id is stored; nothing changes.
        """

    @abstractmethod
    def try_store(self, request: MutationRequest, expected_revision: int) -> MutationRequest | None:
        """Replace the stored snapshot when its revision equals ``expected_revision``.

        The incoming ``revision`` field is ignored: the stored snapshot gets
        ``expected_revision + 1``, and is returned. Returns ``None``, changing nothing, when the id
        is unknown or the stored revision differs. The snapshot is trusted to come from
        ``next_snapshot`` (the runtime's writers build every change there), so it is not checked
        again on this hot path.

        Raises:
            MissingArgumentError: ``request`` is None.
            InvalidArgumentError: ``expected_revision`` is not an int.
        """

    @abstractmethod
    def get(self, request_id: str) -> MutationRequest | None:
        """The stored snapshot, or ``None``."""

    @abstractmethod
    def get_by_state_id(self, state_id: str) -> list[MutationRequest]:
        """Every request targeting ``state_id``, ordered by creation time then id."""

    @abstractmethod
    def get_pending(self, reason: PendingReason | None = None) -> list[MutationRequest]:
        """PENDING requests (with ``reason`` when given), ordered by creation time then id."""

    @abstractmethod
    def get_pending_by_state_id(
        self, state_id: str, reason: PendingReason | None = None
    ) -> list[MutationRequest]:
        """PENDING requests targeting ``state_id`` (with ``reason`` when given), ordered."""

    @abstractmethod
    def all(self) -> list[MutationRequest]:
        """Every stored request, ordered by creation time then id."""

    def get_pending_due(self, now: datetime) -> list[MutationRequest]:
        """PENDING requests whose own deadline (``expires_at``) is at or before ``now``, ordered
        by creation time then id. Stores with a deadline index override this scan."""
        return [r for r in self.get_pending() if lifecycle_due(r, now)]

    def get_pending_approvals_due(self, now: datetime) -> list[MutationRequest]:
        """Requests PENDING for APPROVAL with a PENDING approval requirement whose deadline is at
        or before ``now``, ordered by creation time then id. Stores with a deadline index
        override this scan."""
        return [r for r in self.get_pending(PendingReason.APPROVAL) if approval_due(r, now)]

    @abstractmethod
    def __len__(self) -> int:
        """How many requests are stored."""

    def require(self, request_id: str) -> MutationRequest:
        """The stored snapshot of ``request_id``.

        Raises:
            InvalidArgumentError: ``request_id`` is blank.
            RequestNotFoundError: nothing is stored under that id.
        """
        if request_id is None or not str(request_id).strip():
            raise InvalidArgumentError("a request id must not be blank")
        request = self.get(request_id)
        if request is None:
            raise RequestNotFoundError(request_id)
        return request

    def store_next(self, request: MutationRequest, expected_revision: int) -> MutationRequest:
        """``try_store`` that raises instead of answering ``None``.

        Raises:
            RequestConcurrencyError: the stored revision is not ``expected_revision``.
            RequestNotFoundError: the request is not stored.
        """
        stored = self.try_store(request, expected_revision)
        if stored is None:
            if self.get(request.request_id) is None:
                raise RequestNotFoundError(request.request_id)
            raise RequestConcurrencyError(request.request_id, expected_revision)
        return stored

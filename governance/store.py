"""Request storage with optimistic concurrency: the ``RequestStore`` contract and its in-memory
implementation.

Every runtime write follows the same steps: load a snapshot, compute the next snapshot, then
``try_store(next, expected_revision=loaded.revision)``. A ``None`` answer means another writer got
there first, and the caller raises ``RequestConcurrencyError``; nothing is overwritten.

``RequestQueryStore`` is the storage-agnostic query contract (``governance.queries``); the
in-memory store implements both, running the pure selection functions over its snapshots.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import datetime

from governance._models import evolve
from governance.errors import (
    InvalidArgumentError,
    MissingArgumentError,
    RequestAlreadyExistsError,
    RequestConcurrencyError,
    RequestNotFoundError,
)
from governance.queries import (
    ApprovalQuery,
    ApprovalView,
    DecisionQuery,
    DecisionView,
    MutationRequestQuery,
    select_pending_approvals,
    select_recent_approvals,
    select_recent_decisions,
    select_requests,
)
from governance.requests import (
    ApprovalRequirementStatus,
    MutationRequest,
    PendingReason,
    RequestStatus,
    check_snapshot,
)

_PENDING = RequestStatus.PENDING
_ONLY_PENDING = frozenset({_PENDING})


def _has_deadline(request: MutationRequest) -> bool:
    if request.lifecycle.expires_at is not None:
        return True
    return any(a.expires_at is not None and a.status == ApprovalRequirementStatus.PENDING
               for a in request.approval_requirements)


def _lifecycle_due(request: MutationRequest, now: datetime) -> bool:
    deadline = request.lifecycle.expires_at
    return deadline is not None and deadline <= now


def _approval_due(request: MutationRequest, now: datetime) -> bool:
    return request.lifecycle.pending_reason == PendingReason.APPROVAL and any(
        a.status == ApprovalRequirementStatus.PENDING and a.expires_at is not None
        and a.expires_at <= now for a in request.approval_requirements)


def _order_key(request: MutationRequest) -> tuple[object, str]:
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
        return [r for r in self.get_pending() if _lifecycle_due(r, now)]

    def get_pending_approvals_due(self, now: datetime) -> list[MutationRequest]:
        """Requests PENDING for APPROVAL with a PENDING approval requirement whose deadline is at
        or before ``now``, ordered by creation time then id. Stores with a deadline index
        override this scan."""
        return [r for r in self.get_pending(PendingReason.APPROVAL) if _approval_due(r, now)]

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


class RequestQueryStore(ABC):
    """Grouped queries over stored requests (see ``governance.queries``).

    Every method returns the latest stored snapshots, in the order its docstring fixes; ``take``
    keeps the first ``take`` results when it is not None and ≥ 0.
    """

    @abstractmethod
    def query(self, query: MutationRequestQuery) -> list[MutationRequest]:
        """The requests matching ``query``, ordered by creation time, then request id."""

    @abstractmethod
    def get_pending_requests(
        self, query: MutationRequestQuery | None = None
    ) -> list[MutationRequest]:
        """PENDING requests matching ``query``, ordered by creation time, then request id."""

    @abstractmethod
    def get_pending_approval_queue(
        self, query: MutationRequestQuery | None = None
    ) -> list[MutationRequest]:
        """Requests PENDING for APPROVAL matching ``query``, ordered by creation time, then id."""

    @abstractmethod
    def get_recent_approvals(
        self, query: MutationRequestQuery | None = None, take: int | None = None
    ) -> list[MutationRequest]:
        """Requests with approval activity (approval requirements or an approval decision)
        matching ``query`` (default ``RequestQueries.recent_approvals()``), ordered by their
        latest approval decision other than REQUESTED (else ``updated_at``) descending, then
        ``updated_at`` descending, then request id."""

    @abstractmethod
    def get_pending_approvals(self, query: ApprovalQuery | None = None) -> list[ApprovalView]:
        """Approval requirements matching ``query`` (default ``ApprovalQuery.pending()``),
        ordered by request creation time, request id, step order, then approval id."""

    @abstractmethod
    def get_recent_decisions(
        self, query: DecisionQuery | None = None, take: int | None = None
    ) -> list[DecisionView]:
        """Decisions matching ``query`` (default: all), ordered by decision timestamp
        descending, then request ``updated_at`` descending, then request id (decisions of one
        request with equal timestamps: latest appended first)."""


class InMemoryRequestStore(RequestStore, RequestQueryStore):
    """A lock-guarded dict of snapshots, with indexes by state id and for pending requests, so
    that a lookup does not scan every stored request. Implements the query store too."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[str, MutationRequest] = {}
        self._by_state: dict[str, dict[str, None]] = {}
        self._pending: dict[str, None] = {}
        # PENDING requests with a deadline of their own or on a pending approval requirement:
        # what the expiry sweeps read, so a sweep costs what is due, not what is pending.
        self._deadlines: dict[str, None] = {}

    def create(self, request: MutationRequest) -> MutationRequest:
        if request is None:
            raise MissingArgumentError("cannot create a None request")
        check_snapshot(request)
        stored = request if request.revision == 0 else evolve(request, revision=0)
        with self._lock:
            if request.request_id in self._requests:
                raise RequestAlreadyExistsError(request.request_id)
            self._requests[request.request_id] = stored
            self._by_state.setdefault(stored.scope.state_id, {})[stored.request_id] = None
            self._index_pending(stored)
        return stored

    def _index_pending(self, stored: MutationRequest) -> None:
        request_id = stored.request_id
        if stored.lifecycle.status == _PENDING:
            self._pending[request_id] = None
            if _has_deadline(stored):
                self._deadlines[request_id] = None
            else:
                self._deadlines.pop(request_id, None)
        else:
            self._pending.pop(request_id, None)
            self._deadlines.pop(request_id, None)

    def try_store(self, request: MutationRequest, expected_revision: int) -> MutationRequest | None:
        if request is None:
            raise MissingArgumentError("cannot store a None request")
        request_id = request.request_id
        if type(expected_revision) is not int:
            raise InvalidArgumentError(
                f"storing request '{request_id}' needs an int expected revision, not "
                f"{expected_revision!r}")
        with self._lock:
            current = self._requests.get(request_id)
            if current is None or current.revision != expected_revision:
                return None
            revision = expected_revision + 1
            # Snapshots are immutable: one that already carries the next revision (as
            # ``with_decision`` builds them) is stored as it is.
            stored = request if request.revision == revision else evolve(request,
                                                                          revision=revision)
            self._requests[request_id] = stored
            old_state = current.scope.state_id
            new_state = stored.scope.state_id
            if old_state != new_state:
                self._by_state[old_state].pop(request_id, None)
                self._by_state.setdefault(new_state, {})[request_id] = None
            # The pending indexes hold PENDING requests only: a snapshot that is not PENDING
            # has something to remove only when the one it replaces was.
            if stored.lifecycle.status == _PENDING or current.lifecycle.status == _PENDING:
                self._index_pending(stored)
        return stored

    def get(self, request_id: str) -> MutationRequest | None:
        return self._requests.get(request_id)

    def get_by_state_id(self, state_id: str) -> list[MutationRequest]:
        with self._lock:
            found = [self._requests[r] for r in self._by_state.get(state_id, ())]
        return sorted(found, key=_order_key)

    def get_pending(self, reason: PendingReason | None = None) -> list[MutationRequest]:
        with self._lock:
            found = [self._requests[r] for r in self._pending]
        if reason is not None:
            found = [r for r in found if r.lifecycle.pending_reason == reason]
        return sorted(found, key=_order_key)

    def get_pending_by_state_id(
        self, state_id: str, reason: PendingReason | None = None
    ) -> list[MutationRequest]:
        return [r for r in self.get_by_state_id(state_id)
                if r.lifecycle.status == RequestStatus.PENDING
                and (reason is None or r.lifecycle.pending_reason == reason)]

    def all(self) -> list[MutationRequest]:
        with self._lock:
            found = list(self._requests.values())
        return sorted(found, key=_order_key)

    def get_pending_due(self, now: datetime) -> list[MutationRequest]:
        with self._lock:
            found = [self._requests[r] for r in self._deadlines]
        return sorted((r for r in found if _lifecycle_due(r, now)), key=_order_key)

    def get_pending_approvals_due(self, now: datetime) -> list[MutationRequest]:
        with self._lock:
            found = [self._requests[r] for r in self._deadlines]
        return sorted((r for r in found if _approval_due(r, now)), key=_order_key)

    # -- queries --------------------------------------------------------------------------------

    def _snapshots(self, query: MutationRequestQuery | None = None) -> list[MutationRequest]:
        """Every snapshot the query can match: those its scope names through the indexes (by
        id, else by state) when it names any, else all of them."""
        with self._lock:
            scope = query.scope if query is not None else None
            if scope is not None and scope.request_ids:
                requests = self._requests
                return [requests[r] for r in scope.request_ids if r in requests]
            if scope is not None and scope.state_ids:
                requests = self._requests
                return [requests[r] for state in scope.state_ids
                        for r in self._by_state.get(state, ())]
            return list(self._requests.values())

    def _pending_snapshots(self, query: MutationRequestQuery | None = None
                           ) -> list[MutationRequest]:
        scope = query.scope if query is not None else None
        if scope is not None and (scope.request_ids or scope.state_ids):
            return [r for r in self._snapshots(query)
                    if r.lifecycle.status == RequestStatus.PENDING]
        with self._lock:
            return [self._requests[r] for r in self._pending]

    def query(self, query: MutationRequestQuery) -> list[MutationRequest]:
        return select_requests(self._snapshots(query), query)

    def get_pending_requests(
        self, query: MutationRequestQuery | None = None
    ) -> list[MutationRequest]:
        return select_requests(self._pending_snapshots(query), query)

    def get_pending_approval_queue(
        self, query: MutationRequestQuery | None = None
    ) -> list[MutationRequest]:
        return select_requests(
            self._pending_snapshots(query), query,
            where=lambda r: r.lifecycle.pending_reason == PendingReason.APPROVAL)

    def get_recent_approvals(
        self, query: MutationRequestQuery | None = None, take: int | None = None
    ) -> list[MutationRequest]:
        return select_recent_approvals(self._snapshots(), query, take)

    def get_pending_approvals(self, query: ApprovalQuery | None = None) -> list[ApprovalView]:
        query = ApprovalQuery.pending() if query is None else query
        # The default (and any query asking only for PENDING requests) reads the pending index.
        source = (self._pending_snapshots() if query.request_statuses == _ONLY_PENDING
                  else self._snapshots())
        return select_pending_approvals(source, query)

    def get_recent_decisions(
        self, query: DecisionQuery | None = None, take: int | None = None
    ) -> list[DecisionView]:
        return select_recent_decisions(self._snapshots(), query, take)

    def __len__(self) -> int:
        return len(self._requests)

    def __iter__(self) -> Iterator[MutationRequest]:
        return iter(self.all())

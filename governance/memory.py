"""``InMemoryRequestStore``: the store and query contracts over a lock-guarded dict of snapshots.

It runs the pure selection functions of ``governance.queries`` over its snapshots, reading its
indexes (by state id, pending requests, pending requests with a deadline) first.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from governance._models import evolve
from governance.approval_requirements import ApprovalRequirement, ApprovalRequirementStatus
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
    RequestQueryStore,
    select_pending_approvals,
    select_recent_approvals,
    select_recent_decisions,
    select_requests,
)
from governance.requests import (
    MutationRequest,
    PendingReason,
    RequestStatus,
    check_snapshot,
)
from governance.store import RequestStore, approval_due, creation_order, lifecycle_due

# Enum members bound once, as in governance.requests (a read off an enum class runs a
# metaclass hook under Python 3.11).
_PENDING = RequestStatus.PENDING
_ONLY_PENDING = frozenset({_PENDING})


_REQUIREMENT_PENDING = ApprovalRequirementStatus.PENDING


def _requirement_deadline(requirements: tuple[ApprovalRequirement, ...]) -> bool:
    """Whether a pending approval requirement among ``requirements`` has a deadline."""
    return any(a.expires_at is not None and a.status == _REQUIREMENT_PENDING
               for a in requirements)


class InMemoryRequestStore(RequestStore, RequestQueryStore):
    """A lock-guarded dict of snapshots, with indexes by state id and for pending requests, so
    that a lookup does not scan every stored request. Implements the query store too."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[str, MutationRequest] = {}
        # The values (``__dict__``) of each stored snapshot, the same dicts: what the
        # compare-and-set reads of the snapshot it replaces, without its model's __getattr__
        # hook.
        self._values: dict[str, dict[str, Any]] = {}
        self._by_state: dict[str, dict[str, None]] = {}
        self._pending: dict[str, None] = {}
        # PENDING requests with a deadline of their own or on a pending approval requirement:
        # what the expiry sweeps read, so a sweep costs what is due, not what is pending.
        self._deadlines: dict[str, None] = {}
        if type(self).get is InMemoryRequestStore.get:
            # ``get`` is the dict's own: one C call, no Python frame (unless a subclass has a
            # ``get`` of its own).
            self.get = self._requests.get  # type: ignore[assignment]

    def create(self, request: MutationRequest) -> MutationRequest:
        if request is None:
            raise MissingArgumentError("cannot create a None request")
        check_snapshot(request)
        stored = request if request.revision == 0 else evolve(request, revision=0)
        with self._lock:
            if request.request_id in self._requests:
                raise RequestAlreadyExistsError(request.request_id)
            self._requests[request.request_id] = stored
            values = self._values[request.request_id] = stored.__dict__
            self._by_state.setdefault(stored.scope.state_id, {})[stored.request_id] = None
            self._index_pending(values, values["lifecycle"].status == _PENDING)
        return stored

    def _index_pending(self, values: dict[str, Any], pending: bool) -> None:
        """Index a stored snapshot by its values (its ``__dict__``, read by the caller);
        ``pending``: whether its status is PENDING (also read by the caller)."""
        request_id = values["request_id"]
        lifecycle = values["lifecycle"]
        if pending:
            self._pending[request_id] = None
            # A deadline of its own, or on a pending approval requirement.
            requirements = values["approval_requirements"]
            if lifecycle.expires_at is not None or (
                    requirements and _requirement_deadline(requirements)):
                self._deadlines[request_id] = None
            else:
                self._deadlines.pop(request_id, None)
        else:
            self._pending.pop(request_id, None)
            self._deadlines.pop(request_id, None)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A subclass that writes through its own ``try_store`` (``RacingStore``) gets the
        # ``store_next`` that calls it, not the compare-and-set that bypasses it.
        if "try_store" in cls.__dict__ and "store_next" not in cls.__dict__:
            cls.store_next = RequestStore.store_next

    def try_store(self, request: MutationRequest, expected_revision: int) -> MutationRequest | None:
        try:
            return self._compare_and_set(request, expected_revision)
        except (RequestConcurrencyError, RequestNotFoundError):
            return None

    def _compare_and_set(self, request: MutationRequest, expected_revision: int
                         ) -> MutationRequest:
        """``store_next``: the write itself, raising where ``try_store`` answers None. Every
        write of the runtime goes through ``store_next``, so it is this function, one frame,
        rather than a call of ``try_store``."""
        if request is None:
            raise MissingArgumentError("cannot store a None request")
        # Both snapshots' fields are read from their values (see ``next_snapshot``).
        values = request.__dict__
        request_id = values["request_id"]
        if type(expected_revision) is not int:
            raise InvalidArgumentError(
                f"storing request '{request_id}' needs an int expected revision, not "
                f"{expected_revision!r}")
        # acquire and release rather than ``with``: half the cost, on every write.
        lock = self._lock
        lock.acquire()
        try:
            try:
                held = self._values[request_id]  # the stored snapshot's values
            except KeyError:
                raise RequestNotFoundError(request_id) from None
            if held["revision"] != expected_revision:
                raise RequestConcurrencyError(request_id, expected_revision)
            # What the indexes need is read before anything is written: a snapshot that
            # cannot be read fails with the store as it was.
            # Snapshots share the parts a change leaves as they were: an unchanged scope moves
            # no index.
            old_scope, new_scope = held["scope"], values["scope"]
            moves = old_scope is not new_scope and old_scope.state_id != new_scope.state_id
            # The pending indexes hold PENDING requests only: a snapshot that is not PENDING
            # has something to remove only when the one it replaces was, that is when the
            # index holds it (a lookup instead of a read of the old status).
            new_lifecycle = values["lifecycle"]
            pending = new_lifecycle.status is _PENDING
            reindex = pending or (
                held["lifecycle"] is not new_lifecycle and request_id in self._pending)
            revision = expected_revision + 1
            # Snapshots are immutable: one that already carries the next revision (as
            # ``with_decision`` builds them) is stored as it is.
            if values["revision"] == revision:
                stored = request
            else:
                stored = evolve(request, revision=revision)
                values = stored.__dict__
            self._requests[request_id] = stored
            self._values[request_id] = values
            if moves:
                self._by_state[old_scope.state_id].pop(request_id, None)
                self._by_state.setdefault(new_scope.state_id, {})[request_id] = None
            if reindex:
                self._index_pending(values, pending)
        finally:
            lock.release()
        return stored

    store_next = _compare_and_set

    def get(self, request_id: str) -> MutationRequest | None:
        return self._requests.get(request_id)

    def require(self, request_id: str) -> MutationRequest:
        request = self._requests.get(request_id)
        if request is None:
            # ``RequestStore.require`` names what is wrong: a blank id, or an unknown one.
            return super().require(request_id)
        return request

    def get_by_state_id(self, state_id: str) -> list[MutationRequest]:
        with self._lock:
            found = [self._requests[r] for r in self._by_state.get(state_id, ())]
        return sorted(found, key=creation_order)

    def get_pending(self, reason: PendingReason | None = None) -> list[MutationRequest]:
        with self._lock:
            found = [self._requests[r] for r in self._pending]
        if reason is not None:
            found = [r for r in found if r.lifecycle.pending_reason == reason]
        return sorted(found, key=creation_order)

    def get_pending_by_state_id(
        self, state_id: str, reason: PendingReason | None = None
    ) -> list[MutationRequest]:
        return [r for r in self.get_by_state_id(state_id)
                if r.lifecycle.status == _PENDING
                and (reason is None or r.lifecycle.pending_reason == reason)]

    def all(self) -> list[MutationRequest]:
        with self._lock:
            found = list(self._requests.values())
        return sorted(found, key=creation_order)

    def get_pending_due(self, now: datetime) -> list[MutationRequest]:
        with self._lock:
            found = [self._requests[r] for r in self._deadlines]
        return sorted((r for r in found if lifecycle_due(r, now)), key=creation_order)

    def get_pending_approvals_due(self, now: datetime) -> list[MutationRequest]:
        with self._lock:
            found = [self._requests[r] for r in self._deadlines]
        return sorted((r for r in found if approval_due(r, now)), key=creation_order)

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
                    if r.lifecycle.status == _PENDING]
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

"""Shared builders and fixtures for the governance tests.

The state is a small frozen dataclass carrying a ``value`` and a string ``version``; the
increment mutation adds one to the value and bumps the version, and counts how often it was
applied so that tests can assert that a request ran at most once.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from governance import (
    EngineOptions,
    GovernanceExecutionManager,
    InMemoryRequestStore,
    LifecycleManager,
    MutationBase,
    MutationContext,
    MutationEngine,
    MutationIntent,
    MutationRequest,
    MutationResult,
    PendingReason,
    PolicyDecision,
    PolicyRequirement,
    RequestStatus,
    SideEffect,
    StateChange,
    ValidationResult,
    VersionResolutionManager,
)

# Test modules import these helpers as ``tests.governance.conftest``; pytest imports this file as
# ``conftest``. One module object under both names keeps one copy of every helper class.
sys.modules.setdefault("tests.governance.conftest", sys.modules[__name__])

STATE_ID = "governance-test:counter"
"""The state every default request targets."""

BASE_TIME = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
"""A fixed, timezone-aware instant the tests build explicit timestamps from."""


@dataclass(frozen=True, slots=True)
class VersionedState:
    """A counter with a version string, as a governed state exposing ``.version``."""

    value: int
    version: str


def next_version(version: str) -> str:
    """The version after ``version`` ("10" → "11")."""
    return str(int(version) + 1)


class ApplyCounter:
    """Thread-safe count of ``apply`` calls, per label (tests label mutations by request id)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def record(self, label: str) -> None:
        with self._lock:
            self._counts[label] = self._counts.get(label, 0) + 1

    def __getitem__(self, label: str) -> int:
        with self._lock:
            return self._counts.get(label, 0)

    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())


def increment_intent(**fields: Any) -> MutationIntent:
    """The intent of the increment mutation."""
    return MutationBase.create_intent("IncrementValue", "Counter", **fields)


def mutation_context(reason: str = "increment the counter", **fields: Any) -> MutationContext:
    """The context of the increment mutation: a service actor, no state id of its own."""
    return MutationContext.service("counter-service", reason, **fields)


class IncrementMutation(MutationBase[VersionedState]):
    """Adds one to ``value`` and bumps ``version``; refuses to run on a negative value.

    Args:
        counter: where each ``apply`` is counted, under ``label``.
        side_effects: side effects reported by a successful apply.
        version_of: computes the new version (defaults to ``next_version``).
    """

    def __init__(
        self,
        counter: ApplyCounter | None = None,
        label: str = "default",
        *,
        side_effects: list[SideEffect] | None = None,
        version_of: Callable[[str], str] = next_version,
        intent: MutationIntent | None = None,
        context: MutationContext | None = None,
    ) -> None:
        super().__init__(intent or increment_intent(), context or mutation_context())
        self.counter = counter or ApplyCounter()
        self.label = label
        self._side_effects = side_effects
        self._version_of = version_of

    @property
    def applies(self) -> int:
        """How often this mutation's label was applied."""
        return self.counter[self.label]

    def apply(self, state: VersionedState) -> MutationResult[VersionedState]:
        self.counter.record(self.label)
        new_state = replace(state, value=state.value + 1, version=self._version_of(state.version))
        return self.success(
            new_state, StateChange.modified("value", state.value, new_state.value),
            self._side_effects)

    def validate(self, state: VersionedState) -> ValidationResult:
        if state.value < 0:
            return ValidationResult.with_error("value", "the counter must not be negative")
        return ValidationResult.success()


class FailingMutation(IncrementMutation):
    """An increment whose ``apply`` raises ``exception`` (a ``RuntimeError`` by default)."""

    def __init__(self, counter: ApplyCounter | None = None, label: str = "default",
                 exception: BaseException | None = None) -> None:
        super().__init__(counter, label)
        self.exception = exception or RuntimeError("the counter backend is down")

    def apply(self, state: VersionedState) -> MutationResult[VersionedState]:
        self.counter.record(self.label)
        raise self.exception


class UnsuccessfulMutation(IncrementMutation):
    """An increment whose ``apply`` returns ``result`` instead of a success."""

    def __init__(self, result: MutationResult[VersionedState],
                 counter: ApplyCounter | None = None, label: str = "default") -> None:
        super().__init__(counter, label)
        self.result = result

    def apply(self, state: VersionedState) -> MutationResult[VersionedState]:
        self.counter.record(self.label)
        return self.result


class DenyPolicy:
    """A policy that refuses every mutation."""

    name = "deny-all"
    priority = 10

    def __init__(self, reason: str = "counters are frozen this week") -> None:
        self.reason = reason

    def evaluate(self, mutation: Any, state: Any) -> PolicyDecision:
        return PolicyDecision.deny(self.reason, self.name)


class RaisingPolicy:
    """A policy whose evaluation raises."""

    name = "broken-policy"
    priority = 5

    def evaluate(self, mutation: Any, state: Any) -> PolicyDecision:
        raise KeyError("quota table missing")


class FixedClock:
    """A clock returning a fixed instant, moved forward by ``advance``."""

    def __init__(self, now: datetime = BASE_TIME) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta = timedelta(seconds=1)) -> datetime:
        self.now += delta
        return self.now


def requester_context() -> MutationContext:
    """The requester of the default requests."""
    return MutationContext.user("alice", "Alice", "raise the counter")


def governance_context() -> MutationContext:
    """The actor recording resolution and execution decisions."""
    return MutationContext.system("governed execution", correlation_id="gov-correlation")


def approved_request(
    *,
    request_id: str | None = None,
    state_id: str = STATE_ID,
    expected_state_version: str | None = "10",
    metadata: dict[str, Any] | None = None,
    intent: MutationIntent | None = None,
    now: datetime | None = None,
) -> MutationRequest:
    """An APPROVED request for the increment mutation."""
    return MutationRequest.approved(
        state_id, VersionedState, IncrementMutation, intent or increment_intent(),
        requester_context(), expected_state_version=expected_state_version,
        metadata=metadata, request_id=request_id, now=now)


def pending_request(
    reason: PendingReason = PendingReason.MANUAL_REVIEW,
    *,
    request_id: str | None = None,
    state_id: str = STATE_ID,
    expected_state_version: str | None = "10",
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> MutationRequest:
    """A PENDING request for the increment mutation."""
    return MutationRequest.pending(
        state_id, VersionedState, IncrementMutation, increment_intent(), requester_context(),
        reason, expected_state_version=expected_state_version, expires_at=expires_at,
        request_id=request_id, now=now)


def approval_request(
    *requirements: PolicyRequirement,
    request_id: str = "req-approval",
    expected_state_version: str | None = "10",
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> MutationRequest:
    """A request PENDING for APPROVAL of ``requirements`` (default: one approval by "bob")."""
    return MutationRequest.pending_approval(
        STATE_ID, VersionedState, IncrementMutation, increment_intent(), requester_context(),
        requirements or (PolicyRequirement.approval("bob", "owner sign-off"),),
        expected_state_version=expected_state_version, expires_at=expires_at,
        request_id=request_id, now=now)


def approver(
    actor_id: str,
    *,
    roles: Iterable[str] = (),
    groups: Iterable[str] = (),
    reason: str | None = None,
    timestamp: datetime | None = None,
    **metadata: Any,
) -> MutationContext:
    """A user context that carries ``roles`` and ``groups`` as lists under the documented
    metadata keys (``ActorRoles``, ``ActorGroups``), plus any other ``metadata``."""
    data: dict[str, Any] = dict(metadata)
    if roles:
        data["ActorRoles"] = list(roles)
    if groups:
        data["ActorGroups"] = list(groups)
    fields: dict[str, Any] = {"metadata": data}
    if timestamp is not None:
        fields["timestamp"] = timestamp
    return MutationContext.user(actor_id, actor_id.title(), reason, **fields)


def request_in_status(status: RequestStatus, *, request_id: str | None = None,
                      expected_state_version: str | None = "10") -> MutationRequest:
    """An unsaved request put directly in ``status`` (PENDING ones wait for manual review)."""
    request = approved_request(request_id=request_id,
                               expected_state_version=expected_state_version)
    pending_reason = PendingReason.MANUAL_REVIEW if status == RequestStatus.PENDING else None
    expires_at = BASE_TIME if status == RequestStatus.PENDING else None
    lifecycle = request.lifecycle.model_copy(update={
        "status": status, "pending_reason": pending_reason, "expires_at": expires_at})
    return request.model_copy(update={"lifecycle": lifecycle})


@pytest.fixture
def store() -> InMemoryRequestStore:
    return InMemoryRequestStore()


@pytest.fixture
def lifecycle(store: InMemoryRequestStore) -> LifecycleManager:
    return LifecycleManager(store)


@pytest.fixture
def resolution(store: InMemoryRequestStore) -> VersionResolutionManager:
    return VersionResolutionManager(store)


@pytest.fixture
def engine() -> MutationEngine:
    return MutationEngine(EngineOptions.strict())


@pytest.fixture
def executor(store: InMemoryRequestStore, resolution: VersionResolutionManager,
             engine: MutationEngine) -> GovernanceExecutionManager:
    return GovernanceExecutionManager(store, resolution, engine)


@pytest.fixture
def counter() -> ApplyCounter:
    return ApplyCounter()


class RacingStore(InMemoryRequestStore):
    """An in-memory store where another writer sneaks in before the next ``try_store``.

    Arm it with ``interfere_once(request_id)``: the next ``try_store`` of that request first
    rewrites the stored snapshot (bumping its revision), so the caller's write is stale.
    """

    def __init__(self) -> None:
        super().__init__()
        self._armed: str | None = None

    def interfere_once(self, request_id: str) -> None:
        self._armed = request_id

    def try_store(self, request: MutationRequest, expected_revision: int) -> MutationRequest | None:
        if self._armed == request.request_id:
            self._armed = None
            current = self.get(request.request_id)
            assert current is not None
            other = current.model_copy(update={"metadata": {**current.metadata,
                                                            "TouchedBy": "another writer"}})
            assert super().try_store(other, current.revision) is not None
        return super().try_store(request, expected_revision)

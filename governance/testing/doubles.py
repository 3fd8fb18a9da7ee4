"""Fixtures and doubles for tests of code built on ``governance``: a versioned state, mutations
that count or fail, policies that deny or raise, a controllable clock, request builders and a
store that loses the next race."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from governance import (
    InMemoryRequestStore,
    InvalidArgumentError,
    MutationBase,
    MutationContext,
    MutationIntent,
    MutationRequest,
    MutationResult,
    PendingReason,
    PolicyDecision,
    PolicyRequirement,
    RequestStatus,
    RequestStore,
    SideEffect,
    StateChange,
    ValidationResult,
)

STATE_ID = "governance-test:counter"
"""The state every default request targets."""

BASE_TIME = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
"""A fixed, timezone-aware instant to build explicit timestamps from."""


# == States, mutations and policies ============================================================

@dataclass(frozen=True, slots=True)
class VersionedState:
    """A counter with a version string, as a governed state exposing ``.version``."""

    value: int
    version: str


_NUMBERED = re.compile(r"^(.*?)(\d+)$")


def next_version(version: str) -> str:
    """The version after ``version``: its trailing number plus one, any prefix kept
    (``"10"`` → ``"11"``, ``"v10"`` → ``"v11"``).

    Raises:
        InvalidArgumentError: ``version`` does not end with a number.
    """
    found = _NUMBERED.match(version) if isinstance(version, str) else None
    if found is None:
        raise InvalidArgumentError(
            f"next_version needs a version ending with a number, not {version!r}")
    prefix, number = found.groups()
    return f"{prefix}{int(number) + 1}"


class ApplyCounter:
    """Thread-safe count of ``apply`` calls, per label (label mutations by request id to assert
    that each request ran at most once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def record(self, label: str) -> None:
        """Count one application under ``label``."""
        with self._lock:
            self._counts[label] = self._counts.get(label, 0) + 1

    def __getitem__(self, label: str) -> int:
        with self._lock:
            return self._counts.get(label, 0)

    def total(self) -> int:
        """Applications counted under every label."""
        with self._lock:
            return sum(self._counts.values())


def increment_intent(**fields: Any) -> MutationIntent:
    """The intent of the increment mutation (operation ``IncrementValue``, category
    ``Counter``)."""
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
        intent: the mutation's intent (defaults to ``increment_intent()``).
        context: the mutation's context (defaults to ``mutation_context()``).
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
    """A policy that refuses every mutation with ``reason``."""

    name = "deny-all"
    priority = 10

    def __init__(self, reason: str = "counters are frozen this week") -> None:
        self.reason = reason

    def evaluate(self, mutation: Any, state: Any) -> PolicyDecision:
        """Deny, whatever the mutation."""
        return PolicyDecision.deny(self.reason, self.name)


class RaisingPolicy:
    """A policy whose evaluation raises ``error`` (a ``KeyError`` by default), as a policy with
    a bug or a missing dependency does.

    Args:
        name: the policy's name, which the engine's ``PolicyEvaluationError`` carries.
        error: raised by every ``evaluate``; the engine keeps it as the ``__cause__``.
        priority: the policy's priority.
    """

    def __init__(self, name: str = "broken-policy", error: Exception | None = None,
                 priority: int = 5) -> None:
        self.name = name
        self.error = error if error is not None else KeyError("quota table missing")
        self.priority = priority

    def evaluate(self, mutation: Any, state: Any) -> PolicyDecision:
        """Raise ``error``."""
        raise self.error


class FixedClock:
    """A clock returning a fixed instant (``now``), moved forward by ``advance``; pass it where
    a manager takes ``clock=``."""

    def __init__(self, now: datetime = BASE_TIME) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta = timedelta(seconds=1)) -> datetime:
        """Move the clock forward by ``delta``; return the new instant."""
        self.now += delta
        return self.now


# == Requests ==================================================================================

def requester_context() -> MutationContext:
    """The requester of the default requests (user ``alice``)."""
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
    """An unsaved APPROVED request for the increment mutation."""
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
    """An unsaved PENDING request for the increment mutation, waiting for ``reason``."""
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
    """An unsaved request PENDING for APPROVAL of ``requirements`` (default: one approval by
    ``bob``)."""
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
    """An unsaved request put directly in ``status`` (PENDING ones wait for manual review and
    carry the deadline ``BASE_TIME``)."""
    request = approved_request(request_id=request_id,
                               expected_state_version=expected_state_version)
    pending_reason = PendingReason.MANUAL_REVIEW if status == RequestStatus.PENDING else None
    expires_at = BASE_TIME if status == RequestStatus.PENDING else None
    lifecycle = request.lifecycle.model_copy(update={
        "status": status, "pending_reason": pending_reason, "expires_at": expires_at})
    return request.model_copy(update={"lifecycle": lifecycle})


def _stored(store: RequestStore, request_id: str) -> MutationRequest:
    """The stored snapshot of ``request_id``, which the caller knows is there."""
    found = store.get(request_id)
    if found is None:
        raise AssertionError(f"request {request_id} should be stored and is not")
    return found


class RacingStore(InMemoryRequestStore):
    """An in-memory store where another writer sneaks in before the next ``try_store``.

    Arm it with ``interfere_once(request_id)``: the next ``try_store`` of that request first
    rewrites the stored snapshot (bumping its revision), so the caller's write is stale.
    """

    def __init__(self) -> None:
        super().__init__()
        self._armed: str | None = None

    def interfere_once(self, request_id: str) -> None:
        """Let another writer win the next ``try_store`` of ``request_id``."""
        self._armed = request_id

    def try_store(self, request: MutationRequest, expected_revision: int) -> MutationRequest | None:
        if self._armed == request.request_id:
            self._armed = None
            current = _stored(self, request.request_id)
            other = current.model_copy(update={"metadata": {**current.metadata,
                                                            "TouchedBy": "another writer"}})
            if super().try_store(other, current.revision) is None:
                raise AssertionError(f"the interfering write of {request.request_id} failed")
        return super().try_store(request, expected_revision)

"""Version resolution: compare the state version a request was approved against with the current
one, and decide by an explicit strategy what happens when they differ."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any

from governance._clock import Clock, utc_now
from governance._ids import IdSequence
from governance._models import evolve, model_assembler, record_builder
from governance.approval_requirements import ApprovalRequirementStatus
from governance.core.context import MutationContext
from governance.decisions import DecisionType, DecisionValues, VersionResolutionDecision
from governance.errors import (
    InvalidArgumentError,
    InvalidOperationError,
    MissingArgumentError,
    RequestNotExecutableError,
    RequestNotFoundError,
)
from governance.requests import (
    FIRST_TERMINAL_STATUS,
    TO_PENDING_APPROVAL,
    TO_PENDING_REVALIDATION,
    TO_REJECTED,
    ExecutionClaim,
    GovernedExecutionDetails,
    GovernedExecutionKind,
    MutationRequest,
    RequestStatus,
    RequestVersioning,
    snapshot_after,
)
from governance.store import RequestStore

_VALIDATED = DecisionType.version_resolution(VersionResolutionDecision.VALIDATED)

_CLAIM_IDS = IdSequence()
_build_claim = record_builder(ExecutionClaim, positional=True)
_assemble_execution = model_assembler(GovernedExecutionDetails)
build_versioning = record_builder(RequestVersioning, positional=True)


class ResolutionStrategy(IntEnum):
    """What to do with a request whose expected state version is stale."""

    REJECT_STALE = 0
    REQUIRE_RENEWED_APPROVAL = 1
    REVALIDATE_ON_LATEST_STATE = 2


class ResolutionOutcome(IntEnum):
    """What resolution decided."""

    EXECUTE_APPROVED_VERSION = 0
    REVALIDATE_ON_LATEST_STATE = 1
    REJECTED_AS_STALE = 2
    REQUIRES_RENEWED_APPROVAL = 3

    @property
    def executes(self) -> bool:
        """Whether the request goes on to the engine."""
        return self is _EXECUTE_APPROVED_VERSION or self is _REVALIDATE


# Enum members bound once, as in governance.requests (a read off an enum class runs a
# metaclass hook under Python 3.11).
_EXECUTE_APPROVED_VERSION = ResolutionOutcome.EXECUTE_APPROVED_VERSION
_REVALIDATE = ResolutionOutcome.REVALIDATE_ON_LATEST_STATE
_APPROVED = RequestStatus.APPROVED
_REQUIREMENT_PENDING = ApprovalRequirementStatus.PENDING
_COMPENSATION = GovernedExecutionKind.COMPENSATION

_STALE_OUTCOMES = {
    # strategy: (decision type, outcome, lifecycle changes, expects the current version after)
    ResolutionStrategy.REJECT_STALE: (
        DecisionType.version_resolution(VersionResolutionDecision.REJECTED_AS_STALE),
        ResolutionOutcome.REJECTED_AS_STALE, TO_REJECTED, False),
    ResolutionStrategy.REQUIRE_RENEWED_APPROVAL: (
        DecisionType.version_resolution(VersionResolutionDecision.RENEWED_APPROVAL_REQUIRED),
        ResolutionOutcome.REQUIRES_RENEWED_APPROVAL, TO_PENDING_APPROVAL, True),
    ResolutionStrategy.REVALIDATE_ON_LATEST_STATE: (
        DecisionType.version_resolution(VersionResolutionDecision.REVALIDATION_REQUIRED),
        _REVALIDATE, TO_PENDING_REVALIDATION, True),
}


@dataclass(frozen=True, slots=True)
class VersionResolution:
    """The result of resolving one request against the current state version."""

    request: MutationRequest
    """The request after resolution (persisted, when it came from the manager)."""
    outcome: ResolutionOutcome
    expected_state_version: str | None
    current_state_version: str
    is_stale: bool


resolution_of = record_builder(VersionResolution, positional=True)
"""Builds a ``VersionResolution`` from its five fields, positionally, without the frozen
dataclass's per-field ``object.__setattr__`` (for the runtime's own, checked values)."""

Resolved = tuple[MutationRequest, ResolutionOutcome, str | None, bool]
"""A resolution before it is a ``VersionResolution``: the request after it, the outcome, the
expected state version and whether it was stale (the current version is the caller's)."""


def _version_metadata(expected: str | None, current: str) -> dict[str, Any]:
    return {"ExpectedStateVersion": expected or "", "CurrentStateVersion": current}


def _validated_text(facts: tuple[str | None, str]) -> tuple[str, dict[str, Any]]:
    """The reason and metadata of a VALIDATED decision (a ``DecisionText``); ``facts``: the
    expected and the current state version."""
    expected, current = facts
    reason = ("No expected state version was given; the request may proceed"
              if expected is None or not expected.strip()
              else f"State version '{current}' is the approved one")
    return reason, _version_metadata(expected, current)


def _stale_text(facts: tuple[str | None, str]) -> tuple[str, dict[str, Any]]:
    """The reason and metadata of a stale resolution's decision (a ``DecisionText``)."""
    expected, current = facts
    return (f"Approved against state version '{expected}', but the state is now at "
            f"'{current}'", _version_metadata(expected, current))


class VersionResolver:
    """Pure version resolution: computes the next snapshot of a request, persists nothing."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = clock or utc_now

    def resolve(
        self,
        request: MutationRequest,
        current_state_version: str,
        context: MutationContext,
        strategy: ResolutionStrategy,
    ) -> VersionResolution:
        """Resolve ``request`` against ``current_state_version``.

        Stale means the request has a non-blank expected version that differs (exactly) from
        the current one. Not stale: a VALIDATED decision, nothing else changes. Stale: by
        ``strategy``, REJECT_STALE → REJECTED; REQUIRE_RENEWED_APPROVAL → PENDING for approval,
        with every approval requirement PENDING again (a new round: decisions made against the
        old version do not carry over); REVALIDATE_ON_LATEST_STATE → PENDING for revalidation;
        the last two expect the current version from then on.

        Raises:
            MissingArgumentError: ``request`` or ``context`` is None.
            InvalidArgumentError: ``current_state_version`` is blank or not a string, or
                ``strategy`` is unknown (checked even when the version matches).
            InvalidOperationError: the request is in a terminal status.
            RequestClaimedError: a running governed execution holds the request.
        """
        if request is None:
            raise MissingArgumentError("version resolution needs a request")
        held = request.__dict__  # the snapshot's values, read without its __getattr__ hook
        lifecycle = held["lifecycle"].__dict__  # and its lifecycle's
        status = lifecycle["status"]
        if status >= FIRST_TERMINAL_STATUS:
            # DOMAIN.md marks the missing status check as a quirk: resolving a finished request
            # could move it out of its terminal status (e.g. EXECUTED back to PENDING).
            raise InvalidOperationError(
                f"request '{held['request_id']}' is {status.name}, a terminal status: its "
                "state version is no longer resolved")
        if type(current_state_version) is not str or not current_state_version.strip():
            raise InvalidArgumentError(
                f"resolving request '{held['request_id']}' needs a non-blank string current "
                f"state version, not {current_state_version!r}")
        if context is None:
            raise MissingArgumentError(
                f"resolving request '{held['request_id']}' needs the resolver's context")
        resolved, outcome, expected, stale = self._resolve(
            held, held["execution"].__dict__, lifecycle, current_state_version, context,
            strategy, None)
        return resolution_of(resolved, outcome, expected, current_state_version, stale)

    def _resolve(
        self,
        held: dict[str, Any],
        execution: dict[str, Any],
        lifecycle: dict[str, Any],
        current_state_version: str,
        context: MutationContext,
        strategy: ResolutionStrategy,
        claim_clock: Clock | None,
    ) -> Resolved:
        """``resolve`` once its arguments are checked (by ``resolve``, or by the manager's
        ``_claim``, which has checked them and the status already); ``held``
        is the request's ``__dict__``, ``execution`` and ``lifecycle`` its execution details'
        and its lifecycle's, which both callers have read already. With a
        ``claim_clock``, an outcome that sends the request to the engine also sets an execution
        claim by the context's actor, timed by that clock, in the same snapshot. No claim is
        built for an outcome that stops the request."""
        # The strategy is checked whether or not the version is stale: a call with an unknown
        # strategy is wrong even when it happens not to need one.
        try:
            stale = _STALE_OUTCOMES[strategy]
        except (KeyError, TypeError):  # an unhashable value is no strategy either
            raise InvalidArgumentError(
                f"request '{held['request_id']}': unknown resolution strategy "
                f"{strategy!r}") from None
        # The versioning's values, read without its __getattr__ hook (one read instead of one
        # per field).
        versioning = held["versioning"].__dict__
        expected = versioning["expected_state_version"]
        # The decision's reason and metadata are written when it is first read.
        facts = (expected, current_state_version)
        now = self._clock()
        if expected is None or not expected.strip() or expected == current_state_version:
            # The decision's values (``owned_decision``): the context was checked by both
            # callers.
            decision: DecisionValues = (_VALIDATED, context, _validated_text, now, facts)
            # A VALIDATED decision leaves status and updated_at untouched.
            claim = execution["claim"]
            if claim_clock is None:
                resolved = snapshot_after(held, claim, (decision,), None, None, False, None)
            else:
                resolved = snapshot_after(
                    held, claim, (decision,), None, None, False,
                    {"execution": self._claimed(execution, context, claim_clock, now)})
            return resolved, _EXECUTE_APPROVED_VERSION, expected, False

        decision_type, outcome, changes, expects_current = stale
        stale_decision: DecisionValues = (decision_type, context, _stale_text, now, facts)
        # The whole fields the stale outcome replaces: none for a rejection; the versioning,
        # which expects the current version from then on, for the two that go on.
        replaced: dict[str, Any] | None = None
        if expects_current:
            expecting_current = build_versioning(
                current_state_version, versioning["resulting_state_version"],
                versioning["executed_at"])
            if outcome is _REVALIDATE:
                if claim_clock is None:
                    replaced = {"versioning": expecting_current}
                else:  # revalidated and claimed in one snapshot (``execute_approved``)
                    replaced = {"versioning": expecting_current,
                                "execution": self._claimed(execution, context, claim_clock,
                                                           now)}
            else:
                # A renewed approval is a new round: every requirement is open again, or
                # nothing could be approved and the request would wait for good.
                requirements = held["approval_requirements"]
                if requirements:
                    requirements = tuple(
                        evolve(r, status=_REQUIREMENT_PENDING, decided_at=None,
                               decision_context=None, decision_reason=None, rejection=None)
                        for r in requirements)
                replaced = {"versioning": expecting_current,
                            "approval_requirements": requirements}
        resolved = snapshot_after(held, execution["claim"], (stale_decision,), None, changes,
                                  True, replaced, lifecycle)
        return resolved, outcome, expected, True

    def _claimed(self, execution: dict[str, Any], context: MutationContext,
                 clock: Clock, now: datetime) -> GovernedExecutionDetails:
        """The execution details whose values are ``execution`` with an execution claim by the
        context's actor (``evolve`` without its keyword dict and merge: a copy of the values
        with one of them replaced)."""
        values = execution.copy()
        # The claim is taken at the instant of the resolution decision when both share a clock.
        values["claim"] = _build_claim(_CLAIM_IDS.next(), now if clock is self._clock else clock(),
                                       context.actor_id)
        return _assemble_execution(values)


class VersionResolutionManager:
    """Resolves stored requests and persists the result through the store's compare-and-set."""

    def __init__(self, store: RequestStore, resolver: VersionResolver | None = None,
                 *, clock: Clock | None = None) -> None:
        if store is None:
            raise MissingArgumentError("a resolution manager needs a request store")
        self._store = store
        self._clock = clock or utc_now
        self._resolver = resolver or VersionResolver(clock=self._clock)

    @property
    def store(self) -> RequestStore:
        """The store the manager writes to."""
        return self._store

    @property
    def resolver(self) -> VersionResolver:
        """The resolver computing each resolution."""
        return self._resolver

    def resolve_and_store(
        self,
        request_id: str,
        current_state_version: str,
        context: MutationContext,
        strategy: ResolutionStrategy,
    ) -> VersionResolution:
        """Resolve the stored request and persist the result (revision + 1, even when VALIDATED).

        Raises:
            InvalidArgumentError: blank ``request_id``; ``current_state_version`` blank or not
                a string; an unknown ``strategy``.
            RequestNotFoundError: no such request.
            InvalidOperationError: the request is in a terminal status; nothing is written.
            RequestClaimedError: a running governed execution holds the request (it alone
                writes it until it records its outcome); nothing is written.
            RequestConcurrencyError: another writer changed the request first.
        """
        if type(current_state_version) is not str or not current_state_version.strip():
            raise InvalidArgumentError(
                f"resolving request '{request_id}' needs a non-blank string current state "
                f"version, not {current_state_version!r}")
        loaded = self._store.require(request_id)
        resolution = self._resolver.resolve(loaded, current_state_version, context, strategy)
        stored = self._store.store_next(resolution.request, loaded.revision)
        if stored is resolution.request:
            return resolution
        return resolution_of(stored, resolution.outcome, resolution.expected_state_version,
                           resolution.current_state_version, resolution.is_stale)

    def _check_compensated_original(self, loaded: MutationRequest) -> None:
        # DOMAIN loads the original only at link-back, after the engine ran; checking first
        # means a compensation of an unknown or unfinished request fails before anything is
        # written or run.
        plan = loaded.execution.compensation
        if plan is None:
            return
        original = self._store.get(plan.original_request_id)
        if original is None:
            raise RequestNotFoundError(plan.original_request_id)
        status = original.lifecycle.status
        if not status.is_terminal:
            raise RequestNotExecutableError(
                loaded.request_id, loaded.lifecycle.status.name,
                f"it compensates request '{plan.original_request_id}', which is "
                f"{status.name}; only a request in a terminal status is compensated")

    def resolve_for_execution(
        self,
        request_id: str,
        current_state_version: str,
        context: MutationContext,
        strategy: ResolutionStrategy,
    ) -> VersionResolution:
        """Resolve an APPROVED request and, when it goes on to the engine, claim it, in one write.

        The claim and the resolution are persisted by the same compare-and-set, so of several
        callers racing on one request exactly one wins; the others fail before anything runs.

        A compensation is claimed only once the request it compensates has finished: an
        original still on its way may be held by its own execution, and the compensation's
        link-back would have to write to it.

        Raises:
            RequestNotExecutableError: the request is not APPROVED, or is already claimed, or
                it is a compensation whose original is not in a terminal status.
            RequestNotFoundError: it is a compensation whose original is not stored.
            and every error of ``resolve_and_store``.
        """
        resolved, outcome, expected, stale = self.claim_for_execution(
            request_id, current_state_version, context, strategy)
        return resolution_of(resolved, outcome, expected, current_state_version, stale)

    def claim_for_execution(
        self,
        request_id: str,
        current_state_version: str,
        context: MutationContext,
        strategy: ResolutionStrategy,
    ) -> Resolved:
        """``resolve_for_execution`` with the resolution as its parts (``Resolved``): the
        stored request after it, the outcome, the expected version, whether it was stale.

        Raises:
            every error of ``resolve_for_execution``.
        """
        if type(current_state_version) is not str or not current_state_version.strip():
            raise InvalidArgumentError(
                f"resolving request '{request_id}' needs a non-blank string current state "
                f"version, not {current_state_version!r}")
        stored, outcome, expected, _ = self._claim(
            request_id, current_state_version, context, strategy)
        return stored, outcome, expected, outcome is not _EXECUTE_APPROVED_VERSION

    def _claim(
        self,
        request_id: str,
        current_state_version: str,
        context: MutationContext,
        strategy: ResolutionStrategy,
    ) -> tuple[MutationRequest, ResolutionOutcome, str | None, dict[str, Any]]:
        """``claim_for_execution`` for a caller that has checked ``current_state_version``
        (``execute_approved``), with the values of the request's execution details as loaded
        (whose ``kind`` and ``compensation`` every later snapshot keeps) in place of the
        staleness: the version was stale unless the outcome is EXECUTE_APPROVED_VERSION. (Four
        parts, as ``Resolved``: a tuple of a size no other step on the path frees would stay
        allocated in the interpreter's free list.)"""
        # ``get`` first: the in-memory store's is a C call; ``require`` says what is wrong.
        loaded = self._store.get(request_id)
        if loaded is None:
            loaded = self._store.require(request_id)
        held = loaded.__dict__  # the snapshot's values, read without its __getattr__ hook
        lifecycle = held["lifecycle"].__dict__  # and its lifecycle's
        status = lifecycle["status"]
        if status is not _APPROVED:
            raise RequestNotExecutableError(request_id, status.name)
        execution = held["execution"].__dict__  # and the execution details' values
        claim = execution["claim"]
        if claim is not None:
            raise RequestNotExecutableError(
                request_id, status.name,
                f"execution '{claim.claim_id}' already claimed it at "
                f"{claim.claimed_at.isoformat()}")
        if execution["kind"] is _COMPENSATION:
            self._check_compensated_original(loaded)
        if context is None:
            raise MissingArgumentError(
                f"resolving request '{request_id}' needs the resolver's context")
        resolved, outcome, expected, _ = self._resolver._resolve(
            held, execution, lifecycle, current_state_version, context, strategy, self._clock)
        return self._store.store_next(resolved, held["revision"]), outcome, expected, execution

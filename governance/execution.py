"""Governed execution: resolve an approved request, run its mutation through the engine, and
record the terminal outcome on the request.

``GovernanceExecutionManager.execute_approved`` is the closed loop::

    APPROVED ─ resolve & claim (one compare-and-set) ─┬─ stale: REJECTED / PENDING, no engine
                                                      └─ engine.execute(GovernedMutation)
                                                           ├─ success → EXECUTED
                                                           ├─ refused → REJECTED
                                                           └─ raised  → REJECTED, re-raised
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from governance._clock import Clock, utc_now
from governance._models import SlotBuiltWhenRead, assemble, evolve, record_builder
from governance.core.context import MutationContext, MutationIntent, MutationMode
from governance.core.engine import MutationEngine
from governance.core.mutation import Mutation
from governance.core.results import NO_SIDE_EFFECTS, MutationResult, ValidationResult
from governance.decisions import (
    DecisionType,
    DecisionValues,
    LifecycleDecision,
    RequestDecision,
    owned_decision,
)
from governance.errors import (
    InvalidArgumentError,
    InvalidOperationError,
    MissingArgumentError,
    RequestConcurrencyError,
)
from governance.requests import (
    TO_EXECUTED,
    TO_REJECTED,
    CompensationPlan,
    ExecutionLink,
    ExecutionLinkType,
    GovernedExecutionKind,
    MutationRequest,
    compensation_metadata,
    plan_facts,
    snapshot_after,
)
from governance.resolution import (
    ResolutionOutcome,
    ResolutionStrategy,
    VersionResolution,
    VersionResolutionManager,
    build_versioning,
    resolution_of,
)
from governance.store import RequestStore

TState = TypeVar("TState")

_KIND_NAMES = {kind: kind.name for kind in GovernedExecutionKind}
# Enum members bound once, as in governance.requests (a read off an enum class runs a
# metaclass hook under Python 3.11).
_COMPENSATION = GovernedExecutionKind.COMPENSATION
# The one outcome of a version that was not stale, and the two that send a request on to the
# engine (``ResolutionOutcome.executes``), compared by identity.
_EXECUTE_APPROVED_VERSION = ResolutionOutcome.EXECUTE_APPROVED_VERSION
_REVALIDATE = ResolutionOutcome.REVALIDATE_ON_LATEST_STATE
_EXECUTED_TYPE = DecisionType.lifecycle(LifecycleDecision.EXECUTED)
_REJECTED_TYPE = DecisionType.lifecycle(LifecycleDecision.REJECTED)

_LINK_BACK_ATTEMPTS = 5
"""How often linking an original back to its compensation re-reads it after losing a race."""


class Engine(Protocol):
    """What governed execution needs of an engine (``MutationEngine`` provides it)."""

    def execute(self, mutation: Mutation[Any], state: Any) -> MutationResult[Any]:
        """Run ``mutation`` against ``state``."""
        ...


def governed_compensation_facts(plan: CompensationPlan | None) -> dict[str, Any]:
    """The ``GovernanceCompensation`` facts a governed mutation hands to the engine (empty
    without a plan), under the keys of the reference library, so that audit readers written for
    it find them: ``OriginalRequestId``, ``Kind``, ``Trigger``, and ``BatchId`` /
    ``RelatedRequestIds`` / ``Reason`` when the plan has them.

    Decision metadata on the request keeps its own keys (``compensation_metadata``:
    ``CompensationKind``, ``CompensationTrigger``...).
    """
    return plan_facts(plan, "Kind", "Trigger", "Reason")


class GovernedMutation(Generic[TState]):
    """A mutation wrapped with the governance facts of its request.

    The intent takes the request's blast radius (falling back to the mutation's), the union of
    tags, and the request's intent metadata plus ``GovernanceRequestId`` and
    ``GovernanceExecutionKind`` (and ``GovernanceCompensation``, see
    ``governed_compensation_facts``, for a compensation). The context defaults ``state_id`` to
    the request's state and ``correlation_id`` to the request id, and carries the same
    governance keys, so they reach the engine's audit and history entries.
    ``apply``/``validate``/``simulate`` delegate.

    The governed intent and context are built from the wrapped mutation's intent and context
    (as they were when it was wrapped) the first time each is read, and kept. The package's
    engine runs a governed mutation without reading them (``execute_deferred``, from
    ``execution_facts``): its audit and history entries read them when they are built.
    """

    __slots__ = ("_context", "_inner_context", "_inner_intent", "_intent", "inner", "request")

    inner: Mutation[TState]
    """The wrapped mutation."""
    request: MutationRequest
    """The request whose governance facts the wrapper adds."""
    _inner_intent: MutationIntent
    _inner_context: MutationContext
    _intent: MutationIntent | None
    _context: MutationContext | None

    def __init__(self, inner: Mutation[TState], request: MutationRequest) -> None:
        if inner is None:
            raise MissingArgumentError("a governed mutation needs the mutation it wraps")
        if request is None:
            raise MissingArgumentError("a governed mutation needs its request")
        _hold(self, inner, request, inner.intent, inner.context)

    def apply(self, state: TState) -> MutationResult[TState]:
        """Delegate to the wrapped mutation."""
        return self.inner.apply(state)

    def validate(self, state: TState) -> ValidationResult:
        """Delegate to the wrapped mutation."""
        return self.inner.validate(state)

    def simulate(self, state: TState) -> MutationResult[TState]:
        """Delegate to the wrapped mutation."""
        return self.inner.simulate(state)

    def execution_facts(self) -> tuple[str | None, MutationMode, str | None]:
        """The governed context's ``state_id``, ``mode`` and ``correlation_id``, without
        building it."""
        # Read from the records' values, without their __getattr__ hook.
        inner_context = self._inner_context.__dict__
        return (inner_context["state_id"] or self.request.scope.state_id,
                inner_context["mode"],
                inner_context["correlation_id"] or self.request.request_id)

    @property
    def intent(self) -> MutationIntent:
        """The governed intent (built on first read)."""
        intent = self._intent
        if intent is None:
            intent = self._intent = self._governed_intent()
        return intent

    @property
    def context(self) -> MutationContext:
        """The governed context (built on first read)."""
        context = self._context
        if context is None:
            context = self._context = self._governed_context()
        return context

    def _governance_facts(self) -> tuple[str, dict[str, Any] | None]:
        execution = self.request.execution
        plan = execution.compensation
        return (_KIND_NAMES[execution.kind],
                governed_compensation_facts(plan) if plan is not None else None)

    def _governed_intent(self) -> MutationIntent:
        request = self.request
        kind, compensation = self._governance_facts()
        inner_intent = self._inner_intent
        request_intent = request.payload.intent
        metadata: dict[str, Any] = {
            **request_intent.metadata,
            "GovernanceRequestId": request.request_id,
            "GovernanceExecutionKind": kind,
        }
        if inner_intent.metadata:
            metadata["ExecutionIntentMetadata"] = dict(inner_intent.metadata)
        if compensation:
            metadata["GovernanceCompensation"] = compensation
        request_tags = request_intent.tags
        inner_tags = inner_intent.tags
        # A copy of the inner intent's values with the governed ones set, taken over by the
        # new record (``assemble``), of the inner intent's own class.
        values = inner_intent.__dict__.copy()
        values["estimated_blast_radius"] = (request_intent.estimated_blast_radius
                                            or inner_intent.estimated_blast_radius)
        values["tags"] = (request_tags | inner_tags if request_tags and inner_tags
                          else request_tags or inner_tags)
        values["metadata"] = metadata
        return assemble(inner_intent.__class__, values)

    def _governed_context(self) -> MutationContext:
        request = self.request
        kind, compensation = self._governance_facts()
        inner_context = self._inner_context
        request_intent = request.payload.intent
        request_id = request.request_id
        metadata: dict[str, Any] = {
            **inner_context.metadata,
            "GovernanceRequestId": request_id,
            "GovernanceExecutionKind": kind,
        }
        if request.metadata:
            metadata["GovernanceRequestMetadata"] = dict(request.metadata)
        if request_intent.metadata:
            metadata["GovernanceIntentMetadata"] = dict(request_intent.metadata)
        if request_intent.estimated_blast_radius is not None:
            metadata["GovernanceEstimatedBlastRadius"] = (
                request_intent.estimated_blast_radius.scope.name)
        if compensation:
            metadata["GovernanceCompensation"] = compensation
        values = inner_context.__dict__.copy()
        values["state_id"] = inner_context.state_id or request.scope.state_id
        values["correlation_id"] = inner_context.correlation_id or request_id
        values["metadata"] = metadata
        return assemble(inner_context.__class__, values)


_new_governed = object.__new__


def _hold(governed: GovernedMutation[Any], inner: Mutation[Any], request: MutationRequest,
          inner_intent: MutationIntent, inner_context: MutationContext) -> None:
    governed.inner = inner
    governed.request = request
    governed._inner_intent = inner_intent
    governed._inner_context = inner_context
    governed._intent = None
    governed._context = None


def _governed(inner: Mutation[TState], request: MutationRequest, inner_intent: MutationIntent,
              inner_context: MutationContext) -> GovernedMutation[TState]:
    """``GovernedMutation(inner, request)`` for a caller that has read (and checked) the
    mutation's intent and context already."""
    governed: GovernedMutation[TState] = _new_governed(GovernedMutation)
    _hold(governed, inner, request, inner_intent, inner_context)
    return governed


@dataclass(frozen=True, slots=True)
class GovernedExecutionResult(Generic[TState]):
    """The outcome of ``execute_approved``.

    ``resolution`` is built the first time it is read, from the final snapshot and the
    resolution's outcome, versions and staleness, and kept; equality, ``repr``,
    ``dataclasses.asdict`` and ``replace`` and pickling read it as any other field.
    """

    request: MutationRequest
    """The latest persisted snapshot of the request."""
    resolution: VersionResolution
    """The version resolution; for a run that reached the engine, its request is the final one."""
    mutation_result: MutationResult[TState] | None
    """The engine's result; None when resolution stopped the request before the engine."""
    was_executed: bool
    resulting_state_version: str | None
    execution_kind: GovernedExecutionKind
    compensation: CompensationPlan | None

    @property
    def new_state(self) -> TState | None:
        """The state produced by a successful execution."""
        return self.mutation_result.new_state if self.mutation_result is not None else None


_execution_result = record_builder(GovernedExecutionResult, positional=True)
"""Builds the result from its seven fields; ``resolution`` may be given as the parts of the
``VersionResolution`` of its request (outcome, expected and current versions, staleness). Every
way out of ``execute_approved`` gives the request as it ends, the final snapshot, whose
resolution is then built when first read."""


def _resolution_of_result(result: GovernedExecutionResult[Any],
                          parts: tuple[ResolutionOutcome, str | None, str, bool]
                          ) -> VersionResolution:
    return resolution_of(result.request, *parts)


GovernedExecutionResult.resolution = SlotBuiltWhenRead(  # type: ignore[assignment,misc]
    GovernedExecutionResult, "resolution", _resolution_of_result)


class OutcomeRecorder:
    """Records the terminal outcome of a governed execution on its claimed request.

    Each method appends one lifecycle decision and persists the snapshot through the store's
    compare-and-set against the claimed revision. The snapshot is built by ``next_snapshot`` as
    the owner of the request's claim: the execution that holds the claim is the only writer
    of its request, so its outcome is the next write.
    """

    def __init__(self, store: RequestStore, *, clock: Clock | None = None) -> None:
        if store is None:
            raise MissingArgumentError("an outcome recorder needs a request store")
        self._store = store
        self._clock = clock or utc_now

    def record_rejected(
        self,
        claimed: MutationRequest,
        context: MutationContext,
        reason: str,
        metadata: Mapping[str, Any] | None = None,
        side_effects: tuple[Any, ...] = (),
    ) -> MutationRequest:
        """Record REJECTED with ``reason``; the request keeps ``side_effects``.

        Raises:
            RequestConcurrencyError: the stored request moved past ``claimed``.
        """
        held = claimed.__dict__  # the snapshot's values, read without its __getattr__ hook
        execution = held["execution"].__dict__  # and the execution details' values
        decision_metadata = {**(metadata or {}), "ExecutionKind": _KIND_NAMES[execution["kind"]]}
        plan = execution["compensation"]
        if plan is not None:
            decision_metadata.update(compensation_metadata(plan))
        decision = owned_decision(_REJECTED_TYPE, context, reason, decision_metadata,
                                  self._clock())
        claim = execution["claim"]
        rejected = snapshot_after(held, claim, (decision,), claim, TO_REJECTED, True,
                                  {"side_effects": side_effects})
        return self._store.store_next(rejected, held["revision"])

    def record_refused(
        self,
        claimed: MutationRequest,
        context: MutationContext,
        result: MutationResult[Any],
        current_state_version: str,
    ) -> MutationRequest:
        """Record REJECTED for an engine result that did not succeed (policy block, invalid
        mutation, failed apply), with the first policy reason or validation message."""
        return self.record_rejected(
            claimed, context, _refusal_reason(result),
            {"CurrentStateVersion": current_state_version,
             "HasPolicyDecisions": bool(result.policy_decisions),
             "HasValidationErrors": bool(result.validation_result.errors)},
            tuple(result.side_effects),
        )

    def record_executed(
        self,
        claimed: MutationRequest,
        context: MutationContext,
        result: MutationResult[Any],
        resulting_state_version: str | None,
    ) -> MutationRequest:
        """Record EXECUTED: the resulting version becomes the expected one, ``executed_at`` is
        the decision's time, and the request keeps the result's side effects.

        ``resulting_state_version`` None records a mutation that was applied but whose new
        state has no version: EXECUTED all the same (it ran), with no resulting version and
        the expected one left as it was, and ``ResultingStateVersion`` "" in the decision.

        Raises:
            RequestConcurrencyError: the stored request moved past ``claimed``.
        """
        held = claimed.__dict__  # the snapshot's values, read without its __getattr__ hook
        execution = held["execution"].__dict__  # and the execution details' values
        kind = execution["kind"]
        reason = "Compensation request executed" if kind is _COMPENSATION else "Request executed"
        side_effects = result.__dict__.get("side_effects")  # ``result_side_effects``
        if side_effects is None:
            side_effects = NO_SIDE_EFFECTS
        metadata = {"ExecutionKind": _KIND_NAMES[kind],
                    "ResultingStateVersion": resulting_state_version or "",
                    # ``ChangeSet.count`` without the property's call.
                    "ChangeCount": len(result.changes._changes),
                    "SideEffectCount": len(side_effects)}
        plan = execution["compensation"]
        if plan is not None:
            metadata.update(compensation_metadata(plan))
        if context is None:
            raise MissingArgumentError(
                f"recording request '{held['request_id']}' EXECUTED needs the context of its "
                "actor")
        now = self._clock()
        # The decision's values (``owned_decision``).
        decision: DecisionValues = (_EXECUTED_TYPE, context, reason, now, metadata)
        # Every field of the versioning is set here, so it is built rather than copied.
        versioning = build_versioning(
            held["versioning"].expected_state_version if resulting_state_version is None
            else resulting_state_version, resulting_state_version, now)
        claim = execution["claim"]
        executed = snapshot_after(held, claim, (decision,), claim, TO_EXECUTED, True,
                                  {"versioning": versioning, "side_effects": tuple(side_effects)})
        return self._store.store_next(executed, held["revision"])

    def record_resolution(self, resolution: VersionResolution, expected_revision: int
                          ) -> MutationRequest:
        """Persist a computed resolution, such as a stale request rejected before the engine.

        Raises:
            RequestConcurrencyError: the stored revision is not ``expected_revision``.
        """
        return self._store.store_next(resolution.request, expected_revision)


class GovernanceExecutionManager:
    """Executes approved requests through the engine and records their terminal outcome."""

    def __init__(
        self,
        store: RequestStore,
        resolution_manager: VersionResolutionManager,
        engine: Engine,
        *,
        clock: Clock | None = None,
    ) -> None:
        if store is None:
            raise MissingArgumentError("an execution manager needs a request store")
        if resolution_manager is None:
            raise MissingArgumentError("an execution manager needs a resolution manager")
        if engine is None:
            raise MissingArgumentError("an execution manager needs an engine")
        self._store = store
        self._resolution = resolution_manager
        self._engine = engine
        self._clock = clock or utc_now
        self._recorder = OutcomeRecorder(store, clock=self._clock)
        # The package's engine runs a governed mutation without building its intent and context
        # (they are built when its audit and history entries are read); any other engine gets
        # ``execute``, and reads them as it pleases.
        self._execute_governed: Callable[[GovernedMutation[Any], Any], MutationResult[Any]] = (
            engine.execute_deferred if type(engine) is MutationEngine else engine.execute)

    @property
    def store(self) -> RequestStore:
        """The store the manager writes to."""
        return self._store

    @property
    def recorder(self) -> OutcomeRecorder:
        """Records terminal outcomes."""
        return self._recorder

    @property
    def engine(self) -> Engine:
        """The engine mutations run through."""
        return self._engine

    def execute_approved(
        self,
        request_id: str,
        mutation: Mutation[TState],
        current_state: TState,
        *,
        governance_context: MutationContext,
        strategy: ResolutionStrategy = ResolutionStrategy.REJECT_STALE,
        current_state_version: str | None = None,
        resulting_version: Callable[[TState], str] | None = None,
    ) -> GovernedExecutionResult[TState]:
        """Resolve, execute and record one approved request.

        Only a request that is APPROVED (and not claimed by another execution) when the call
        starts runs; the resolution and the execution claim are persisted in one
        compare-and-set, so concurrent callers on one request execute it at most once.

        Args:
            request_id: the stored request.
            mutation: the mutation to run; it is wrapped in a ``GovernedMutation``.
            current_state: the state to run it on.
            governance_context: the actor recording resolution and outcome decisions.
            strategy: what to do when the expected state version is stale.
            current_state_version: defaults to ``current_state.version``.
            resulting_version: reads the version of the new state; defaults to ``.version``.
                A version that is not a string (an int...) is recorded as its text.

        Returns:
            The result; ``was_executed`` is True only for a successful engine run, and the
            stored request is then EXECUTED. A stale request ends REJECTED (REJECT_STALE) or
            PENDING for renewed approval without running; an engine refusal (policy, validation,
            failed result) ends REJECTED.

        Raises:
            InvalidArgumentError: blank ``request_id``, or no current state version.
            MissingArgumentError: ``mutation`` or ``governance_context`` is None.
            InvalidArgumentError: ``mutation`` is not a usable mutation; an explicit
                ``current_state_version`` that is not a string.
            RequestNotFoundError: no such request, or, for a compensation, no such original
                request (checked before anything runs).
            RequestNotExecutableError: the request is not APPROVED, or is already claimed, or
                it is a compensation whose original is not in a terminal status.
            RequestConcurrencyError: another writer changed the request first; nothing ran.
            InvalidOperationError: the new state has no version; the mutation was applied, so
                the request is recorded EXECUTED (without a resulting version) first.
            BaseException: whatever the engine raised (a ``KeyboardInterrupt`` out of ``apply``
                included), after the request was recorded REJECTED, with a note naming the
                request.

        A request claimed by this call is never left claimed: every way out of it after the
        claim records a terminal outcome first. A mutation that is not usable (no
        ``MutationIntent`` intent, no ``MutationContext`` context, metadata None) is refused
        before the claim, and so is a compensation whose original has not finished; one whose
        ``validate`` or ``apply`` is missing fails in the engine and is recorded REJECTED.
        """
        if request_id is None or not (request_id if type(request_id) is str
                                      else str(request_id)).strip():
            raise InvalidArgumentError("executing a request needs a non-blank request id")
        if mutation is None:
            raise MissingArgumentError(f"executing request '{request_id}' needs a mutation")
        # Refused before the claim: what the governed wrapper cannot use.
        intent: Any
        context: Any
        try:
            intent = mutation.intent
            context = mutation.context
        except AttributeError:
            intent = context = None
        if (not isinstance(intent, MutationIntent) or not isinstance(context, MutationContext)
                or intent.metadata is None or context.metadata is None):
            _refuse_mutation(request_id, mutation, intent, context)
        if governance_context is None:
            raise MissingArgumentError(
                f"executing request '{request_id}' needs a governance context")
        if current_state_version is None:
            # Read as the resulting version is (``_read_version``): a non-string version such
            # as an int is compared and recorded as its text.
            try:
                current_state_version = current_state.version  # type: ignore[attr-defined]
            except AttributeError:
                current_state_version = None
            if type(current_state_version) is not str and current_state_version is not None:
                current_state_version = str(current_state_version)
        elif type(current_state_version) is not str:
            raise InvalidArgumentError(
                f"executing request '{request_id}' needs a string current state version, not "
                f"{current_state_version!r}")
        if current_state_version is None or not current_state_version.strip():
            raise InvalidArgumentError(
                f"executing request '{request_id}' needs the current state version: pass "
                "current_state_version or a state with a non-blank .version")

        # ``execution``: the values of the request's execution details as loaded; their kind
        # and compensation plan are those of every later snapshot of it.
        claimed, outcome, expected, execution = self._resolution._claim(
            request_id, current_state_version, governance_context, strategy)
        if outcome is not _EXECUTE_APPROVED_VERSION and outcome is not _REVALIDATE:
            # Stopped by the resolution (a stale version): the stored snapshot is the final one.
            return _execution_result(claimed, (outcome, expected, current_state_version, True),
                                     None, False, None, execution["kind"],
                                     execution["compensation"])

        stale = outcome is not _EXECUTE_APPROVED_VERSION
        # From here the request is claimed: whatever happens, an outcome is recorded before
        # this call returns or raises, so the request is never left claimed.
        try:
            governed = _governed(mutation, claimed, intent, context)
            result = self._execute_governed(governed, current_state)
        except BaseException as exc:
            # BaseException too: a KeyboardInterrupt or SystemExit out of ``apply`` must not
            # leave the request claimed for good.
            try:
                self._recorder.record_rejected(
                    claimed, governance_context,
                    f"The engine raised {type(exc).__name__}: {exc}",
                    {"CurrentStateVersion": current_state_version,
                     "ExecutionFailureType": type(exc).__name__},
                    (),
                )
            finally:
                exc.add_note(f"governed execution of request '{request_id}': recorded "
                             "REJECTED after the engine raised")
            raise

        if not result.is_success or result.new_state is None:
            rejected = self._recorder.record_refused(
                claimed, governance_context, result, current_state_version)
            return _execution_result(rejected, (outcome, expected, current_state_version, stale),
                                     result, False, None, execution["kind"],
                                     execution["compensation"])

        try:
            resulting = (resulting_version or _read_version)(result.new_state)
        except Exception as exc:
            resulting = None
            failure: BaseException | None = exc
        else:
            failure = None
            if resulting is not None and type(resulting) is not str:
                # As the default reader does: a version such as an int is recorded as text.
                resulting = str(resulting)
        if resulting is None or not resulting.strip():
            # The mutation was applied: the request says so (EXECUTED), without a resulting
            # version, and the caller hears that the new state had none.
            executed = self._recorder.record_executed(claimed, governance_context, result, None)
            if execution["kind"] is _COMPENSATION:
                self._link_compensated_original(executed, governance_context, "")
            raise InvalidOperationError(
                f"request '{request_id}': the mutation was applied and the request recorded "
                "EXECUTED, but its new state has no version to record (governed execution "
                "needs a non-blank resulting state version)") from failure
        assert resulting is not None

        executed = self._recorder.record_executed(claimed, governance_context, result, resulting)
        kind = execution["kind"]
        if kind is _COMPENSATION:
            self._link_compensated_original(executed, governance_context, resulting)
        # The resolution reported is of the request as it ends: the final snapshot.
        return _execution_result(executed, (outcome, expected, current_state_version, stale),
                                 result, True, resulting, kind, execution["compensation"])

    def _link_compensated_original(
        self, compensation: MutationRequest, context: MutationContext, resulting: str
    ) -> MutationRequest | None:
        """Link the original request back to its executed compensation (DOMAIN §2.9 step 10):
        a COMPENSATED_BY link and a COMPENSATED decision at the compensation's execution time.
        The original's status is not changed. Returns the original's stored snapshot."""
        plan = compensation.execution.compensation
        if plan is None:
            return None
        linked_at = compensation.versioning.executed_at or self._clock()
        link = ExecutionLink(
            request_id=compensation.request_id,
            type=ExecutionLinkType.COMPENSATED_BY,
            execution_kind=_COMPENSATION,
            compensation_kind=plan.kind,
            trigger=plan.trigger,
            batch_id=plan.batch_id,
            linked_at=linked_at,
        )
        decision = RequestDecision.lifecycle(
            LifecycleDecision.COMPENSATED, context,
            f"Compensated by request '{compensation.request_id}'",
            {"CompensationRequestId": compensation.request_id,
             "ResultingStateVersion": resulting,
             **compensation_metadata(plan)},
            linked_at)
        # The compensation is already recorded EXECUTED and never runs again, so losing a race
        # on the original must not lose the link. The link-back only appends (and is skipped
        # when present), so it is safe to re-read the original and apply it again; each write
        # is still a compare-and-set that never overwrites another writer.
        for _ in range(_LINK_BACK_ATTEMPTS):
            original = self._store.require(plan.original_request_id)
            if any(existing.type == ExecutionLinkType.COMPENSATED_BY
                   and existing.request_id == compensation.request_id
                   for existing in original.execution.related_executions):
                return original
            execution = evolve(original.execution, related_executions=(
                *original.execution.related_executions, link))
            stored = self._store.try_store(original.with_decision(decision, execution=execution),
                                           original.revision)
            if stored is not None:
                return stored
        raise RequestConcurrencyError(original.request_id, original.revision)


def _refuse_mutation(request_id: str, mutation: Any, intent: Any, context: Any) -> None:
    if not isinstance(intent, MutationIntent) or not isinstance(context, MutationContext):
        raise InvalidArgumentError(
            f"executing request '{request_id}' needs a mutation (an intent, a context and "
            f"apply/validate/simulate); got {type(mutation).__name__}")
    raise InvalidArgumentError(
        f"executing request '{request_id}': the mutation's intent and context need metadata "
        "mappings, not None")


def _read_version(state: Any) -> str:
    version = getattr(state, "version", None)
    return version if type(version) is str else "" if version is None else str(version)


def _refusal_reason(result: MutationResult[Any]) -> str:
    if result.policy_decisions:
        return result.policy_decisions[0].reason or "A policy blocked the governed execution"
    if result.validation_result.errors:
        return result.validation_result.errors[0].message
    return "The engine completed without a successful mutation result"

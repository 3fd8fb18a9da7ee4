"""The mutation engine: admission, policies, validation, the mode run, audit, history, metrics.

``MutationEngine.execute`` follows one fixed order (DOMAIN.md 1.7):

1. a new execution id and a stopwatch;
2. admission: one of ``max_concurrent_mutations`` global slots, then the gate of the context's
   ``state_id`` (when it has one), so executions on one state run one at a time;
3. a metrics scope, when detailed metrics are enabled;
4. the ``on_before_mutation`` interceptor hooks;
5. the policies, in registry order; the first decision that refuses the mutation or carries
   modifications decides, and later policies are not asked;
6. a refusal ends the execution with a ``policy_blocked`` result (``on_policy_blocked`` hooks and a
   failed audit entry, no history);
7. validation, skipped only for a COMMIT when ``always_validate`` is off; an invalid mutation ends
   with a ``failure`` result and a failed audit entry (no interceptor hook);
8. the mode run: ``simulate``, ``validate`` or ``apply``;
9. the deciding policy's modifications applied to a successful result, the ``on_after_mutation``
   hooks, an audit entry, and a history entry for a successful COMMIT;
10. the metrics recorded and the total time set on the result.

Any exception from steps 4 to 10 runs the ``on_mutation_failed`` hooks and writes a failed audit
entry; a ``GovernanceError`` is then re-raised as it is, anything else is wrapped in a
``MutationError`` that names the execution.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from queue import SimpleQueue
from time import perf_counter
from typing import Any, TypeVar

from governance._clock import Clock, utc_now
from governance._ids import IdSequence
from governance._models import evolve_record
from governance.core.audit import (
    Auditor,
    AuditValues,
    InMemoryAuditor,
    MutationAuditEntry,
    build_audit_entry,
)
from governance.core.changes import ChangeSet
from governance.core.context import MutationContext, MutationMode
from governance.core.effects import SideEffect
from governance.core.history import (
    HistoryStore,
    HistoryValues,
    InMemoryHistoryStore,
    MutationHistoryEntry,
    build_history_entry,
)
from governance.core.interceptors import Interceptor, InterceptorPipeline
from governance.core.metrics import InMemoryMetricsCollector, MetricsCollector, MetricsScope
from governance.core.mutation import DeferredMutation, Mutation
from governance.core.options import EngineOptions
from governance.core.policies import Policy, PolicyDecision, PolicyRegistry
from governance.core.results import (
    NO_SIDE_EFFECTS,
    BatchMutationResult,
    MutationResult,
    MutationStatistics,
    ValidationResult,
    with_metrics,
)
from governance.errors import (
    ExecutionTimeoutError,
    GovernanceError,
    InvalidArgumentError,
    InvalidMutationError,
    MissingArgumentError,
    MutationError,
    PolicyEvaluationError,
    PolicyEvaluationTimeoutError,
)

TState = TypeVar("TState")

# Members bound once: under Python 3.11 each read of a member off its enum class runs
# EnumType.__getattr__ (some 250 instructions); every execution compares the mode.
_COMMIT = MutationMode.COMMIT
_SIMULATE = MutationMode.SIMULATE
_STATISTICS_WINDOW = timedelta(days=30)

_EXECUTION_IDS = IdSequence()

Timings = tuple[float, int, float, int]
"""What an execution with detailed metrics measured: policy seconds, policies asked,
validation seconds, validations run."""



def _error_messages(validation: ValidationResult) -> str:
    return "; ".join(error.message for error in validation.errors)


def _failure_message(result: MutationResult[Any]) -> str:
    message = _error_messages(result.validation_result)
    if message:
        return message
    if result.exception is not None:
        return str(result.exception) or type(result.exception).__name__
    return "the mutation reported a failure without a reason"


def _apply_modifications(
    result: MutationResult[TState], modifications: Mapping[str, Any], old_state: TState
) -> MutationResult[TState]:
    """Apply a policy's ``State`` / ``SideEffect`` / ``SideEffects`` keys to a successful result.

    A ``State`` value that is not of the state's type, and items that are not ``SideEffect``s,
    are ignored (as the reference engine does); other keys are left to whoever reads them.
    """
    new_state = result.new_state
    if "State" in modifications:
        candidate = modifications["State"]
        if old_state is None or isinstance(candidate, type(old_state)):
            new_state = candidate
    extra: list[SideEffect] = []
    single = modifications.get("SideEffect")
    if isinstance(single, SideEffect):
        extra.append(single)
    several = modifications.get("SideEffects")
    if isinstance(several, Iterable) and not isinstance(several, (str, bytes, Mapping)):
        extra.extend(effect for effect in several if isinstance(effect, SideEffect))
    if new_state is result.new_state and not extra:
        return result
    return replace(result, new_state=new_state, side_effects=[*result.side_effects, *extra])


class Admission:
    """Who may run now: ``limit`` global slots, then one gate per ``state_id``.

    The slots are tokens in a C-level queue: taking and returning one costs two C calls, where
    ``threading.BoundedSemaphore`` runs a Condition in Python on every execution. A state's gate
    is a lock made the first time the state is seen and kept afterwards.

    Used as ``slots.get()``, then ``gates.get(state_id) or new_gate(state_id)`` held around the
    run, then ``slots.put(None)``: plain C calls, so admission adds no Python frame to an
    execution.
    """

    __slots__ = ("gates", "slots")

    def __init__(self, limit: int) -> None:
        self.slots: SimpleQueue[None] = SimpleQueue()
        for _ in range(limit):
            self.slots.put(None)
        self.gates: dict[str, threading.Lock] = {}

    def new_gate(self, state_id: str) -> threading.Lock:
        """The gate of ``state_id``, made when it has none yet (one per state, race-free: a
        ``dict.setdefault`` with a string key is one atomic step, so callers racing on a new
        state all get the lock the first of them stored)."""
        return self.gates.setdefault(state_id, threading.Lock())


class MutationEngine:
    """Runs mutations through policies, validation, interceptors, audit, history and metrics.

    Thread-safe: ``execute`` may be called from many threads. At most
    ``options.max_concurrent_mutations`` executions run at once, and executions whose context has
    the same ``state_id`` run one at a time (a context without ``state_id`` takes no state gate).
    The gates are not reentrant: a mutation that calls ``execute`` for its own ``state_id`` from
    inside ``apply`` deadlocks, as does nesting deeper than the global limit. A gate is kept for
    every distinct ``state_id`` the engine has seen.

    Policies apply to every mutation the engine runs, whatever the state type; a policy that
    only cares about some states checks the state and allows the others.

    Args:
        options: defaults to ``EngineOptions.strict()``.
        auditor: defaults to an ``InMemoryAuditor``.
        history: defaults to an ``InMemoryHistoryStore``.
        metrics: defaults to an ``InMemoryMetricsCollector`` reading ``clock``.
        clock: the time ``get_statistics`` treats as now; defaults to UTC wall time.

    Raises:
        InvalidArgumentError: ``options.max_concurrent_mutations`` is below 1.
    """

    def __init__(
        self,
        options: EngineOptions | None = None,
        *,
        auditor: Auditor | None = None,
        history: HistoryStore | None = None,
        metrics: MetricsCollector | None = None,
        clock: Clock | None = None,
    ) -> None:
        options = options if options is not None else EngineOptions.strict()
        if options.max_concurrent_mutations < 1:
            raise InvalidArgumentError(
                "max_concurrent_mutations must be at least 1, got "
                f"{options.max_concurrent_mutations}"
            )
        self._options = options
        self._clock: Clock = clock or utc_now
        self._auditor: Auditor = auditor if auditor is not None else InMemoryAuditor()
        self._history: HistoryStore = history if history is not None else InMemoryHistoryStore()
        self._metrics: MetricsCollector = (
            metrics if metrics is not None else InMemoryMetricsCollector(self._clock)
        )
        # The package's in-memory stores take the engine's records as the values they are
        # made of, and build them when read; other implementations get the records.
        self._keep_audit = (self._auditor.keep if type(self._auditor) is InMemoryAuditor
                            else None)
        self._keep_history = (self._history.keep
                              if type(self._history) is InMemoryHistoryStore else None)
        self._keep_metrics = (self._metrics.keep
                              if type(self._metrics) is InMemoryMetricsCollector else None)
        self._policies = PolicyRegistry()
        self._interceptors = InterceptorPipeline()
        self._admission = Admission(options.max_concurrent_mutations)
        # Option values read on every execution, resolved once.
        self._detailed_metrics = options.enable_detailed_metrics
        self._always_validate = options.always_validate
        timeout = options.policy_evaluation_timeout
        self._policy_timeout = timeout.total_seconds() if timeout is not None else None
        limit = options.execution_timeout
        self._execution_timeout = limit.total_seconds() if limit is not None else None

    # -- collaborators -------------------------------------------------------------------------

    @property
    def options(self) -> EngineOptions:
        """The options the engine was built with."""
        return self._options

    @property
    def auditor(self) -> Auditor:
        """Where audit entries go."""
        return self._auditor

    @property
    def history(self) -> HistoryStore:
        """Where history entries go."""
        return self._history

    @property
    def metrics(self) -> MetricsCollector:
        """Where detailed metrics go."""
        return self._metrics

    def register_policy(self, policy: Policy) -> None:
        """Add ``policy`` (replacing one of the same name).

        Raises:
            MissingArgumentError: ``policy`` is None.
            InvalidArgumentError: its name is blank.
        """
        self._policies.register(policy)

    def unregister_policy(self, name: str) -> bool:
        """Remove the policy called ``name``; return whether there was one."""
        return self._policies.unregister(name)

    def register_interceptor(self, interceptor: Interceptor) -> None:
        """Add ``interceptor`` to the pipeline (ascending ``order``, stable).

        Raises:
            MissingArgumentError: ``interceptor`` is None.
        """
        self._interceptors.register(interceptor)

    def unregister_interceptor(self, name: str) -> bool:
        """Remove the interceptors called ``name``; return whether there was one."""
        return self._interceptors.unregister(name)

    def get_history(self, state_id: str) -> list[MutationHistoryEntry]:
        """The history store's entries for ``state_id``, oldest first."""
        return self._history.get_history(state_id)

    def get_statistics(self) -> MutationStatistics:
        """Execution-time statistics over the detailed metrics of the last 30 days.

        Only executions run with ``enable_detailed_metrics`` are counted.
        """
        now = self._clock()
        aggregated = self._metrics.get_aggregated(now - _STATISTICS_WINDOW, now)
        return MutationStatistics(
            total_executed=aggregated.count,
            average_execution_time=aggregated.average_execution_time,
            median_execution_time=aggregated.p50_execution_time,
            p95_execution_time=aggregated.p95_execution_time,
            last_updated_at=now,
        )

    # -- execution -----------------------------------------------------------------------------

    def execute(self, mutation: Mutation[TState], state: TState) -> MutationResult[TState]:
        """Run ``mutation`` against ``state`` in the mode its context asks for.

        A refusing policy and a failed validation are *results* (``is_success`` False), not
        exceptions. ``result.metrics.execution_time`` runs from the start of the call (gate
        waits included) to the outcome, before audit, history and metrics are written; the
        audit entry's ``duration`` and the history entry's ``execution_time`` are the same
        reading. With detailed metrics, ``result.metrics`` is the record the metrics collector
        keeps for the execution.

        Raises:
            MissingArgumentError: ``mutation`` or its context is None.
            PolicyEvaluationError: a policy raised or returned no decision (the original
                error is the ``__cause__``).
            PolicyEvaluationTimeoutError: a policy's ``evaluate`` took longer than
                ``policy_evaluation_timeout``.
            ExecutionTimeoutError: a COMMIT was past ``execution_timeout`` before ``apply``.
            GovernanceError: raised by the mutation, a policy or an interceptor: re-raised as is.
            MutationError: anything else raised on the way, wrapped; ``execution_id`` is set
                and the original error is the ``__cause__``.
        """
        if mutation is None:
            raise MissingArgumentError("cannot execute a None mutation")
        started = perf_counter()
        execution_id = _EXECUTION_IDS.next()
        context = mutation.context
        if context is None:
            raise MissingArgumentError(f"mutation {type(mutation).__name__} has no context")
        state_id = context.state_id
        return self._admit(mutation, context, state, execution_id, started, state_id,
                           context.mode, state_id or context.correlation_id)

    def execute_deferred(self, mutation: DeferredMutation[TState], state: TState
                         ) -> MutationResult[TState]:
        """``execute`` for a mutation whose context and intent are built only when read
        (``GovernedMutation``): the run takes what it needs of the context from
        ``mutation.execution_facts()``, and the audit and history entries read the mutation's
        ``intent`` and ``context`` when they are built (with the in-memory auditor and history
        store, when they are first read). With interceptors registered, or an auditor or
        history store of another kind, this is ``execute``.

        Raises:
            the errors of ``execute``.
        """
        if (self._interceptors.snapshot or self._keep_audit is None
                or self._keep_history is None):
            return self.execute(mutation, state)
        if mutation is None:
            raise MissingArgumentError("cannot execute a None mutation")
        started = perf_counter()
        execution_id = _EXECUTION_IDS.next()
        state_id, mode, correlation_id = mutation.execution_facts()
        return self._admit(mutation, None, state, execution_id, started, state_id, mode,
                           state_id or correlation_id)

    def _admit(
        self,
        mutation: Mutation[TState],
        context: MutationContext | None,
        state: TState,
        execution_id: str,
        started: float,
        state_id: str | None,
        mode: MutationMode,
        key: str | None,
    ) -> MutationResult[TState]:
        """Step 2 of ``execute``: a global slot, then the state's gate, around the run.
        ``context`` None: the mutation builds it when read (``execute_deferred``)."""
        admission = self._admission
        slots = admission.slots
        slots.get()
        try:
            if state_id is None:
                return self._run(mutation, context, state, execution_id, started, mode, key)
            # acquire and release rather than ``with``: half the cost, on every execution.
            gate = admission.gates.get(state_id) or admission.new_gate(state_id)
            gate.acquire()
            try:
                return self._run(mutation, context, state, execution_id, started, mode, key)
            finally:
                gate.release()
        finally:
            slots.put(None)

    def execute_batch(
        self, mutations: Iterable[Mutation[TState]], state: TState
    ) -> BatchMutationResult[TState]:
        """Execute ``mutations`` one after the other, each on the state the previous one left.

        A failed result leaves the state as it was and, with ``stop_batch_on_first_failure``,
        ends the batch. The batch succeeds when it ran at least one mutation and every one
        succeeded; only then is ``final_state`` set. ``aggregated_changes`` holds the changes of
        the successful results, in order. An exception aborts the batch and propagates.

        Raises:
            MissingArgumentError: ``mutations`` is None.
        """
        if mutations is None:
            raise MissingArgumentError("cannot execute a None batch")
        started = perf_counter()
        stop_on_failure = self._options.stop_batch_on_first_failure
        results: list[MutationResult[TState]] = []
        aggregated = ChangeSet()
        current = state
        all_succeeded = True
        for mutation in mutations:
            result = self.execute(mutation, current)
            results.append(result)
            if result.is_success:
                current = result.new_state  # type: ignore[assignment]
                for change in result.changes:
                    aggregated.add(change)
            else:
                all_succeeded = False
                if stop_on_failure:
                    break
        is_success = all_succeeded and bool(results)
        return BatchMutationResult(
            is_success=is_success,
            final_state=current if is_success else None,
            results=results,
            aggregated_changes=aggregated,
            total_execution_time=timedelta(seconds=perf_counter() - started),
        )

    # -- internals -----------------------------------------------------------------------------

    def _run(
        self,
        mutation: Mutation[TState],
        context: MutationContext | None,
        state: TState,
        execution_id: str,
        started: float,
        mode: MutationMode,
        key: str | None,
    ) -> MutationResult[TState]:
        """Steps 3 to 10 of ``execute`` (see the module docstring), inside the admission.
        ``mode`` is the context's; ``key`` is where a history entry goes (the context's state
        id, or its correlation id)."""
        detailed = self._detailed_metrics
        # With detailed metrics, policy and validation times are measured here, in seconds;
        # only a collector other than the in-memory one gets a scope of its own.
        scope = (self._metrics.begin_scope(execution_id)
                 if detailed and self._keep_metrics is None else None)
        policy_seconds = validation_seconds = 0.0
        validated = 0
        try:
            if self._interceptors.snapshot:
                self._interceptors.run_before(mutation.intent, context or mutation.context,
                                              state, execution_id)
            # None means no policy is registered: the mutation is allowed as it is. Only a
            # deciding decision (one that refuses or modifies) is read again.
            if detailed:
                began = perf_counter()
                decision, evaluated, deciding = self._evaluate_policies(
                    mutation, state, execution_id)
                if evaluated:
                    policy_seconds = perf_counter() - began
            else:
                decision, evaluated, deciding = self._evaluate_policies(
                    mutation, state, execution_id)
            if deciding is not None and not deciding.is_allowed:
                return self._refuse(mutation, context, state, execution_id, started, scope,
                                    deciding, (policy_seconds, evaluated, 0.0, 0)
                                    if detailed else None)
            if mode != _COMMIT or self._always_validate:
                if detailed:
                    began = perf_counter()
                    validation = mutation.validate(state)
                    validation_seconds = perf_counter() - began
                else:
                    validation = mutation.validate(state)
                validated = 1
                # The package's own result is read directly; a subclass may define validity
                # its own way.
                if (validation.errors if type(validation) is ValidationResult
                        else not validation.is_valid):
                    return self._reject_invalid(
                        mutation, context, state, execution_id, started, scope, validation,
                        (policy_seconds, evaluated, validation_seconds, 1)
                        if detailed else None)
            result: MutationResult[TState]
            if mode == _COMMIT:
                if self._execution_timeout is not None:
                    self._check_execution_timeout(execution_id, started)
                result = mutation.apply(state)
            elif mode == _SIMULATE:
                result = mutation.simulate(state)
            else:
                # VALIDATE: the state unchanged when valid, else a failure; the second
                # validation's time adds up with the first's.
                began = perf_counter()
                validation = mutation.validate(state)
                validation_seconds += perf_counter() - began
                validated += 1
                result = (MutationResult.success(state, ChangeSet()) if validation.is_valid
                          else MutationResult.failure(validation))
            if result is None:
                raise InvalidMutationError(
                    f"mutation {type(mutation).__name__} returned no result "
                    f"(execution {execution_id})",
                    execution_id=execution_id,
                )
            if deciding is not None and deciding.modifications and result.is_success:
                # Step 9: the policy's modifications (it allowed the mutation, or it would have
                # been refused above).
                result = _apply_modifications(result, deciding.modifications, state)
            return self._complete(mutation, context, state, execution_id, started, scope,
                                  decision, result, mode, key,
                                  (policy_seconds, evaluated, validation_seconds, validated)
                                  if detailed else None)
        except GovernanceError as error:
            self._report_failure(mutation, context, state, error, execution_id, started)
            raise
        except Exception as error:
            self._report_failure(mutation, context, state, error, execution_id, started)
            raise MutationError(
                f"mutation execution failed: {error or type(error).__name__} "
                f"(execution {execution_id})",
                error,
                execution_id,
            ) from error

    def _refuse(
        self,
        mutation: Mutation[TState],
        context: MutationContext | None,
        state: TState,
        execution_id: str,
        started: float,
        scope: MetricsScope | None,
        decision: PolicyDecision,
        timings: Timings | None,
    ) -> MutationResult[TState]:
        """Step 6: a policy refused; ``on_policy_blocked`` hooks, a failed audit entry."""
        blocked: MutationResult[TState] = MutationResult.policy_blocked(decision)
        if self._interceptors.snapshot:
            self._interceptors.run_policy_blocked(mutation.intent, context or mutation.context,
                                                  state, decision, execution_id)
        elapsed = perf_counter() - started
        if self._auditor.is_enabled:
            self._audit(execution_id, mutation, context, state, blocked, elapsed,
                        _error_messages(blocked.validation_result), blocked.policy_decisions,
                        blocked.side_effects)
        return self._finalize(blocked, state, execution_id, elapsed, scope, timings)

    def _reject_invalid(
        self,
        mutation: Mutation[TState],
        context: MutationContext | None,
        state: TState,
        execution_id: str,
        started: float,
        scope: MetricsScope | None,
        validation: ValidationResult,
        timings: Timings | None,
    ) -> MutationResult[TState]:
        """Step 7: validation failed; a failed audit entry. No interceptor hook fires here:
        the mutation never ran."""
        invalid: MutationResult[TState] = MutationResult.failure(validation)
        elapsed = perf_counter() - started
        if self._auditor.is_enabled:
            self._audit(execution_id, mutation, context, state, invalid, elapsed,
                        _error_messages(validation), invalid.policy_decisions,
                        invalid.side_effects)
        return self._finalize(invalid, state, execution_id, elapsed, scope, timings)

    def _check_execution_timeout(self, execution_id: str, started: float) -> None:
        """Step 8, before ``apply``: refuse a COMMIT already past ``execution_timeout``.

        Raises:
            ExecutionTimeoutError: it is.
        """
        limit = self._execution_timeout
        assert limit is not None
        so_far = perf_counter() - started
        if so_far > limit:
            timeout_error = ExecutionTimeoutError(
                timedelta(seconds=limit), timedelta(seconds=so_far))
            timeout_error.execution_id = execution_id
            raise timeout_error

    def _complete(
        self,
        mutation: Mutation[TState],
        context: MutationContext | None,
        state: TState,
        execution_id: str,
        started: float,
        scope: MetricsScope | None,
        decision: PolicyDecision | None,
        result: MutationResult[TState],
        mode: MutationMode,
        key: str | None,
        timings: Timings | None,
    ) -> MutationResult[TState]:
        """Step 10, once ``_run`` has applied a policy's modifications: ``on_after_mutation``
        hooks, audit, history, metrics."""
        if self._interceptors.snapshot:
            self._interceptors.run_after(mutation.intent, context or mutation.context, state,
                                         result.new_state,
                                         result.changes, execution_id)
        # One reading for the audit entry, the history entry and the result's metrics: the
        # execution's duration up to its outcome, in seconds, the same in every record of it.
        elapsed = perf_counter() - started
        is_success = result.is_success
        # ``result_side_effects``, read here without a call: no empty list for a result
        # that has no side effects.
        side_effects = result.__dict__.get("side_effects")
        if side_effects is None:
            side_effects = NO_SIDE_EFFECTS
        # The in-memory auditor and history store (those with ``keep``) are always enabled.
        if self._keep_audit is not None or self._auditor.is_enabled:
            # The entry tells the truth about the result (the reference engine always said
            # success here).
            self._audit(
                execution_id, mutation, context, state, result, elapsed,
                None if is_success else _failure_message(result),
                result.__dict__.get("policy_decisions")
                or [decision if decision is not None else PolicyDecision.allow()],
                side_effects,
            )
        if is_success and mode == _COMMIT and key and (self._keep_history is not None
                                                       or self._history.is_enabled):
            # A deferred mutation (context None) is kept itself: the entry reads its intent
            # and context when it is built.
            values: HistoryValues = (
                execution_id, key, None, mutation.intent, context, result.changes,
                side_effects, elapsed) if context is not None else (
                execution_id, key, mutation, None, None, result.changes, side_effects, elapsed)
            keep = self._keep_history
            if keep is not None:
                keep(values)
            else:
                self._history.store(build_history_entry(values))
        return self._finalize(result, state, execution_id, elapsed, scope, timings)

    def _evaluate_policies(
        self,
        mutation: Mutation[Any],
        state: Any,
        execution_id: str,
    ) -> tuple[PolicyDecision | None, int, PolicyDecision | None]:
        """The decision the audit entry records (None without policies), how many policies
        were asked, and that decision again if it refuses or modifies the mutation, else None
        (the common case, in which nobody reads it again before the audit entry)."""
        policies = self._policies.get_policies()
        if not policies:
            return None, 0, None
        timeout = self._policy_timeout
        evaluated = 0
        decisive: PolicyDecision | None = None
        for policy in policies:
            evaluated += 1
            policy_started = perf_counter() if timeout is not None else 0.0
            try:
                decision = policy.evaluate(mutation, state)
            except Exception as error:
                name = policy.name
                raise PolicyEvaluationError(
                    name,
                    f"policy '{name}' failed to evaluate execution {execution_id}: "
                    f"{error or type(error).__name__}",
                    error,
                    execution_id,
                ) from error
            # A synchronous policy cannot be interrupted: the timeout is checked once it returns.
            if timeout is not None and perf_counter() - policy_started > timeout:
                raise PolicyEvaluationTimeoutError(
                    policy.name, timedelta(seconds=timeout), execution_id
                )
            if decision is None:
                raise PolicyEvaluationError(
                    policy.name,
                    f"policy '{policy.name}' returned no decision for execution {execution_id}",
                    execution_id=execution_id,
                )
            decisive = decision
            if not decision.is_allowed or decision.modifications:
                return decision, evaluated, decision
        # Every policy allowed the mutation as it is: the last allow decision.
        return decisive, evaluated, None

    def _audit(
        self,
        execution_id: str,
        mutation: Mutation[Any],
        context: MutationContext | None,
        state: Any,
        result: MutationResult[Any],
        elapsed: float,
        error_message: str | None,
        decisions: Sequence[PolicyDecision],
        side_effects: Sequence[SideEffect],
    ) -> None:
        # A deferred mutation (context None) is kept itself: the entry reads its intent and
        # context when it is built.
        values: AuditValues = (
            execution_id, None, mutation.intent, context, result.is_success,
            type(state).__name__, result.changes, error_message, decisions, side_effects,
            elapsed) if context is not None else (
            execution_id, mutation, None, None, result.is_success, type(state).__name__,
            result.changes, error_message, decisions, side_effects, elapsed)
        keep = self._keep_audit
        if keep is not None:
            keep(values)
        else:
            self._auditor.audit(build_audit_entry(values))

    def _report_failure(
        self,
        mutation: Mutation[Any],
        context: MutationContext | None,
        state: Any,
        error: Exception,
        execution_id: str,
        started: float,
    ) -> None:
        intent = mutation.intent
        if context is None:
            context = mutation.context
        if self._interceptors.snapshot:
            self._interceptors.run_failed(intent, context, state, error, execution_id)
        # Written whatever ``is_enabled`` says: an execution that raised is always worth a record
        # (a disabled auditor such as NullAuditor drops it anyway).
        self._auditor.audit(
            MutationAuditEntry(
                execution_id=execution_id,
                mutation_intent=intent,
                context=context,
                is_success=False,
                state_id=context.state_id,
                state_type=type(state).__name__,
                error_message=str(error) or type(error).__name__,
                timestamp=context.timestamp,
                duration=timedelta(seconds=perf_counter() - started),
                source_ip_address=context.source_ip_address,
                user_agent=context.user_agent,
                metadata=context.metadata or None,
            )
        )

    def _finalize(
        self,
        result: MutationResult[TState],
        state: TState,
        execution_id: str,
        elapsed: float,
        scope: MetricsScope | None,
        timings: Timings | None,
    ) -> MutationResult[TState]:
        if timings is None:
            if "metrics" not in result.__dict__:
                # The mutation's result has its default metrics: the same, with the duration.
                return with_metrics(result, elapsed)
            metrics = evolve_record(result.metrics, execution_time=timedelta(0, elapsed))
            return evolve_record(result, metrics=metrics)
        # A shallow estimate: the size of the state object itself, not what it references.
        state_size = sys.getsizeof(state)
        changes = len(result.changes._changes)  # ``ChangeSet.count`` without the property's call
        policy_seconds, evaluated, validation_seconds, validated = timings
        # The result carries the record the collector keeps, with the execution's duration
        # as its audit and history entries have it.
        keep = self._keep_metrics
        if keep is not None:
            return with_metrics(result, keep(
                execution_id, elapsed, validation_seconds, policy_seconds, validated,
                evaluated, changes, state_size))
        assert scope is not None
        scope.add_policy_seconds(policy_seconds, evaluated)
        scope.add_validation_seconds(validation_seconds, validated)
        scope.record_state_size(state_size)
        scope.record_changes(changes)
        metrics = scope.build()
        metrics.execution_time = timedelta(0, elapsed)
        self._metrics.record(execution_id, metrics)
        return evolve_record(result, metrics=metrics)

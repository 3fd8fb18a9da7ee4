"""Records materialized from one governed execution: the history entry, the audit entry and the
decision views.

The fixture is one ``execute_approved`` run (strict engine, one allow policy) of an approved
request on ``governance-benchmark:materialization`` from v10 to v11, whose mutation emits two
changes and two side effects: an INFO one and a CRITICAL one whose payload class carries the
``@side_effect_contract("governance.materialization.side-effect", 1)`` marker. One timed call
builds one record from that finished result:

- history_entry: a ``MutationHistoryEntry`` (governed intent and context, changes, side
  effects, timestamp, execution time);
- audit_entry: a ``MutationAuditEntry`` with the policy decisions and the metadata
  ``ExecutionKind`` and ``RequestStatus`` of the governed request;
- decision_views: one ``DecisionView`` per decision of the executed request (four).

Nothing is consumed: the execution runs once per process on the first call (asv's calibration
call), there is no ``setup``, and asv times many calls per sample.

``ExecutionRecordsFirstRead`` times the other side: the first read of everything one matching
``execute_approved`` leaves behind (the benchmarks' ``ExecutionFixture``: strict engine, one
allow policy, in-memory audit, history and metrics), namely the engine's audit entries, the
state's history, the result's metrics and the executed request's decisions. The runtime keeps
some of these as the values they are made of and builds the records on first read, so this is
where that work shows. Not timed: the fixture and the execution, run in ``setup`` for every call
(a first read is consumed by the read).

``ResolutionFirstRead`` times the first read of the ``resolution`` of that execution's
``GovernedExecutionResult``, which the result builds when first read (a slot read before it
did). Not timed, again: the fixture and the execution, in ``setup`` for every call.
"""

from __future__ import annotations

from functools import partial
from types import SimpleNamespace
from typing import Any

from .common import (
    EXPECTED_VERSION,
    MATERIALIZATION_STATE_ID,
    STATE_ID,
    SkipNotImplemented,
    api,
)
from .fixtures_engine import engine_classes
from .fixtures_execution import ExecutionFixture, VersionedState, mutation_classes
from .harness import FreshPerCall, ReadOnlyBenchmark, allocation_twins, kept

_EXECUTED: dict[str, SimpleNamespace] = {}


def governed_execution(g: Any) -> SimpleNamespace:
    """One governed execution of the materialization mutation, and what the records need
    (run once per process; only read afterwards)."""
    if "done" not in _EXECUTED:
        _EXECUTED["done"] = _execute(g)
    return _EXECUTED["done"]


def _execute(g: Any) -> SimpleNamespace:
    classes = engine_classes(g)
    engine = g.MutationEngine(g.EngineOptions.strict())
    engine.register_policy(mutation_classes(g).AllowAllPolicy())
    store = g.InMemoryRequestStore()
    manager = g.GovernanceExecutionManager(
        store, g.VersionResolutionManager(store, g.VersionResolver()), engine)
    context = g.MutationContext.system("benchmark", correlation_id="benchmark-materialization")
    intent = g.MutationIntent.create("MaterializeOutputs", "Benchmark")
    mutation = classes.MaterializedMutation(intent, context)
    request = store.create(g.MutationRequest.approved(
        MATERIALIZATION_STATE_ID, VersionedState, classes.MaterializedMutation, intent, context,
        expected_state_version=EXPECTED_VERSION, request_id="materialization-request-1"))
    result = manager.execute_approved(request.request_id, mutation,
                                      VersionedState(42, EXPECTED_VERSION),
                                      governance_context=context)
    if not result.was_executed:
        raise RuntimeError("the materialization fixture did not execute")
    governed = g.GovernedMutation(mutation, result.request)
    history = engine.history.get_history(MATERIALIZATION_STATE_ID)
    return SimpleNamespace(result=result, governed=governed,
                           execution_id=history[-1].execution_id)


def _history_entry(g: Any) -> Any:
    done = governed_execution(g)
    entry, result, governed, execution_id = (g.MutationHistoryEntry, done.result.mutation_result,
                                             done.governed, done.execution_id)
    context = governed.context

    def build() -> Any:
        return entry(execution_id=execution_id, state_id=context.state_id,
                     intent=governed.intent, context=context, changes=result.changes,
                     side_effects=result.side_effects, timestamp=context.timestamp,
                     execution_time=result.metrics.execution_time)

    return build


def _audit_entry(g: Any) -> Any:
    done = governed_execution(g)
    entry, governed_result, governed, execution_id = (
        g.MutationAuditEntry, done.result, done.governed, done.execution_id)
    result, request = governed_result.mutation_result, governed_result.request
    context = governed.context
    decisions = result.policy_decisions or [g.PolicyDecision.allow("allow-all")]

    def build() -> Any:
        return entry(execution_id=execution_id, mutation_intent=governed.intent,
                     context=context, is_success=result.is_success,
                     state_id=context.state_id, state_type=request.state_type,
                     changes=result.changes, policy_decisions=decisions,
                     side_effects=result.side_effects, timestamp=context.timestamp,
                     duration=result.metrics.execution_time,
                     source_ip_address=context.source_ip_address,
                     user_agent=context.user_agent,
                     metadata={"ExecutionKind": governed_result.execution_kind.name,
                               "RequestStatus": request.status.name})

    return build


def _decision_views(g: Any) -> Any:
    request, view = governed_execution(g).result.request, g.DecisionView
    return lambda: [view(request, decision) for decision in request.decisions]


def _skip(reason: str) -> None:
    raise SkipNotImplemented(reason)


_REQUIRED = ("DecisionView",)
SCENARIOS = {"history_entry": _history_entry, "audit_entry": _audit_entry,
             "decision_views": _decision_views}


class GovernedOutputs(ReadOnlyBenchmark):
    """One record built from the finished governed execution (see the module docstring)."""

    version = "1"
    rounds = 2
    repeat = (10, 25, 0.25)

    def build(self, g: Any) -> SimpleNamespace:
        history, audit = _history_entry(g), _audit_entry(g)
        try:
            views = _decision_views(api(*_REQUIRED))
        except NotImplementedError as exc:
            views = partial(_skip, str(exc))
        return SimpleNamespace(history_entry=history, audit_entry=audit, decision_views=views)

    def time_history_entry(self) -> None:
        self.fixtures[None].history_entry()

    def time_audit_entry(self) -> None:
        self.fixtures[None].audit_entry()

    def time_decision_views(self) -> None:
        self.fixtures[None].decision_views()


GovernedOutputsAllocatedBytes, GovernedOutputsAllocatedBlocks = allocation_twins(
    "GovernedOutputs", kept(SCENARIOS), what="building one record from a governed execution",
    required=_REQUIRED)


# -- the first read of what one execution leaves behind --------------------------------------

def _first_read(g: Any) -> Any:
    fixture = ExecutionFixture(EXPECTED_VERSION)
    executed = fixture.execute(g.ResolutionStrategy.REJECT_STALE)
    if not executed.was_executed:
        raise RuntimeError("the first-read fixture did not execute")
    engine, request, result = fixture.engine, executed.request, executed.mutation_result

    def read() -> Any:
        return (engine.auditor.entries, engine.history.get_history(STATE_ID), result.metrics,
                list(request.decisions))

    return read


_FIRST_READ = {"audit_history_metrics_and_decisions": _first_read}


class ExecutionRecordsFirstRead(FreshPerCall):
    """The first read of the records one governed execution leaves behind (see the module
    docstring)."""

    version = "1"
    scenarios = _FIRST_READ

    def time_audit_history_metrics_and_decisions(self) -> None:
        self.ops["audit_history_metrics_and_decisions"]()


ExecutionRecordsFirstReadAllocatedBytes, ExecutionRecordsFirstReadAllocatedBlocks = \
    allocation_twins("ExecutionRecordsFirstRead", _FIRST_READ,
                     what="the first read of one execution's records")


# -- the first read of the governed result's resolution --------------------------------------

def _first_resolution_read(g: Any) -> Any:
    fixture = ExecutionFixture(EXPECTED_VERSION)
    executed = fixture.execute(g.ResolutionStrategy.REJECT_STALE)
    if not executed.was_executed:
        raise RuntimeError("the first-read fixture did not execute")
    return lambda: executed.resolution


_FIRST_RESOLUTION_READ = {"result_resolution": _first_resolution_read}


class ResolutionFirstRead(FreshPerCall):
    """The first read of ``resolution`` on the result of one matching ``execute_approved`` (see
    the module docstring)."""

    version = "1"
    scenarios = _FIRST_RESOLUTION_READ

    def time_result_resolution(self) -> None:
        self.ops["result_resolution"]()


ResolutionFirstReadAllocatedBytes, ResolutionFirstReadAllocatedBlocks = allocation_twins(
    "ResolutionFirstRead", _FIRST_RESOLUTION_READ,
    what="the first read of an execution result's resolution")

"""The governed wrapper builds its intent and context when they are read, and the package's
engine runs it without reading them: the audit and history entries, built later, read the very
records an eager engine would have recorded."""

from __future__ import annotations

import dataclasses
import pickle
import threading
from typing import Any

import pytest

from governance import (
    EngineOptions,
    GovernanceExecutionManager,
    GovernedExecutionResult,
    GovernedMutation,
    InMemoryAuditor,
    InMemoryHistoryStore,
    InMemoryRequestStore,
    InterceptorBase,
    MutationEngine,
    MutationError,
    ResolutionOutcome,
    ResolutionStrategy,
    VersionResolution,
    VersionResolutionManager,
)
from governance.testing import (
    STATE_ID,
    FailingMutation,
    IncrementMutation,
    VersionedState,
    approved_request,
    governance_context,
)


class EagerEngine(MutationEngine):
    """The package's engine through ``execute`` only: the manager gives any engine but the
    exact ``MutationEngine`` ``execute``, which reads the governed intent and context."""


def _world(engine: MutationEngine) -> tuple[InMemoryRequestStore, GovernanceExecutionManager]:
    store = InMemoryRequestStore()
    store.create(approved_request(request_id="req-1", expected_state_version="10"))
    return store, GovernanceExecutionManager(store, VersionResolutionManager(store), engine)


def _run(executor: GovernanceExecutionManager, mutation: Any | None = None) -> Any:
    return executor.execute_approved("req-1", mutation or IncrementMutation(),
                                     VersionedState(1, "10"),
                                     governance_context=governance_context(),
                                     strategy=ResolutionStrategy.REJECT_STALE)


def _entries(engine: MutationEngine) -> tuple[Any, Any]:
    (audit,) = engine.auditor.get_audit_log(STATE_ID)
    (history,) = engine.history.get_history(STATE_ID)
    return audit, history


def test_deferred_and_eager_engines_record_the_same_governed_intent_and_context() -> None:
    deferred, eager = MutationEngine(EngineOptions.strict()), EagerEngine(EngineOptions.strict())
    mutation = IncrementMutation()
    for engine in (deferred, eager):
        _run(_world(engine)[1], mutation)

    for lazy, built in zip(_entries(deferred), _entries(eager), strict=True):
        lazy_intent = getattr(lazy, "mutation_intent", None) or lazy.intent
        built_intent = getattr(built, "mutation_intent", None) or built.intent
        assert lazy_intent == built_intent
        assert lazy.context == built.context
        assert lazy.context.metadata["GovernanceRequestId"] == "req-1"
        assert lazy.context.state_id == STATE_ID and lazy.context.correlation_id == "req-1"
    audit, history = _entries(deferred)
    # Both entries read the one context and intent the wrapper built.
    assert audit.context is history.context
    assert audit.mutation_intent is history.intent


def test_the_wrapper_builds_intent_and_context_once_on_first_read() -> None:
    request = approved_request(request_id="req-1")
    governed = GovernedMutation(IncrementMutation(), request)

    state_id, mode, correlation_id = governed.execution_facts()

    assert governed.context is governed.context
    assert governed.intent is governed.intent
    assert (state_id, mode, correlation_id) == (
        governed.context.state_id, governed.context.mode, governed.context.correlation_id)


def test_a_run_with_interceptors_hands_them_the_governed_records() -> None:
    seen: list[Any] = []

    class Recording(InterceptorBase):
        def on_before_mutation(self, intent: Any, context: Any, state: Any,
                               execution_id: str) -> None:
            seen.append((intent, context))

    engine = MutationEngine(EngineOptions.strict())
    engine.register_interceptor(Recording())
    _run(_world(engine)[1])

    ((intent, context),) = seen
    assert context.metadata["GovernanceRequestId"] == "req-1"
    assert intent.metadata["GovernanceExecutionKind"] == "STANDARD"


def test_a_raising_deferred_run_records_the_governed_context_in_its_failed_entry() -> None:
    engine = MutationEngine(EngineOptions.strict())
    _, executor = _world(engine)

    with pytest.raises(MutationError):
        _run(executor, FailingMutation())

    (entry,) = engine.auditor.get_audit_log(STATE_ID)
    assert not entry.is_success
    assert entry.context.metadata["GovernanceRequestId"] == "req-1"


@pytest.mark.parametrize("own", ["auditor", "history"])
def test_other_audit_or_history_stores_run_the_eager_path(own: str) -> None:
    class OwnAuditor(InMemoryAuditor):
        pass

    class OwnHistory(InMemoryHistoryStore):
        pass

    engine = (MutationEngine(EngineOptions.strict(), auditor=OwnAuditor()) if own == "auditor"
              else MutationEngine(EngineOptions.strict(), history=OwnHistory()))
    result = _run(_world(engine)[1])

    assert result.was_executed
    audit, history = _entries(engine)
    assert audit.context == history.context
    assert audit.context.metadata["GovernanceRequestId"] == "req-1"


def test_the_execution_results_resolution_is_of_the_final_snapshot() -> None:
    store, executor = _world(MutationEngine(EngineOptions.strict()))

    result = _run(executor)

    resolution = result.resolution
    assert resolution is result.resolution
    assert resolution == VersionResolution(
        request=store.get("req-1"), outcome=ResolutionOutcome.EXECUTE_APPROVED_VERSION,
        expected_state_version="10", current_state_version="10", is_stale=False)
    assert resolution.request is result.request
    assert pickle.loads(pickle.dumps(result)).resolution == resolution
    assert dataclasses.replace(result, was_executed=False).resolution == resolution
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.was_executed = False  # type: ignore[misc]


def _eager_copy(result: Any, resolution: VersionResolution) -> GovernedExecutionResult[Any]:
    """``result`` built through the dataclass's own constructor, with ``resolution``."""
    return GovernedExecutionResult(
        request=result.request, resolution=resolution, mutation_result=result.mutation_result,
        was_executed=result.was_executed,
        resulting_state_version=result.resulting_state_version,
        execution_kind=result.execution_kind, compensation=result.compensation)


@pytest.mark.parametrize("state_version", ["10", "11"])
def test_a_result_whose_resolution_was_not_read_reads_as_the_eagerly_built_one(
        state_version: str) -> None:
    stale = state_version != "10"
    expected = VersionResolution(
        request=None,  # type: ignore[arg-type]
        outcome=(ResolutionOutcome.REJECTED_AS_STALE if stale
                 else ResolutionOutcome.EXECUTE_APPROVED_VERSION),
        expected_state_version="10", current_state_version=state_version, is_stale=stale)
    results = []
    for _ in range(4):
        executor = _world(MutationEngine(EngineOptions.strict()))[1]
        results.append(executor.execute_approved(
            "req-1", IncrementMutation(), VersionedState(1, state_version),
            governance_context=governance_context(),
            strategy=ResolutionStrategy.REJECT_STALE))

    # Each comparison is the first read of that result's resolution.
    by_eq, by_asdict, by_repr, by_pickle = results
    resolution = dataclasses.replace(expected, request=by_eq.request)
    assert by_eq == _eager_copy(by_eq, resolution)
    eager = _eager_copy(by_asdict, dataclasses.replace(expected, request=by_asdict.request))
    assert dataclasses.asdict(by_asdict) == dataclasses.asdict(eager)
    eager = _eager_copy(by_repr, dataclasses.replace(expected, request=by_repr.request))
    assert repr(by_repr) == repr(eager)
    copied = pickle.loads(pickle.dumps(by_pickle))
    assert copied.resolution == dataclasses.replace(expected, request=copied.request)
    assert by_eq.resolution.request is by_eq.request
    assert by_eq.was_executed is not stale


def test_threads_reading_a_resolution_first_at_once_get_one_object() -> None:
    result = _run(_world(MutationEngine(EngineOptions.strict()))[1])
    start = threading.Barrier(8)
    seen: list[VersionResolution] = []

    def read() -> None:
        start.wait()
        seen.append(result.resolution)

    workers = [threading.Thread(target=read) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert len(seen) == 8 and all(r is result.resolution for r in seen)


def test_a_result_built_by_its_constructor_keeps_the_resolution_it_was_given() -> None:
    result = _run(_world(MutationEngine(EngineOptions.strict()))[1])
    given = dataclasses.replace(result.resolution, current_state_version="given")

    built = _eager_copy(result, given)

    assert built.resolution is given
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.resolution = result.resolution  # type: ignore[misc]

"""The governed wrapper builds its intent and context when they are read, and the package's
engine runs it without reading them: the audit and history entries, built later, read the very
records an eager engine would have recorded."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pytest

from governance import (
    EngineOptions,
    GovernanceExecutionManager,
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

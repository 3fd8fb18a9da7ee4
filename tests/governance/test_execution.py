"""Governed execution: ``GovernanceExecutionManager.execute_approved`` and ``GovernedMutation``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest

from governance import (
    BlastRadius,
    BlastRadiusScope,
    ChangeSet,
    CompensationKind,
    CompensationPlan,
    CompensationTrigger,
    DecisionCategory,
    EngineOptions,
    ExecutionLink,
    ExecutionLinkType,
    GovernanceError,
    GovernanceExecutionManager,
    GovernedExecutionDetails,
    GovernedExecutionKind,
    GovernedMutation,
    InMemoryRequestStore,
    InvalidArgumentError,
    InvalidOperationError,
    LifecycleManager,
    MissingArgumentError,
    MutationBase,
    MutationContext,
    MutationEngine,
    MutationError,
    MutationRequest,
    MutationResult,
    PendingReason,
    PolicyEvaluationError,
    RequestConcurrencyError,
    RequestNotExecutableError,
    RequestNotFoundError,
    RequestStatus,
    ResolutionOutcome,
    ResolutionStrategy,
    SideEffect,
    ValidationResult,
    VersionResolutionManager,
)
from governance.testing import (
    STATE_ID,
    ApplyCounter,
    DenyPolicy,
    FailingMutation,
    IncrementMutation,
    RacingStore,
    RaisingPolicy,
    UnsuccessfulMutation,
    VersionedState,
    approved_request,
    governance_context,
    increment_intent,
    mutation_context,
    request_in_status,
)

STATE = VersionedState(value=42, version="10")


def _codes(request: MutationRequest) -> list[str]:
    return [d.code for d in request.decisions]


def _execute(executor: GovernanceExecutionManager, mutation: Any, *,
             request_id: str = "req-1", state: Any = STATE,
             strategy: ResolutionStrategy = ResolutionStrategy.REJECT_STALE,
             **kwargs: Any) -> Any:
    return executor.execute_approved(request_id, mutation, state,
                                     governance_context=governance_context(),
                                     strategy=strategy, **kwargs)


@pytest.fixture
def request_1(store: InMemoryRequestStore) -> MutationRequest:
    return store.create(approved_request(request_id="req-1", metadata={"Ticket": "OPS-7"}))


# -- the happy path ---------------------------------------------------------------------------

def test_an_approved_request_on_its_expected_version_executes_and_is_recorded_executed(
        executor: GovernanceExecutionManager, store: InMemoryRequestStore,
        request_1: MutationRequest, counter: ApplyCounter) -> None:
    effect = SideEffect.create("notify", "tell the owner")
    mutation = IncrementMutation(counter, "req-1", side_effects=[effect])

    result = _execute(executor, mutation)

    assert result.was_executed is True
    assert result.resulting_state_version == "11"
    assert result.new_state == VersionedState(value=43, version="11")
    assert result.mutation_result.is_success
    assert result.execution_kind == GovernedExecutionKind.STANDARD
    assert result.compensation is None
    assert result.resolution.outcome == ResolutionOutcome.EXECUTE_APPROVED_VERSION
    assert result.resolution.request == result.request
    assert counter["req-1"] == 1

    stored = store.get("req-1")
    assert stored == result.request
    assert stored.status == RequestStatus.EXECUTED
    assert stored.pending_reason is None
    assert stored.revision == 2
    assert [(d.category, d.code) for d in stored.decisions] == [
        (DecisionCategory.LIFECYCLE, "SUBMITTED"),
        (DecisionCategory.LIFECYCLE, "APPROVED"),
        (DecisionCategory.VERSION_RESOLUTION, "VALIDATED"),
        (DecisionCategory.LIFECYCLE, "EXECUTED"),
    ]
    executed = stored.decisions[-1]
    assert executed.context == governance_context().model_copy(
        update={"timestamp": executed.context.timestamp})
    assert executed.metadata == {"ExecutionKind": "STANDARD", "ResultingStateVersion": "11",
                                 "ChangeCount": 1, "SideEffectCount": 1}
    assert stored.versioning.expected_state_version == "11"
    assert stored.versioning.resulting_state_version == "11"
    assert stored.versioning.executed_at == executed.timestamp
    assert stored.updated_at == executed.timestamp
    assert stored.side_effects == (effect,)
    assert stored.execution.claim is not None


def test_the_revision_moves_from_zero_to_one_on_resolution_and_to_two_on_execution(
        store: InMemoryRequestStore, engine: MutationEngine,
        request_1: MutationRequest) -> None:
    revisions: list[int] = []

    class Probe(IncrementMutation):
        def apply(self, state: VersionedState) -> MutationResult[VersionedState]:
            revisions.append(store.get("req-1").revision)
            return super().apply(state)

    executor = GovernanceExecutionManager(store, VersionResolutionManager(store), engine)
    result = _execute(executor, Probe())

    assert request_1.revision == 0
    assert revisions == [1]
    assert result.request.revision == 2


def test_governance_facts_reach_the_engines_audit_and_history_entries(
        executor: GovernanceExecutionManager, engine: MutationEngine,
        request_1: MutationRequest) -> None:
    _execute(executor, IncrementMutation())

    audit = engine.auditor.get_audit_log(STATE_ID)
    history = engine.history.get_history(STATE_ID)
    assert len(audit) == 1
    assert len(history) == 1
    entry = audit[0]
    assert entry.is_success is True
    assert entry.state_id == STATE_ID
    for context in (entry.context, history[0].context):
        assert context.metadata["GovernanceRequestId"] == "req-1"
        assert context.metadata["GovernanceExecutionKind"] == "STANDARD"
        assert context.metadata["GovernanceRequestMetadata"] == {"Ticket": "OPS-7"}
        assert context.state_id == STATE_ID
        assert context.correlation_id == "req-1"
    for intent in (entry.mutation_intent, history[0].intent):
        assert intent.metadata["GovernanceRequestId"] == "req-1"
        assert intent.metadata["GovernanceExecutionKind"] == "STANDARD"
    assert entry.metadata["GovernanceRequestId"] == "req-1"


def test_an_explicit_current_version_overrides_the_states_version(
        executor: GovernanceExecutionManager, request_1: MutationRequest) -> None:
    result = _execute(executor, IncrementMutation(), state=VersionedState(42, "99"),
                      current_state_version="10")

    assert result.was_executed
    assert result.request.decisions[2].metadata["CurrentStateVersion"] == "10"
    assert result.resulting_state_version == "100"


def test_a_custom_resulting_version_reader_supplies_the_recorded_version(
        executor: GovernanceExecutionManager, request_1: MutationRequest) -> None:
    result = _execute(executor, IncrementMutation(),
                      resulting_version=lambda state: f"value-{state.value}")

    assert result.resulting_state_version == "value-43"
    assert result.request.versioning.resulting_state_version == "value-43"


@dataclass(frozen=True)
class IntVersionedState:
    value: int
    version: int


class IntIncrement(MutationBase[IntVersionedState]):
    def apply(self, state: IntVersionedState) -> MutationResult[IntVersionedState]:
        return self.success(replace(state, value=state.value + 1, version=state.version + 1))


def test_a_state_with_an_integer_version_is_resolved_and_recorded_by_its_text(
        executor: GovernanceExecutionManager, request_1: MutationRequest) -> None:
    mutation = IntIncrement(increment_intent(), mutation_context())

    result = _execute(executor, mutation, state=IntVersionedState(1, 10))

    assert result.was_executed
    assert result.resolution.current_state_version == "10"
    assert result.resulting_state_version == "11"


# -- stale requests ---------------------------------------------------------------------------

def test_a_stale_request_under_reject_stale_is_rejected_without_running_the_engine(
        executor: GovernanceExecutionManager, engine: MutationEngine,
        store: InMemoryRequestStore, request_1: MutationRequest,
        counter: ApplyCounter) -> None:
    result = _execute(executor, IncrementMutation(counter, "req-1"),
                      state=VersionedState(42, "15"))

    assert result.was_executed is False
    assert result.mutation_result is None
    assert result.resulting_state_version is None
    assert result.resolution.outcome == ResolutionOutcome.REJECTED_AS_STALE
    assert result.request == store.get("req-1")
    assert result.request.status == RequestStatus.REJECTED
    assert result.request.revision == 1
    assert _codes(result.request) == ["SUBMITTED", "APPROVED", "REJECTED_AS_STALE"]
    assert counter["req-1"] == 0
    assert engine.auditor.get_audit_log(STATE_ID) == []


def test_a_stale_request_needing_renewed_approval_goes_back_to_pending_without_the_engine(
        executor: GovernanceExecutionManager, engine: MutationEngine,
        store: InMemoryRequestStore, request_1: MutationRequest,
        counter: ApplyCounter) -> None:
    result = _execute(executor, IncrementMutation(counter, "req-1"),
                      state=VersionedState(42, "15"),
                      strategy=ResolutionStrategy.REQUIRE_RENEWED_APPROVAL)

    assert result.was_executed is False
    assert result.mutation_result is None
    stored = store.get("req-1")
    assert stored.status == RequestStatus.PENDING
    assert stored.pending_reason == PendingReason.APPROVAL
    assert stored.expected_state_version == "15"
    assert stored.execution.claim is None
    assert stored.revision == 1
    assert _codes(stored)[-1] == "RENEWED_APPROVAL_REQUIRED"
    assert counter["req-1"] == 0
    assert engine.auditor.get_audit_log(STATE_ID) == []


def test_a_stale_request_under_revalidation_runs_on_the_latest_state_and_is_executed(
        executor: GovernanceExecutionManager, store: InMemoryRequestStore,
        request_1: MutationRequest, counter: ApplyCounter) -> None:
    result = _execute(executor, IncrementMutation(counter, "req-1"),
                      state=VersionedState(42, "15"),
                      strategy=ResolutionStrategy.REVALIDATE_ON_LATEST_STATE)

    assert result.was_executed is True
    assert result.resolution.outcome == ResolutionOutcome.REVALIDATE_ON_LATEST_STATE
    assert result.resulting_state_version == "16"
    stored = store.get("req-1")
    assert stored.status == RequestStatus.EXECUTED
    assert stored.pending_reason is None
    assert stored.revision == 2
    assert _codes(stored) == ["SUBMITTED", "APPROVED", "REVALIDATION_REQUIRED", "EXECUTED"]
    assert counter["req-1"] == 1


# -- only approved, unclaimed requests run ----------------------------------------------------

@pytest.mark.parametrize("status", [s for s in RequestStatus if s != RequestStatus.APPROVED],
                         ids=lambda s: s.name)
def test_a_request_that_is_not_approved_is_refused_and_nothing_runs(
        executor: GovernanceExecutionManager, engine: MutationEngine,
        store: InMemoryRequestStore, counter: ApplyCounter, status: RequestStatus) -> None:
    before = store.create(request_in_status(status, request_id="req-1"))

    with pytest.raises(RequestNotExecutableError) as raised:
        _execute(executor, IncrementMutation(counter, "req-1"))

    assert isinstance(raised.value, InvalidOperationError)
    assert isinstance(raised.value, GovernanceError)
    assert "req-1" in str(raised.value)
    assert store.get("req-1") is before
    assert counter.total() == 0
    assert engine.auditor.get_audit_log(STATE_ID) == []


def test_replaying_an_executed_request_never_runs_its_mutation_again(
        executor: GovernanceExecutionManager, store: InMemoryRequestStore,
        request_1: MutationRequest, counter: ApplyCounter) -> None:
    _execute(executor, IncrementMutation(counter, "req-1"))
    executed = store.get("req-1")

    with pytest.raises(RequestNotExecutableError) as raised:
        _execute(executor, IncrementMutation(counter, "req-1"), state=VersionedState(43, "11"))

    assert "EXECUTED" in str(raised.value)
    assert counter["req-1"] == 1
    assert store.get("req-1") is executed


def test_an_approved_request_already_claimed_is_refused_and_nothing_runs(
        executor: GovernanceExecutionManager, resolution: VersionResolutionManager,
        store: InMemoryRequestStore, request_1: MutationRequest,
        counter: ApplyCounter) -> None:
    claimed = resolution.resolve_for_execution("req-1", "10", governance_context(),
                                               ResolutionStrategy.REJECT_STALE).request

    with pytest.raises(RequestNotExecutableError) as raised:
        _execute(executor, IncrementMutation(counter, "req-1"))

    assert claimed.execution.claim.claim_id in str(raised.value)
    assert store.get("req-1") is claimed
    assert counter.total() == 0


# -- the engine refuses -----------------------------------------------------------------------

def test_a_policy_block_rejects_the_request_with_the_policys_reason(
        executor: GovernanceExecutionManager, engine: MutationEngine,
        store: InMemoryRequestStore, request_1: MutationRequest,
        counter: ApplyCounter) -> None:
    engine.register_policy(DenyPolicy("counters are frozen"))

    result = _execute(executor, IncrementMutation(counter, "req-1"))

    assert result.was_executed is False
    assert result.resulting_state_version is None
    assert result.mutation_result is not None
    assert not result.mutation_result.is_success
    stored = store.get("req-1")
    assert result.request == stored
    assert result.resolution.request == stored
    assert stored.status == RequestStatus.REJECTED
    assert stored.revision == 2
    assert _codes(stored) == ["SUBMITTED", "APPROVED", "VALIDATED", "REJECTED"]
    rejected = stored.decisions[-1]
    assert rejected.reason == "counters are frozen"
    assert rejected.metadata["HasPolicyDecisions"] is True
    assert rejected.metadata["HasValidationErrors"] is True
    assert rejected.metadata["CurrentStateVersion"] == "10"
    assert rejected.metadata["ExecutionKind"] == "STANDARD"
    assert counter["req-1"] == 0
    assert [e.is_success for e in engine.auditor.get_audit_log(STATE_ID)] == [False]


def test_a_validation_failure_rejects_the_request_with_the_first_validation_message(
        executor: GovernanceExecutionManager, store: InMemoryRequestStore,
        request_1: MutationRequest, counter: ApplyCounter) -> None:
    result = _execute(executor, IncrementMutation(counter, "req-1"),
                      state=VersionedState(-1, "10"))

    stored = store.get("req-1")
    assert result.was_executed is False
    assert stored.status == RequestStatus.REJECTED
    assert stored.decisions[-1].reason == "the counter must not be negative"
    assert stored.decisions[-1].metadata["HasPolicyDecisions"] is False
    assert stored.decisions[-1].metadata["HasValidationErrors"] is True
    assert counter["req-1"] == 0


def test_a_failed_mutation_result_rejects_the_request_and_keeps_its_side_effects(
        executor: GovernanceExecutionManager, engine: MutationEngine,
        store: InMemoryRequestStore, request_1: MutationRequest) -> None:
    effect = SideEffect.create("cleanup", "partial write cleaned up")
    failed: MutationResult[VersionedState] = MutationResult(
        is_success=False, validation_result=ValidationResult.with_error("value", "overflow"),
        side_effects=[effect])

    result = _execute(executor, UnsuccessfulMutation(failed))

    stored = store.get("req-1")
    assert result.was_executed is False
    assert stored.status == RequestStatus.REJECTED
    assert stored.decisions[-1].reason == "overflow"
    assert stored.side_effects == (effect,)
    assert [e.is_success for e in engine.auditor.get_audit_log(STATE_ID)] == [False]
    assert engine.history.get_history(STATE_ID) == []


@pytest.mark.parametrize("failed", [
    MutationResult(is_success=False),
    MutationResult(is_success=True, new_state=None, changes=ChangeSet()),
], ids=["failure-without-reason", "success-without-state"])
def test_an_unsuccessful_result_without_a_reason_rejects_with_a_generic_reason(
        executor: GovernanceExecutionManager, store: InMemoryRequestStore,
        request_1: MutationRequest, failed: MutationResult[VersionedState]) -> None:
    result = _execute(executor, UnsuccessfulMutation(failed))

    stored = store.get("req-1")
    assert result.was_executed is False
    assert stored.status == RequestStatus.REJECTED
    assert stored.decisions[-1].reason
    assert stored.revision == 2


# -- the engine raises ------------------------------------------------------------------------

def test_a_mutation_that_raises_leaves_the_request_rejected_and_the_error_propagates(
        executor: GovernanceExecutionManager, store: InMemoryRequestStore,
        request_1: MutationRequest, counter: ApplyCounter) -> None:
    mutation = FailingMutation(counter, "req-1")

    with pytest.raises(MutationError) as raised:
        _execute(executor, mutation)

    assert raised.value.__cause__ is mutation.exception
    stored = store.get("req-1")
    assert stored.status == RequestStatus.REJECTED
    assert stored.revision == 2
    assert _codes(stored) == ["SUBMITTED", "APPROVED", "VALIDATED", "REJECTED"]
    rejected = stored.decisions[-1]
    assert rejected.metadata["ExecutionFailureType"] == "MutationError"
    assert rejected.metadata["CurrentStateVersion"] == "10"
    assert "MutationError" in rejected.reason
    assert stored.side_effects == ()
    assert counter["req-1"] == 1


def test_a_governance_error_raised_by_the_mutation_is_re_raised_as_the_same_object(
        executor: GovernanceExecutionManager, store: InMemoryRequestStore,
        request_1: MutationRequest) -> None:
    error = InvalidOperationError("the counter is sealed")

    with pytest.raises(InvalidOperationError) as raised:
        _execute(executor, FailingMutation(exception=error))

    assert raised.value is error
    stored = store.get("req-1")
    assert stored.status == RequestStatus.REJECTED
    assert stored.decisions[-1].metadata["ExecutionFailureType"] == "InvalidOperationError"


def test_a_raising_policy_leaves_the_request_rejected_and_propagates_its_error(
        executor: GovernanceExecutionManager, engine: MutationEngine,
        store: InMemoryRequestStore, request_1: MutationRequest,
        counter: ApplyCounter) -> None:
    engine.register_policy(RaisingPolicy())

    with pytest.raises(PolicyEvaluationError) as raised:
        _execute(executor, IncrementMutation(counter, "req-1"))

    assert raised.value.policy_name == "broken-policy"
    stored = store.get("req-1")
    assert stored.status == RequestStatus.REJECTED
    assert stored.decisions[-1].metadata["ExecutionFailureType"] == "PolicyEvaluationError"
    assert counter["req-1"] == 0


class ExplodingEngine:
    """An engine that raises a given exception, to check that exact object is re-raised."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def execute(self, mutation: Any, state: Any) -> MutationResult[Any]:
        self.calls += 1
        raise self.error


def test_the_exception_an_engine_raises_is_re_raised_unchanged_after_recording_rejection(
        store: InMemoryRequestStore, request_1: MutationRequest) -> None:
    error = ConnectionError("engine host unreachable")
    engine = ExplodingEngine(error)
    executor = GovernanceExecutionManager(store, VersionResolutionManager(store), engine)

    with pytest.raises(ConnectionError) as raised:
        _execute(executor, IncrementMutation())

    assert raised.value is error
    assert engine.calls == 1
    stored = store.get("req-1")
    assert stored.status == RequestStatus.REJECTED
    assert "ConnectionError" in stored.decisions[-1].reason
    assert "engine host unreachable" in stored.decisions[-1].reason


# -- blank resulting version ------------------------------------------------------------------

@pytest.mark.parametrize("reader", [lambda s: "", lambda s: "   ", lambda s: None],
                         ids=["empty", "blank", "none"])
def test_a_blank_resulting_version_records_the_execution_and_raises_naming_the_request(
        executor: GovernanceExecutionManager, store: InMemoryRequestStore,
        request_1: MutationRequest, reader: Any) -> None:
    with pytest.raises(InvalidOperationError) as raised:
        _execute(executor, IncrementMutation(), resulting_version=reader)

    assert isinstance(raised.value, RuntimeError)
    assert "req-1" in str(raised.value) and "EXECUTED" in str(raised.value)
    # The mutation was applied: the request is EXECUTED, with no resulting version, and its
    # expected version is left as it was.
    stored = store.get("req-1")
    assert stored.status == RequestStatus.EXECUTED
    assert stored.revision == 2
    assert stored.versioning.resulting_state_version is None
    assert stored.versioning.expected_state_version == request_1.expected_state_version
    assert stored.versioning.executed_at == stored.decisions[-1].timestamp
    assert stored.decisions[-1].metadata["ResultingStateVersion"] == ""


def test_a_new_state_without_a_version_is_a_blank_resulting_version(
        executor: GovernanceExecutionManager, store: InMemoryRequestStore,
        request_1: MutationRequest) -> None:
    class Unversioned(IncrementMutation):
        def apply(self, state: VersionedState) -> MutationResult[Any]:
            return self.success({"value": state.value + 1})

    with pytest.raises(InvalidOperationError):
        _execute(executor, Unversioned())

    assert store.get("req-1").status == RequestStatus.EXECUTED


def test_a_resulting_version_reader_that_raises_is_reported_as_a_blank_version(
        executor: GovernanceExecutionManager, store: InMemoryRequestStore,
        request_1: MutationRequest) -> None:
    def broken(state: VersionedState) -> str:
        raise KeyError("version")

    with pytest.raises(InvalidOperationError) as raised:
        _execute(executor, IncrementMutation(), resulting_version=broken)

    assert isinstance(raised.value.__cause__, KeyError)
    assert store.get("req-1").status == RequestStatus.EXECUTED


# -- argument refusals ------------------------------------------------------------------------

@pytest.mark.parametrize("blank", ["", "   ", None])
def test_a_blank_request_id_is_refused(executor: GovernanceExecutionManager,
                                       blank: str | None) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        _execute(executor, IncrementMutation(), request_id=blank)

    assert isinstance(raised.value, ValueError)


def test_missing_mutation_or_context_is_refused_without_a_write(
        executor: GovernanceExecutionManager, store: InMemoryRequestStore,
        request_1: MutationRequest) -> None:
    with pytest.raises(MissingArgumentError) as raised:
        _execute(executor, None)
    assert isinstance(raised.value, TypeError)
    assert "req-1" in str(raised.value)

    with pytest.raises(MissingArgumentError) as raised:
        executor.execute_approved("req-1", IncrementMutation(), STATE,
                                  governance_context=None)  # type: ignore[arg-type]
    assert "req-1" in str(raised.value)
    assert store.get("req-1") is request_1


@pytest.mark.parametrize("state", [object(), VersionedState(1, ""), VersionedState(1, "  ")],
                         ids=["no-version-attribute", "empty-version", "blank-version"])
def test_a_missing_current_version_is_refused_without_a_write(
        executor: GovernanceExecutionManager, store: InMemoryRequestStore,
        request_1: MutationRequest, state: Any) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        _execute(executor, IncrementMutation(), state=state)

    assert "req-1" in str(raised.value)
    assert store.get("req-1") is request_1


def test_an_unknown_request_raises_not_found_and_runs_nothing(
        executor: GovernanceExecutionManager, counter: ApplyCounter) -> None:
    with pytest.raises(RequestNotFoundError) as raised:
        _execute(executor, IncrementMutation(counter), request_id="req-ghost")

    assert isinstance(raised.value, LookupError)
    assert "req-ghost" in str(raised.value)
    assert counter.total() == 0


def test_losing_the_claim_race_raises_concurrency_and_runs_nothing(
        engine: MutationEngine, counter: ApplyCounter) -> None:
    store = RacingStore()
    executor = GovernanceExecutionManager(store, VersionResolutionManager(store), engine)
    store.create(approved_request(request_id="req-1"))
    store.interfere_once("req-1")

    with pytest.raises(RequestConcurrencyError) as raised:
        _execute(executor, IncrementMutation(counter, "req-1"))

    assert raised.value.expected_revision == 0
    assert "req-1" in str(raised.value)
    assert counter.total() == 0
    stored = store.get("req-1")
    assert stored.status == RequestStatus.APPROVED
    assert stored.execution.claim is None
    assert stored.revision == 1


@pytest.mark.parametrize("missing", ["store", "resolution", "engine"])
def test_the_execution_manager_needs_all_its_collaborators(
        store: InMemoryRequestStore, resolution: VersionResolutionManager,
        engine: MutationEngine, missing: str) -> None:
    parts: dict[str, Any] = {"store": store, "resolution": resolution, "engine": engine}
    parts[missing] = None

    with pytest.raises(MissingArgumentError):
        GovernanceExecutionManager(parts["store"], parts["resolution"], parts["engine"])


# -- compensation -----------------------------------------------------------------------------

def test_an_executed_compensation_links_back_to_the_original_without_changing_its_status(
        executor: GovernanceExecutionManager, store: InMemoryRequestStore,
        request_1: MutationRequest) -> None:
    original = _execute(executor, IncrementMutation()).request
    plan = CompensationPlan(original_request_id="req-1", kind=CompensationKind.ROLLBACK,
                            trigger=CompensationTrigger.FAILED_EXECUTION, batch_id="b-1",
                            reason="undo")
    compensation = approved_request(request_id="req-comp", expected_state_version="11")
    store.create(compensation.model_copy(update={"execution": GovernedExecutionDetails(
        kind=GovernedExecutionKind.COMPENSATION, compensation=plan,
        related_executions=(ExecutionLink(request_id="req-1",
                                          type=ExecutionLinkType.COMPENSATES),))}))

    result = _execute(executor, IncrementMutation(), request_id="req-comp",
                      state=VersionedState(43, "11"))

    assert result.was_executed
    assert result.execution_kind == GovernedExecutionKind.COMPENSATION
    assert result.compensation == plan
    executed = result.request.decisions[-1]
    assert executed.metadata["OriginalRequestId"] == "req-1"
    assert executed.metadata["CompensationKind"] == "ROLLBACK"
    assert executed.metadata["CompensationTrigger"] == "FAILED_EXECUTION"
    assert executed.metadata["BatchId"] == "b-1"
    assert executed.metadata["CompensationReason"] == "undo"

    linked = store.get("req-1")
    assert linked.status == RequestStatus.EXECUTED
    assert linked.revision == original.revision + 1
    assert linked.decisions[:-1] == original.decisions
    assert linked.decisions[-1].code == "COMPENSATED"
    assert linked.decisions[-1].metadata["CompensationRequestId"] == "req-comp"
    link = linked.execution.related_executions[-1]
    assert link.type == ExecutionLinkType.COMPENSATED_BY
    assert link.request_id == "req-comp"
    assert link.execution_kind == GovernedExecutionKind.COMPENSATION
    assert link.linked_at == result.request.versioning.executed_at


# -- GovernedMutation -------------------------------------------------------------------------

def test_a_governed_mutation_carries_the_request_facts_in_intent_and_context() -> None:
    request = approved_request(
        request_id="req-g", metadata={"Ticket": "T-9"},
        intent=increment_intent(estimated_blast_radius=BlastRadius.system(40),
                                tags=frozenset({"governed"}), metadata={"Tenant": "acme"}))
    inner = IncrementMutation(intent=increment_intent(tags=frozenset({"inner"}),
                                                      metadata={"Step": 2}))

    governed = GovernedMutation(inner, request)

    intent = governed.intent
    assert intent.operation_name == inner.intent.operation_name
    assert intent.estimated_blast_radius == BlastRadius.system(40)
    assert intent.tags == frozenset({"governed", "inner"})
    assert intent.metadata == {"Tenant": "acme", "GovernanceRequestId": "req-g",
                               "GovernanceExecutionKind": "STANDARD",
                               "ExecutionIntentMetadata": {"Step": 2}}
    context = governed.context
    assert context.state_id == STATE_ID
    assert context.correlation_id == "req-g"
    assert context.actor_id == inner.context.actor_id
    assert context.metadata == {"GovernanceRequestId": "req-g",
                                "GovernanceExecutionKind": "STANDARD",
                                "GovernanceRequestMetadata": {"Ticket": "T-9"},
                                "GovernanceIntentMetadata": {"Tenant": "acme"},
                                "GovernanceEstimatedBlastRadius": BlastRadiusScope.SYSTEM.name}
    assert governed.inner is inner
    assert governed.request is request


def test_a_governed_mutation_keeps_the_inner_state_id_correlation_and_blast_radius() -> None:
    inner_context = MutationContext.service("svc", "r", state_id="own-state",
                                            correlation_id="own-corr", metadata={"K": 1})
    inner = IncrementMutation(
        intent=increment_intent(estimated_blast_radius=BlastRadius.single()),
        context=inner_context)

    governed = GovernedMutation(inner, approved_request(request_id="req-g"))

    assert governed.context.state_id == "own-state"
    assert governed.context.correlation_id == "own-corr"
    assert governed.context.metadata["K"] == 1
    assert governed.intent.estimated_blast_radius == BlastRadius.single()
    assert "GovernanceEstimatedBlastRadius" not in governed.context.metadata


def test_a_governed_mutation_delegates_apply_validate_and_simulate(
        counter: ApplyCounter) -> None:
    inner = IncrementMutation(counter, "x")
    governed = GovernedMutation(inner, approved_request())

    assert governed.apply(STATE).new_state == VersionedState(43, "11")
    assert governed.simulate(STATE).new_state == VersionedState(43, "11")
    assert governed.validate(VersionedState(-5, "1")).errors[0].path == "value"
    assert counter["x"] == 2


def test_a_governed_mutation_needs_a_mutation_and_a_request() -> None:
    with pytest.raises(MissingArgumentError):
        GovernedMutation(None, approved_request())  # type: ignore[arg-type]
    with pytest.raises(MissingArgumentError):
        GovernedMutation(IncrementMutation(), None)  # type: ignore[arg-type]


def test_a_performance_engine_also_records_governed_outcomes(
        store: InMemoryRequestStore, request_1: MutationRequest) -> None:
    engine = MutationEngine(EngineOptions.performance())
    executor = GovernanceExecutionManager(store, VersionResolutionManager(store), engine)

    result = _execute(executor, IncrementMutation())

    assert result.was_executed
    assert store.get("req-1").status == RequestStatus.EXECUTED


def test_a_cancel_attempted_while_the_engine_runs_is_refused_and_the_execution_recorded(
        executor: GovernanceExecutionManager, store: InMemoryRequestStore,
        request_1: MutationRequest, counter: ApplyCounter) -> None:
    lifecycle = LifecycleManager(store)
    attempts: list[BaseException] = []

    class CancelledMidway(IncrementMutation):
        def apply(self, state: VersionedState) -> MutationResult[VersionedState]:
            try:
                lifecycle.cancel("req-1", MutationContext.user("rita"), "changed my mind")
            except GovernanceError as error:
                attempts.append(error)
            return super().apply(state)

    result = _execute(executor, CancelledMidway(counter, "req-1"))

    assert result.was_executed
    assert len(attempts) == 1
    assert isinstance(attempts[0], InvalidOperationError)
    assert "req-1" in str(attempts[0])
    assert store.get("req-1").status == RequestStatus.EXECUTED
    assert counter["req-1"] == 1

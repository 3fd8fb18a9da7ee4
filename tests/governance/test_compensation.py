"""Compensation: the ``approved_compensation`` factory, the plan's own validation, and governed
execution of a compensation, which links both requests and records COMPENSATED on the original.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from governance import (
    CompensationKind,
    CompensationPlan,
    CompensationTrigger,
    DecisionCategory,
    EngineOptions,
    ExecutionLink,
    ExecutionLinkType,
    GovernanceError,
    GovernanceExecutionManager,
    GovernedExecutionKind,
    InMemoryAuditor,
    InMemoryRequestStore,
    InvalidArgumentError,
    InvalidOperationError,
    MissingArgumentError,
    MutationEngine,
    MutationRequest,
    RequestConcurrencyError,
    RequestNotFoundError,
    RequestStatus,
    ResolutionStrategy,
    VersionResolutionManager,
    compensation_metadata,
)
from governance.testing import (
    BASE_TIME,
    STATE_ID,
    ApplyCounter,
    DenyPolicy,
    FailingMutation,
    IncrementMutation,
    RacingStore,
    VersionedState,
    approved_request,
    governance_context,
    increment_intent,
    requester_context,
)

PLAN = CompensationPlan(original_request_id="req-original",
                        kind=CompensationKind.FORWARD_CORRECTION,
                        trigger=CompensationTrigger.BATCH_FAILURE, batch_id="batch-9",
                        related_request_ids=("req-x", "req-y"), reason="batch 9 failed")


def _compensation(plan: CompensationPlan = PLAN, *, request_id: str = "req-comp",
                  expected_state_version: str | None = "11", **kwargs: Any) -> MutationRequest:
    return MutationRequest.approved_compensation(
        STATE_ID, VersionedState, IncrementMutation, increment_intent(), requester_context(),
        plan, expected_state_version=expected_state_version, request_id=request_id,
        now=BASE_TIME, **kwargs)


def _codes(request: MutationRequest) -> list[str]:
    return [d.code for d in request.decisions]


# -- the plan ---------------------------------------------------------------------------------

@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_a_plan_without_an_original_request_is_refused_when_it_is_built(blank: str) -> None:
    with pytest.raises(InvalidOperationError) as raised:
        CompensationPlan(original_request_id=blank)

    assert isinstance(raised.value, GovernanceError)
    assert isinstance(raised.value, RuntimeError)
    assert "compensat" in str(raised.value)


def test_a_plan_without_an_original_request_is_refused_when_read_from_json() -> None:
    with pytest.raises(InvalidOperationError):
        CompensationPlan.model_validate_json('{"original_request_id": " "}')


def test_a_plan_defaults_to_an_operator_rollback() -> None:
    plan = CompensationPlan(original_request_id="req-1")

    assert plan.kind == CompensationKind.ROLLBACK
    assert plan.trigger == CompensationTrigger.OPERATOR_ROLLBACK
    assert (plan.batch_id, plan.related_request_ids, plan.reason) == (None, (), None)
    assert CompensationPlan.model_validate_json(PLAN.model_dump_json()) == PLAN


def test_compensation_metadata_names_the_plan_and_only_the_optional_parts_it_has() -> None:
    assert compensation_metadata(PLAN) == {
        "OriginalRequestId": "req-original", "CompensationKind": "FORWARD_CORRECTION",
        "CompensationTrigger": "BATCH_FAILURE", "BatchId": "batch-9",
        "RelatedRequestIds": ["req-x", "req-y"], "CompensationReason": "batch 9 failed"}
    assert compensation_metadata(CompensationPlan(original_request_id="r")) == {
        "OriginalRequestId": "r", "CompensationKind": "ROLLBACK",
        "CompensationTrigger": "OPERATOR_ROLLBACK"}
    assert compensation_metadata(None) == {}


# -- the factory ------------------------------------------------------------------------------

def test_the_factory_builds_an_approved_compensation_linked_to_its_original() -> None:
    request = _compensation(metadata={"Ticket": "INC-4"})

    assert request.request_id == "req-comp"
    assert request.status == RequestStatus.APPROVED
    assert request.expected_state_version == "11"
    assert request.metadata == {"Ticket": "INC-4"}
    assert request.execution.kind == GovernedExecutionKind.COMPENSATION
    assert request.execution.compensation == PLAN
    assert request.execution.claim is None
    assert request.execution.related_executions == (ExecutionLink(
        request_id="req-original", type=ExecutionLinkType.COMPENSATES,
        execution_kind=GovernedExecutionKind.STANDARD,
        compensation_kind=CompensationKind.FORWARD_CORRECTION,
        trigger=CompensationTrigger.BATCH_FAILURE, batch_id="batch-9", linked_at=BASE_TIME),)


def test_the_factory_replaces_the_approval_decision_with_one_naming_the_original() -> None:
    request = _compensation()
    plain = approved_request(request_id="req-comp", now=BASE_TIME)

    assert [(d.category, d.code) for d in request.decisions] == [
        (DecisionCategory.LIFECYCLE, "SUBMITTED"), (DecisionCategory.LIFECYCLE, "APPROVED")]
    submitted = request.decisions[0]
    assert (submitted.reason, submitted.timestamp) == (plain.decisions[0].reason, BASE_TIME)
    approved = request.decisions[1]
    assert "req-original" in (approved.reason or "")
    assert approved.reason != plain.decisions[1].reason
    assert approved.metadata == compensation_metadata(PLAN)
    assert approved.timestamp == BASE_TIME
    assert approved.context == requester_context().model_copy(
        update={"timestamp": approved.context.timestamp})


def test_a_minimal_plan_puts_only_the_three_required_keys_in_the_decision() -> None:
    request = _compensation(CompensationPlan(original_request_id="req-original"))

    assert set(request.decisions[-1].metadata) == {
        "OriginalRequestId", "CompensationKind", "CompensationTrigger"}
    assert request.execution.related_executions[0].batch_id is None


def test_a_compensation_request_round_trips_through_json() -> None:
    request = _compensation()

    assert MutationRequest.model_validate_json(request.model_dump_json()) == request


def test_the_factory_refuses_a_missing_plan() -> None:
    with pytest.raises(MissingArgumentError):
        _compensation(None)  # type: ignore[arg-type]


def test_the_factory_refuses_a_plan_that_skipped_validation_without_an_original() -> None:
    unchecked = CompensationPlan.model_construct(original_request_id="  ")

    with pytest.raises(InvalidOperationError):
        _compensation(unchecked)


def test_a_request_cannot_compensate_itself() -> None:
    with pytest.raises(InvalidOperationError) as raised:
        _compensation(request_id="req-original")

    assert "req-original" in str(raised.value)


def test_the_factory_checks_its_request_inputs_like_approved() -> None:
    with pytest.raises(InvalidArgumentError):
        MutationRequest.approved_compensation(" ", VersionedState, IncrementMutation,
                                              increment_intent(), requester_context(), PLAN)


def test_each_compensation_gets_its_own_id_unless_one_is_given() -> None:
    first = MutationRequest.approved_compensation(
        STATE_ID, "S", "M", increment_intent(), requester_context(), PLAN)
    second = MutationRequest.approved_compensation(
        STATE_ID, "S", "M", increment_intent(), requester_context(), PLAN)

    assert first.request_id != second.request_id
    assert first.scope.state_type == "S" and first.scope.mutation_type == "M"


# -- governed execution of a compensation -----------------------------------------------------

class World:
    """A store with an executed original "req-original" (state now at version "11")."""

    def __init__(self, store: InMemoryRequestStore | None = None) -> None:
        self.store = store if store is not None else InMemoryRequestStore()
        self.auditor = InMemoryAuditor()
        self.engine = MutationEngine(EngineOptions.strict(), auditor=self.auditor)
        self.executor = GovernanceExecutionManager(
            self.store, VersionResolutionManager(self.store), self.engine)
        self.counter = ApplyCounter()
        self.store.create(approved_request(request_id="req-original", now=BASE_TIME))
        self.original = self.execute("req-original", VersionedState(1, "10")).request

    def execute(self, request_id: str, state: VersionedState | None = None,
                mutation: Any = None) -> Any:
        return self.executor.execute_approved(
            request_id, mutation or IncrementMutation(self.counter, request_id),
            state or VersionedState(2, "11"),
            governance_context=governance_context(), strategy=ResolutionStrategy.REJECT_STALE)


def test_executing_a_compensation_links_both_requests_and_records_compensated() -> None:
    world = World()
    world.store.create(_compensation())

    result = world.execute("req-comp")

    assert result.was_executed
    assert result.execution_kind == GovernedExecutionKind.COMPENSATION
    assert result.compensation == PLAN
    compensation = world.store.get("req-comp")
    assert compensation == result.request
    assert compensation.status == RequestStatus.EXECUTED
    assert _codes(compensation) == ["SUBMITTED", "APPROVED", "VALIDATED", "EXECUTED"]
    executed = compensation.decisions[-1]
    assert "ompensation" in (executed.reason or "")
    assert executed.metadata == {
        "ExecutionKind": "COMPENSATION", "ResultingStateVersion": "12", "ChangeCount": 1,
        "SideEffectCount": 0, **compensation_metadata(PLAN)}
    assert compensation.execution.related_executions[0].type == ExecutionLinkType.COMPENSATES

    original = world.store.get("req-original")
    assert original.status == RequestStatus.EXECUTED
    assert original.revision == world.original.revision + 1
    assert original.decisions[:-1] == world.original.decisions
    assert original.versioning == world.original.versioning
    compensated = original.decisions[-1]
    assert (compensated.category, compensated.code) == (DecisionCategory.LIFECYCLE,
                                                        "COMPENSATED")
    assert "req-comp" in (compensated.reason or "")
    assert compensated.context == executed.context
    assert compensated.metadata == {
        "CompensationRequestId": "req-comp", "ResultingStateVersion": "12",
        **compensation_metadata(PLAN)}
    executed_at = compensation.versioning.executed_at
    assert compensated.timestamp == executed_at
    assert original.updated_at == executed_at
    assert original.execution.related_executions == (ExecutionLink(
        request_id="req-comp", type=ExecutionLinkType.COMPENSATED_BY,
        execution_kind=GovernedExecutionKind.COMPENSATION,
        compensation_kind=CompensationKind.FORWARD_CORRECTION,
        trigger=CompensationTrigger.BATCH_FAILURE, batch_id="batch-9",
        linked_at=executed_at),)


def test_the_compensation_facts_reach_the_engines_audit_entry() -> None:
    world = World()
    world.store.create(_compensation())

    world.execute("req-comp")

    entry = world.auditor.entries[-1]
    assert entry.context.metadata["GovernanceRequestId"] == "req-comp"
    assert entry.context.metadata["GovernanceExecutionKind"] == "COMPENSATION"
    # The engine gets the reference library's keys; decisions keep compensation_metadata's.
    facts = {"OriginalRequestId": "req-original", "Kind": "FORWARD_CORRECTION",
             "Trigger": "BATCH_FAILURE", "BatchId": "batch-9",
             "RelatedRequestIds": ["req-x", "req-y"], "Reason": "batch 9 failed"}
    assert entry.context.metadata["GovernanceCompensation"] == facts
    assert entry.mutation_intent.metadata["GovernanceCompensation"] == facts


def test_the_original_of_a_failed_execution_keeps_its_rejected_status_when_compensated() -> None:
    world = World()
    world.store.create(approved_request(request_id="req-failed", expected_state_version="11",
                                        now=BASE_TIME))
    with pytest.raises(GovernanceError):
        world.execute("req-failed", mutation=FailingMutation())
    failed = world.store.get("req-failed")
    plan = CompensationPlan(original_request_id="req-failed",
                            trigger=CompensationTrigger.FAILED_EXECUTION)
    world.store.create(_compensation(plan))

    world.execute("req-comp")

    linked = world.store.get("req-failed")
    assert linked.status == RequestStatus.REJECTED
    assert linked.revision == failed.revision + 1
    assert linked.decisions[-1].code == "COMPENSATED"


def test_two_compensations_of_one_original_each_link_back_once() -> None:
    world = World()
    world.store.create(_compensation(request_id="req-comp-1"))
    world.store.create(_compensation(request_id="req-comp-2", expected_state_version="12"))

    world.execute("req-comp-1")
    world.execute("req-comp-2", VersionedState(3, "12"))

    original = world.store.get("req-original")
    assert [link.request_id for link in original.execution.related_executions] == [
        "req-comp-1", "req-comp-2"]
    assert _codes(original)[-2:] == ["COMPENSATED", "COMPENSATED"]
    assert original.revision == world.original.revision + 2


def test_an_original_already_linked_to_the_compensation_is_not_linked_again() -> None:
    world = World()
    link = ExecutionLink(request_id="req-comp", type=ExecutionLinkType.COMPENSATED_BY,
                         execution_kind=GovernedExecutionKind.COMPENSATION,
                         linked_at=BASE_TIME)
    already = world.store.try_store(world.original.model_copy(update={
        "execution": world.original.execution.model_copy(
            update={"related_executions": (link,)})}), world.original.revision)
    world.store.create(_compensation())

    result = world.execute("req-comp")

    assert result.was_executed
    assert world.store.get("req-original") is already


def test_a_compensation_of_an_unknown_request_is_refused_before_anything_runs() -> None:
    world = World()
    created = world.store.create(_compensation(CompensationPlan(original_request_id="req-gone")))

    with pytest.raises(RequestNotFoundError) as raised:
        world.execute("req-comp")

    assert raised.value.request_id == "req-gone"
    assert world.store.get("req-comp") is created
    assert world.counter["req-comp"] == 0


def test_a_compensation_refused_by_the_engine_does_not_touch_the_original() -> None:
    world = World()
    world.engine.register_policy(DenyPolicy())
    world.store.create(_compensation())

    result = world.execute("req-comp")

    assert not result.was_executed
    assert result.request.status == RequestStatus.REJECTED
    assert world.store.get("req-original") is world.original


def test_a_stale_compensation_is_rejected_without_touching_the_original() -> None:
    world = World()
    world.store.create(_compensation(expected_state_version="5"))

    result = world.execute("req-comp")

    assert not result.was_executed
    assert result.request.status == RequestStatus.REJECTED
    assert world.store.get("req-original") is world.original


def test_the_link_back_re_reads_the_original_after_losing_a_race_and_still_links() -> None:
    store = RacingStore()
    world = World(store)
    world.store.create(_compensation())
    store.interfere_once("req-original")

    world.execute("req-comp")

    original = world.store.get("req-original")
    assert original.metadata["TouchedBy"] == "another writer"
    assert original.revision == world.original.revision + 2
    assert [link.request_id for link in original.execution.related_executions] == ["req-comp"]
    assert _codes(original).count("COMPENSATED") == 1


class AlwaysRacingStore(RacingStore):
    """Another writer changes ``victim`` before every write of it."""

    def __init__(self) -> None:
        super().__init__()
        self.victim: str | None = None

    def try_store(self, request: MutationRequest, expected_revision: int
                  ) -> MutationRequest | None:
        if request.request_id == self.victim:
            self.interfere_once(request.request_id)
        return super().try_store(request, expected_revision)


def test_a_link_back_that_never_wins_the_race_raises_concurrency_naming_the_original() -> None:
    store = AlwaysRacingStore()
    world = World(store)
    world.store.create(_compensation())
    store.victim = "req-original"

    with pytest.raises(RequestConcurrencyError) as raised:
        world.execute("req-comp")

    assert raised.value.request_id == "req-original"
    assert world.store.get("req-comp").status == RequestStatus.EXECUTED
    original = world.store.get("req-original")
    assert original.execution.related_executions == ()
    assert "COMPENSATED" not in _codes(original)


def test_a_compensation_can_be_built_for_a_request_executed_earlier_in_time() -> None:
    world = World()
    later = MutationRequest.approved_compensation(
        STATE_ID, VersionedState, IncrementMutation, increment_intent(), requester_context(),
        CompensationPlan(original_request_id="req-original"), expected_state_version="11",
        request_id="req-comp", now=BASE_TIME + timedelta(days=1))
    world.store.create(later)

    assert world.execute("req-comp").was_executed
    assert world.store.get("req-original").decisions[-1].code == "COMPENSATED"

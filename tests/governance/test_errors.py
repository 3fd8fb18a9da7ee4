"""The error rows of DOMAIN.md section 3 that are in scope, one test (or table) per row.

Every refusal raises a ``GovernanceError`` subclass whose message names the request, and leaves
the stored request as it was (or, where the row says so, in a recorded terminal state).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import governance
from governance import (
    ConcurrencyError,
    EngineOptions,
    GovernanceError,
    GovernanceExecutionManager,
    InMemoryRequestStore,
    InvalidApprovalConfigurationError,
    InvalidArgumentError,
    InvalidOperationError,
    InvalidTransitionError,
    LifecycleDecision,
    LifecycleManager,
    MissingArgumentError,
    MutationBase,
    MutationContext,
    MutationEngine,
    MutationError,
    MutationRequest,
    MutationResult,
    MutationValidationError,
    PendingReason,
    PolicyDecision,
    PolicyEvaluationError,
    PolicyRequirement,
    PolicyViolationError,
    RequestAlreadyExistsError,
    RequestConcurrencyError,
    RequestDecision,
    RequestNotFoundError,
    RequestStatus,
    ResolutionStrategy,
    ValidationError,
    ValidationResult,
    VersionResolutionManager,
)
from governance.testing import (
    STATE_ID,
    ApplyCounter,
    FailingMutation,
    IncrementMutation,
    RacingStore,
    RaisingPolicy,
    VersionedState,
    approved_request,
    governance_context,
    increment_intent,
    mutation_context,
    requester_context,
)

STATE = VersionedState(42, "10")
ACTOR = MutationContext.user("rita", reason="error catalogue")


class World:
    """A store with one APPROVED request "req-1", and every manager over it."""

    def __init__(self, store: InMemoryRequestStore | None = None) -> None:
        self.store = store if store is not None else InMemoryRequestStore()
        self.lifecycle = LifecycleManager(self.store)
        self.resolution = VersionResolutionManager(self.store)
        self.engine = MutationEngine(EngineOptions.strict())
        self.executor = GovernanceExecutionManager(self.store, self.resolution, self.engine)
        self.counter = ApplyCounter()
        self.before = self.store.create(approved_request(request_id="req-1"))

    def execute(self, request_id: str = "req-1", mutation: Any = "default",
                **kwargs: Any) -> Any:
        if mutation == "default":
            mutation = IncrementMutation(self.counter, request_id)
        kwargs.setdefault("governance_context", governance_context())
        return self.executor.execute_approved(request_id, mutation,
                                              kwargs.pop("state", STATE), **kwargs)

    def assert_unchanged(self) -> None:
        stored = self.store.get("req-1")
        assert stored is self.before
        assert stored.revision == 0
        assert self.counter.total() == 0


Action = Callable[[World], Any]


def _check(world: World, action: Action, error: type[Exception], *mixins: type[Exception],
           names: str | None = "req-1") -> BaseException:
    with pytest.raises(error) as raised:
        action(world)
    assert isinstance(raised.value, GovernanceError)
    for mixin in mixins:
        assert isinstance(raised.value, mixin)
    if names is not None:
        assert names in str(raised.value)
    return raised.value


# -- blank request id / superseding id / current state version --------------------------------

BLANK_ID_ACTIONS: dict[str, Action] = {
    "lifecycle.approve": lambda w: w.lifecycle.approve("  ", ACTOR),
    "lifecycle.move_to_pending": lambda w: w.lifecycle.move_to_pending(
        "", PendingReason.QUOTA, ACTOR),
    "resolution.resolve_and_store": lambda w: w.resolution.resolve_and_store(
        " ", "10", ACTOR, ResolutionStrategy.REJECT_STALE),
    "resolution.resolve_for_execution": lambda w: w.resolution.resolve_for_execution(
        "", "10", ACTOR, ResolutionStrategy.REJECT_STALE),
    "executor.execute_approved": lambda w: w.execute("   "),
    "store.require": lambda w: w.store.require(""),
}


@pytest.mark.parametrize("action", list(BLANK_ID_ACTIONS.values()), ids=list(BLANK_ID_ACTIONS))
def test_a_blank_request_id_is_an_invalid_argument(action: Action) -> None:
    world = World()

    _check(world, action, InvalidArgumentError, ValueError, names=None)

    world.assert_unchanged()


def test_a_blank_superseding_id_is_an_invalid_argument_naming_the_request() -> None:
    world = World()

    _check(world, lambda w: w.lifecycle.supersede("req-1", " ", ACTOR),
           InvalidArgumentError, ValueError)

    world.assert_unchanged()


BLANK_VERSION_ACTIONS: dict[str, Action] = {
    "resolve_and_store": lambda w: w.resolution.resolve_and_store(
        "req-1", "  ", ACTOR, ResolutionStrategy.REJECT_STALE),
    "resolve_for_execution": lambda w: w.resolution.resolve_for_execution(
        "req-1", "", ACTOR, ResolutionStrategy.REJECT_STALE),
    "execute_approved-explicit": lambda w: w.execute(current_state_version=" "),
    "execute_approved-state": lambda w: w.execute(state=VersionedState(1, "")),
}


@pytest.mark.parametrize("action", list(BLANK_VERSION_ACTIONS.values()),
                         ids=list(BLANK_VERSION_ACTIONS))
def test_a_blank_current_state_version_is_an_invalid_argument_naming_the_request(
        action: Action) -> None:
    world = World()

    _check(world, action, InvalidArgumentError, ValueError)

    world.assert_unchanged()


# -- None arguments ---------------------------------------------------------------------------

NONE_ACTIONS: dict[str, Action] = {
    "lifecycle-context": lambda w: w.lifecycle.cancel("req-1", None),
    "lifecycle-pending-reason": lambda w: w.lifecycle.move_to_pending("req-1", None, ACTOR),
    "resolution-context": lambda w: w.resolution.resolve_and_store(
        "req-1", "10", None, ResolutionStrategy.REJECT_STALE),
    "execution-mutation": lambda w: w.execute(mutation=None),
    "execution-context": lambda w: w.execute(governance_context=None),
    "store-create": lambda w: w.store.create(None),
    "store-try-store": lambda w: w.store.try_store(None, 0),
    "engine-policy": lambda w: w.engine.register_policy(None),
    "engine-mutation": lambda w: w.engine.execute(None, STATE),
    "decision-context": lambda w: RequestDecision.lifecycle(LifecycleDecision.APPROVED, None),
    "mutation-intent": lambda w: MutationBase(None, mutation_context()),
    "mutation-context": lambda w: MutationBase(increment_intent(), None),
    "request-context": lambda w: MutationRequest.approved(
        STATE_ID, "S", "M", increment_intent(), None),
}


@pytest.mark.parametrize("action", list(NONE_ACTIONS.values()), ids=list(NONE_ACTIONS))
def test_a_missing_argument_is_a_type_error_and_writes_nothing(action: Action) -> None:
    world = World()

    _check(world, action, MissingArgumentError, TypeError, names=None)

    world.assert_unchanged()


# -- unknown request id -----------------------------------------------------------------------

NOT_FOUND_ACTIONS: dict[str, Action] = {
    "lifecycle": lambda w: w.lifecycle.reject("req-ghost", ACTOR),
    "resolution": lambda w: w.resolution.resolve_and_store(
        "req-ghost", "10", ACTOR, ResolutionStrategy.REJECT_STALE),
    "execution": lambda w: w.execute("req-ghost"),
    "store": lambda w: w.store.require("req-ghost"),
    "store-next": lambda w: w.store.store_next(approved_request(request_id="req-ghost"), 0),
}


@pytest.mark.parametrize("action", list(NOT_FOUND_ACTIONS.values()), ids=list(NOT_FOUND_ACTIONS))
def test_an_unknown_request_id_is_not_found_and_a_lookup_error(action: Action) -> None:
    world = World()

    error = _check(world, action, RequestNotFoundError, LookupError, names="req-ghost")

    assert not isinstance(error, MutationError)  # a failed lookup, not a failed mutation

    assert error.request_id == "req-ghost"
    world.assert_unchanged()
    assert world.store.get("req-ghost") is None


# -- duplicate create -------------------------------------------------------------------------

@pytest.mark.parametrize("create", ["store", "lifecycle"])
def test_creating_a_duplicate_request_is_refused(create: str) -> None:
    world = World()
    submit = world.store.create if create == "store" else world.lifecycle.submit

    error = _check(world, lambda w: submit(approved_request(request_id="req-1")),
                   RequestAlreadyExistsError, MutationError)

    assert error.request_id == "req-1"
    world.assert_unchanged()


# -- stale revision on a runtime write --------------------------------------------------------

STALE_ACTIONS: dict[str, Action] = {
    "lifecycle": lambda w: w.lifecycle.cancel("req-1", ACTOR),
    "resolution": lambda w: w.resolution.resolve_and_store(
        "req-1", "10", ACTOR, ResolutionStrategy.REJECT_STALE),
    "execution": lambda w: w.execute(),
}


@pytest.mark.parametrize("action", list(STALE_ACTIONS.values()), ids=list(STALE_ACTIONS))
def test_a_write_from_a_stale_revision_is_a_concurrency_error_with_the_loaded_revision(
        action: Action) -> None:
    store = RacingStore()
    world = World(store)
    store.interfere_once("req-1")

    error = _check(world, action, RequestConcurrencyError, ConcurrencyError, MutationError)

    assert error.request_id == "req-1"
    assert error.expected_revision == 0
    winner = store.get("req-1")
    assert winner.revision == 1
    assert winner.status == RequestStatus.APPROVED
    assert winner.decisions == world.before.decisions
    assert world.counter.total() == 0


# -- lifecycle transition not in the table ----------------------------------------------------

@pytest.mark.parametrize(("action", "current", "target"), [
    (lambda w: w.lifecycle.approve("req-1", ACTOR), RequestStatus.APPROVED,
     RequestStatus.APPROVED),
    (lambda w: w.lifecycle.expire("req-1", ACTOR), RequestStatus.APPROVED,
     RequestStatus.EXPIRED),
], ids=["same-status", "not-in-table"])
def test_a_transition_outside_the_table_is_refused(action: Action, current: RequestStatus,
                                                   target: RequestStatus) -> None:
    world = World()

    error = _check(world, action, InvalidTransitionError, MutationError)

    assert (error.current_status, error.target_status) == (current, target)
    assert current.name in str(error) and target.name in str(error)
    world.assert_unchanged()


# -- approval configuration -------------------------------------------------------------------

def test_pending_approval_without_an_approval_requirement_is_an_invalid_operation() -> None:
    with pytest.raises(InvalidOperationError) as raised:
        MutationRequest.pending_approval(
            STATE_ID, "S", "M", increment_intent(), requester_context(),
            [PolicyRequirement.two_factor()], request_id="req-x")

    assert isinstance(raised.value, RuntimeError)
    assert "req-x" in str(raised.value)


@pytest.mark.parametrize("data", [
    {"Reason": "no target"},
    {"Approver": "bob", "Quorum": 0},
    {"Approver": "bob", "Quorum": -2},
    {"Approvers": ["bob", "carol"], "RequiredApprovals": 3},
], ids=["no-target", "zero-quorum", "negative-quorum", "quorum-above-targets"])
def test_an_impossible_approval_configuration_is_refused(data: dict[str, Any]) -> None:
    requirement = PolicyRequirement(type="Approval", description="d", data=data)

    with pytest.raises(InvalidApprovalConfigurationError) as raised:
        MutationRequest.pending_approval(STATE_ID, "S", "M", increment_intent(),
                                         requester_context(), [requirement],
                                         request_id="req-cfg")

    assert isinstance(raised.value, InvalidOperationError)
    assert isinstance(raised.value, GovernanceError)
    assert "req-cfg" in str(raised.value)


# -- blank resulting state version ------------------------------------------------------------

def test_a_blank_resulting_version_is_an_invalid_operation_and_the_request_ends_executed() -> None:
    world = World()

    _check(world, lambda w: w.execute(resulting_version=lambda state: " "),
           InvalidOperationError, RuntimeError)

    # the mutation was applied, so the request says EXECUTED, without a resulting version
    stored = world.store.get("req-1")
    assert stored.status == RequestStatus.EXECUTED
    assert stored.revision == 2
    assert stored.versioning.resulting_state_version is None


# -- unknown resolution strategy --------------------------------------------------------------

UNKNOWN_STRATEGY_ACTIONS: dict[str, Action] = {
    "resolve_and_store": lambda w: w.resolution.resolve_and_store("req-1", "15", ACTOR, 99),
    "execute_approved": lambda w: w.execute(state=VersionedState(1, "15"), strategy=99),
}


@pytest.mark.parametrize("action", list(UNKNOWN_STRATEGY_ACTIONS.values()),
                         ids=list(UNKNOWN_STRATEGY_ACTIONS))
def test_an_unknown_strategy_for_a_stale_request_is_an_invalid_argument(action: Action) -> None:
    world = World()

    _check(world, action, InvalidArgumentError, ValueError)

    world.assert_unchanged()


# -- the engine -------------------------------------------------------------------------------

@pytest.mark.parametrize("limit", [0, -1])
def test_an_engine_allowing_fewer_than_one_concurrent_mutation_is_refused(limit: int) -> None:
    options = EngineOptions(max_concurrent_mutations=limit)

    with pytest.raises(InvalidArgumentError) as raised:
        MutationEngine(options)

    assert isinstance(raised.value, ValueError)
    assert str(limit) in str(raised.value)


def test_a_policy_that_raises_is_a_policy_evaluation_error_naming_the_policy() -> None:
    engine = MutationEngine(EngineOptions.strict())
    engine.register_policy(RaisingPolicy())

    with pytest.raises(PolicyEvaluationError) as raised:
        engine.execute(IncrementMutation(), STATE)

    assert isinstance(raised.value, MutationError)
    assert raised.value.policy_name == "broken-policy"
    assert "broken-policy" in str(raised.value)
    assert isinstance(raised.value.__cause__, KeyError)


def test_an_apply_raising_a_foreign_exception_is_wrapped_in_a_mutation_error() -> None:
    engine = MutationEngine(EngineOptions.strict())
    mutation = FailingMutation(exception=ZeroDivisionError("division by zero in apply"))

    with pytest.raises(MutationError) as raised:
        engine.execute(mutation, STATE)

    error = raised.value
    assert type(error) is MutationError
    assert error.__cause__ is mutation.exception
    assert error.inner is mutation.exception
    assert error.execution_id
    assert "division by zero in apply" in str(error)
    assert error.execution_id in str(error)


def test_a_governed_execution_whose_engine_raises_ends_rejected_and_re_raises() -> None:
    world = World()
    mutation = FailingMutation(world.counter, "req-1")

    with pytest.raises(MutationError) as raised:
        world.execute(mutation=mutation)

    assert raised.value.__cause__ is mutation.exception
    stored = world.store.get("req-1")
    assert stored.status == RequestStatus.REJECTED
    assert stored.decisions[-1].code == "REJECTED"
    assert stored.revision == 2


# -- the hierarchy ----------------------------------------------------------------------------

def test_every_exported_error_derives_from_governance_error() -> None:
    errors = [getattr(governance, name) for name in governance.__all__
              if isinstance(getattr(governance, name), type)
              and issubclass(getattr(governance, name), BaseException)]

    assert GovernanceError in errors
    assert len(errors) > 15
    assert all(issubclass(error, GovernanceError) for error in errors)


# -- results turned into errors ---------------------------------------------------------------

def test_raise_for_failure_names_the_refusing_policy() -> None:
    decision = PolicyDecision.deny("counters are frozen", "freeze")
    result: MutationResult[int] = MutationResult.policy_blocked(decision)

    with pytest.raises(PolicyViolationError, match=r"'freeze'.*counters are frozen") as raised:
        result.raise_for_failure()

    assert raised.value.decision is decision


def test_raise_for_failure_lists_every_validation_error() -> None:
    validation = ValidationResult.with_errors(
        ValidationError("value", "must not be negative"), ValidationError("version", "blank"))
    result: MutationResult[int] = MutationResult.failure(validation)

    with pytest.raises(MutationValidationError,
                       match="value: must not be negative; version: blank") as raised:
        result.raise_for_failure()

    assert raised.value.validation_result is validation


def test_raise_for_failure_keeps_the_exception_of_a_failed_result_as_the_cause() -> None:
    cause = RuntimeError("disk full")
    result: MutationResult[int] = MutationResult(is_success=False, exception=cause)

    with pytest.raises(MutationError, match="disk full") as raised:
        result.raise_for_failure()

    assert type(raised.value) is MutationError and raised.value.__cause__ is cause


def test_raise_for_failure_does_nothing_for_a_success() -> None:
    MutationResult.success(1).raise_for_failure()


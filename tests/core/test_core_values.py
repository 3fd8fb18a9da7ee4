"""Value types of the core runtime: contexts, intents, changes, side effects, results, policies."""

from __future__ import annotations

import dataclasses
import pickle
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from governance.core import (
    ActorType,
    BatchMutationResult,
    BlastRadius,
    BlastRadiusScope,
    ChangeSet,
    ChangeType,
    MutationBase,
    MutationContext,
    MutationIntent,
    MutationMode,
    MutationResult,
    Policy,
    PolicyDecision,
    PolicyDecisionSeverity,
    PolicyRegistry,
    PolicyRequirement,
    RiskLevel,
    SideEffect,
    SideEffectSeverity,
    StateChange,
    ValidationError,
    ValidationResult,
    side_effect_contract,
)
from governance.errors import InvalidArgumentError, MissingArgumentError
from tests.core.core_support import Counter, Increment, OtherStaticPolicy, StaticPolicy


@side_effect_contract("governance.tests.notification", 2)
class Notification(BaseModel):
    recipient: str
    attempts: int


# -- context and intent ------------------------------------------------------------------------


def test_system_context_is_a_system_actor_with_a_fresh_correlation_id() -> None:
    ctx = MutationContext.system("nightly cleanup")

    assert ctx.actor_type is ActorType.SYSTEM
    assert ctx.reason == "nightly cleanup"
    assert uuid.UUID(ctx.correlation_id or "")
    assert MutationContext.system("again").correlation_id != ctx.correlation_id
    assert MutationContext.system("given", correlation_id="corr-7").correlation_id == "corr-7"


def test_user_and_service_contexts_name_their_actor() -> None:
    user = MutationContext.user("u-1", "Alice", "because")
    service = MutationContext.service("billing", "sync")

    assert (user.actor_type, user.actor_id, user.actor_name, user.reason) == (
        ActorType.USER, "u-1", "Alice", "because",
    )
    assert (service.actor_type, service.actor_id, service.reason) == (
        ActorType.SERVICE, "billing", "sync",
    )


@pytest.mark.parametrize("blank", ["", "   "])
def test_user_and_service_contexts_refuse_a_blank_actor(blank: str) -> None:
    with pytest.raises(InvalidArgumentError):
        MutationContext.user(blank)
    with pytest.raises(InvalidArgumentError):
        MutationContext.service(blank, "x")


def test_context_defaults_to_commit_now_and_no_metadata() -> None:
    before = datetime.now(UTC)
    ctx = MutationContext()

    assert ctx.mode is MutationMode.COMMIT
    assert ctx.actor_type is ActorType.UNKNOWN
    assert ctx.metadata == {}
    assert ctx.timestamp >= before and ctx.timestamp.tzinfo is not None


def test_context_copies_target_another_state_or_mode_without_changing_the_original() -> None:
    ctx = MutationContext.system("x")

    moved = ctx.with_state("s-2").with_mode(MutationMode.SIMULATE)

    assert (moved.state_id, moved.mode) == ("s-2", MutationMode.SIMULATE)
    assert (ctx.state_id, ctx.mode) == (None, MutationMode.COMMIT)


def test_intent_create_fills_name_and_category_with_safe_defaults() -> None:
    intent = MutationIntent.create("GrantRole", "Access", risk_level=RiskLevel.HIGH)

    assert (intent.operation_name, intent.category) == ("GrantRole", "Access")
    assert intent.risk_level is RiskLevel.HIGH
    assert intent.is_reversible is True
    assert intent.tags == frozenset()


def test_blast_radius_presets_are_ordered_from_single_to_global() -> None:
    scopes = [
        BlastRadius.single().scope,
        BlastRadius.module().scope,
        BlastRadius.system().scope,
        BlastRadius.global_().scope,
    ]

    assert scopes == sorted(scopes)
    assert scopes[-1] is BlastRadiusScope.GLOBAL


# -- changes -------------------------------------------------------------------------------------


def test_state_change_factories_set_type_and_values() -> None:
    assert StateChange.modified("a", 1, 2).type is ChangeType.MODIFIED
    added = StateChange.added("b", 3)
    removed = StateChange.removed("c", 4)
    replaced = StateChange.replaced("d", 5, 6)

    assert (added.type, added.old_value, added.new_value) == (ChangeType.ADDED, None, 3)
    assert (removed.type, removed.old_value, removed.new_value) == (ChangeType.REMOVED, 4, None)
    assert (replaced.type, replaced.old_value, replaced.new_value) == (ChangeType.REPLACED, 5, 6)


def test_a_state_change_from_a_factory_equals_the_constructed_one_and_is_slotted() -> None:
    change = StateChange.modified("a", 1, 2)
    built = StateChange("a", 1, 2, ChangeType.MODIFIED, change.timestamp)

    assert type(change) is StateChange
    assert change == built and repr(change) == repr(built) and hash(change) == hash(built)
    assert dataclasses.asdict(change) == dataclasses.asdict(built)
    assert pickle.loads(pickle.dumps(change)) == built
    assert dataclasses.replace(change, new_value=3).new_value == 3
    assert not hasattr(change, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.path = "b"  # type: ignore[misc]


def test_change_set_keeps_changes_in_order_and_answers_path_questions() -> None:
    first = StateChange.modified("Name", "a", "b")
    second = StateChange.added("Tags", "x")
    third = StateChange.modified("Name", "b", "c")

    changes = ChangeSet.from_changes(first, second, third)

    assert list(changes) == [first, second, third]
    assert changes.count == len(changes) == 3
    assert changes.has_changes
    assert changes.get_changes("Name") == [first, third]
    assert changes.is_changed("Tags") and not changes.is_changed("Other")
    assert changes.get_changed_paths() == ["Name", "Tags"]


def test_change_set_refuses_a_none_change() -> None:
    changes = ChangeSet()

    with pytest.raises(MissingArgumentError):
        changes.add(None)  # type: ignore[arg-type]
    with pytest.raises(MissingArgumentError):
        ChangeSet([StateChange.added("a", 1), None])  # type: ignore[list-item]
    assert not changes.has_changes


def test_empty_change_sets_are_never_shared() -> None:
    first = ChangeSet.empty()
    first.add(StateChange.added("a", 1))

    assert ChangeSet.empty().count == 0
    assert ChangeSet.single(StateChange.added("a", 1)).count == 1


# -- side effects --------------------------------------------------------------------------------


def test_critical_side_effects_always_require_action() -> None:
    created = SideEffect.create("Alert", "disk full", severity=SideEffectSeverity.CRITICAL)
    critical = SideEffect.critical("Alert", "disk full")
    info = SideEffect.create("Mail", "welcome")

    assert created.requires_action and critical.requires_action
    assert critical.severity is SideEffectSeverity.CRITICAL
    assert not info.requires_action
    assert SideEffect.create("Mail", "x", requires_action=True).requires_action


def test_side_effect_records_the_payload_contract_and_hands_the_payload_back() -> None:
    payload = Notification(recipient="ops", attempts=1)

    effect = SideEffect.create("Notify", "tell ops", payload)

    assert (effect.data_contract_type, effect.data_contract_version) == (
        "governance.tests.notification", 2,
    )
    assert effect.try_get_data(Notification) is payload
    assert effect.try_get_data(str) is None


def test_side_effect_with_a_contract_round_trips_through_json() -> None:
    effect = SideEffect.critical("Notify", "tell ops", Notification(recipient="ops", attempts=3))

    restored = SideEffect.model_validate_json(effect.model_dump_json())

    assert restored.data_contract_type == "governance.tests.notification"
    assert restored.data_contract_version == 2
    assert restored.requires_action and restored.timestamp == effect.timestamp
    assert restored.typed_data() == Notification(recipient="ops", attempts=3)


def test_side_effect_without_a_contract_keeps_plain_data() -> None:
    effect = SideEffect.create("Mail", "x", {"to": "a"})

    assert effect.data_contract_type is None
    assert effect.typed_data() == {"to": "a"}


@pytest.mark.parametrize(("contract_type", "version"), [("", 1), ("  ", 1), ("x", 0)])
def test_side_effect_contract_refuses_blank_types_and_versions_below_one(
    contract_type: str, version: int
) -> None:
    with pytest.raises(InvalidArgumentError):
        side_effect_contract(contract_type, version)


# -- validation and results ---------------------------------------------------------------------


def test_validation_result_is_valid_until_an_error_is_added() -> None:
    result = ValidationResult.success()
    result.add_warning("Name", "looks odd").add_info("Name", "checked")

    assert result.is_valid
    assert len(result.warnings) == 1 and len(result.info) == 1

    result.add_error("Name", "is empty", "required", "")

    assert not result.is_valid
    assert result.errors[0] == ValidationError("Name", "is empty", "required", "")


def test_validation_result_factories_hold_their_errors() -> None:
    one = ValidationResult.with_error("A", "bad", "E1")
    two = ValidationResult.with_errors(ValidationError("A", "bad"), ValidationError("B", "worse"))

    assert not one.is_valid and one.errors[0].code == "E1"
    assert [e.path for e in two.errors] == ["A", "B"]


def test_validation_entries_need_a_path_and_a_message() -> None:
    with pytest.raises(MissingArgumentError):
        ValidationResult().add_error(None, "x")  # type: ignore[arg-type]
    with pytest.raises(MissingArgumentError):
        ValidationResult().add_warning("x", None)  # type: ignore[arg-type]
    with pytest.raises(MissingArgumentError):
        ValidationResult().add_info(None, "x")  # type: ignore[arg-type]


def test_success_result_wraps_a_single_change_into_a_change_set() -> None:
    change = StateChange.modified("Value", 1, 2)
    effect = SideEffect.create("Mail", "x")

    result = MutationResult.success(Counter(2), change, [effect])

    assert result.is_success and result.new_state == Counter(2)
    assert list(result.changes) == [change]
    assert result.side_effects == [effect]
    assert result.validation_result.is_valid
    assert result.policy_decisions == []
    assert MutationResult.success(Counter(2)).changes.count == 0


def test_failure_result_carries_the_validation() -> None:
    validation = ValidationResult.with_error("Value", "negative")

    result: MutationResult[Counter] = MutationResult.failure(validation)

    assert not result.is_success and result.new_state is None
    assert result.validation_result is validation


def test_policy_blocked_result_explains_the_block() -> None:
    decision = PolicyDecision.deny("too risky", "risk")

    result: MutationResult[Counter] = MutationResult.policy_blocked(decision)
    unexplained: MutationResult[Counter] = MutationResult.policy_blocked(
        PolicyDecision(is_allowed=False)
    )

    assert not result.is_success
    assert result.policy_decisions == [decision]
    assert [(e.path, e.message) for e in result.validation_result.errors] == [
        ("Policy", "too risky")
    ]
    assert unexplained.validation_result.errors[0].message == "Blocked by policy"


def test_batch_result_counts_successes_and_failures() -> None:
    ok = MutationResult.success(Counter(1))
    failed: MutationResult[Counter] = MutationResult.failure(ValidationResult.with_error("a", "b"))

    batch = BatchMutationResult(False, None, [ok, failed, ok], ChangeSet(), timedelta(0))

    assert (batch.success_count, batch.failure_count) == (2, 1)


# -- policies --------------------------------------------------------------------------------------


def test_policy_decision_factories() -> None:
    allow = PolicyDecision.allow("p", "fine")
    deny = PolicyDecision.deny("no", "p")
    critical = PolicyDecision.deny_critical("never", "p")
    modify = PolicyDecision.modify({"State": 1}, "p")

    assert allow.is_allowed and allow.severity is PolicyDecisionSeverity.INFO
    assert not deny.is_allowed and deny.severity is PolicyDecisionSeverity.ERROR
    assert not critical.is_allowed and critical.severity is PolicyDecisionSeverity.CRITICAL
    assert modify.is_allowed and modify.modifications == {"State": 1}


def test_require_approval_refuses_until_the_requirement_is_met() -> None:
    requirement = PolicyRequirement.approval("security-lead", "touches prod", StepOrder=1)

    decision = PolicyDecision.require_approval(requirement, "approvals")

    assert not decision.is_allowed
    assert decision.requirements == [requirement]
    assert decision.reason
    assert requirement.type == "Approval" and not requirement.is_fulfilled
    assert requirement.data == {
        "Approver": "security-lead", "Reason": "touches prod", "StepOrder": 1,
    }
    assert "security-lead" in requirement.description
    assert PolicyRequirement.two_factor().type == "TwoFactor"


def test_policy_decision_round_trips_through_json() -> None:
    decision = PolicyDecision.require_approval(PolicyRequirement.approval("bob", "why"), "p")

    assert PolicyDecision.model_validate_json(decision.model_dump_json()) == decision


def test_registry_orders_by_priority_then_name_then_class_name() -> None:
    registry = PolicyRegistry()
    for policy in [
        StaticPolicy("b", 1),
        StaticPolicy("z", 10),
        StaticPolicy("a", 1),
        StaticPolicy("m", -5),
    ]:
        registry.register(policy)

    assert [p.name for p in registry.get_policies()] == ["z", "a", "b", "m"]
    assert isinstance(registry.get_policies()[0], Policy)


def test_registry_breaks_equal_name_and_priority_ties_by_class_name() -> None:
    from governance.core import policy_order_key

    first, second = OtherStaticPolicy("same", 0), StaticPolicy("same", 0)

    assert sorted([second, first], key=policy_order_key) == [first, second]


def test_registry_replaces_a_policy_of_the_same_name_and_unregisters_by_name() -> None:
    registry = PolicyRegistry()
    old, new = StaticPolicy("p", 1), StaticPolicy("p", 2)
    registry.register(old)
    registry.register(new)

    assert registry.get_policies() == (new,)
    assert registry.get_policy("p") is new
    assert registry.unregister("p") is True
    assert registry.unregister("p") is False
    assert registry.get_policies() == ()


def test_registry_snapshot_is_not_changed_by_later_registrations() -> None:
    registry = PolicyRegistry()
    registry.register(StaticPolicy("a"))
    snapshot = registry.get_policies()

    registry.register(StaticPolicy("b"))

    assert [p.name for p in snapshot] == ["a"]


def test_registry_refuses_none_and_blank_names() -> None:
    registry = PolicyRegistry()

    with pytest.raises(MissingArgumentError):
        registry.register(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        registry.register(StaticPolicy("  "))


def test_registry_keeps_every_policy_registered_from_many_threads() -> None:
    registry = PolicyRegistry()
    start = threading.Barrier(8)

    def register_many(worker: int) -> None:
        start.wait()
        for i in range(50):
            registry.register(StaticPolicy(f"w{worker}-{i:02d}", priority=i % 3))

    threads = [threading.Thread(target=register_many, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    policies = registry.get_policies()
    assert len(policies) == 400
    assert [p.name for p in policies] == [
        p.name for p in sorted(policies, key=lambda p: (-p.priority, p.name))
    ]


# -- mutation base -------------------------------------------------------------------------------


def test_mutation_base_needs_an_intent_and_a_context() -> None:
    intent = MutationIntent.create("x", "y")

    with pytest.raises(MissingArgumentError):
        MutationBase(None, MutationContext())  # type: ignore[arg-type]
    with pytest.raises(MissingArgumentError):
        MutationBase(intent, None)  # type: ignore[arg-type]


def test_mutation_base_validates_by_default_and_simulates_by_applying() -> None:
    class Double(MutationBase[Counter]):
        def apply(self, state: Counter) -> MutationResult[Counter]:
            return self.success(Counter(state.value * 2), StateChange.modified("Value", 1, 2))

    mutation = Double(MutationBase.create_intent("Double", "Counter"), MutationContext())

    assert mutation.validate(Counter(1)).is_valid
    assert mutation.simulate(Counter(3)).new_state == Counter(6)
    assert mutation.intent.operation_name == "Double"


def test_mutation_base_intent_and_context_are_documented_read_only_properties() -> None:
    intent, context = MutationBase.create_intent("Double", "Counter"), MutationContext()
    mutation = MutationBase[Counter](intent, context)

    assert mutation.intent is intent and mutation.context is context
    assert MutationBase.intent.__doc__ == "What the mutation does."
    assert MutationBase.context.__doc__ == "Who asks for it, when and why."
    with pytest.raises(AttributeError):
        mutation.intent = intent  # type: ignore[misc]

    class Renamed(MutationBase[Counter]):
        @property
        def intent(self) -> MutationIntent:
            return MutationBase.create_intent("Renamed", "Counter")

    assert Renamed(intent, context).intent.operation_name == "Renamed"


def test_increment_test_double_satisfies_the_mutation_protocol() -> None:
    from governance.core import Mutation

    assert isinstance(Increment(), Mutation)


def test_core_all_is_sorted_and_every_name_resolves() -> None:
    import governance.core as core

    assert core.__all__ == sorted(core.__all__)
    assert all(hasattr(core, name) for name in core.__all__)
    assert len(set(core.__all__)) == len(core.__all__)

"""The audit entry of an allowed execution records the decisions that allowed it."""

from __future__ import annotations

from dataclasses import dataclass

from governance import (
    EngineOptions,
    MutationBase,
    MutationContext,
    MutationEngine,
    MutationIntent,
    MutationResult,
    PolicyDecision,
    StateChange,
)


@dataclass(frozen=True)
class Counter:
    value: int


class Increment(MutationBase[Counter]):
    def apply(self, state: Counter) -> MutationResult[Counter]:
        return self.success(Counter(state.value + 1),
                            StateChange.modified("value", state.value, state.value + 1))


class NamedAllow:
    def __init__(self, name: str, priority: int) -> None:
        self.name = name
        self.priority = priority
        self.decisions: list[PolicyDecision] = []

    def evaluate(self, mutation: object, state: object) -> PolicyDecision:
        decision = PolicyDecision.allow(self.name, f"{self.name} agrees")
        self.decisions.append(decision)
        return decision


def _mutation() -> Increment:
    context = MutationContext.system("audit test").with_state("counter-1")
    return Increment(MutationIntent.create("Increment", "Test"), context)


def test_an_allowed_execution_is_audited_with_the_last_allowing_policy_decision() -> None:
    engine = MutationEngine(EngineOptions.strict())
    first, second = NamedAllow("first", 10), NamedAllow("second", 5)
    engine.register_policy(first)
    engine.register_policy(second)

    engine.execute(_mutation(), Counter(1))

    (entry,) = engine.auditor.get_audit_log("counter-1")
    assert list(entry.policy_decisions) == [second.decisions[0]]
    assert entry.policy_decisions[0].reason == "second agrees"


def test_without_policies_the_audit_entry_records_a_plain_allow() -> None:
    engine = MutationEngine(EngineOptions.strict())

    engine.execute(_mutation(), Counter(1))

    (entry,) = engine.auditor.get_audit_log("counter-1")
    assert len(entry.policy_decisions) == 1
    assert entry.policy_decisions[0].is_allowed
    assert entry.policy_decisions[0].policy_name is None

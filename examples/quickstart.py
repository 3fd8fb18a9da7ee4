"""Execute an approved request end to end and print its terminal outcome and decision trail.

Run: .venv/bin/python examples/quickstart.py
"""

from __future__ import annotations

from dataclasses import dataclass

from governance import (
    EngineOptions,
    GovernanceExecutionManager,
    InMemoryRequestStore,
    MutationBase,
    MutationContext,
    MutationEngine,
    MutationIntent,
    MutationRequest,
    MutationResult,
    ResolutionStrategy,
    StateChange,
    VersionResolutionManager,
)


@dataclass(frozen=True)
class Quota:
    """A tenant's storage quota, versioned."""

    gigabytes: int
    version: str


class RaiseQuota(MutationBase[Quota]):
    """Raise the quota by ``amount`` gigabytes and move to the next version."""

    def __init__(self, amount: int, intent: MutationIntent, context: MutationContext) -> None:
        super().__init__(intent, context)
        self.amount = amount

    def apply(self, state: Quota) -> MutationResult[Quota]:
        new = Quota(state.gigabytes + self.amount, f"v{int(state.version[1:]) + 1}")
        return self.success(new, StateChange.modified("gigabytes", state.gigabytes, new.gigabytes))


def main() -> None:
    store = InMemoryRequestStore()
    engine = MutationEngine(EngineOptions.strict())
    executor = GovernanceExecutionManager(store, VersionResolutionManager(store), engine)

    alice = MutationContext.user("alice", "Alice", reason="Tenant asked for more space")
    intent = MutationIntent.create("RaiseQuota", "Quota")
    request = store.create(MutationRequest.approved(
        "tenant-42/quota", Quota, RaiseQuota, intent, alice, expected_state_version="v10"))

    current = Quota(gigabytes=100, version="v10")
    outcome = executor.execute_approved(
        request.request_id, RaiseQuota(50, intent, alice), current,
        governance_context=MutationContext.system("governed execution"),
        strategy=ResolutionStrategy.REJECT_STALE)

    print(f"request {outcome.request.request_id}: {outcome.request.status.name}")
    print(f"executed: {outcome.was_executed}, new state: {outcome.new_state}, "
          f"resulting version: {outcome.resulting_state_version}")
    for decision in outcome.request.decisions:
        print(f"  {decision.timestamp:%H:%M:%S.%f} {decision.category.name:<18} "
              f"{decision.code:<12} {decision.reason or ''}")



if __name__ == "__main__":
    main()

"""File a request that needs a two-step approval, approve it, then execute it through governance.

Step 1: a team lead (by role). Step 2: two of three security approvers (two people by id, or
whoever is on call for security, by role). The request executes only once both steps are done.

Run: .venv/bin/python examples/approval_workflow.py
"""

from __future__ import annotations

from dataclasses import dataclass

from governance import (
    ApprovalQuery,
    ApprovalWorkflowManager,
    EngineOptions,
    GovernanceExecutionManager,
    InMemoryRequestStore,
    InvalidApprovalActionError,
    MutationBase,
    MutationContext,
    MutationEngine,
    MutationIntent,
    MutationRequest,
    MutationResult,
    PolicyRequirement,
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
    approvals = ApprovalWorkflowManager(store)
    executor = GovernanceExecutionManager(store, VersionResolutionManager(store),
                                          MutationEngine(EngineOptions.strict()))

    alice = MutationContext.user("alice", "Alice", reason="Tenant asked for 500 GB more")
    intent = MutationIntent.create("RaiseQuota", "Quota")
    requirements = [
        PolicyRequirement(type="Approval", description="Team lead sign-off",
                          data={"ApproverRole": "team-lead", "StepOrder": 1}),
        PolicyRequirement(type="Approval", description="Security review",
                          data={"Approvers": ["sec-ana", "sec-ben"],
                                "ApproverRole": "security-oncall",
                                "RequiredApprovals": 2, "StepOrder": 2}),
    ]
    request = store.create(MutationRequest.pending_approval(
        "tenant-42/quota", Quota, RaiseQuota, intent, alice, requirements,
        expected_state_version="v10", request_id="quota-raise-42"))
    lead_step, ana, _ben, oncall = request.approval_requirements

    lena = MutationContext.user("lena", "Lena", reason="Capacity is there",
                                metadata={"ActorRoles": ["team-lead"]})
    inbox = store.get_pending_approvals(ApprovalQuery(approver_roles={"team-lead"}))
    print(f"Lena's inbox: {[(v.request.request_id, v.approval.description) for v in inbox]}")

    sec_ana = MutationContext.user("sec-ana", "Ana", reason="No exposure change")
    try:
        approvals.approve_requirement(request.request_id, ana.approval_id, sec_ana)
    except InvalidApprovalActionError as refused:
        print(f"Ana too early: {str(refused).split(': ', 1)[1]}")

    approvals.approve_requirement(request.request_id, lead_step.approval_id, lena)
    approvals.approve_requirement(request.request_id, ana.approval_id, sec_ana)
    omar = MutationContext.user("omar", "Omar", reason="On call, looks fine",
                                metadata={"ActorRoles": ["security-oncall"]})
    approved = approvals.approve_requirement(request.request_id, oncall.approval_id, omar)
    print(f"after three approvals: {approved.status.name}, requirements "
          f"{[r.status.name for r in approved.approval_requirements]}")

    outcome = executor.execute_approved(
        request.request_id, RaiseQuota(500, intent, alice), Quota(gigabytes=1000, version="v10"),
        governance_context=MutationContext.system("governed execution"),
        strategy=ResolutionStrategy.REJECT_STALE)

    print(f"executed: {outcome.was_executed}, new state: {outcome.new_state}")
    print(f"request {outcome.request.request_id}: {outcome.request.status.name}, "
          f"revision {outcome.request.revision}")
    for decision in outcome.request.decisions:
        actor = decision.context.actor_id or decision.context.actor_type.name.lower()
        print(f"  {decision.category.name:<18} {decision.code:<16} {actor:<8} "
              f"{decision.reason or ''}")


if __name__ == "__main__":
    main()

"""How the cost of one governance operation grows: with the number of requests in the store, the
length of a request's decision history, and the number of approval steps.

Store size (``requests`` = 10, 1,000, 100,000). The store is a ``BackgroundStore``: ``requests``
background requests (a quarter each APPROVED, PENDING for APPROVAL, PENDING for EXTERNAL_CHECK,
EXECUTED; each on a state of its own; none with a deadline), built once per process on first use
(about a second for 100,000; never timed). Building it per call would take longer than the
whole suite, so the write benchmarks do not consume it: ``setup`` puts a fresh *probe* request
under a fixed id before every call (created the first time, then written over what the last call
left with the store's own compare-and-set), and the timed call consumes only the probe. The store
therefore always holds ``requests`` background requests plus one request per probe id, whatever
the number of calls. Engines, managers and contexts are built in ``setup`` too (a fresh engine
per call: its in-memory audit and history grow). The read benchmarks only read the store and
have no ``setup``.

History length: a request padded to ``decisions`` decisions
(``fixtures_requests.with_history``: alternating PENDING / APPROVED review rounds), fresh store
per call, as ``bench_resolution``'s ``ResolveAndStoreHistoryLength``.

Approval steps: a request with ``steps`` sequential steps, step ``i`` approved by
``approver-{i}``, fresh store per call.

What each series should do and what it did is in docs/growth.md.
"""

from __future__ import annotations

from functools import partial
from types import SimpleNamespace
from typing import Any

from .common import (
    APPROVAL_STATE_ID,
    BASE_TIME,
    DUE_AT,
    EXPECTED_VERSION,
    GOVERNANCE_MUTATION_TYPE,
    GOVERNANCE_STATE_TYPE,
    STATE_ID,
    SWEEP_AT,
)
from .fixtures_execution import ExecutionFixture, VersionedState, mutation_classes
from .fixtures_requests import (
    approval_request,
    approval_requirements,
    approver_context,
    background_state_id,
    background_store,
    governance_intent,
    lifecycle_request,
    requester_context,
    step_requirements,
)
from .harness import FreshPerCall, ReadOnlyBenchmark, allocation_twins, kept

STORE_SIZES = [10, 1_000, 100_000]
HISTORY_LENGTHS = [2, 64, 1024]
APPROVAL_HISTORY_LENGTHS = [3, 64, 1024]
APPROVAL_STEPS = [1, 4, 16]
_APPROVAL_API = ("ApprovalWorkflowManager",)
_QUERY_API = ("ApprovalWorkflowManager", "RequestQueries", "DecisionQuery", "ScopeFilter")
RECENT_TAKE = 64
ONE_STATE = background_state_id(1)
"""The state of background request 1 (PENDING for APPROVAL): the only request on it."""


# -- store size: probes written into the shared background store ---------------------------

def _execute_probe(g: Any, requests: int) -> Any:
    background = background_store(g, requests)
    classes = mutation_classes(g)
    context = g.MutationContext.system("benchmark", correlation_id="benchmark-growth")
    intent = g.MutationIntent.create("IncrementValue", "Benchmark")
    probe = background.put(g.MutationRequest.approved(
        STATE_ID, VersionedState, classes.IncrementValueMutation, intent, context,
        expected_state_version=EXPECTED_VERSION, request_id="growth-execute-probe",
        now=BASE_TIME))
    engine = g.MutationEngine(g.EngineOptions.strict())
    engine.register_policy(classes.AllowAllPolicy())
    store = background.store
    manager = g.GovernanceExecutionManager(
        store, g.VersionResolutionManager(store, g.VersionResolver()), engine)
    return partial(manager.execute_approved, probe.request_id,
                   classes.IncrementValueMutation(intent, context),
                   VersionedState(42, EXPECTED_VERSION), governance_context=context,
                   strategy=g.ResolutionStrategy.REJECT_STALE)


def _lifecycle_approve_probe(g: Any, requests: int) -> Any:
    background = background_store(g, requests)
    probe = background.put(lifecycle_request(g, "growth-lifecycle-probe"))
    manager = g.LifecycleManager(background.store)
    return partial(manager.approve, probe.request_id, approver_context(g, "reviewer"),
                   "Reviewer approved")


def _lifecycle_sweep_probe(g: Any, requests: int) -> Any:
    background = background_store(g, requests)
    background.put(lifecycle_request(g, "growth-sweep-probe", expires_at=DUE_AT))
    manager = g.LifecycleManager(background.store)
    return partial(manager.expire_due_requests, SWEEP_AT,
                   g.MutationContext.service("lifecycle-sweeper", "Expiry sweep"))


def _approval_probe(g: Any, requests: int) -> Any:
    background = background_store(g, requests)
    probe = background.put(approval_request(
        g, approval_requirements(g, "single_step"), "growth-approval-probe"))
    manager = g.ApprovalWorkflowManager(background.store)
    return partial(manager.approve_requirement, probe.request_id,
                   probe.approval_requirements[0].approval_id, approver_context(g, "alice"))


def _approval_sweep_probe(g: Any, requests: int) -> Any:
    background = background_store(g, requests)
    background.put(approval_request(g, approval_requirements(g, "expired"),
                                    "growth-approval-sweep-probe"))
    manager = g.ApprovalWorkflowManager(background.store)
    return partial(manager.expire_pending_approvals, SWEEP_AT,
                   g.MutationContext.service("approval-sweeper", "Approval expiry sweep"))


def _pending_of_one_state(g: Any, requests: int) -> Any:
    store = background_store(g, requests).store
    query = g.MutationRequestQuery(scope=g.ScopeFilter(state_ids={ONE_STATE}))
    return partial(store.get_pending_requests, query)


def _pending_by_state_id(g: Any, requests: int) -> Any:
    return partial(background_store(g, requests).store.get_pending_by_state_id, ONE_STATE)


def _recent_outcomes(g: Any, requests: int) -> Any:
    store = background_store(g, requests).store
    return partial(store.get_recent_decisions, g.DecisionQuery.recent_execution_outcomes(),
                   take=RECENT_TAKE)


class _PerCall(FreshPerCall):
    """Fresh probes (and managers) in ``setup`` before every timed call; one round (each
    process of the largest store builds 100,000 requests first)."""

    rounds = 1
    timeout = 120


_EXECUTION = {"execute_approved": _execute_probe}
_LIFECYCLE = {"approve_pending": _lifecycle_approve_probe,
              "expire_due_requests_sweep": _lifecycle_sweep_probe}
_APPROVAL = {"approve_requirement_granted": _approval_probe,
             "expire_pending_approvals_sweep": _approval_sweep_probe}
_QUERIES = {"pending_requests_of_one_state": _pending_of_one_state,
            "pending_by_state_id": _pending_by_state_id,
            "recent_execution_outcomes": _recent_outcomes}


class StoreSizeExecution(_PerCall):
    """``execute_approved`` of one approved probe request (v10, REJECT_STALE, strict engine with
    an allow policy) in a store of ``requests`` other requests. Should be O(1) in the store."""

    params = STORE_SIZES
    param_names = ["requests"]
    scenarios = _EXECUTION

    def time_execute_approved(self, requests: int) -> None:
        self.ops["execute_approved"]()


class StoreSizeLifecycle(_PerCall):
    """Lifecycle actions in a store of ``requests`` other requests.

    - approve_pending: approve the PENDING probe. Should be O(1) in the store.
    - expire_due_requests_sweep: the sweep finds the one due probe among the store's PENDING
      requests (half of the background, none due). Without a deadline index it reads every
      PENDING request: linear in them, not in the store.
    """

    params = STORE_SIZES
    param_names = ["requests"]
    scenarios = _LIFECYCLE

    def time_approve_pending(self, requests: int) -> None:
        self.ops["approve_pending"]()

    def time_expire_due_requests_sweep(self, requests: int) -> None:
        self.ops["expire_due_requests_sweep"]()


class StoreSizeApproval(_PerCall):
    """Approval actions in a store of ``requests`` other requests.

    - approve_requirement_granted: alice approves the single-step probe. Should be O(1).
    - expire_pending_approvals_sweep: the sweep rejects the one probe whose requirement is due;
      it reads every request PENDING for APPROVAL (a quarter of the background, none due):
      linear in them.
    """

    params = STORE_SIZES
    param_names = ["requests"]
    required = _APPROVAL_API
    scenarios = _APPROVAL

    def time_approve_requirement_granted(self, requests: int) -> None:
        self.ops["approve_requirement_granted"]()

    def time_expire_pending_approvals_sweep(self, requests: int) -> None:
        self.ops["expire_pending_approvals_sweep"]()


class StoreSizeQueries(ReadOnlyBenchmark):
    """Reads of a store of ``requests`` requests (no probe; nothing written).

    - pending_requests_of_one_state: ``get_pending_requests`` with a scope query naming one
      state, which has exactly one request. Should be linear in the matches (one).
    - pending_by_state_id: the store method for the same read (``get_pending_by_state_id``).
    - recent_execution_outcomes: ``get_recent_decisions(recent_execution_outcomes(), take=64)``;
      a quarter of the background is EXECUTED, so matches grow with the store. Should be linear
      in the decisions read, with only the 64 kept sorted.
    """

    version = "1"
    params = STORE_SIZES
    param_names = ["requests"]
    required_api = _QUERY_API
    rounds = 1
    repeat = (5, 30, 1.0)
    timeout = 120

    def build(self, g: Any, requests: int) -> SimpleNamespace:
        return SimpleNamespace(**{name: build(g, requests) for name, build in _QUERIES.items()})

    def time_pending_requests_of_one_state(self, requests: int) -> None:
        self.fixtures[requests].pending_requests_of_one_state()

    def time_pending_by_state_id(self, requests: int) -> None:
        self.fixtures[requests].pending_by_state_id()

    def time_recent_execution_outcomes(self, requests: int) -> None:
        self.fixtures[requests].recent_execution_outcomes()


# -- history length ------------------------------------------------------------------------

def _execute_with_history(g: Any, decisions: int) -> Any:
    fixture = ExecutionFixture(EXPECTED_VERSION, history_length=decisions)
    return partial(fixture.execute, g.ResolutionStrategy.REJECT_STALE)


def _approve_with_history(g: Any, decisions: int) -> Any:
    store = g.InMemoryRequestStore()
    request = store.create(approval_request(
        g, approval_requirements(g, "single_step"), "approval-request-1",
        history_length=decisions))
    manager = g.ApprovalWorkflowManager(store)
    return partial(manager.approve_requirement, request.request_id,
                   request.approval_requirements[0].approval_id, approver_context(g, "alice"))


class ExecuteApprovedHistoryLength(_PerCall):
    """``execute_approved`` (v10 matching, REJECT_STALE: executed) on a request that already
    holds ``decisions`` decisions; two decisions are appended. Should not grow with the
    history."""

    params = HISTORY_LENGTHS
    param_names = ["decisions"]
    rounds = 2
    scenarios = {"matching_version": _execute_with_history}

    def time_matching_version(self, decisions: int) -> None:
        self.ops["matching_version"]()


class ApproveRequirementHistoryLength(_PerCall):
    """alice approves the single-step request (APPROVED) that already holds ``decisions``
    decisions (3 is the request as created); two decisions are appended. Should not grow with
    the history."""

    params = APPROVAL_HISTORY_LENGTHS
    param_names = ["decisions"]
    rounds = 2
    required = _APPROVAL_API
    scenarios = {"approve_requirement_granted": _approve_with_history}

    def time_approve_requirement_granted(self, decisions: int) -> None:
        self.ops["approve_requirement_granted"]()


# -- approval steps ------------------------------------------------------------------------

def _create_with_steps(g: Any, steps: int) -> Any:
    return partial(
        g.MutationRequest.pending_approval, APPROVAL_STATE_ID, GOVERNANCE_STATE_TYPE,
        GOVERNANCE_MUTATION_TYPE, governance_intent(g), requester_context(g),
        step_requirements(g, steps), expected_state_version=EXPECTED_VERSION,
        request_id="approval-request-1", now=BASE_TIME)


def stored_steps(g: Any, steps: int, approved: int = 0) -> SimpleNamespace:
    """A fresh store and manager holding a ``steps``-step request whose first ``approved``
    steps are approved."""
    store = g.InMemoryRequestStore()
    request = store.create(approval_request(g, step_requirements(g, steps)))
    manager = g.ApprovalWorkflowManager(store)
    ids = [r.approval_id for r in sorted(request.approval_requirements,
                                         key=lambda r: r.step_order)]
    actors = [approver_context(g, f"approver-{i}") for i in range(1, steps + 1)]
    for step in range(approved):
        manager.approve_requirement(request.request_id, ids[step], actors[step])
    return SimpleNamespace(manager=manager, request_id=request.request_id, ids=ids,
                           actors=actors)


def _approve_final_step(g: Any, steps: int) -> Any:
    f = stored_steps(g, steps, approved=steps - 1)
    return partial(f.manager.approve_requirement, f.request_id, f.ids[-1], f.actors[-1])


def _approve_every_step(g: Any, steps: int) -> Any:
    f = stored_steps(g, steps)
    approve, request_id = f.manager.approve_requirement, f.request_id

    def run() -> Any:
        result = None
        for approval_id, actor in zip(f.ids, f.actors, strict=True):
            result = approve(request_id, approval_id, actor)
        return result

    return run


class ApprovalStepsCreation(ReadOnlyBenchmark):
    """``pending_approval`` of a request with ``steps`` sequential steps (one requirement
    each): linear in the steps by construction."""

    version = "1"
    params = APPROVAL_STEPS
    param_names = ["steps"]
    rounds = 2
    repeat = (10, 25, 0.25)

    def build(self, g: Any, steps: int) -> Any:
        return _create_with_steps(g, steps)

    def time_create_request(self, steps: int) -> None:
        self.fixtures[steps]()


class ApprovalSteps(_PerCall):
    """Deciding a request with ``steps`` sequential steps.

    - approve_final_step: the last step's approver approves (the others approved in
      ``setup``): APPROVED. One decision over ``steps`` requirements: should be nearly flat
      (a few linear scans of the requirements).
    - approve_every_step: every step approved in order, one call each, until APPROVED: should
      be linear in the steps.
    """

    params = APPROVAL_STEPS
    param_names = ["steps"]
    rounds = 2
    required = _APPROVAL_API
    scenarios = {"approve_final_step": _approve_final_step,
                 "approve_every_step": _approve_every_step}

    def time_approve_final_step(self, steps: int) -> None:
        self.ops["approve_final_step"]()

    def time_approve_every_step(self, steps: int) -> None:
        self.ops["approve_every_step"]()


# -- allocation twins ----------------------------------------------------------------------

StoreSizeWritesAllocatedBytes, StoreSizeWritesAllocatedBlocks = allocation_twins(
    "StoreSizeWrites", {**_EXECUTION, **_LIFECYCLE}, params=STORE_SIZES,
    param_names=["requests"], what="one write on a probe in a store of that many requests")

StoreSizeApprovalAllocatedBytes, StoreSizeApprovalAllocatedBlocks = allocation_twins(
    "StoreSizeApproval", _APPROVAL, params=STORE_SIZES, param_names=["requests"],
    what="one approval action on a probe in a store of that many requests",
    required=_APPROVAL_API)

StoreSizeQueriesAllocatedBytes, StoreSizeQueriesAllocatedBlocks = allocation_twins(
    "StoreSizeQueries", kept(_QUERIES), params=STORE_SIZES, param_names=["requests"],
    what="one read of a store of that many requests", required=_QUERY_API)

ExecuteApprovedHistoryLengthAllocatedBytes, ExecuteApprovedHistoryLengthAllocatedBlocks = (
    allocation_twins(
        "ExecuteApprovedHistoryLength", {"matching_version": _execute_with_history},
        params=HISTORY_LENGTHS, param_names=["decisions"],
        what="one execute_approved on a request with that many decisions"))

ApproveRequirementHistoryLengthAllocatedBytes, ApproveRequirementHistoryLengthAllocatedBlocks = (
    allocation_twins(
        "ApproveRequirementHistoryLength", {"approve_requirement_granted": _approve_with_history},
        params=APPROVAL_HISTORY_LENGTHS, param_names=["decisions"],
        what="one approval on a request with that many decisions", required=_APPROVAL_API))

ApprovalStepsAllocatedBytes, ApprovalStepsAllocatedBlocks = allocation_twins(
    "ApprovalSteps", {**kept({"create_request": _create_with_steps}),
                      "approve_final_step": _approve_final_step,
                      "approve_every_step": _approve_every_step},
    params=APPROVAL_STEPS, param_names=["steps"],
    what="creating or deciding a request with that many steps", required=_APPROVAL_API)

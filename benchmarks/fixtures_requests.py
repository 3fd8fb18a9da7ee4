"""Fixtures of the request benchmarks (``bench_lifecycle``, ``bench_approval``,
``bench_queries``, ``bench_growth``): requesters and approvers, pending and approval-pending
requests, histories padded to a length, seeded query stores and the large background store of
the growth benchmarks. Append-only, as ``common`` says.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from .common import (
    APPROVAL_STATE_ID,
    BACKGROUND_STATE_PREFIX,
    BASE_TIME,
    DUE_AT,
    EXPECTED_VERSION,
    GOVERNANCE_MUTATION_TYPE,
    GOVERNANCE_STATE_TYPE,
    LIFECYCLE_EXPECTED_VERSION,
    LIFECYCLE_STATE_ID,
    QUERY_STATE_ID,
    REJECTION_CATEGORY,
    REJECTION_CODE,
    SWEEP_AT,
)

# -- governance requests ---------------------------------------------------------------------

def requester_context(g: Any) -> Any:
    """The user who files the benchmark requests."""
    return g.MutationContext.user("requester", "Requester", "Benchmark change")


def governance_intent(g: Any) -> Any:
    """The intent of the lifecycle, approval and query benchmark requests."""
    return g.MutationIntent.create("ApproveGovernance", "Benchmark")


def approver_context(g: Any, actor_id: str, **metadata: Any) -> Any:
    """A user acting on approvals; ``metadata`` may carry ActorRoles / ActorGroups."""
    return g.MutationContext.user(actor_id, actor_id.capitalize(), f"Reviewed by {actor_id}",
                                  metadata=metadata)


def lifecycle_request(g: Any, request_id: str = "lifecycle-request-1", *,
                      expires_at: datetime | None = None, reason: Any = None,
                      state_id: str = LIFECYCLE_STATE_ID, now: datetime = BASE_TIME) -> Any:
    """A pending request (reason APPROVAL unless ``reason``), expected version v12."""
    return g.MutationRequest.pending(
        state_id, GOVERNANCE_STATE_TYPE, GOVERNANCE_MUTATION_TYPE, governance_intent(g),
        requester_context(g), reason if reason is not None else g.PendingReason.APPROVAL,
        expected_state_version=LIFECYCLE_EXPECTED_VERSION, expires_at=expires_at,
        request_id=request_id, now=now)


APPROVAL_SHAPES = ("single_step", "two_step", "role_based", "expired")


def approval_requirements(g: Any, shape: str) -> list[Any]:
    """Policy requirements of each approval shape: ``single_step`` (alice), ``two_step`` (alice
    then bob), ``role_based`` (role security-approver, step 1), ``expired`` (alice, deadline
    ``DUE_AT``)."""
    alice = g.PolicyRequirement.approval("alice", "Manager approval")
    if shape == "single_step":
        return [alice]
    if shape == "two_step":
        return [alice, g.PolicyRequirement.approval("bob", "Security approval")]
    if shape == "role_based":
        return [g.PolicyRequirement(
            type="Approval", description="Approval needed from the security approvers",
            data={"ApproverRole": "security-approver", "StepOrder": 1,
                  "Reason": "Security review"})]
    if shape == "expired":
        return [g.PolicyRequirement.approval("alice", "Manager approval", ExpiresAt=DUE_AT)]
    raise ValueError(shape)


def step_requirements(g: Any, steps: int) -> list[Any]:
    """``steps`` sequential approval steps: step ``i`` needs ``approver-{i}``."""
    return [g.PolicyRequirement.approval(f"approver-{i}", f"Step {i} approval", StepOrder=i)
            for i in range(1, steps + 1)]


def approval_request(g: Any, requirements: list[Any], request_id: str = "approval-request-1",
                     *, history_length: int = 0, state_id: str = APPROVAL_STATE_ID) -> Any:
    """A request pending approval of ``requirements``, expected version v10, created at
    ``BASE_TIME``; with ``history_length``, padded to that many decisions (``with_history``)."""
    request = g.MutationRequest.pending_approval(
        state_id, GOVERNANCE_STATE_TYPE, GOVERNANCE_MUTATION_TYPE, governance_intent(g),
        requester_context(g), requirements, expected_state_version=EXPECTED_VERSION,
        request_id=request_id, now=BASE_TIME)
    if history_length > len(request.decisions):
        request = with_history(g, request, history_length)
    return request


def rejection_reason(g: Any) -> Any:
    """The structured rejection of the rejection benchmark."""
    return g.ApprovalRejectionReason(
        code=REJECTION_CODE, category=REJECTION_CATEGORY,
        message="The change breaks the release freeze", metadata={"Ticket": "BENCH-1"})


def with_history(g: Any, request: Any, length: int) -> Any:
    """``request`` with ``length`` decisions: its own, then alternating re-approval decisions
    (as a request that went back and forth through review accumulates)."""
    extra = []
    for index in range(length - len(request.decisions)):
        extra.append(g.RequestDecision.lifecycle(
            g.LifecycleDecision.PENDING if index % 2 == 0 else g.LifecycleDecision.APPROVED,
            request.context, "Review round", timestamp=BASE_TIME))
    decisions = (*request.decisions, *extra)
    # Keep the history's own type (a tuple on older commits, a shared log on newer ones).
    history_type = type(request.decisions)
    return request.model_copy(update={
        "decisions": decisions if history_type is tuple else history_type(decisions)})


# -- seeded query stores (read only once built) ----------------------------------------------

_SEEDED: dict[tuple[str, int, int], Any] = {}


def _seeded(name: str, first: int, second: int, build: Callable[[], Any]) -> Any:
    key = (name, first, second)
    if key not in _SEEDED:
        _SEEDED[key] = build()
    return _SEEDED[key]


def _at(index: int) -> datetime:
    return BASE_TIME + timedelta(seconds=index)


def seeded_pending_store(g: Any, pending: int = 96, noise: int = 48) -> Any:
    """``pending`` PENDING requests alternating APPROVAL / EXTERNAL_CHECK, then ``noise``
    requests alternating APPROVED / EXECUTED. Built once per process; only read."""
    def build() -> Any:
        store = g.InMemoryRequestStore()
        lifecycle = g.LifecycleManager(store, clock=lambda: SWEEP_AT)
        reasons = (g.PendingReason.APPROVAL, g.PendingReason.EXTERNAL_CHECK)
        for i in range(pending):
            store.create(lifecycle_request(g, f"query-pending-{i:03d}", reason=reasons[i % 2],
                                           state_id=QUERY_STATE_ID, now=_at(i)))
        for i in range(noise):
            request = store.create(g.MutationRequest.approved(
                QUERY_STATE_ID, GOVERNANCE_STATE_TYPE, GOVERNANCE_MUTATION_TYPE,
                governance_intent(g), requester_context(g), request_id=f"query-noise-{i:03d}",
                now=_at(pending + i)))
            if i % 2:
                lifecycle.mark_executed(request.request_id, requester_context(g))
        return store
    return _seeded("pending", pending, noise, build)


def seeded_approval_store(g: Any, pending: int = 64, noise: int = 48) -> Any:
    """``pending`` requests pending approval (approver security-lead or platform-lead, plus role
    security-approver and group platform-team: three requirements, one quorum group), then
    ``noise`` APPROVED requests. Built once per process; only read."""
    def build() -> Any:
        store = g.InMemoryRequestStore()
        for i in range(pending):
            requirement = g.PolicyRequirement.approval(
                "security-lead" if i % 2 == 0 else "platform-lead", "Change review",
                ApproverRole="security-approver", ApproverGroup="platform-team")
            store.create(g.MutationRequest.pending_approval(
                QUERY_STATE_ID, GOVERNANCE_STATE_TYPE, GOVERNANCE_MUTATION_TYPE,
                governance_intent(g), requester_context(g), [requirement],
                request_id=f"query-approval-{i:03d}", now=_at(i)))
        for i in range(noise):
            store.create(g.MutationRequest.approved(
                QUERY_STATE_ID, GOVERNANCE_STATE_TYPE, GOVERNANCE_MUTATION_TYPE,
                governance_intent(g), requester_context(g), request_id=f"query-noise-{i:03d}",
                now=_at(pending + i)))
        return store
    return _seeded("approval", pending, noise, build)


OUTCOME_CODES = ("EXECUTED", "REJECTED", "CANCELED", "EXPIRED")


def seeded_decision_store(g: Any, outcomes: int = 72, noise: int = 32) -> Any:
    """``outcomes`` requests with SUBMITTED, PENDING and a terminal decision cycling EXECUTED /
    REJECTED / CANCELED / EXPIRED (status set to match), then ``noise`` PENDING requests whose
    only decision is SUBMITTED. Built once per process; only read."""
    def build() -> Any:
        store = g.InMemoryRequestStore()
        context = requester_context(g)
        for i in range(outcomes):
            request = lifecycle_request(g, f"query-outcome-{i:03d}", state_id=QUERY_STATE_ID,
                                        now=_at(i))
            code = OUTCOME_CODES[i % len(OUTCOME_CODES)]
            decision = g.RequestDecision.lifecycle(
                g.LifecycleDecision[code], context, f"Outcome {code}",
                timestamp=_at(i) + timedelta(minutes=1))
            lifecycle = request.lifecycle.model_copy(update={
                "status": g.RequestStatus[code], "pending_reason": None})
            store.create(request.with_decision(decision, lifecycle=lifecycle))
        for i in range(noise):
            request = lifecycle_request(g, f"query-submitted-{i:03d}", state_id=QUERY_STATE_ID,
                                        now=_at(outcomes + i))
            store.create(request.model_copy(update={"decisions": request.decisions[:1]}))
        return store
    return _seeded("decisions", outcomes, noise, build)


# -- the background store of the growth benchmarks -------------------------------------------

BACKGROUND_KINDS = ("APPROVED", "PENDING_APPROVAL", "PENDING_EXTERNAL_CHECK", "EXECUTED")
"""Request ``i`` of a background store is of kind ``BACKGROUND_KINDS[i % 4]``."""


def background_state_id(index: int) -> str:
    """Background request ``index`` targets a state of its own."""
    return f"{BACKGROUND_STATE_PREFIX}{index:06d}"


class BackgroundStore:
    """An in-memory store holding ``size`` background requests (a quarter each APPROVED,
    PENDING for APPROVAL with one requirement, PENDING for EXTERNAL_CHECK, EXECUTED; none has a
    deadline), built once per process and per size, plus the probe requests a growth benchmark
    puts in it before each call.

    Background requests are copies of four templates with their own id, state id and creation
    time (``model_copy`` with the garbage collector off: about 8 µs each, so 100,000 take about
    a second), and the collector is then told to leave them alone (``gc.freeze``), so a large
    store costs no collection time later. ``put`` stores a probe under its fixed id: ``create``
    the first time, then a compare-and-set over whatever the last call left (an executed,
    approved or expired snapshot), so the store keeps ``size`` background requests plus one
    request per probe id.
    """

    def __init__(self, g: Any, size: int) -> None:
        self.g, self.size = g, size
        self.store = g.InMemoryRequestStore()
        context, intent = requester_context(g), governance_intent(g)
        common = (GOVERNANCE_STATE_TYPE, GOVERNANCE_MUTATION_TYPE, intent, context)
        approved = g.MutationRequest.approved(
            BACKGROUND_STATE_PREFIX, *common, expected_state_version=EXPECTED_VERSION,
            request_id="background-template", now=BASE_TIME)
        executed = approved.model_copy(update={
            "decisions": (*approved.decisions, g.RequestDecision.lifecycle(
                g.LifecycleDecision.EXECUTED, context, "Executed", timestamp=BASE_TIME)),
            "lifecycle": approved.lifecycle.model_copy(
                update={"status": g.RequestStatus.EXECUTED}),
        })
        templates = (
            approved,
            g.MutationRequest.pending_approval(
                BACKGROUND_STATE_PREFIX, *common, [g.PolicyRequirement.approval(
                    "carol", "Background approval")],
                request_id="background-template", now=BASE_TIME),
            g.MutationRequest.pending(
                BACKGROUND_STATE_PREFIX, *common, g.PendingReason.EXTERNAL_CHECK,
                request_id="background-template", now=BASE_TIME),
            executed,
        )
        create = self.store.create
        enabled = gc.isenabled()
        gc.disable()  # collections during the build would double its time
        try:
            for i in range(size):
                template = templates[i % 4]
                at = BASE_TIME + timedelta(milliseconds=i)
                create(template.model_copy(update={
                    "request_id": f"background-{i:06d}",
                    "scope": template.scope.model_copy(
                        update={"state_id": background_state_id(i)}),
                    "lifecycle": template.lifecycle.model_copy(
                        update={"created_at": at, "updated_at": at}),
                }))
        finally:
            gc.freeze()
            if enabled:
                gc.enable()

    def put(self, request: Any) -> Any:
        """Store ``request`` fresh under its id (see the class docstring); return the stored
        snapshot."""
        current = self.store.get(request.request_id)
        if current is None:
            return self.store.create(request)
        stored = self.store.try_store(request, current.revision)
        if stored is None:  # pragma: no cover - nothing else writes to a benchmark's store
            raise RuntimeError(f"could not reset probe {request.request_id}")
        return stored


_BACKGROUND: dict[int, BackgroundStore] = {}


def background_store(g: Any, size: int) -> BackgroundStore:
    """The process's background store of ``size`` requests (built on first use)."""
    if size not in _BACKGROUND:
        _BACKGROUND[size] = BackgroundStore(g, size)
    return _BACKGROUND[size]

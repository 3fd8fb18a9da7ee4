"""Randomized interleavings of every writer on a few requests, from several threads.

The invariant: a mutation that was applied is recorded EXECUTED on its request (and one
applied at most once), every engine run ends in a recorded terminal outcome, and a request is
never left claimed once ``execute_approved`` returns or raises, whatever else runs at the same
time: executions whose mutation succeeds, fails, raises or raises a ``BaseException``, version
resolutions, lifecycle cancels, approvals and rejections, approval actions, and both expiry
sweeps.

Each round draws its operations from a seeded ``random.Random`` (so a failing round can be
replayed by its seed), starts its threads on a barrier, and runs with a tiny thread switch
interval so that the operations interleave inside each other. Which interleaving happens is up
to the scheduler; the assertions hold for every one, so the outcome is deterministic and nothing
depends on timing.
"""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from governance import (
    ApprovalWorkflowManager,
    EngineOptions,
    GovernanceError,
    GovernanceExecutionManager,
    InMemoryRequestStore,
    LifecycleManager,
    MutationContext,
    MutationEngine,
    MutationResult,
    PendingReason,
    PolicyRequirement,
    RequestStatus,
    ResolutionStrategy,
    ValidationResult,
    VersionResolutionManager,
)
from governance.testing import (
    BASE_TIME,
    IncrementMutation,
    VersionedState,
    approval_request,
    approved_request,
    approver,
    governance_context,
    pending_request,
)

ROUNDS = 300
THREADS = 4
OPERATIONS = 10
DEADLINE = BASE_TIME + timedelta(hours=1)
LATER = BASE_TIME + timedelta(days=1)


def held_claim(request: Any) -> Any:
    """The claim of an execution still running ``request`` (a terminal request keeps its claim
    as a record, but no longer holds it)."""
    claim = request.execution.claim
    return claim if claim is not None and not request.status.is_terminal else None


class Abort(BaseException):
    """What a mutation raises to stand for a KeyboardInterrupt or SystemExit."""


@dataclass
class Ledger:
    """What the mutations did, per request, and what the assertions found wrong."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    applied: dict[str, int] = field(default_factory=dict)
    ran: dict[str, int] = field(default_factory=dict)
    behaviours: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def count(self, table: dict[str, int], request_id: str) -> None:
        with self.lock:
            table[request_id] = table.get(request_id, 0) + 1

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)


class ProbeMutation(IncrementMutation):
    """An increment that succeeds, fails, raises or aborts, and reports the claim it ran under.

    ``apply`` reads the stored request: while it runs, its own execution holds the claim.
    """

    def __init__(self, world: World, request_id: str, behaviour: str) -> None:
        super().__init__(label=request_id)
        self.world = world
        self.request_id = request_id
        self.behaviour = behaviour
        self.claim_id: str | None = None

    def apply(self, state: VersionedState) -> MutationResult[VersionedState]:
        stored = self.world.store.get(self.request_id)
        claim = held_claim(stored) if stored is not None else None
        if claim is None:
            self.world.ledger.problem(f"{self.request_id}: apply ran without a held claim")
        else:
            self.claim_id = claim.claim_id
        self.world.ledger.count(self.world.ledger.ran, self.request_id)
        self.world.ledger.count(self.world.ledger.behaviours, self.behaviour)
        if self.behaviour == "raise":
            raise RuntimeError("backend down")
        if self.behaviour == "abort":
            raise Abort()
        if self.behaviour == "fail":
            return MutationResult.failure(
                ValidationResult.with_error("value", "the backend refused the change"))
        self.world.ledger.count(self.world.ledger.applied, self.request_id)
        return self.success(replace(state, value=state.value + 1, version="11"))


class World:
    """One round: a store with three requests and every manager over it."""

    REQUEST_IDS = ("req-approved", "req-approval", "req-review")

    def __init__(self) -> None:
        self.store = InMemoryRequestStore()
        self.ledger = Ledger()
        self.lifecycle = LifecycleManager(self.store)
        self.workflow = ApprovalWorkflowManager(self.store)
        self.resolution = VersionResolutionManager(self.store)
        self.executor = GovernanceExecutionManager(
            self.store, self.resolution, MutationEngine(EngineOptions.strict()))
        self.store.create(approved_request(request_id="req-approved"))
        self.store.create(approval_request(
            PolicyRequirement(type="Approval", description="two of three",
                              data={"Approvers": ["ann", "ben"], "ApproverRole": "sre",
                                    "RequiredApprovals": 2, "ExpiresAt": DEADLINE}),
            request_id="req-approval", expires_at=DEADLINE))
        self.store.create(pending_request(PendingReason.MANUAL_REVIEW, request_id="req-review",
                                          expires_at=DEADLINE))

    # -- the operations ------------------------------------------------------------------------

    def execute(self, rng: random.Random, request_id: str) -> None:
        mutation = ProbeMutation(self, request_id,
                                 rng.choice(["succeed", "succeed", "fail", "raise", "abort"]))
        strategy = rng.choice(list(ResolutionStrategy))
        state = VersionedState(1, rng.choice(["10", "10", "11"]))
        try:
            self.executor.execute_approved(request_id, mutation, state,
                                           governance_context=governance_context(),
                                           strategy=strategy)
        except (GovernanceError, RuntimeError, Abort):
            pass
        finally:
            # Whatever the call did, the claim it ran under is not held any more.
            stored = self.store.get(request_id)
            claim = held_claim(stored) if stored is not None else None
            if mutation.claim_id is not None and claim is not None \
                    and claim.claim_id == mutation.claim_id:
                self.ledger.problem(f"{request_id}: left claimed by {mutation.claim_id}")

    def resolve(self, rng: random.Random, request_id: str) -> None:
        self.resolution.resolve_and_store(request_id, rng.choice(["10", "11", "12"]),
                                          governance_context(),
                                          rng.choice(list(ResolutionStrategy)))

    def cancel(self, rng: random.Random, request_id: str) -> None:
        self.lifecycle.cancel(request_id, MutationContext.user("ops"), "no longer needed")

    def approve(self, rng: random.Random, request_id: str) -> None:
        if rng.random() < 0.5:
            self.lifecycle.approve(request_id, MutationContext.user("lead"))
            return
        stored = self.store.get(request_id)
        if stored is None or not stored.approval_requirements:
            return
        requirement = rng.choice(stored.approval_requirements)
        actor = rng.choice([approver("ann"), approver("ben"), approver("omar", roles=["sre"]),
                            approver("alice", roles=["sre"])])
        self.workflow.approve_requirement(request_id, requirement.approval_id, actor)

    def reject(self, rng: random.Random, request_id: str) -> None:
        stored = self.store.get(request_id)
        if rng.random() < 0.5 or stored is None or not stored.approval_requirements:
            self.lifecycle.reject(request_id, MutationContext.user("lead"), "not now")
            return
        self.workflow.reject_requirement(
            request_id, rng.choice(stored.approval_requirements).approval_id, approver("ann"))

    def sweep(self, rng: random.Random, request_id: str) -> None:
        if rng.random() < 0.5:
            self.lifecycle.expire_due_requests(LATER, MutationContext.system("sweep"))
        else:
            self.workflow.expire_pending_approvals(LATER, MutationContext.system("sweep"))

    def operations(self) -> list[Callable[[random.Random, str], None]]:
        return [self.execute, self.execute, self.execute, self.resolve, self.cancel,
                self.approve, self.approve, self.reject, self.sweep]

    def run(self, seed: int, thread: int) -> None:
        rng = random.Random(seed * 1000 + thread)
        operations = self.operations()
        for _ in range(OPERATIONS):
            operation = rng.choice(operations)
            request_id = rng.choice(self.REQUEST_IDS)
            try:
                operation(rng, request_id)
            except GovernanceError:
                pass  # a refusal; refusals write nothing, and the end state is checked below
            except BaseException as error:
                self.ledger.problem(f"seed {seed}: {operation.__name__} on {request_id} "
                                    f"raised {type(error).__name__}: {error}")

    # -- the invariant -------------------------------------------------------------------------

    def check(self, seed: int) -> list[str]:
        problems = [f"seed {seed}: {p}" for p in self.ledger.problems]
        for request_id in self.REQUEST_IDS:
            stored = self.store.get(request_id)
            assert stored is not None
            applied = self.ledger.applied.get(request_id, 0)
            ran = self.ledger.ran.get(request_id, 0)
            where = (f"seed {seed}: {request_id} ({stored.status.name}, ran {ran}, "
                     f"applied {applied})")
            if ran > 1:
                problems.append(f"{where}: the engine ran it more than once")
            if applied and stored.status != RequestStatus.EXECUTED:
                problems.append(f"{where}: applied but not recorded EXECUTED")
            if stored.status == RequestStatus.EXECUTED and not applied:
                problems.append(f"{where}: recorded EXECUTED but never applied")
            if ran and not stored.status.is_terminal:
                problems.append(f"{where}: the engine ran it but no outcome was recorded")
            if held_claim(stored) is not None:
                problems.append(f"{where}: still claimed after every call returned")
            # every write appends at least one decision, and a history is only appended to
            if stored.revision > len(stored.decisions) - _initial_decisions(request_id):
                problems.append(f"{where}: revision {stored.revision} for only "
                                f"{len(stored.decisions)} decisions")
        return problems


def _initial_decisions(request_id: str) -> int:
    return {"req-approved": 2, "req-approval": 3, "req-review": 2}[request_id]


@contextmanager
def _fine_grained_switching() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def _round(seed: int, behaviours: dict[str, int]) -> list[str]:
    world = World()
    barrier = threading.Barrier(THREADS)

    def worker(index: int) -> None:
        barrier.wait()
        world.run(seed, index)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        if thread.is_alive():
            return [f"seed {seed}: a thread did not finish (deadlock?)"]
    for behaviour, count in world.ledger.behaviours.items():
        behaviours[behaviour] = behaviours.get(behaviour, 0) + count
    return world.check(seed)


def test_every_applied_mutation_is_recorded_and_nothing_stays_claimed() -> None:
    problems: list[str] = []
    behaviours: dict[str, int] = {}
    with _fine_grained_switching():
        for seed in range(ROUNDS):
            problems.extend(_round(seed, behaviours))
    assert problems == []
    # the rounds did reach the engine with every kind of mutation
    assert set(behaviours) == {"succeed", "fail", "raise", "abort"}, behaviours

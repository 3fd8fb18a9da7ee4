"""Random sequences of governance actions on a small pool of requests keep the invariants.

A hypothesis state machine submits, moves, resolves and executes requests at random (random
current versions, strategies and mutation outcomes). The model predicts for every call whether
it is refused, and how many writes it makes when it is not; the invariants then check every
stored request after every step:

- decisions only append: the previous tuple is a prefix of the new one;
- the revision is exactly the number of writes the model counted;
- a terminal request never changes again;
- a request's mutation is applied at most once, and an EXECUTED one exactly once;
- every decision has a category, a code and an actor context;
- a request is PENDING exactly when it has a pending reason.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from governance import (
    ALLOWED_TRANSITIONS,
    ApprovalRequirementStatus,
    DecisionCategory,
    EngineOptions,
    GovernanceError,
    GovernanceExecutionManager,
    InMemoryRequestStore,
    InvalidArgumentError,
    InvalidOperationError,
    InvalidTransitionError,
    LifecycleManager,
    MutationContext,
    MutationEngine,
    MutationError,
    MutationRequest,
    PendingReason,
    PolicyRequirement,
    RequestAlreadyExistsError,
    RequestNotExecutableError,
    RequestNotFoundError,
    RequestStatus,
    ResolutionStrategy,
    VersionResolutionManager,
)
from governance.testing import (
    BASE_TIME,
    STATE_ID,
    ApplyCounter,
    FailingMutation,
    IncrementMutation,
    VersionedState,
    increment_intent,
    requester_context,
)

INITIAL = ["req-a", "req-b", "req-c"]
"""Requests submitted when the machine starts."""
LATE = ["req-d", "req-e"]
"""Requests that exist only once a ``submit`` step created them."""
VERSIONS = ["1", "2", "3"]
SWEEP_TIME = BASE_TIME + timedelta(days=1)
DEADLINES = [None, BASE_TIME - timedelta(hours=1), SWEEP_TIME, BASE_TIME + timedelta(days=2)]

# Rules name the initial requests more often than the late ones, which may not exist yet.
request_ids = st.one_of(st.sampled_from(INITIAL), st.sampled_from([*INITIAL, *LATE]))
versions = st.sampled_from(VERSIONS)
expected_versions = st.sampled_from([None, *VERSIONS])
strategies = st.sampled_from(list(ResolutionStrategy))
pending_reasons = st.sampled_from(list(PendingReason))
deadlines = st.sampled_from(DEADLINES)
kinds = st.sampled_from(["approved", "pending", "approval"])


class GovernanceMachine(RuleBasedStateMachine):
    """Drives the lifecycle, resolution and execution managers over one shared store."""

    def __init__(self) -> None:
        super().__init__()
        self.store = InMemoryRequestStore()
        self.lifecycle = LifecycleManager(self.store)
        self.resolution = VersionResolutionManager(self.store)
        self.executor = GovernanceExecutionManager(
            self.store, self.resolution, MutationEngine(EngineOptions.strict()))
        self.counter = ApplyCounter()
        self.actor = MutationContext.user("machine", reason="stateful step")
        self.revisions: dict[str, int] = {}
        self.seen: dict[str, MutationRequest] = {}

    # -- the model ----------------------------------------------------------------------------

    def _attempt(self, request_id: str, action: Callable[[], Any],
                 refusal: type[GovernanceError] | None, writes: int,
                 raised: type[BaseException] | None = None) -> Any:
        """Run ``action``; expect ``refusal`` (nothing written) or success with ``writes``.

        ``raised`` is an error expected *after* ``writes`` writes (an engine that raised).
        """
        before = self.store.get(request_id)
        try:
            outcome = action()
        except GovernanceError as error:
            if raised is not None and isinstance(error, raised):
                self.revisions[request_id] += writes
                return error
            assert refusal is not None and isinstance(error, refusal), (
                f"unexpected {type(error).__name__}: {error}")
            assert self.store.get(request_id) is before
            return error
        assert refusal is None, f"expected {refusal.__name__}, the call succeeded"
        assert raised is None, f"expected {raised.__name__}, the call succeeded"
        self.revisions[request_id] += writes
        return outcome

    def _transition_refusal(self, request_id: str,
                            target: RequestStatus) -> type[GovernanceError] | None:
        request = self.store.get(request_id)
        if request is None:
            return RequestNotFoundError
        if target not in ALLOWED_TRANSITIONS[request.status]:
            return InvalidTransitionError
        if request.execution.claim is not None:
            return InvalidOperationError
        if target == RequestStatus.APPROVED and any(
                r.status not in {ApprovalRequirementStatus.APPROVED,
                                 ApprovalRequirementStatus.SATISFIED}
                for r in request.approval_requirements):
            # Approval requirements are decided through the approval workflow only.
            return InvalidOperationError
        return None

    def _transition(self, request_id: str, target: RequestStatus,
                    action: Callable[[], Any]) -> None:
        self._attempt(request_id, action, self._transition_refusal(request_id, target), 1)

    # -- rules --------------------------------------------------------------------------------

    def _build(self, request_id: str, kind: str, expected: str | None,
               reason: PendingReason, deadline: Any) -> MutationRequest:
        common: dict[str, Any] = {"expected_state_version": expected, "request_id": request_id}
        args = (STATE_ID, VersionedState, IncrementMutation, increment_intent(),
                requester_context())
        if kind == "approved":
            return MutationRequest.approved(*args, **common)
        if kind == "pending":
            return MutationRequest.pending(*args, reason, expires_at=deadline, **common)
        return MutationRequest.pending_approval(
            *args, [PolicyRequirement.approval("bob", "review")], expires_at=deadline, **common)

    @initialize(specs=st.lists(st.tuples(kinds, expected_versions, pending_reasons, deadlines),
                               min_size=len(INITIAL), max_size=len(INITIAL)))
    def submit_initial_requests(self, specs: list[tuple[Any, ...]]) -> None:
        for request_id, spec in zip(INITIAL, specs, strict=True):
            self.submit(request_id, *spec)

    @rule(request_id=st.sampled_from(LATE), kind=kinds, expected=expected_versions,
          reason=pending_reasons, deadline=deadlines)
    def submit(self, request_id: str, kind: str, expected: str | None,
               reason: PendingReason, deadline: Any) -> None:
        request = self._build(request_id, kind, expected, reason, deadline)
        exists = self.store.get(request_id) is not None
        self.revisions.setdefault(request_id, 0)
        self._attempt(request_id, lambda: self.lifecycle.submit(request),
                      RequestAlreadyExistsError if exists else None, 0)

    @rule(request_id=request_ids, reason=pending_reasons, deadline=deadlines)
    def move_to_pending(self, request_id: str, reason: PendingReason, deadline: Any) -> None:
        self._transition(request_id, RequestStatus.PENDING, lambda: self.lifecycle.move_to_pending(
            request_id, reason, self.actor, expires_at=deadline))

    @rule(request_id=request_ids)
    def approve(self, request_id: str) -> None:
        self._transition(request_id, RequestStatus.APPROVED,
                         lambda: self.lifecycle.approve(request_id, self.actor))

    @rule(request_id=request_ids, status=st.sampled_from(
        [RequestStatus.REJECTED, RequestStatus.CANCELED, RequestStatus.EXPIRED,
         RequestStatus.SUPERSEDED]), by=request_ids)
    def end(self, request_id: str, status: RequestStatus, by: str) -> None:
        """Reject, cancel, expire or supersede: one rule, so that requests are not ended
        four times as often as they are approved or executed."""
        actions: dict[RequestStatus, Callable[[], Any]] = {
            RequestStatus.REJECTED: lambda: self.lifecycle.reject(request_id, self.actor),
            RequestStatus.CANCELED: lambda: self.lifecycle.cancel(request_id, self.actor),
            RequestStatus.EXPIRED: lambda: self.lifecycle.expire(request_id, self.actor),
            RequestStatus.SUPERSEDED: lambda: self.lifecycle.supersede(
                request_id, by, self.actor),
        }
        if status == RequestStatus.SUPERSEDED and by == request_id:
            # Refused as an argument error before the request is even loaded.
            self._attempt(request_id, actions[status], InvalidArgumentError, 0)
            return
        self._transition(request_id, status, actions[status])

    @rule()
    def expire_due_requests(self) -> None:
        due = {r.request_id for r in self.store.get_pending()
               if r.expires_at is not None and r.expires_at <= SWEEP_TIME}

        expired = self.lifecycle.expire_due_requests(SWEEP_TIME, self.actor)

        assert {r.request_id for r in expired} == due
        for request_id in due:
            self.revisions[request_id] += 1

    @rule(request_id=request_ids, current=versions, strategy=strategies)
    def resolve_and_store(self, request_id: str, current: str,
                          strategy: ResolutionStrategy) -> None:
        request = self.store.get(request_id)
        refusal: type[GovernanceError] | None = None
        if request is None:
            refusal = RequestNotFoundError
        elif request.status.is_terminal:
            refusal = InvalidOperationError
        self._attempt(request_id, lambda: self.resolution.resolve_and_store(
            request_id, current, self.actor, strategy), refusal, 1)

    @rule(request_id=request_ids, current=versions, strategy=strategies,
          behaviour=st.sampled_from(["succeeds", "invalid", "raises"]))
    def execute_approved(self, request_id: str, current: str, strategy: ResolutionStrategy,
                         behaviour: str) -> None:
        request = self.store.get(request_id)
        mutation = (FailingMutation(self.counter, request_id) if behaviour == "raises"
                    else IncrementMutation(self.counter, request_id))
        state = VersionedState(-1 if behaviour == "invalid" else 0, current)

        def run() -> Any:
            return self.executor.execute_approved(
                request_id, mutation, state, governance_context=self.actor, strategy=strategy)

        if request is None:
            self._attempt(request_id, run, RequestNotFoundError, 0)
            return
        if request.status != RequestStatus.APPROVED or request.execution.claim is not None:
            self._attempt(request_id, run, RequestNotExecutableError, 0)
            return
        expected = request.expected_state_version
        stale = bool(expected) and expected != current
        if stale and strategy != ResolutionStrategy.REVALIDATE_ON_LATEST_STATE:
            result = self._attempt(request_id, run, None, 1)
            assert not result.was_executed
            assert result.mutation_result is None
            return
        if behaviour == "raises":
            self._attempt(request_id, run, None, 2, raised=MutationError)
            assert self.store.get(request_id).status == RequestStatus.REJECTED
            return
        result = self._attempt(request_id, run, None, 2)
        assert result.was_executed == (behaviour == "succeeds")
        assert result.request.status == (RequestStatus.EXECUTED if behaviour == "succeeds"
                                         else RequestStatus.REJECTED)

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def revisions_count_the_writes_exactly(self) -> None:
        for request in self.store.all():
            assert request.revision == self.revisions[request.request_id], request.request_id

    @invariant()
    def decisions_only_append_and_terminal_requests_never_change(self) -> None:
        for request in self.store.all():
            previous = self.seen.get(request.request_id)
            if previous is not None:
                assert request.decisions[:len(previous.decisions)] == previous.decisions
                if previous.status.is_terminal:
                    assert request == previous
            self.seen[request.request_id] = request

    @invariant()
    def a_request_executes_at_most_once(self) -> None:
        for request in self.store.all():
            applies = self.counter[request.request_id]
            assert applies <= 1
            if request.status == RequestStatus.EXECUTED:
                assert applies == 1

    @invariant()
    def every_decision_has_a_category_a_code_and_an_actor(self) -> None:
        for request in self.store.all():
            for decision in request.decisions:
                assert isinstance(decision.category, DecisionCategory)
                assert isinstance(decision.code, str) and decision.code
                assert isinstance(decision.context, MutationContext)

    @invariant()
    def a_request_is_pending_exactly_when_it_has_a_pending_reason(self) -> None:
        for request in self.store.all():
            assert (request.status == RequestStatus.PENDING) == (
                request.pending_reason is not None)


GovernanceMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None)
TestGovernanceStateMachine = GovernanceMachine.TestCase

"""Version resolution: the pure resolver, the persisting manager, and the execution claim."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from governance import (
    DecisionCategory,
    GovernanceError,
    InMemoryRequestStore,
    InvalidArgumentError,
    InvalidOperationError,
    MissingArgumentError,
    MutationContext,
    MutationRequest,
    PendingReason,
    RequestConcurrencyError,
    RequestDecision,
    RequestNotExecutableError,
    RequestNotFoundError,
    RequestStatus,
    ResolutionOutcome,
    ResolutionStrategy,
    VersionResolution,
    VersionResolutionManager,
    VersionResolver,
)
from governance.testing import (
    BASE_TIME,
    FixedClock,
    RacingStore,
    approved_request,
    pending_request,
    request_in_status,
)

RESOLVER_CONTEXT = MutationContext.system("version resolution", correlation_id="res-1")
LATER = BASE_TIME + timedelta(minutes=30)


@pytest.fixture
def resolver() -> VersionResolver:
    return VersionResolver(clock=FixedClock(LATER))


def _metadata(expected: str, current: str) -> dict[str, str]:
    return {"ExpectedStateVersion": expected, "CurrentStateVersion": current}


# -- the pure resolver ------------------------------------------------------------------------

@pytest.mark.parametrize("strategy", list(ResolutionStrategy), ids=lambda s: s.name)
def test_a_matching_version_is_validated_and_changes_nothing_else(
        resolver: VersionResolver, strategy: ResolutionStrategy) -> None:
    request = approved_request(expected_state_version="10", now=BASE_TIME)

    resolution = resolver.resolve(request, "10", RESOLVER_CONTEXT, strategy)

    assert resolution.outcome == ResolutionOutcome.EXECUTE_APPROVED_VERSION
    assert resolution.outcome.executes
    assert resolution.is_stale is False
    assert resolution.expected_state_version == "10"
    assert resolution.current_state_version == "10"
    resolved = resolution.request
    assert resolved.decisions[:-1] == request.decisions
    decision = resolved.decisions[-1]
    assert (decision.category, decision.code) == (DecisionCategory.VERSION_RESOLUTION,
                                                  "VALIDATED")
    assert decision.context == RESOLVER_CONTEXT
    assert decision.timestamp == LATER
    assert decision.metadata == _metadata("10", "10")
    assert "10" in decision.reason
    assert resolved.lifecycle == request.lifecycle
    assert resolved.versioning == request.versioning


@pytest.mark.parametrize("expected", [None, "", "   "])
def test_a_request_without_an_expected_version_is_validated_against_any_version(
        resolver: VersionResolver, expected: str | None) -> None:
    request = approved_request(expected_state_version=expected)

    resolution = resolver.resolve(request, "77", RESOLVER_CONTEXT,
                                  ResolutionStrategy.REJECT_STALE)

    assert resolution.outcome == ResolutionOutcome.EXECUTE_APPROVED_VERSION
    assert resolution.is_stale is False
    assert resolution.request.decisions[-1].code == "VALIDATED"
    assert resolution.request.decisions[-1].metadata == _metadata(expected or "", "77")
    assert resolution.request.status == RequestStatus.APPROVED


_RESOLUTION_TEXTS = [
    # (expected, current, strategy, code, reason)
    ("10", "10", ResolutionStrategy.REJECT_STALE, "VALIDATED",
     "State version '10' is the approved one"),
    (None, "77", ResolutionStrategy.REJECT_STALE, "VALIDATED",
     "No expected state version was given; the request may proceed"),
    (" ", "77", ResolutionStrategy.REJECT_STALE, "VALIDATED",
     "No expected state version was given; the request may proceed"),
    ("10", "15", ResolutionStrategy.REJECT_STALE, "REJECTED_AS_STALE",
     "Approved against state version '10', but the state is now at '15'"),
    ("10", "15", ResolutionStrategy.REQUIRE_RENEWED_APPROVAL, "RENEWED_APPROVAL_REQUIRED",
     "Approved against state version '10', but the state is now at '15'"),
    ("10", "15", ResolutionStrategy.REVALIDATE_ON_LATEST_STATE, "REVALIDATION_REQUIRED",
     "Approved against state version '10', but the state is now at '15'"),
]


@pytest.mark.parametrize(("expected", "current", "strategy", "code", "reason"),
                         _RESOLUTION_TEXTS)
def test_a_resolution_decision_reads_its_full_reason_and_metadata(
        resolver: VersionResolver, expected: str | None, current: str,
        strategy: ResolutionStrategy, code: str, reason: str) -> None:
    # The resolver keeps the two versions and writes the reason and metadata when the
    # decision is first read: what is read (and serialized) is the whole record.
    resolved = resolver.resolve(approved_request(expected_state_version=expected), current,
                                RESOLVER_CONTEXT, strategy).request

    decision = resolved.decisions[-1]

    assert decision.code == code
    assert decision.reason == reason
    assert decision.metadata == _metadata(expected or "", current)
    assert decision == RequestDecision(type=decision.type, context=RESOLVER_CONTEXT,
                                       reason=reason, timestamp=LATER,
                                       metadata=_metadata(expected or "", current))
    assert resolved.decisions[-1] is decision  # built once, then kept
    copy = MutationRequest.model_validate_json(
        resolver.resolve(approved_request(expected_state_version=expected), current,
                         RESOLVER_CONTEXT, strategy).request.model_dump_json())
    assert copy.decisions[-1] == decision


@pytest.mark.parametrize(("expected", "current"), [("10", "11"), ("10", "10.0"), ("v1", "V1"),
                                                   ("10", " 10")])
def test_versions_are_compared_exactly(resolver: VersionResolver, expected: str,
                                       current: str) -> None:
    resolution = resolver.resolve(approved_request(expected_state_version=expected), current,
                                  RESOLVER_CONTEXT, ResolutionStrategy.REJECT_STALE)

    assert resolution.is_stale is True


def test_a_stale_request_under_reject_stale_is_rejected(resolver: VersionResolver) -> None:
    request = approved_request(expected_state_version="10", now=BASE_TIME)

    resolution = resolver.resolve(request, "15", RESOLVER_CONTEXT,
                                  ResolutionStrategy.REJECT_STALE)

    assert resolution.outcome == ResolutionOutcome.REJECTED_AS_STALE
    assert not resolution.outcome.executes
    assert resolution.is_stale is True
    resolved = resolution.request
    assert resolved.status == RequestStatus.REJECTED
    assert resolved.pending_reason is None
    assert resolved.updated_at == LATER
    assert resolved.expected_state_version == "10"
    decision = resolved.decisions[-1]
    assert (decision.category, decision.code) == (DecisionCategory.VERSION_RESOLUTION,
                                                  "REJECTED_AS_STALE")
    assert decision.metadata == _metadata("10", "15")
    assert "10" in decision.reason and "15" in decision.reason


def test_a_stale_request_under_renewed_approval_waits_for_approval_on_the_current_version(
        resolver: VersionResolver) -> None:
    request = approved_request(expected_state_version="10")

    resolution = resolver.resolve(request, "15", RESOLVER_CONTEXT,
                                  ResolutionStrategy.REQUIRE_RENEWED_APPROVAL)

    assert resolution.outcome == ResolutionOutcome.REQUIRES_RENEWED_APPROVAL
    assert not resolution.outcome.executes
    assert resolution.expected_state_version == "10"
    resolved = resolution.request
    assert resolved.status == RequestStatus.PENDING
    assert resolved.pending_reason == PendingReason.APPROVAL
    assert resolved.expected_state_version == "15"
    assert resolved.updated_at == LATER
    assert resolved.decisions[-1].code == "RENEWED_APPROVAL_REQUIRED"
    assert resolved.decisions[-1].metadata == _metadata("10", "15")


def test_a_stale_request_under_revalidation_waits_for_revalidation_on_the_current_version(
        resolver: VersionResolver) -> None:
    request = approved_request(expected_state_version="10")

    resolution = resolver.resolve(request, "15", RESOLVER_CONTEXT,
                                  ResolutionStrategy.REVALIDATE_ON_LATEST_STATE)

    assert resolution.outcome == ResolutionOutcome.REVALIDATE_ON_LATEST_STATE
    assert resolution.outcome.executes
    resolved = resolution.request
    assert resolved.status == RequestStatus.PENDING
    assert resolved.pending_reason == PendingReason.REVALIDATION
    assert resolved.expected_state_version == "15"
    assert resolved.decisions[-1].code == "REVALIDATION_REQUIRED"


def test_the_resolver_persists_nothing(resolver: VersionResolver,
                                       store: InMemoryRequestStore) -> None:
    stored = store.create(approved_request(request_id="req-1"))

    resolver.resolve(stored, "15", RESOLVER_CONTEXT, ResolutionStrategy.REJECT_STALE)

    assert store.get("req-1") is stored


def test_an_unknown_strategy_for_a_stale_request_is_refused_naming_the_request(
        resolver: VersionResolver) -> None:
    request = approved_request(request_id="req-odd")

    with pytest.raises(InvalidArgumentError) as raised:
        resolver.resolve(request, "15", RESOLVER_CONTEXT, 99)  # type: ignore[arg-type]

    assert isinstance(raised.value, ValueError)
    assert "req-odd" in str(raised.value)
    with pytest.raises(InvalidArgumentError, match=r"req-odd.*unknown resolution strategy"):
        resolver.resolve(request, "15", RESOLVER_CONTEXT, ["REJECT_STALE"])  # type: ignore[arg-type]


def test_an_unknown_strategy_is_refused_even_when_the_version_matches(
        resolver: VersionResolver) -> None:
    with pytest.raises(InvalidArgumentError, match="req-1"):
        resolver.resolve(approved_request(request_id="req-1"), "10", RESOLVER_CONTEXT,
                         99)  # type: ignore[arg-type]


@pytest.mark.parametrize("blank", ["", "  ", None])
def test_the_resolver_refuses_a_blank_current_version(resolver: VersionResolver,
                                                      blank: str | None) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        resolver.resolve(approved_request(request_id="req-1"), blank,  # type: ignore[arg-type]
                         RESOLVER_CONTEXT, ResolutionStrategy.REJECT_STALE)

    assert "req-1" in str(raised.value)


def test_the_resolver_refuses_missing_request_or_context(resolver: VersionResolver) -> None:
    with pytest.raises(MissingArgumentError):
        resolver.resolve(None, "1", RESOLVER_CONTEXT,  # type: ignore[arg-type]
                         ResolutionStrategy.REJECT_STALE)
    with pytest.raises(MissingArgumentError) as raised:
        resolver.resolve(approved_request(request_id="req-1"), "1", None,  # type: ignore[arg-type]
                         ResolutionStrategy.REJECT_STALE)
    assert "req-1" in str(raised.value)


def test_a_pending_request_can_be_resolved(resolver: VersionResolver) -> None:
    request = pending_request(PendingReason.QUOTA, expected_state_version="3")

    resolution = resolver.resolve(request, "3", RESOLVER_CONTEXT,
                                  ResolutionStrategy.REJECT_STALE)

    assert resolution.outcome == ResolutionOutcome.EXECUTE_APPROVED_VERSION
    assert resolution.request.status == RequestStatus.PENDING


@pytest.mark.parametrize("status", [s for s in RequestStatus if s.is_terminal],
                         ids=lambda s: s.name)
@pytest.mark.parametrize("strategy", list(ResolutionStrategy), ids=lambda s: s.name)
def test_a_request_in_a_terminal_status_is_not_resolved(
        resolver: VersionResolver, status: RequestStatus, strategy: ResolutionStrategy) -> None:
    request = request_in_status(status, request_id="req-done")

    with pytest.raises(InvalidOperationError) as raised:
        resolver.resolve(request, "15", RESOLVER_CONTEXT, strategy)

    assert isinstance(raised.value, GovernanceError)
    assert "req-done" in str(raised.value)
    assert status.name in str(raised.value)


# -- the persisting manager -------------------------------------------------------------------

@pytest.mark.parametrize(("current", "strategy", "outcome", "status"), [
    ("10", ResolutionStrategy.REJECT_STALE, ResolutionOutcome.EXECUTE_APPROVED_VERSION,
     RequestStatus.APPROVED),
    ("15", ResolutionStrategy.REJECT_STALE, ResolutionOutcome.REJECTED_AS_STALE,
     RequestStatus.REJECTED),
    ("15", ResolutionStrategy.REQUIRE_RENEWED_APPROVAL,
     ResolutionOutcome.REQUIRES_RENEWED_APPROVAL, RequestStatus.PENDING),
    ("15", ResolutionStrategy.REVALIDATE_ON_LATEST_STATE,
     ResolutionOutcome.REVALIDATE_ON_LATEST_STATE, RequestStatus.PENDING),
], ids=["validated", "rejected-as-stale", "renewed-approval", "revalidation"])
def test_resolve_and_store_persists_every_outcome_at_the_next_revision(
        store: InMemoryRequestStore, resolution: VersionResolutionManager, current: str,
        strategy: ResolutionStrategy, outcome: ResolutionOutcome,
        status: RequestStatus) -> None:
    before = store.create(approved_request(request_id="req-1"))

    result = resolution.resolve_and_store("req-1", current, RESOLVER_CONTEXT, strategy)

    assert result.outcome == outcome
    assert result.request.status == status
    assert result.request.revision == before.revision + 1
    assert store.get("req-1") == result.request
    assert result.request.decisions[:-1] == before.decisions
    assert result.request.decisions[-1].category == DecisionCategory.VERSION_RESOLUTION
    assert result.request.execution.claim is None


def test_resolve_and_store_bumps_the_revision_on_every_call(
        store: InMemoryRequestStore, resolution: VersionResolutionManager) -> None:
    store.create(approved_request(request_id="req-1"))

    for expected_revision in (1, 2, 3):
        result = resolution.resolve_and_store("req-1", "10", RESOLVER_CONTEXT,
                                              ResolutionStrategy.REJECT_STALE)
        assert result.request.revision == expected_revision

    assert [d.code for d in store.get("req-1").decisions] == [
        "SUBMITTED", "APPROVED", "VALIDATED", "VALIDATED", "VALIDATED"]


def test_resolve_and_store_of_an_unknown_request_raises_not_found(
        resolution: VersionResolutionManager) -> None:
    with pytest.raises(RequestNotFoundError) as raised:
        resolution.resolve_and_store("req-ghost", "1", RESOLVER_CONTEXT,
                                     ResolutionStrategy.REJECT_STALE)

    assert isinstance(raised.value, LookupError)
    assert "req-ghost" in str(raised.value)


@pytest.mark.parametrize("blank", ["", "  ", None])
def test_resolve_and_store_refuses_a_blank_request_id_or_version(
        store: InMemoryRequestStore, resolution: VersionResolutionManager,
        blank: str | None) -> None:
    before = store.create(approved_request(request_id="req-1"))

    with pytest.raises(InvalidArgumentError):
        resolution.resolve_and_store(blank, "1", RESOLVER_CONTEXT,  # type: ignore[arg-type]
                                     ResolutionStrategy.REJECT_STALE)
    with pytest.raises(InvalidArgumentError) as raised:
        resolution.resolve_and_store("req-1", blank, RESOLVER_CONTEXT,  # type: ignore[arg-type]
                                     ResolutionStrategy.REJECT_STALE)

    assert "req-1" in str(raised.value)
    assert store.get("req-1") is before


def test_resolve_and_store_refuses_a_terminal_request_without_a_write(
        store: InMemoryRequestStore, resolution: VersionResolutionManager) -> None:
    before = store.create(request_in_status(RequestStatus.EXECUTED, request_id="req-done"))

    with pytest.raises(InvalidOperationError) as raised:
        resolution.resolve_and_store("req-done", "15", RESOLVER_CONTEXT,
                                     ResolutionStrategy.REQUIRE_RENEWED_APPROVAL)

    assert "req-done" in str(raised.value)
    assert store.get("req-done") is before


def test_resolve_and_store_that_loses_the_race_raises_concurrency_and_writes_nothing() -> None:
    store = RacingStore()
    manager = VersionResolutionManager(store)
    store.create(approved_request(request_id="req-1"))
    store.interfere_once("req-1")

    with pytest.raises(RequestConcurrencyError) as raised:
        manager.resolve_and_store("req-1", "15", RESOLVER_CONTEXT,
                                  ResolutionStrategy.REJECT_STALE)

    assert raised.value.expected_revision == 0
    assert "req-1" in str(raised.value)
    winner = store.get("req-1")
    assert winner.status == RequestStatus.APPROVED
    assert winner.revision == 1
    assert len(winner.decisions) == 2


def test_the_manager_uses_a_given_resolver_and_needs_a_store(
        store: InMemoryRequestStore) -> None:
    resolver = VersionResolver()

    assert VersionResolutionManager(store, resolver).resolver is resolver
    assert VersionResolutionManager(store).store is store
    with pytest.raises(MissingArgumentError):
        VersionResolutionManager(None)  # type: ignore[arg-type]


# -- resolution for execution (the claim) -----------------------------------------------------

def test_resolve_for_execution_claims_a_validated_request_in_the_same_write(
        store: InMemoryRequestStore) -> None:
    manager = VersionResolutionManager(store, clock=FixedClock(LATER))
    store.create(approved_request(request_id="req-1"))
    runner = MutationContext.service("runner", "execute")

    result = manager.resolve_for_execution("req-1", "10", runner,
                                           ResolutionStrategy.REJECT_STALE)

    claim = result.request.execution.claim
    assert claim is not None
    assert claim.actor_id == "runner"
    assert claim.claimed_at == LATER
    assert claim.claim_id
    assert result.request.revision == 1
    assert result.request.decisions[-1].code == "VALIDATED"
    assert store.get("req-1") == result.request


def test_resolve_for_execution_claims_a_request_sent_to_revalidation(
        store: InMemoryRequestStore, resolution: VersionResolutionManager) -> None:
    store.create(approved_request(request_id="req-1"))

    result = resolution.resolve_for_execution("req-1", "15", RESOLVER_CONTEXT,
                                              ResolutionStrategy.REVALIDATE_ON_LATEST_STATE)

    assert result.outcome == ResolutionOutcome.REVALIDATE_ON_LATEST_STATE
    assert result.request.execution.claim is not None
    assert result.request.status == RequestStatus.PENDING


class _CountingClock(FixedClock):
    def __init__(self, now: datetime) -> None:
        super().__init__(now)
        self.calls = 0

    def __call__(self) -> datetime:
        self.calls += 1
        return super().__call__()


def _resolve_for_execution_counting_clock_reads(
        store: InMemoryRequestStore, current_version: str) -> tuple[VersionResolution, int]:
    clock = _CountingClock(LATER)
    manager = VersionResolutionManager(store, clock=clock)
    store.create(approved_request(request_id="req-1"))
    result = manager.resolve_for_execution("req-1", current_version, RESOLVER_CONTEXT,
                                           ResolutionStrategy.REJECT_STALE)
    return result, clock.calls


def test_a_claim_is_taken_at_the_instant_of_the_validated_decision(
        store: InMemoryRequestStore) -> None:
    result, clock_reads = _resolve_for_execution_counting_clock_reads(store, "10")

    claim = result.request.execution.claim
    assert claim is not None
    assert claim.claimed_at == result.request.decisions[-1].timestamp == LATER
    assert clock_reads == 1


def test_a_claim_is_timed_by_the_managers_clock_when_the_resolver_has_its_own(
        store: InMemoryRequestStore) -> None:
    manager = VersionResolutionManager(store, VersionResolver(clock=FixedClock(BASE_TIME)),
                                       clock=FixedClock(LATER))
    store.create(approved_request(request_id="req-1"))

    result = manager.resolve_for_execution("req-1", "10", RESOLVER_CONTEXT,
                                           ResolutionStrategy.REJECT_STALE)

    assert result.request.decisions[-1].timestamp == BASE_TIME
    assert result.request.execution.claim.claimed_at == LATER


def test_a_request_stopped_before_the_engine_reads_the_clock_once_and_takes_no_claim(
        store: InMemoryRequestStore) -> None:
    result, clock_reads = _resolve_for_execution_counting_clock_reads(store, "15")

    assert result.request.status == RequestStatus.REJECTED
    assert result.request.execution.claim is None
    assert clock_reads == 1


@pytest.mark.parametrize("strategy", [ResolutionStrategy.REJECT_STALE,
                                      ResolutionStrategy.REQUIRE_RENEWED_APPROVAL],
                         ids=lambda s: s.name)
def test_resolve_for_execution_does_not_claim_a_request_that_stops_before_the_engine(
        store: InMemoryRequestStore, resolution: VersionResolutionManager,
        strategy: ResolutionStrategy) -> None:
    store.create(approved_request(request_id="req-1"))

    result = resolution.resolve_for_execution("req-1", "15", RESOLVER_CONTEXT, strategy)

    assert not result.outcome.executes
    assert result.request.execution.claim is None
    assert result.request.revision == 1


@pytest.mark.parametrize("status", [s for s in RequestStatus if s != RequestStatus.APPROVED],
                         ids=lambda s: s.name)
def test_resolve_for_execution_refuses_a_request_that_is_not_approved(
        store: InMemoryRequestStore, resolution: VersionResolutionManager,
        status: RequestStatus) -> None:
    before = store.create(request_in_status(status, request_id="req-1"))

    with pytest.raises(RequestNotExecutableError) as raised:
        resolution.resolve_for_execution("req-1", "10", RESOLVER_CONTEXT,
                                         ResolutionStrategy.REJECT_STALE)

    assert isinstance(raised.value, InvalidOperationError)
    assert raised.value.request_id == "req-1"
    assert "req-1" in str(raised.value)
    assert status.name in str(raised.value)
    assert store.get("req-1") is before


def test_resolve_for_execution_refuses_a_request_claimed_by_another_execution(
        store: InMemoryRequestStore, resolution: VersionResolutionManager) -> None:
    store.create(approved_request(request_id="req-1"))
    # A validated request stays APPROVED while it runs: only its claim says it is taken.
    claimed = resolution.resolve_for_execution(
        "req-1", "10", RESOLVER_CONTEXT, ResolutionStrategy.REJECT_STALE).request
    assert claimed.status == RequestStatus.APPROVED
    claim_id = claimed.execution.claim.claim_id

    with pytest.raises(RequestNotExecutableError) as raised:
        resolution.resolve_for_execution("req-1", "10", RESOLVER_CONTEXT,
                                         ResolutionStrategy.REJECT_STALE)

    assert claim_id in str(raised.value)
    assert "req-1" in str(raised.value)
    assert store.get("req-1") is claimed


def test_resolve_for_execution_of_an_unknown_request_raises_not_found(
        resolution: VersionResolutionManager) -> None:
    with pytest.raises(RequestNotFoundError):
        resolution.resolve_for_execution("req-ghost", "1", RESOLVER_CONTEXT,
                                         ResolutionStrategy.REJECT_STALE)

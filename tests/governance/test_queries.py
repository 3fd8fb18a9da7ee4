"""The query model: each filter group, the presets, approval and decision queries, and the pure
selection functions. (Store orderings are part of the store contract in ``governance.testing``.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pydantic
import pytest

from governance import (
    ActorFilter,
    ApprovalQuery,
    ApprovalRequirementStatus,
    ApprovalView,
    BlastRadius,
    BlastRadiusScope,
    DecisionCategory,
    DecisionQuery,
    DecisionView,
    IntentFilter,
    LifecycleFilter,
    MetadataFilter,
    MutationContext,
    MutationRequest,
    MutationRequestQuery,
    PendingReason,
    PolicyRequirement,
    RequestDecision,
    RequestQueries,
    RequestStatus,
    ScopeFilter,
    SideEffect,
    SideEffectFilter,
    SideEffectSeverity,
    TagMatchMode,
    TimeRangeFilter,
    VersionResolutionDecision,
    approval_matches,
    decision_matches,
    has_approval_activity,
    matches,
    select_pending_approvals,
    select_recent_approvals,
    select_recent_decisions,
    select_requests,
)
from governance.testing import (
    BASE_TIME,
    STATE_ID,
    approval_request,
    approved_request,
    increment_intent,
    pending_request,
)


def _request(**intent: Any) -> MutationRequest:
    return approved_request(request_id="req-q", intent=increment_intent(**intent),
                            metadata={"Ticket": "OPS-7", "Count": 1, "Flag": True},
                            now=BASE_TIME)


def _query(**groups: Any) -> MutationRequestQuery:
    return MutationRequestQuery(**groups)


def _with_effects(request: MutationRequest, *effects: SideEffect) -> MutationRequest:
    return request.model_copy(update={"side_effects": effects})


# -- the model --------------------------------------------------------------------------------

def test_an_empty_query_and_no_query_match_every_request() -> None:
    request = _request()

    assert matches(request, MutationRequestQuery())
    assert matches(request, None)
    assert matches(pending_request(), MutationRequestQuery())


def test_queries_turn_collections_into_frozensets_and_are_frozen() -> None:
    query = _query(scope=ScopeFilter(state_ids=["a", "b", "a"]),
                   lifecycle=LifecycleFilter(statuses=[1, RequestStatus.APPROVED]))

    assert query.scope.state_ids == frozenset({"a", "b"})
    assert query.lifecycle.statuses == frozenset({RequestStatus.PENDING, RequestStatus.APPROVED})
    with pytest.raises(pydantic.ValidationError):
        query.scope = ScopeFilter()  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        ScopeFilter(state_id={"a"})  # type: ignore[call-arg]


def test_a_full_query_round_trips_through_json() -> None:
    query = MutationRequestQuery(
        scope=ScopeFilter(request_ids={"r"}, state_ids={"s"}, state_types={"T"},
                          mutation_types={"M"}),
        actor=ActorFilter(actor_ids={"alice"}, actor_names={"Alice"}),
        intent=IntentFilter(categories={"Counter"}, tags={"x", "y"},
                            tag_match_mode=TagMatchMode.ALL, metadata={"K": [1, 2]},
                            minimum_blast_radius_scope=BlastRadiusScope.MODULE,
                            maximum_blast_radius_scope=BlastRadiusScope.GLOBAL),
        metadata=MetadataFilter(values={"Ticket": "OPS-7"}),
        lifecycle=LifecycleFilter(statuses={RequestStatus.PENDING},
                                  pending_reasons={PendingReason.APPROVAL},
                                  decision_categories={DecisionCategory.APPROVAL}),
        time_range=TimeRangeFilter(created_from=BASE_TIME, updated_to=BASE_TIME),
        side_effects=SideEffectFilter(types={"email"}, severities={SideEffectSeverity.ERROR},
                                      requires_action=True))
    approvals = ApprovalQuery(request_query=query, approver_roles={"sre"})
    decisions = DecisionQuery(request_query=query, codes={"GRANTED"}, from_timestamp=BASE_TIME)

    assert MutationRequestQuery.model_validate_json(query.model_dump_json()) == query
    assert ApprovalQuery.model_validate_json(approvals.model_dump_json()) == approvals
    assert DecisionQuery.model_validate_json(decisions.model_dump_json()) == decisions


# -- scope, actor, metadata -------------------------------------------------------------------

@pytest.mark.parametrize(("scope", "expected"), [
    (ScopeFilter(request_ids={"req-q", "other"}), True),
    (ScopeFilter(request_ids={"other"}), False),
    (ScopeFilter(state_ids={STATE_ID}), True),
    (ScopeFilter(state_ids={"elsewhere"}), False),
    (ScopeFilter(state_types={"VersionedState"}), True),
    (ScopeFilter(state_types={"Other"}), False),
    (ScopeFilter(mutation_types={"IncrementMutation"}), True),
    (ScopeFilter(mutation_types={"Other"}), False),
    (ScopeFilter(request_ids={"req-q"}, state_ids={"elsewhere"}), False),
])
def test_scope_filters_by_set_membership(scope: ScopeFilter, expected: bool) -> None:
    assert matches(_request(), _query(scope=scope)) is expected


@pytest.mark.parametrize(("actor", "expected"), [
    (ActorFilter(actor_ids={"alice"}), True),
    (ActorFilter(actor_ids={"bob"}), False),
    (ActorFilter(actor_names={"Alice"}), True),
    (ActorFilter(actor_names={"alice"}), False),
    (ActorFilter(actor_ids={"alice"}, actor_names={"Bob"}), False),
])
def test_actor_filters_the_requesters_id_and_name(actor: ActorFilter, expected: bool) -> None:
    assert matches(_request(), _query(actor=actor)) is expected


def test_a_request_without_an_actor_never_matches_an_actor_filter() -> None:
    request = _request().model_copy(update={"payload": _request().payload.model_copy(
        update={"context": MutationContext.system("nightly job")})})

    assert not matches(request, _query(actor=ActorFilter(actor_ids={""})))
    assert not matches(request, _query(actor=ActorFilter(actor_names={"None"})))
    assert matches(request, _query(actor=ActorFilter()))


@pytest.mark.parametrize(("values", "expected"), [
    ({"Ticket": "OPS-7"}, True),
    ({"Ticket": "OPS-7", "Count": 1}, True),
    ({"Ticket": "OPS-8"}, False),
    ({"Missing": None}, False),
    ({"Count": True}, False),
    ({"Flag": 1}, False),
    ({"Count": 1.0}, True),
])
def test_metadata_requires_every_pair_with_an_exactly_equal_value(
        values: dict[str, Any], expected: bool) -> None:
    assert matches(_request(), _query(metadata=MetadataFilter(values=values))) is expected


# -- intent -----------------------------------------------------------------------------------

def test_intent_categories_are_matched_exactly() -> None:
    request = _request()

    assert matches(request, _query(intent=IntentFilter(categories={"Counter", "Quota"})))
    assert not matches(request, _query(intent=IntentFilter(categories={"counter"})))


@pytest.mark.parametrize(("tags", "mode", "expected"), [
    ({"risky"}, TagMatchMode.ANY, True),
    ({"risky", "absent"}, TagMatchMode.ANY, True),
    ({"absent"}, TagMatchMode.ANY, False),
    ({"risky", "tenant"}, TagMatchMode.ALL, True),
    ({"risky", "absent"}, TagMatchMode.ALL, False),
    (set(), TagMatchMode.ALL, True),
])
def test_tags_match_any_or_all_of_the_listed_tags(tags: set[str], mode: TagMatchMode,
                                                  expected: bool) -> None:
    request = _request(tags=frozenset({"risky", "tenant", "quota"}))

    assert matches(request, _query(intent=IntentFilter(tags=tags,
                                                       tag_match_mode=mode))) is expected


def test_any_is_the_default_tag_match_mode() -> None:
    assert IntentFilter().tag_match_mode == TagMatchMode.ANY


def test_intent_metadata_requires_every_pair() -> None:
    request = _request(metadata={"Tenant": "acme", "Tier": 2})

    assert matches(request, _query(intent=IntentFilter(metadata={"Tenant": "acme"})))
    assert matches(request, _query(intent=IntentFilter(metadata={"Tenant": "acme", "Tier": 2})))
    assert not matches(request, _query(intent=IntentFilter(metadata={"Tier": 3})))
    assert not matches(request, _query(intent=IntentFilter(metadata={"Region": "eu"})))


@pytest.mark.parametrize(("low", "high", "expected"), [
    (BlastRadiusScope.MODULE, None, True),
    (BlastRadiusScope.SYSTEM, None, True),
    (BlastRadiusScope.GLOBAL, None, False),
    (None, BlastRadiusScope.SYSTEM, True),
    (None, BlastRadiusScope.MODULE, False),
    (BlastRadiusScope.SYSTEM, BlastRadiusScope.SYSTEM, True),
    (BlastRadiusScope.SINGLE, BlastRadiusScope.MODULE, False),
])
def test_blast_radius_bounds_are_inclusive(low: BlastRadiusScope | None,
                                           high: BlastRadiusScope | None,
                                           expected: bool) -> None:
    request = _request(estimated_blast_radius=BlastRadius.system(10))
    query = _query(intent=IntentFilter(minimum_blast_radius_scope=low,
                                       maximum_blast_radius_scope=high))

    assert matches(request, query) is expected


def test_a_request_without_a_blast_radius_fails_either_bound() -> None:
    request = _request()

    assert not matches(request, _query(intent=IntentFilter(
        minimum_blast_radius_scope=BlastRadiusScope.SINGLE)))
    assert not matches(request, _query(intent=IntentFilter(
        maximum_blast_radius_scope=BlastRadiusScope.GLOBAL)))


# -- lifecycle and time -----------------------------------------------------------------------

def test_lifecycle_filters_status_reason_and_decision_categories() -> None:
    approval = approval_request()
    review = pending_request(PendingReason.MANUAL_REVIEW)
    approved = _request()

    approval_queue = _query(lifecycle=LifecycleFilter(pending_reasons={PendingReason.APPROVAL}))
    assert [matches(r, approval_queue) for r in (approval, review, approved)] == [
        True, False, False]
    with_approval_decision = _query(lifecycle=LifecycleFilter(
        decision_categories={DecisionCategory.APPROVAL, DecisionCategory.VERSION_RESOLUTION}))
    assert [matches(r, with_approval_decision) for r in (approval, review, approved)] == [
        True, False, False]
    assert matches(approved, _query(lifecycle=LifecycleFilter(
        statuses={RequestStatus.APPROVED, RequestStatus.EXECUTED})))


@pytest.mark.parametrize(("window", "expected"), [
    ({"created_from": BASE_TIME}, True),
    ({"created_to": BASE_TIME}, True),
    ({"created_from": BASE_TIME + timedelta(microseconds=1)}, False),
    ({"created_to": BASE_TIME - timedelta(microseconds=1)}, False),
    ({"updated_from": BASE_TIME - timedelta(days=1), "updated_to": BASE_TIME}, True),
    ({"updated_to": BASE_TIME - timedelta(seconds=1)}, False),
])
def test_time_ranges_are_inclusive(window: dict[str, Any], expected: bool) -> None:
    assert matches(_request(), _query(time_range=TimeRangeFilter(**window))) is expected


# -- side effects -----------------------------------------------------------------------------

def test_one_side_effect_must_satisfy_every_side_effect_constraint() -> None:
    request = _with_effects(
        _request(),
        SideEffect.create("email", "notify", severity=SideEffectSeverity.INFO),
        SideEffect.create("page", "wake someone", severity=SideEffectSeverity.ERROR,
                          requires_action=True))

    def query(**f: Any) -> MutationRequestQuery:
        return _query(side_effects=SideEffectFilter(**f))

    assert matches(request, query(types={"email"}))
    assert matches(request, query(types={"page"}, severities={SideEffectSeverity.ERROR},
                                  requires_action=True))
    # "email" and ERROR are each present, but never on one side effect.
    assert not matches(request, query(types={"email"}, severities={SideEffectSeverity.ERROR}))
    assert matches(request, query(requires_action=False))
    assert not matches(request, query(types={"sms"}))
    assert not matches(request, query(data_contract_types={"c"}))
    assert not matches(_request(), query(requires_action=False))
    assert matches(_request(), query())


def test_side_effects_match_by_data_contract_type() -> None:
    effect = SideEffect(type="alert", description="x", data_contract_type="quota.raised",
                        data_contract_version=1)
    request = _with_effects(_request(), effect)

    assert matches(request, _query(side_effects=SideEffectFilter(
        data_contract_types={"quota.raised"})))
    assert not matches(request, _query(side_effects=SideEffectFilter(
        data_contract_types={"quota.lowered"})))


def test_every_group_must_match() -> None:
    request = _request(tags=frozenset({"risky"}))
    good = dict(scope=ScopeFilter(request_ids={"req-q"}),
                intent=IntentFilter(tags={"risky"}),
                metadata=MetadataFilter(values={"Ticket": "OPS-7"}))

    assert matches(request, _query(**good))
    assert not matches(request, _query(**good, lifecycle=LifecycleFilter(
        statuses={RequestStatus.PENDING})))


# -- presets ----------------------------------------------------------------------------------

def test_request_presets_say_what_their_names_say() -> None:
    assert RequestQueries.pending().lifecycle == LifecycleFilter(
        statuses={RequestStatus.PENDING})
    assert RequestQueries.pending_approval_queue().lifecycle == LifecycleFilter(
        statuses={RequestStatus.PENDING}, pending_reasons={PendingReason.APPROVAL},
        decision_categories={DecisionCategory.APPROVAL})
    assert RequestQueries.recent_approvals().lifecycle == LifecycleFilter(
        statuses={RequestStatus.APPROVED, RequestStatus.EXECUTED},
        decision_categories={DecisionCategory.APPROVAL})
    assert RequestQueries.pending() is RequestQueries.pending()


def test_the_pending_approval_queue_preset_matches_only_requests_awaiting_approval() -> None:
    queue = RequestQueries.pending_approval_queue()
    # PENDING for APPROVAL but without an approval decision (e.g. renewed by resolution).
    renewed = pending_request(PendingReason.APPROVAL)

    assert matches(approval_request(), queue)
    assert not matches(renewed, queue)
    assert not matches(pending_request(), queue)


def test_decision_presets_say_what_their_names_say() -> None:
    resolutions = DecisionQuery.recent_version_resolutions()
    outcomes = DecisionQuery.recent_execution_outcomes()

    assert resolutions.categories == {DecisionCategory.VERSION_RESOLUTION}
    assert not resolutions.codes
    assert outcomes.categories == {DecisionCategory.LIFECYCLE}
    assert outcomes.codes == {"EXECUTED", "REJECTED", "CANCELED", "EXPIRED", "SUPERSEDED"}


def test_the_pending_approval_preset_wants_pending_requirements_of_waiting_requests() -> None:
    pending = ApprovalQuery.pending()

    assert pending.approval_statuses == {ApprovalRequirementStatus.PENDING}
    assert pending.request_statuses == {RequestStatus.PENDING}
    assert pending.pending_reasons == {PendingReason.APPROVAL}


# -- approval queries -------------------------------------------------------------------------

def _team_request() -> MutationRequest:
    return approval_request(PolicyRequirement(
        type="Approval", description="team",
        data={"Approvers": ["ann"], "ApproverRole": "sre", "ApproverGroup": "ops",
              "StepOrder": 1}), request_id="req-team")


def test_approver_targets_match_a_requirement_by_any_of_them() -> None:
    request = _team_request()
    ann, sre, ops = request.approval_requirements

    inbox = ApprovalQuery(approver_ids={"ann"}, approver_roles={"sre"})
    assert [approval_matches(request, a, inbox) for a in (ann, sre, ops)] == [True, True, False]
    by_group = ApprovalQuery(approver_groups={"ops"})
    assert [approval_matches(request, a, by_group) for a in (ann, sre, ops)] == [
        False, False, True]
    nobody = ApprovalQuery(approver_ids={""})
    assert not any(approval_matches(request, a, nobody) for a in (ann, sre, ops))


def test_approval_queries_filter_the_requirement_and_its_request() -> None:
    request = _team_request()
    ann = request.approval_requirements[0]

    assert approval_matches(request, ann, None)
    assert approval_matches(request, ann, ApprovalQuery.pending())
    assert not approval_matches(request, ann, ApprovalQuery(
        approval_statuses={ApprovalRequirementStatus.APPROVED}))
    assert not approval_matches(request, ann, ApprovalQuery(
        request_statuses={RequestStatus.APPROVED}))
    assert not approval_matches(request, ann, ApprovalQuery(
        pending_reasons={PendingReason.QUOTA}))
    assert approval_matches(request, ann, ApprovalQuery(categories={"Counter"}))
    assert not approval_matches(request, ann, ApprovalQuery(categories={"Quota"}))
    assert not approval_matches(request, ann, ApprovalQuery(
        request_query=MutationRequestQuery(scope=ScopeFilter(state_ids={"elsewhere"}))))


def test_a_request_without_a_pending_reason_fails_a_pending_reason_filter() -> None:
    request = _request()

    assert not approval_matches(request, _team_request().approval_requirements[0],
                                ApprovalQuery(pending_reasons={PendingReason.APPROVAL}))


# -- decision queries -------------------------------------------------------------------------

def test_decision_queries_filter_type_actor_time_and_request() -> None:
    request = approval_request(now=BASE_TIME)
    submitted, pending, requested = request.decisions

    def hit(decision: RequestDecision, **q: Any) -> bool:
        return decision_matches(request, decision, DecisionQuery(**q))

    assert decision_matches(request, submitted, None)
    assert hit(requested, categories={DecisionCategory.APPROVAL})
    assert not hit(pending, categories={DecisionCategory.APPROVAL})
    assert hit(pending, codes={"PENDING"}) and not hit(submitted, codes={"PENDING"})
    assert hit(submitted, actor_ids={"alice"}) and not hit(submitted, actor_ids={"bob"})
    assert hit(submitted, actor_names={"Alice"}) and not hit(submitted, actor_names={"alice"})
    assert hit(submitted, from_timestamp=BASE_TIME, to_timestamp=BASE_TIME)
    assert not hit(submitted, from_timestamp=BASE_TIME + timedelta(microseconds=1))
    assert not hit(submitted, to_timestamp=BASE_TIME - timedelta(microseconds=1))
    assert not hit(submitted, request_query=MutationRequestQuery(
        lifecycle=LifecycleFilter(statuses={RequestStatus.APPROVED})))


def test_a_decision_without_an_actor_never_matches_an_actor_filter() -> None:
    request = _request()
    decision = RequestDecision.version_resolution(
        VersionResolutionDecision.VALIDATED, MutationContext.system("resolver"))

    assert not decision_matches(request, decision, DecisionQuery(actor_ids={"resolver"}))
    assert decision_matches(request, decision, DecisionQuery.recent_version_resolutions())


# -- pure selection ---------------------------------------------------------------------------

def test_select_requests_filters_then_orders_by_creation_time_then_id() -> None:
    later = approved_request(request_id="b", now=BASE_TIME + timedelta(seconds=1))
    first = approved_request(request_id="z", now=BASE_TIME)
    tie = approved_request(request_id="a", now=BASE_TIME + timedelta(seconds=1))
    waiting = pending_request(request_id="p", now=BASE_TIME)

    assert [r.request_id for r in select_requests([later, first, tie, waiting])] == [
        "p", "z", "a", "b"]
    assert [r.request_id for r in select_requests([later, waiting], RequestQueries.pending())
            ] == ["p"]
    assert [r.request_id for r in select_requests(
        [later, first, tie], where=lambda r: r.request_id != "z")] == ["a", "b"]


def test_approval_activity_is_approval_requirements_or_an_approval_decision() -> None:
    assert has_approval_activity(approval_request())
    assert not has_approval_activity(_request())
    no_requirements = approval_request().model_copy(update={"approval_requirements": ()})
    assert has_approval_activity(no_requirements)


def test_selection_functions_return_views_and_honour_take() -> None:
    request = _team_request()

    views = select_pending_approvals([request, _request()])
    assert [type(v) for v in views] == [ApprovalView] * 3
    assert {v.request.request_id for v in views} == {"req-team"}
    decisions = select_recent_decisions([request], take=2)
    assert [type(v) for v in decisions] == [DecisionView] * 2
    assert [v.decision.code for v in decisions] == ["REQUESTED", "PENDING"]
    assert select_recent_approvals([request], MutationRequestQuery(), take=0) == []
    assert [r.request_id for r in select_recent_approvals([request],
                                                          MutationRequestQuery())] == [
        "req-team"]
    assert select_recent_approvals([request]) == []

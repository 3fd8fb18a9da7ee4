"""``MutationRequest``: factories, frozen snapshots, decisions, approval mapping, JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pydantic
import pytest

from governance import (
    ApprovalDecision,
    ApprovalRejectionReason,
    ApprovalRequirementStatus,
    BlastRadius,
    CompensationKind,
    CompensationPlan,
    CompensationTrigger,
    DecisionCategory,
    DecisionType,
    ExecutionClaim,
    ExecutionLink,
    ExecutionLinkType,
    GovernanceError,
    GovernedExecutionDetails,
    GovernedExecutionKind,
    InvalidApprovalConfigurationError,
    InvalidArgumentError,
    InvalidOperationError,
    LifecycleDecision,
    MissingArgumentError,
    MutationContext,
    MutationIntent,
    MutationRequest,
    PendingReason,
    PolicyRequirement,
    RequestDecision,
    RequestStatus,
    RequestVersioning,
    RiskLevel,
    SideEffect,
    SideEffectSeverity,
    VersionResolutionDecision,
    map_approval_requirements,
    side_effect_contract,
)
from governance.requests import TO_EXECUTED, RequestLifecycle, lifecycle_changes, next_snapshot
from governance.testing import (
    BASE_TIME,
    STATE_ID,
    IncrementMutation,
    VersionedState,
    approved_request,
    increment_intent,
    pending_request,
    requester_context,
)


def _codes(request: MutationRequest) -> list[tuple[DecisionCategory, str]]:
    return [(d.category, d.code) for d in request.decisions]


def _pending_approval(requirements: list[PolicyRequirement], **kwargs: Any) -> MutationRequest:
    return MutationRequest.pending_approval(
        STATE_ID, VersionedState, IncrementMutation, increment_intent(), requester_context(),
        requirements, **kwargs)


# -- factories --------------------------------------------------------------------------------

def test_approved_factory_builds_an_approved_request_submitted_and_approved_at_once() -> None:
    context = requester_context()

    request = MutationRequest.approved(
        STATE_ID, VersionedState, IncrementMutation, increment_intent(), context,
        expected_state_version="10", metadata={"Ticket": "OPS-1"}, now=BASE_TIME)

    assert request.status == RequestStatus.APPROVED
    assert request.pending_reason is None
    assert request.revision == 0
    assert request.state_id == STATE_ID
    assert request.state_type == "VersionedState"
    assert request.mutation_type == "IncrementMutation"
    assert request.expected_state_version == "10"
    assert request.metadata == {"Ticket": "OPS-1"}
    assert request.context == context
    assert request.created_at == request.updated_at == BASE_TIME
    assert _codes(request) == [(DecisionCategory.LIFECYCLE, "SUBMITTED"),
                               (DecisionCategory.LIFECYCLE, "APPROVED")]
    assert request.decisions[0].reason == context.reason
    assert all(d.context == context and d.timestamp == BASE_TIME for d in request.decisions)


def test_factories_accept_type_names_as_strings() -> None:
    request = MutationRequest.approved("s", "Quota", "RaiseQuota", increment_intent(),
                                       requester_context())

    assert (request.state_type, request.mutation_type) == ("Quota", "RaiseQuota")


def test_each_request_gets_its_own_generated_id_unless_one_is_given() -> None:
    first, second = approved_request(), approved_request()

    assert first.request_id != second.request_id
    assert approved_request(request_id="req-fixed").request_id == "req-fixed"


def test_pending_factory_records_the_reason_deadline_and_pending_decision() -> None:
    deadline = BASE_TIME + timedelta(hours=1)
    two_factor = PolicyRequirement.two_factor()

    request = MutationRequest.pending(
        STATE_ID, VersionedState, IncrementMutation, increment_intent(), requester_context(),
        PendingReason.EXTERNAL_CHECK, requirements=[two_factor], expires_at=deadline,
        now=BASE_TIME)

    assert request.status == RequestStatus.PENDING
    assert request.pending_reason == PendingReason.EXTERNAL_CHECK
    assert request.expires_at == deadline
    assert request.requirements == (two_factor,)
    assert request.approval_requirements == ()
    assert _codes(request) == [(DecisionCategory.LIFECYCLE, "SUBMITTED"),
                               (DecisionCategory.LIFECYCLE, "PENDING")]
    assert "EXTERNAL_CHECK" in request.decisions[1].reason


def test_pending_approval_factory_maps_approval_requirements_and_requests_approval() -> None:
    requirements = [PolicyRequirement.approval("bob", "Manager approval"),
                    PolicyRequirement.two_factor(),
                    PolicyRequirement.approval("carol", "Security approval")]

    request = _pending_approval(requirements, now=BASE_TIME)

    assert request.status == RequestStatus.PENDING
    assert request.pending_reason == PendingReason.APPROVAL
    assert request.requirements == tuple(requirements)
    assert [(a.approver_id, a.step_order) for a in request.approval_requirements] == [
        ("bob", 1), ("carol", 2)]
    assert all(a.status == ApprovalRequirementStatus.PENDING
               for a in request.approval_requirements)
    assert _codes(request) == [(DecisionCategory.LIFECYCLE, "SUBMITTED"),
                               (DecisionCategory.LIFECYCLE, "PENDING"),
                               (DecisionCategory.APPROVAL, "REQUESTED")]
    assert request.decisions[2].metadata == {"ApprovalRequirementCount": 2}


def test_pending_approval_without_an_approval_requirement_is_refused_naming_the_request() -> None:
    with pytest.raises(InvalidOperationError) as raised:
        _pending_approval([PolicyRequirement.two_factor()], request_id="req-no-approver")

    assert isinstance(raised.value, RuntimeError)
    assert isinstance(raised.value, GovernanceError)
    assert "req-no-approver" in str(raised.value)


@pytest.mark.parametrize("blank", ["", "  ", None])
def test_factories_refuse_a_blank_state_id(blank: str | None) -> None:
    with pytest.raises(InvalidArgumentError):
        MutationRequest.approved(blank, VersionedState, IncrementMutation,  # type: ignore[arg-type]
                                 increment_intent(), requester_context())


@pytest.mark.parametrize("missing", ["intent", "context"])
def test_factories_refuse_a_missing_intent_or_context(missing: str) -> None:
    args: dict[str, Any] = {"intent": increment_intent(), "context": requester_context()}
    args[missing] = None

    with pytest.raises(MissingArgumentError) as raised:
        MutationRequest.approved(STATE_ID, VersionedState, IncrementMutation, **args)

    assert isinstance(raised.value, TypeError)


def test_pending_factory_refuses_a_missing_pending_reason() -> None:
    with pytest.raises(MissingArgumentError):
        MutationRequest.pending(STATE_ID, VersionedState, IncrementMutation, increment_intent(),
                                requester_context(), None)  # type: ignore[arg-type]


# -- frozen snapshots and accessors -----------------------------------------------------------

def test_requests_are_frozen() -> None:
    request = approved_request()

    with pytest.raises(pydantic.ValidationError):
        request.revision = 3  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        request.lifecycle.status = RequestStatus.EXECUTED  # type: ignore[misc]


def test_requests_refuse_unknown_fields() -> None:
    with pytest.raises(pydantic.ValidationError):
        MutationRequest(payload={"intent": increment_intent(), "context": requester_context()},
                        colour="blue")  # type: ignore[call-arg]


def test_flat_accessors_read_the_detail_records_and_are_not_serialized() -> None:
    request = pending_request(PendingReason.QUOTA, expires_at=BASE_TIME)

    assert request.status is request.lifecycle.status
    assert request.pending_reason is request.lifecycle.pending_reason
    assert request.expires_at == request.lifecycle.expires_at
    assert request.intent is request.payload.intent
    assert request.context is request.payload.context
    assert request.expected_state_version == request.versioning.expected_state_version
    dumped = request.model_dump()
    for accessor in ("status", "state_id", "intent", "context", "created_at", "pending_reason"):
        assert accessor not in dumped


def test_with_decision_appends_and_moves_updated_at_without_touching_the_original() -> None:
    request = approved_request(now=BASE_TIME)
    later = BASE_TIME + timedelta(minutes=5)
    decision = RequestDecision.lifecycle(LifecycleDecision.CANCELED, requester_context(),
                                         "no longer needed", timestamp=later)

    updated = request.with_decision(decision)

    assert updated.decisions == (*request.decisions, decision)
    assert updated.updated_at == later
    assert updated.status == request.status
    assert updated.created_at == BASE_TIME
    assert len(request.decisions) == 2
    assert request.updated_at == BASE_TIME


def test_with_decision_keeps_a_replaced_lifecycle_and_sets_its_updated_at() -> None:
    request = approved_request(now=BASE_TIME)
    decision = RequestDecision.lifecycle(LifecycleDecision.PENDING, requester_context(),
                                         timestamp=BASE_TIME + timedelta(seconds=1))
    lifecycle = request.lifecycle.model_copy(update={
        "status": RequestStatus.PENDING, "pending_reason": PendingReason.QUOTA})

    updated = request.with_decision(decision, lifecycle=lifecycle)

    assert updated.status == RequestStatus.PENDING
    assert updated.pending_reason == PendingReason.QUOTA
    assert updated.updated_at == decision.timestamp


@pytest.mark.parametrize("status", list(RequestStatus))
def test_only_rejected_and_later_statuses_are_terminal(status: RequestStatus) -> None:
    assert status.is_terminal == (status in {
        RequestStatus.REJECTED, RequestStatus.CANCELED, RequestStatus.EXPIRED,
        RequestStatus.SUPERSEDED, RequestStatus.EXECUTED})


# -- decisions --------------------------------------------------------------------------------

def test_decision_types_are_equal_by_category_and_code_and_print_their_code() -> None:
    lifecycle_rejected = DecisionType.lifecycle(LifecycleDecision.REJECTED)

    assert lifecycle_rejected == DecisionType(category=DecisionCategory.LIFECYCLE,
                                              code="REJECTED")
    assert lifecycle_rejected != DecisionType.approval(ApprovalDecision.REJECTED)
    assert str(lifecycle_rejected) == "REJECTED"
    assert DecisionType.version_resolution(
        VersionResolutionDecision.VALIDATED).category == DecisionCategory.VERSION_RESOLUTION


def test_decision_builders_set_category_code_context_reason_and_metadata() -> None:
    context = requester_context()

    approval = RequestDecision.approval(ApprovalDecision.GRANTED, context, "ok",
                                        {"ApprovalId": "a1"}, BASE_TIME)
    resolution = RequestDecision.version_resolution(
        VersionResolutionDecision.REJECTED_AS_STALE, context)

    assert (approval.category, approval.code) == (DecisionCategory.APPROVAL, "GRANTED")
    assert approval.context == context
    assert approval.reason == "ok"
    assert approval.metadata == {"ApprovalId": "a1"}
    assert approval.timestamp == BASE_TIME
    assert (resolution.category, resolution.code) == (DecisionCategory.VERSION_RESOLUTION,
                                                      "REJECTED_AS_STALE")
    assert resolution.metadata == {}
    assert resolution.timestamp.tzinfo is not None


def test_a_decision_without_an_actor_context_is_refused() -> None:
    with pytest.raises(MissingArgumentError):
        RequestDecision.lifecycle(LifecycleDecision.APPROVED, None)  # type: ignore[arg-type]


def test_decision_metadata_is_a_copy_of_the_callers_mapping() -> None:
    metadata = {"Key": "before"}
    decision = RequestDecision.lifecycle(LifecycleDecision.APPROVED, requester_context(),
                                         metadata=metadata)

    metadata["Key"] = "after"

    assert decision.metadata == {"Key": "before"}


# -- approval requirement mapping -------------------------------------------------------------

def test_mapping_makes_one_requirement_per_approver_then_role_then_group_sharing_a_group() -> None:
    requirement = PolicyRequirement(
        type="Approval", description="Two of three",
        data={"Approvers": ["bob", " ", "carol"], "ApproverRole": "sre",
              "ApproverGroup": "platform", "RequiredApprovals": 2, "ApproverName": "Ops",
              "Reason": "risky", "ExpiresAt": "2030-01-02T00:00:00+00:00"})

    mapped = map_approval_requirements([requirement])

    assert [(a.approver_id, a.approver_role, a.approver_group) for a in mapped] == [
        ("bob", None, None), ("carol", None, None), ("", "sre", None), ("", None, "platform")]
    assert {a.approval_group_id for a in mapped} == {"approval-group-1-0"}
    assert all(a.required_approvals == 2 and a.step_order == 1 for a in mapped)
    assert all(a.approver_name == "Ops" for a in mapped)
    assert all(a.expires_at == BASE_TIME + timedelta(hours=12) for a in mapped)
    assert all(a.metadata == {"RequirementDescription": "Two of three",
                              "RequirementReason": "risky"} for a in mapped)
    assert len({a.approval_id for a in mapped}) == 4


def test_mapping_reads_attributes_aliases_and_explicit_steps() -> None:
    by_attributes = PolicyRequirement(
        type="Approval", description="attrs",
        data=SimpleNamespace(Approver="dave", StepOrder=3, GroupId="g-7", Quorum=1,
                             ApproverRole="dba"))
    single = PolicyRequirement.approval("erin", "plain")

    mapped = map_approval_requirements([by_attributes, PolicyRequirement.two_factor(), single])

    assert [(a.approver_id or a.approver_role, a.step_order, a.approval_group_id)
            for a in mapped] == [("dave", 3, "g-7"), ("dba", 3, "g-7"), ("erin", 2, None)]
    assert mapped[2].metadata["RequirementReason"] == "plain"


@pytest.mark.parametrize(("data", "fragment"), [
    ({"Reason": "nobody"}, "no approver"),
    ({"Approver": "bob", "RequiredApprovals": 0}, "at least 1"),
    ({"Approver": "bob", "ApproverRole": "sre", "Quorum": 3}, "only 2 target"),
    ({"Approver": "bob", "ExpiresAt": "next tuesday"}, "next tuesday"),
])
def test_misconfigured_approval_requirements_are_refused_naming_the_request(
        data: dict[str, Any], fragment: str) -> None:
    requirement = PolicyRequirement(type="Approval", description="bad", data=data)

    with pytest.raises(InvalidApprovalConfigurationError) as raised:
        _pending_approval([requirement], request_id="req-bad-approval")

    assert isinstance(raised.value, GovernanceError)
    assert "req-bad-approval" in str(raised.value)
    assert fragment in str(raised.value)


# -- JSON round-trip --------------------------------------------------------------------------

@side_effect_contract("governance.tests.quota-raised", 1)
class QuotaRaised(pydantic.BaseModel):
    """A typed side-effect payload."""

    tenant: str
    new_limit: int


def _fully_populated_request() -> MutationRequest:
    requester = MutationContext.user(
        "alice", "Alice", "raise the quota", state_id=STATE_ID, correlation_id="corr-1",
        causation_id="cause-1", session_id="sess-1", source_ip_address="10.0.0.7",
        user_agent="cli/1.0", time_zone="Europe/Paris", culture="fr-FR",
        metadata={"ActorRoles": ["sre"], "ActorGroups": ["platform"],
                  "Nested": {"depth": [1, 2, {"x": None}]}})
    approver = MutationContext.user("bob", "Bob", "looks fine",
                                    metadata={"ActorRoles": ["manager"]})
    intent = MutationIntent.create(
        "RaiseQuota", "Quota", description="raise tenant quota", risk_level=RiskLevel.HIGH,
        is_reversible=False,
        estimated_blast_radius=BlastRadius(scope=BlastRadius.module().scope,
                                           estimated_affected_count=12,
                                           description="one tenant"),
        tags=frozenset({"quota", "tenant"}), metadata={"Tenant": "acme", "Limits": [1, 2]},
        created_at=BASE_TIME)
    requirements = [
        PolicyRequirement.approval("bob", "Manager approval", StepOrder=1,
                                   ExpiresAt="2030-01-01T18:00:00+00:00"),
        PolicyRequirement(type="Approval", description="Security",
                          data={"Approvers": ["carol", "dan"], "ApproverRole": "security",
                                "RequiredApprovals": 2, "StepOrder": 2}),
        PolicyRequirement(type="TwoFactor", description="2FA", data={"Method": "totp"},
                          is_fulfilled=True),
    ]
    request = MutationRequest.pending_approval(
        STATE_ID, VersionedState, IncrementMutation, intent, requester, requirements,
        expected_state_version="v41", expires_at=BASE_TIME + timedelta(days=1),
        metadata={"Ticket": "OPS-9", "Labels": ["a", "b"], "Score": 1.5, "Flag": True},
        request_id="req-full", now=BASE_TIME)

    decided = request.approval_requirements[0].model_copy(update={
        "status": ApprovalRequirementStatus.REJECTED,
        "decided_at": BASE_TIME + timedelta(minutes=3),
        "decision_context": approver,
        "decision_reason": "not this week",
        "rejection": ApprovalRejectionReason(code="freeze", category="policy",
                                             message="change freeze",
                                             metadata={"Until": "2030-01-08"}),
    })
    satisfied = request.approval_requirements[1].model_copy(
        update={"status": ApprovalRequirementStatus.SATISFIED})
    plan = CompensationPlan(original_request_id="req-original",
                            kind=CompensationKind.FORWARD_CORRECTION,
                            trigger=CompensationTrigger.BATCH_FAILURE, batch_id="batch-3",
                            related_request_ids=("req-a", "req-b"), reason="undo batch")
    execution = GovernedExecutionDetails(
        kind=GovernedExecutionKind.COMPENSATION, compensation=plan,
        related_executions=(ExecutionLink(
            request_id="req-original", type=ExecutionLinkType.COMPENSATES,
            compensation_kind=CompensationKind.FORWARD_CORRECTION,
            trigger=CompensationTrigger.BATCH_FAILURE, batch_id="batch-3",
            linked_at=BASE_TIME),),
        claim=ExecutionClaim(claim_id="claim-1", claimed_at=BASE_TIME, actor_id="runner"))
    effects = (
        SideEffect.create("email", "tell the tenant", data={"to": ["ops@acme"], "n": 2},
                          timestamp=BASE_TIME),
        SideEffect(type="alert", description="page", severity=SideEffectSeverity.CRITICAL,
                   data={"tenant": "acme", "new_limit": 9},
                   data_contract_type="governance.tests.quota-raised", data_contract_version=1,
                   timestamp=BASE_TIME, requires_action=True),
    )
    decisions = (
        *request.decisions,
        RequestDecision.approval(ApprovalDecision.REJECTED, approver, "not this week",
                                 {"ApprovalId": decided.approval_id, "StepOrder": 1},
                                 BASE_TIME + timedelta(minutes=3)),
        RequestDecision.version_resolution(
            VersionResolutionDecision.REVALIDATION_REQUIRED, approver, "stale",
            {"ExpectedStateVersion": "v40", "CurrentStateVersion": "v41"}),
    )
    return request.model_copy(update={
        "approval_requirements": (decided, satisfied, *request.approval_requirements[2:]),
        "execution": execution,
        "side_effects": effects,
        "decisions": decisions,
        "revision": 3,
        "versioning": RequestVersioning(expected_state_version="v41",
                                        resulting_state_version="v42",
                                        executed_at=BASE_TIME + timedelta(hours=2)),
    })


def test_a_fully_populated_request_round_trips_through_json_without_loss() -> None:
    original = _fully_populated_request()

    restored = MutationRequest.model_validate_json(original.model_dump_json())

    assert restored == original
    for part in ("scope", "payload", "lifecycle", "execution", "requirements",
                 "approval_requirements", "decisions", "side_effects", "versioning",
                 "metadata", "revision", "request_id"):
        assert getattr(restored, part) == getattr(original, part), part
    assert restored.approval_requirements[0].rejection.metadata == {"Until": "2030-01-08"}
    assert restored.approval_requirements[0].decision_context.metadata["ActorRoles"] == [
        "manager"]
    assert restored.execution.claim == ExecutionClaim(claim_id="claim-1", claimed_at=BASE_TIME,
                                                      actor_id="runner")
    assert restored.execution.compensation.related_request_ids == ("req-a", "req-b")
    assert restored.decisions[-1].type == DecisionType.version_resolution(
        VersionResolutionDecision.REVALIDATION_REQUIRED)
    assert restored.intent.tags == frozenset({"quota", "tenant"})
    assert restored.context.metadata["Nested"] == {"depth": [1, 2, {"x": None}]}


def test_the_json_of_a_round_tripped_request_is_the_same_document() -> None:
    original = _fully_populated_request()

    first = json.loads(original.model_dump_json())
    second = json.loads(MutationRequest.model_validate_json(
        original.model_dump_json()).model_dump_json())

    for document in (first, second):
        document["payload"]["intent"]["tags"].sort()
    assert first == second
    assert "status" not in first
    assert first["lifecycle"]["status"] == RequestStatus.PENDING


def test_a_contract_payload_is_rebuilt_from_json_as_its_contract_class() -> None:
    payload = QuotaRaised(tenant="acme", new_limit=9)
    effect = SideEffect.create("quota", "quota raised", data=payload, timestamp=BASE_TIME)
    request = approved_request().model_copy(update={"side_effects": (effect,)})

    restored = MutationRequest.model_validate_json(request.model_dump_json())

    restored_effect = restored.side_effects[0]
    assert restored_effect.data_contract_type == "governance.tests.quota-raised"
    assert restored_effect.data_contract_version == 1
    assert restored_effect.typed_data() == payload


def test_every_request_factory_output_round_trips_through_json() -> None:
    requests = [
        approved_request(),
        pending_request(PendingReason.SCHEDULE, expires_at=BASE_TIME),
        _pending_approval([PolicyRequirement.approval("bob", "ok")]),
        approved_request(expected_state_version=None),
    ]

    for request in requests:
        assert MutationRequest.model_validate_json(request.model_dump_json()) == request


# -- next_snapshot's lifecycle edits ---------------------------------------------------------

def _executed_decision(at: Any) -> RequestDecision:
    return RequestDecision.lifecycle(LifecycleDecision.EXECUTED, MutationContext.system("runner"),
                                     "done", {}, at)


def test_lifecycle_changes_apply_after_the_touch_and_keep_the_field_order() -> None:
    request = approved_request(request_id="req-edit")
    decided, later = BASE_TIME + timedelta(minutes=5), BASE_TIME + timedelta(minutes=9)

    touched = next_snapshot(request, (_executed_decision(decided),),
                            lifecycle_changes=TO_EXECUTED)
    edited = next_snapshot(request, (_executed_decision(decided),),
                           lifecycle_changes={"status": RequestStatus.EXECUTED,
                                              "updated_at": later})
    untouched = next_snapshot(request, (_executed_decision(decided),), touch=False,
                              lifecycle_changes=TO_EXECUTED)

    assert touched.lifecycle.status is RequestStatus.EXECUTED
    assert touched.lifecycle.updated_at == decided
    assert edited.lifecycle.updated_at == later  # the edit wins over the touch
    assert untouched.lifecycle.updated_at == request.lifecycle.updated_at
    for snapshot in (touched, edited, untouched):
        assert list(snapshot.lifecycle.__dict__) == list(RequestLifecycle.model_fields)
        assert snapshot.lifecycle.created_at == request.lifecycle.created_at
        # Built from the lifecycle's own values: a table no larger than a copy of them.
        assert (sys.getsizeof(snapshot.lifecycle.__dict__)
                <= sys.getsizeof(request.lifecycle.__dict__.copy()))
    assert request.lifecycle.status is RequestStatus.APPROVED


def test_unchecked_lifecycle_changes_are_checked_before_anything_is_built() -> None:
    request = approved_request(request_id="req-bad-edit")

    with pytest.raises(InvalidArgumentError, match=r"req-bad-edit.*lifecycle status"):
        next_snapshot(request, (_executed_decision(BASE_TIME),),
                      lifecycle_changes={"status": "EXECUTED"})
    with pytest.raises(InvalidArgumentError, match=r"req-bad-edit.*lifecycle owner"):
        next_snapshot(request, (_executed_decision(BASE_TIME),),
                      lifecycle_changes={"owner": "someone"})


def test_checked_lifecycle_changes_are_a_read_only_mapping_of_their_edits() -> None:
    edits = lifecycle_changes(status=RequestStatus.REJECTED, pending_reason=None)

    assert isinstance(edits, Mapping)
    assert dict(edits) == {"status": RequestStatus.REJECTED, "pending_reason": None}
    assert edits == {"status": RequestStatus.REJECTED, "pending_reason": None}
    assert edits["status"] is RequestStatus.REJECTED
    assert len(edits) == 2 and list(edits) == ["status", "pending_reason"]
    assert {**edits, "expires_at": None} == {**edits.edits, "expires_at": None}
    assert "REJECTED" in repr(edits)
    with pytest.raises(TypeError):
        edits["status"] = RequestStatus.EXECUTED  # type: ignore[index]
    with pytest.raises(InvalidArgumentError, match="lifecycle status"):
        lifecycle_changes(status="REJECTED")

    rejected = next_snapshot(approved_request(request_id="req-checked"),
                             (_executed_decision(BASE_TIME),), lifecycle_changes=edits)
    assert rejected.lifecycle.status is RequestStatus.REJECTED
    assert list(rejected.lifecycle.__dict__) == list(RequestLifecycle.model_fields)


def test_next_snapshot_reads_the_values_its_caller_hands_over_as_the_snapshot() -> None:
    request = approved_request(request_id="req-held")
    decision = _executed_decision(BASE_TIME + timedelta(minutes=1))

    from_values = next_snapshot(request, (decision,), lifecycle_changes=TO_EXECUTED,
                                held=request.__dict__)
    from_request = next_snapshot(request, (decision,), lifecycle_changes=TO_EXECUTED)

    assert from_values == from_request
    assert from_values.revision == request.revision + 1
    assert request.lifecycle.status is RequestStatus.APPROVED  # the held values unchanged

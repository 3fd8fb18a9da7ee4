"""The runtime's internal builders (``evolve``, ``assemble``, ``record_builder``,
``owned_decision``) give the same objects as the public constructors, and leave their sources
untouched."""

from __future__ import annotations

import dataclasses

import pydantic
import pytest

from governance import (
    DecisionType,
    ExecutionClaim,
    LifecycleDecision,
    MissingArgumentError,
    MutationContext,
    MutationRequest,
    RequestDecision,
    RequestStatus,
    ResolutionOutcome,
    VersionResolution,
)
from governance._models import assemble, evolve, record_builder
from governance.decisions import DecisionLog, decision_record, owned_decision
from governance.testing import BASE_TIME, approved_request


def test_evolve_equals_model_copy_with_the_same_update() -> None:
    request = approved_request(request_id="req-1")
    lifecycle = evolve(request.lifecycle, status=RequestStatus.EXECUTED, updated_at=BASE_TIME)

    fast = evolve(request, lifecycle=lifecycle, revision=7)
    slow = request.model_copy(update={"lifecycle": lifecycle, "revision": 7})

    assert fast == slow
    assert fast.model_dump() == slow.model_dump()
    assert list(fast.__dict__) == list(request.__dict__)  # field order kept
    assert fast.model_fields_set == set(MutationRequest.model_fields)
    assert fast.__pydantic_extra__ is None and fast.__pydantic_private__ is None
    assert MutationRequest.model_validate_json(fast.model_dump_json()) == fast


def test_evolve_leaves_its_source_unchanged_and_the_copy_frozen() -> None:
    context = MutationContext.system("runner", correlation_id="c-1")
    before = context.model_dump()

    changed = evolve(context, state_id="state-9")

    assert context.model_dump() == before
    assert changed.state_id == "state-9" and context.state_id != "state-9"
    assert changed.__dict__ is not context.__dict__
    with pytest.raises(pydantic.ValidationError):
        changed.state_id = "other"  # type: ignore[misc]


def test_assemble_equals_the_validating_constructor() -> None:
    values = {"claim_id": "claim-1", "claimed_at": BASE_TIME, "actor_id": "runner"}

    fast = assemble(ExecutionClaim, dict(values))

    assert fast == ExecutionClaim(**values)
    assert repr(fast) == repr(ExecutionClaim(**values))
    assert ExecutionClaim.model_validate_json(fast.model_dump_json()) == fast


def test_a_positional_record_builder_equals_the_dataclass_constructor_and_stays_frozen(
) -> None:
    request = approved_request(request_id="req-1")
    values = (request, ResolutionOutcome.REJECTED_AS_STALE, "v1", "v2", True)

    fast = record_builder(VersionResolution, positional=True)(*values)

    assert fast == VersionResolution(*values)
    assert repr(fast) == repr(VersionResolution(*values))
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.is_stale = False  # type: ignore[misc]


def test_owned_decision_equals_create_and_refuses_a_missing_context() -> None:
    context = MutationContext.system("runner", correlation_id="c-1")
    kind = DecisionType.lifecycle(LifecycleDecision.EXECUTED)

    values = owned_decision(kind, context, "done", {"Key": 1}, BASE_TIME)
    fast = DecisionLog([values])[0]

    assert fast == RequestDecision.create(kind, context, "done", {"Key": 1}, BASE_TIME)
    assert decision_record(values) == fast
    assert RequestDecision.model_validate_json(fast.model_dump_json()) == fast
    with pytest.raises(MissingArgumentError, match="EXECUTED decision needs the context"):
        owned_decision(kind, None, "done", {}, BASE_TIME)  # type: ignore[arg-type]

"""The runtime's internal builders (``evolve``, ``assemble``, ``record_builder``,
``owned_decision``) give the same objects as the public constructors, and leave their sources
untouched."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import weakref
from typing import Any

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
    RequestLifecycle,
    RequestStatus,
    ResolutionOutcome,
    VersionResolution,
    _models,
)
from governance._models import (
    BUILDERS,
    assemble,
    evolve,
    model_assembler,
    nested_model_assembler,
    record_builder,
)
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


def test_a_model_assembler_builds_what_assemble_builds_and_takes_its_values_over() -> None:
    request = approved_request(request_id="req-1")
    values = {**request.__dict__, "revision": 5}

    fast = model_assembler(MutationRequest)(values)

    assert "_open" in model_assembler(MutationRequest).__globals__
    _same_record(fast, assemble(MutationRequest, {**request.__dict__, "revision": 5}))
    assert fast == request.model_copy(update={"revision": 5})
    assert fast.__dict__ is values and fast.model_fields_set == set(MutationRequest.model_fields)
    assert type(fast) is MutationRequest and not isinstance(fast, _models._OpenModel)
    with pytest.raises(pydantic.ValidationError):
        fast.revision = 9  # type: ignore[misc]


def test_a_nested_model_assembler_builds_the_part_and_the_model_in_one_call() -> None:
    request = approved_request(request_id="req-1")
    lifecycle_values = {**request.lifecycle.__dict__, "status": RequestStatus.REJECTED}
    values = {**request.__dict__, "revision": 5}

    fast = nested_model_assembler(MutationRequest, "lifecycle", RequestLifecycle)(
        values, lifecycle_values)

    assert "_open" in nested_model_assembler(MutationRequest, "lifecycle",
                                             RequestLifecycle).__globals__
    expected = request.model_copy(update={
        "revision": 5,
        "lifecycle": request.lifecycle.model_copy(update={"status": RequestStatus.REJECTED})})
    _same_record(fast, expected)
    assert fast.__dict__ is values and fast.lifecycle.__dict__ is lifecycle_values
    assert type(fast.lifecycle) is RequestLifecycle
    assert fast.lifecycle.model_fields_set == set(RequestLifecycle.model_fields)
    assert fast.lifecycle.__pydantic_extra__ is None
    with pytest.raises(pydantic.ValidationError):
        fast.lifecycle.status = RequestStatus.PENDING  # type: ignore[misc]


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


# -- how the builders fill an instance (``_models``: an open class, then ``__class__``) --------

def _same_record(fast: Any, slow: Any) -> None:
    assert type(fast) is type(slow)
    assert fast == slow and repr(fast) == repr(slow)
    assert pickle.loads(pickle.dumps(fast)) == slow


def test_a_filled_model_is_of_its_class_only_frozen_weakly_referable_and_copyable() -> None:
    request = approved_request(request_id="req-1")

    fast = evolve(request, revision=3)

    assert type(fast) is MutationRequest and fast.__class__ is MutationRequest
    assert isinstance(fast, MutationRequest) and not isinstance(fast, _models._OpenModel)
    _same_record(fast, request.model_copy(update={"revision": 3}))
    assert fast.model_copy(update={"revision": 4}).revision == 4
    assert copy.deepcopy(fast) == fast
    assert weakref.ref(fast)() is fast
    with pytest.raises(pydantic.ValidationError):
        fast.revision = 9  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        del fast.revision  # type: ignore[misc]


def test_every_builder_of_a_model_or_slotted_record_fills_an_open_instance() -> None:
    # The package's records all have the layout the open classes share; a builder that fell
    # back to the descriptors would be correct but slower, so the fall-back is checked here.
    for cls, builder in BUILDERS.items():
        if not cls.__module__.startswith("governance."):
            continue  # a test's own record
        if issubclass(cls, pydantic.BaseModel) or "__slots__" in cls.__dict__:
            assert "_open" in builder.__globals__, cls.__name__
    assert {ExecutionClaim, MutationRequest, RequestDecision} <= _models._OPEN_CLASSES


def test_a_filled_slotted_record_refuses_writes_and_equals_its_constructor() -> None:
    request = approved_request(request_id="req-1")
    values = (request, ResolutionOutcome.EXECUTE_APPROVED_VERSION, "v1", "v1", False)

    fast = record_builder(VersionResolution, positional=True)(*values)

    assert type(fast) is VersionResolution
    _same_record(fast, VersionResolution(*values))
    assert dataclasses.asdict(fast) == dataclasses.asdict(VersionResolution(*values))
    assert dataclasses.replace(fast, is_stale=True).is_stale is True
    with pytest.raises(dataclasses.FrozenInstanceError):
        del fast.outcome  # type: ignore[misc]


class _SlottedModel(pydantic.BaseModel):
    """A model with a layout of its own: a slot the open model does not have."""

    model_config = pydantic.ConfigDict(frozen=True)
    __slots__ = ("_cache",)
    name: str
    size: int


@dataclasses.dataclass(frozen=True, slots=True)
class _SlottedRecord:
    name: str
    size: int


def test_a_model_with_a_layout_of_its_own_is_filled_through_its_descriptors() -> None:
    fast = assemble(_SlottedModel, {"name": "a", "size": 1})
    built = record_builder(_SlottedModel)(name="b", size=2)

    assert _SlottedModel not in _models._OPEN_CLASSES
    assert "_open" not in record_builder(_SlottedModel).__globals__
    assert model_assembler(_SlottedModel)({"name": "c", "size": 3}) == _SlottedModel(name="c",
                                                                                    size=3)
    assert type(fast) is _SlottedModel and fast == _SlottedModel(name="a", size=1)
    assert evolve(fast, size=5) == _SlottedModel(name="a", size=5)
    assert built == _SlottedModel(name="b", size=2)
    with pytest.raises(pydantic.ValidationError):
        built.size = 3  # type: ignore[misc]


class _Holder(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True)
    part: _SlottedModel
    label: str


def test_a_nested_assembler_of_a_part_with_a_layout_of_its_own_assembles_each_model() -> None:
    assemble_both = nested_model_assembler(_Holder, "part", _SlottedModel)

    built = assemble_both({"part": None, "label": "x"}, {"name": "a", "size": 1})

    assert "_open" not in assemble_both.__globals__
    assert built == _Holder(part=_SlottedModel(name="a", size=1), label="x")
    assert type(built.part) is _SlottedModel


def test_a_slotted_record_its_open_class_cannot_become_is_filled_through_its_slots(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_models, "_becomes", lambda open_class, cls: False)

    builder = record_builder(_SlottedRecord, positional=True)

    assert "_open" not in builder.__globals__
    assert builder("a", 1) == _SlottedRecord("a", 1) and type(builder("a", 1)) is _SlottedRecord
    with pytest.raises(TypeError):
        builder("a")

"""The governed request aggregate: ``MutationRequest``, its parts, and its decision history.

A request is a frozen pydantic model, validated once at the boundary (its factories, JSON, the
store's ``create``). Every change produces a new snapshot through ``next_snapshot``, the one
place that enforces the rules every change obeys (only the execution holding a claim writes its
request, valid lifecycle values, timezone-aware instants, revision + 1); it assembles
already-valid parts without re-validating them through pydantic.
"""

from __future__ import annotations

import builtins
import itertools
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from enum import IntEnum
from typing import Any, overload

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    ValidationError,
    field_validator,
)
from pydantic_core import core_schema

from governance._clock import utc_now
from governance._models import assemble
from governance.core.context import MutationContext, MutationIntent
from governance.core.effects import SideEffect
from governance.core.policies import PolicyRequirement
from governance.errors import (
    InvalidArgumentError,
    InvalidOperationError,
    MissingArgumentError,
    RequestClaimedError,
)

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class RequestStatus(IntEnum):
    """Where a request is in its lifecycle. REJECTED and later are terminal."""

    CREATED = 0
    PENDING = 1
    APPROVED = 2
    REJECTED = 3
    CANCELED = 4
    EXPIRED = 5
    SUPERSEDED = 6
    EXECUTED = 7

    @property
    def is_terminal(self) -> bool:
        """Whether no transition leaves this status."""
        return self >= RequestStatus.REJECTED


class PendingReason(IntEnum):
    """Why a PENDING request waits."""

    APPROVAL = 0
    EXTERNAL_CHECK = 1
    SCHEDULE = 2
    DEPENDENCY = 3
    QUOTA = 4
    MANUAL_REVIEW = 5
    REVALIDATION = 6


class DecisionCategory(IntEnum):
    """Which part of the runtime recorded a decision."""

    LIFECYCLE = 0
    APPROVAL = 1
    VERSION_RESOLUTION = 2


class LifecycleDecision(IntEnum):
    """Codes of lifecycle decisions."""

    SUBMITTED = 0
    PENDING = 1
    APPROVED = 2
    REJECTED = 3
    CANCELED = 4
    EXPIRED = 5
    SUPERSEDED = 6
    EXECUTED = 7
    COMPENSATED = 8


class ApprovalDecision(IntEnum):
    """Codes of approval-workflow decisions."""

    REQUESTED = 0
    GRANTED = 1
    REJECTED = 2
    QUORUM_SATISFIED = 3
    EXPIRED = 4


class VersionResolutionDecision(IntEnum):
    """Codes of version-resolution decisions."""

    VALIDATED = 0
    REVALIDATION_REQUIRED = 1
    RENEWED_APPROVAL_REQUIRED = 2
    REJECTED_AS_STALE = 3


class DecisionType(BaseModel):
    """A decision's category and code; equal when both are equal. ``str()`` is the code."""

    model_config = _FROZEN

    category: DecisionCategory
    code: str

    def __str__(self) -> str:
        return self.code

    @classmethod
    def lifecycle(cls, decision: LifecycleDecision) -> DecisionType:
        """A lifecycle decision type."""
        return _LIFECYCLE_TYPES[decision]

    @classmethod
    def approval(cls, decision: ApprovalDecision) -> DecisionType:
        """An approval decision type."""
        return _APPROVAL_TYPES[decision]

    @classmethod
    def version_resolution(cls, decision: VersionResolutionDecision) -> DecisionType:
        """A version-resolution decision type."""
        return _RESOLUTION_TYPES[decision]


_LIFECYCLE_TYPES = {d: DecisionType(category=DecisionCategory.LIFECYCLE, code=d.name)
                    for d in LifecycleDecision}
_APPROVAL_TYPES = {d: DecisionType(category=DecisionCategory.APPROVAL, code=d.name)
                   for d in ApprovalDecision}
_RESOLUTION_TYPES = {d: DecisionType(category=DecisionCategory.VERSION_RESOLUTION, code=d.name)
                     for d in VersionResolutionDecision}


class RequestDecision(BaseModel):
    """One entry of a request's append-only decision history."""

    model_config = _FROZEN

    type: DecisionType
    context: MutationContext
    reason: str | None = None
    timestamp: AwareDatetime = Field(default_factory=utc_now)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def category(self) -> DecisionCategory:
        """The decision's category."""
        return self.type.category

    @property
    def code(self) -> str:
        """The decision's code."""
        return self.type.code

    @classmethod
    def create(
        cls,
        type: DecisionType,
        context: MutationContext,
        reason: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        timestamp: datetime | None = None,
    ) -> RequestDecision:
        """A decision of ``type`` recorded by the actor of ``context``.

        Raises:
            MissingArgumentError: ``context`` is None.
            InvalidArgumentError: ``context`` is not a ``MutationContext``, ``reason`` is not
                text, ``metadata`` is not a mapping, or ``timestamp`` has no timezone.
        """
        if context is None:
            raise MissingArgumentError(f"a {type.code} decision needs the context of its actor")
        check_decision_inputs(f"a {type.code} decision", context, reason, metadata)
        if timestamp is not None and not _aware(timestamp):
            raise InvalidArgumentError(
                f"a {type.code} decision needs a timezone-aware timestamp, not {timestamp!r}")
        return assemble(cls, {
            "type": type,
            "context": context,
            "reason": reason,
            "timestamp": timestamp or utc_now(),
            "metadata": dict(metadata) if metadata else {},
        })

    @classmethod
    def lifecycle(cls, decision: LifecycleDecision, context: MutationContext,
                  reason: str | None = None, metadata: Mapping[str, Any] | None = None,
                  timestamp: datetime | None = None) -> RequestDecision:
        """A lifecycle decision."""
        return cls.create(DecisionType.lifecycle(decision), context, reason, metadata, timestamp)

    @classmethod
    def approval(cls, decision: ApprovalDecision, context: MutationContext,
                 reason: str | None = None, metadata: Mapping[str, Any] | None = None,
                 timestamp: datetime | None = None) -> RequestDecision:
        """An approval decision."""
        return cls.create(DecisionType.approval(decision), context, reason, metadata, timestamp)

    @classmethod
    def version_resolution(cls, decision: VersionResolutionDecision, context: MutationContext,
                           reason: str | None = None, metadata: Mapping[str, Any] | None = None,
                           timestamp: datetime | None = None) -> RequestDecision:
        """A version-resolution decision."""
        return cls.create(DecisionType.version_resolution(decision), context, reason, metadata,
                          timestamp)


def check_decision_inputs(what: str, context: Any, reason: Any, metadata: Any) -> None:
    """Refuse what a decision cannot hold: a context that is not a ``MutationContext``, a
    reason that is not text, metadata that is not a mapping. ``what`` starts the message (name
    the request there)."""
    if not isinstance(context, MutationContext):
        raise InvalidArgumentError(
            f"{what} needs a MutationContext, not {builtins.type(context).__name__}")
    if reason is not None and not isinstance(reason, str):
        raise InvalidArgumentError(
            f"{what} needs a text reason, not {builtins.type(reason).__name__}")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise InvalidArgumentError(
            f"{what} needs metadata as a mapping, not {builtins.type(metadata).__name__}")


def owned_decision(type: DecisionType, context: MutationContext, reason: str | None,
                   metadata: dict[str, Any], timestamp: datetime) -> RequestDecision:
    """``RequestDecision.create`` for the runtime's own decisions: ``metadata`` is a dict the
    caller built for this decision and hands over (it is not copied).

    Raises:
        MissingArgumentError: ``context`` is None.
    """
    if context is None:
        raise MissingArgumentError(f"a {type.code} decision needs the context of its actor")
    return assemble(RequestDecision, {"type": type, "context": context, "reason": reason,
                                      "timestamp": timestamp, "metadata": metadata})


class DecisionLog(Sequence[RequestDecision]):
    """A request's decision history: an immutable sequence whose snapshots share storage.

    Each snapshot of a request sees a prefix of one growing list. Appending to the newest
    snapshot extends that list in place and returns a view one longer, so recording a decision
    costs the same whatever the length of the history; views held by older snapshots keep their
    length and never change. Appending to an older snapshot (a writer that will lose the store's
    compare-and-set anyway) copies its prefix first. Compares equal to any tuple or list with
    the same decisions; serializes as a list.
    """

    __slots__ = ("_items", "_length")
    _append_lock = threading.Lock()

    def __init__(self, decisions: Iterable[RequestDecision] = ()) -> None:
        self._items: list[RequestDecision] = list(decisions)
        self._length = len(self._items)

    @classmethod
    def _view(cls, items: list[RequestDecision], length: int) -> DecisionLog:
        view = cls.__new__(cls)
        view._items = items
        view._length = length
        return view

    def appended(self, *decisions: RequestDecision) -> DecisionLog:
        """A log holding these decisions followed by ``decisions``; this log is unchanged."""
        with self._append_lock:
            items = self._items
            if len(items) != self._length:
                items = items[:self._length]
            items.extend(decisions)
            return self._view(items, len(items))

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> RequestDecision: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[RequestDecision, ...]: ...

    def __getitem__(self, index: int | slice) -> RequestDecision | tuple[RequestDecision, ...]:
        if isinstance(index, slice):
            return tuple(self._items[:self._length][index])
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError("decision index out of range")
        return self._items[index]

    def __iter__(self) -> Iterator[RequestDecision]:
        return itertools.islice(self._items, self._length)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DecisionLog | tuple | list):
            return NotImplemented
        return self._length == len(other) and all(a == b for a, b in zip(self, other,
                                                                            strict=True))

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"DecisionLog({list(self)!r})"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        items = handler.generate_schema(tuple[RequestDecision, ...])
        return core_schema.no_info_after_validator_function(
            cls,
            items,
            serialization=core_schema.plain_serializer_function_ser_schema(
                tuple, return_schema=items),
        )


def append_decisions(decisions: Sequence[RequestDecision],
                     *new: RequestDecision) -> DecisionLog:
    """``decisions`` followed by ``new``, as a ``DecisionLog`` (O(1) when ``decisions`` is the
    newest view of its log; a plain sequence, as ``model_copy`` may leave, is converted)."""
    if isinstance(decisions, DecisionLog):
        return decisions.appended(*new)
    return DecisionLog((*decisions, *new))


class ApprovalRequirementStatus(IntEnum):
    """Where one approval requirement stands."""

    PENDING = 0
    APPROVED = 1
    REJECTED = 2
    SATISFIED = 3
    EXPIRED = 4


class ApprovalRejectionReason(BaseModel):
    """A structured reason given when an approver rejects."""

    model_config = _FROZEN

    code: str = ""
    category: str | None = None
    message: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


class ApprovalRequirement(BaseModel):
    """One approval a request waits for: who may give it, in which step, and its outcome."""

    model_config = _FROZEN

    approval_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    type: str = "Approval"
    description: str = ""
    approver_id: str = ""
    approver_role: str | None = None
    approver_group: str | None = None
    approver_name: str | None = None
    step_order: int = 1
    approval_group_id: str | None = None
    required_approvals: int = 1
    expires_at: AwareDatetime | None = None
    status: ApprovalRequirementStatus = ApprovalRequirementStatus.PENDING
    decided_at: AwareDatetime | None = None
    decision_context: MutationContext | None = None
    decision_reason: str | None = None
    rejection: ApprovalRejectionReason | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class GovernedExecutionKind(IntEnum):
    """Whether a request is an ordinary execution or compensates an earlier one."""

    STANDARD = 0
    COMPENSATION = 1


class CompensationKind(IntEnum):
    """How a compensation undoes an earlier execution."""

    ROLLBACK = 0
    FORWARD_CORRECTION = 1


class CompensationTrigger(IntEnum):
    """What led to a compensation."""

    OPERATOR_ROLLBACK = 0
    BATCH_FAILURE = 1
    FAILED_EXECUTION = 2


class CompensationPlan(BaseModel):
    """What a compensation request compensates, and why."""

    model_config = _FROZEN

    original_request_id: str
    kind: CompensationKind = CompensationKind.ROLLBACK
    trigger: CompensationTrigger = CompensationTrigger.OPERATOR_ROLLBACK
    batch_id: str | None = None
    related_request_ids: tuple[str, ...] = ()
    reason: str | None = None

    @field_validator("original_request_id")
    @classmethod
    def _original_request_id_is_not_blank(cls, value: str) -> str:
        # InvalidOperationError is not a ValueError, so pydantic lets it through unwrapped:
        # a plan without an original request is refused with the domain's own error.
        if not value.strip():
            raise InvalidOperationError(
                "a compensation plan needs the non-blank id of the request it compensates")
        return value


def compensation_metadata(plan: CompensationPlan | None) -> dict[str, Any]:
    """The decision metadata that describes a compensation plan (empty without one).

    Keys: ``OriginalRequestId``, ``CompensationKind``, ``CompensationTrigger``, and
    ``BatchId`` / ``RelatedRequestIds`` / ``CompensationReason`` when the plan has them.
    """
    return plan_facts(plan, "CompensationKind", "CompensationTrigger", "CompensationReason")


def plan_facts(plan: CompensationPlan | None, kind_key: str, trigger_key: str,
               reason_key: str) -> dict[str, Any]:
    """A compensation plan's facts (empty without a plan): ``OriginalRequestId``, the kind and
    trigger names under ``kind_key`` and ``trigger_key``, and ``BatchId`` /
    ``RelatedRequestIds`` / the reason under ``reason_key`` when the plan has them."""
    if plan is None:
        return {}
    data: dict[str, Any] = {
        "OriginalRequestId": plan.original_request_id,
        kind_key: plan.kind.name,
        trigger_key: plan.trigger.name,
    }
    if plan.batch_id:
        data["BatchId"] = plan.batch_id
    if plan.related_request_ids:
        data["RelatedRequestIds"] = list(plan.related_request_ids)
    if plan.reason:
        data[reason_key] = plan.reason
    return data


class ExecutionLinkType(IntEnum):
    """Direction of a link between a request and its compensation."""

    COMPENSATES = 0
    COMPENSATED_BY = 1


class ExecutionLink(BaseModel):
    """A link from one request to a related execution."""

    model_config = _FROZEN

    request_id: str
    type: ExecutionLinkType
    execution_kind: GovernedExecutionKind = GovernedExecutionKind.STANDARD
    compensation_kind: CompensationKind | None = None
    trigger: CompensationTrigger | None = None
    batch_id: str | None = None
    linked_at: AwareDatetime = Field(default_factory=utc_now)


class ExecutionClaim(BaseModel):
    """The mark a governed execution sets, through the store's compare-and-set, before the engine
    runs. A claimed request is never executed by anyone else."""

    model_config = _FROZEN

    claim_id: str
    claimed_at: AwareDatetime
    actor_id: str | None = None


class RequestScope(BaseModel):
    """Which state a request targets, and the type names of the state and of the mutation."""

    model_config = _FROZEN

    state_id: str = ""
    state_type: str = ""
    mutation_type: str = ""


class RequestPayload(BaseModel):
    """What is asked (the intent) and by whom (the requester's context)."""

    model_config = _FROZEN

    intent: MutationIntent
    context: MutationContext


class RequestLifecycle(BaseModel):
    """Status, pending reason, expiry and timestamps of a request."""

    model_config = _FROZEN

    status: RequestStatus = RequestStatus.CREATED
    pending_reason: PendingReason | None = None
    expires_at: AwareDatetime | None = None
    created_at: AwareDatetime = Field(default_factory=utc_now)
    updated_at: AwareDatetime = Field(default_factory=utc_now)


class GovernedExecutionDetails(BaseModel):
    """Execution kind, compensation plan, related executions and the execution claim."""

    model_config = _FROZEN

    kind: GovernedExecutionKind = GovernedExecutionKind.STANDARD
    compensation: CompensationPlan | None = None
    related_executions: tuple[ExecutionLink, ...] = ()
    claim: ExecutionClaim | None = None


class RequestVersioning(BaseModel):
    """The state version a request was approved against, and what its execution produced."""

    model_config = _FROZEN

    expected_state_version: str | None = None
    resulting_state_version: str | None = None
    executed_at: AwareDatetime | None = None


def _type_name(value: str | type[Any]) -> str:
    return value if isinstance(value, str) else value.__name__


class MutationRequest(BaseModel):
    """A governed request for a mutation: the aggregate the governance runtime works on.

    Fields are grouped in detail records; the flat read-only accessors (``status``,
    ``state_id``...) are conveniences and are not serialized. ``revision`` is owned by the store.
    """

    model_config = _FROZEN

    request_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    scope: RequestScope = Field(default_factory=RequestScope)
    payload: RequestPayload
    lifecycle: RequestLifecycle = Field(default_factory=RequestLifecycle)
    execution: GovernedExecutionDetails = Field(default_factory=GovernedExecutionDetails)
    requirements: tuple[PolicyRequirement, ...] = ()
    approval_requirements: tuple[ApprovalRequirement, ...] = ()
    decisions: DecisionLog = Field(default_factory=DecisionLog)
    side_effects: tuple[SideEffect, ...] = ()
    revision: int = 0
    versioning: RequestVersioning = Field(default_factory=RequestVersioning)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def state_id(self) -> str:
        """The targeted state's id."""
        return self.scope.state_id

    @property
    def state_type(self) -> str:
        """The targeted state's type name."""
        return self.scope.state_type

    @property
    def mutation_type(self) -> str:
        """The mutation's type name."""
        return self.scope.mutation_type

    @property
    def intent(self) -> MutationIntent:
        """What the request asks for."""
        return self.payload.intent

    @property
    def context(self) -> MutationContext:
        """The requester's context."""
        return self.payload.context

    @property
    def status(self) -> RequestStatus:
        """The lifecycle status."""
        return self.lifecycle.status

    @property
    def pending_reason(self) -> PendingReason | None:
        """Why the request waits, when PENDING."""
        return self.lifecycle.pending_reason

    @property
    def expires_at(self) -> datetime | None:
        """When a pending request expires."""
        return self.lifecycle.expires_at

    @property
    def created_at(self) -> datetime:
        """When the request was created."""
        return self.lifecycle.created_at

    @property
    def updated_at(self) -> datetime:
        """When the request last changed."""
        return self.lifecycle.updated_at

    @property
    def expected_state_version(self) -> str | None:
        """The state version the request was approved against."""
        return self.versioning.expected_state_version

    def with_decision(
        self,
        decision: RequestDecision,
        *,
        lifecycle_changes: Mapping[str, Any] | None = None,
        **updates: Any,
    ) -> MutationRequest:
        """The next snapshot: ``decision`` appended, ``updated_at`` set to its timestamp, and
        ``revision`` one above this one's (what the store will give it).

        ``lifecycle_changes`` edits lifecycle fields (``status``, ``pending_reason``...) in the
        same copy; ``updates`` may replace whole detail records (``versioning=...``), including
        ``lifecycle``, to which ``lifecycle_changes`` then apply. Built by ``next_snapshot``,
        whose rules it obeys (a request claimed by a running execution is refused).
        """
        return next_snapshot(self, (decision,), lifecycle_changes=lifecycle_changes, **updates)

    # -- factories ---------------------------------------------------------------------------

    @classmethod
    def _new(
        cls,
        state_id: str,
        state_type: str | type[Any],
        mutation_type: str | type[Any],
        intent: MutationIntent,
        context: MutationContext,
        *,
        status: RequestStatus,
        decisions: Sequence[RequestDecision],
        now: datetime,
        pending_reason: PendingReason | None = None,
        expires_at: datetime | None = None,
        requirements: Sequence[PolicyRequirement] = (),
        approval_requirements: Sequence[ApprovalRequirement] = (),
        expected_state_version: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        request_id: str | None = None,
    ) -> MutationRequest:
        request_id = request_id or str(uuid.uuid4())
        try:
            return cls(
                request_id=request_id,
                scope=RequestScope(
                    state_id=state_id,
                    state_type=_type_name(state_type),
                    mutation_type=_type_name(mutation_type),
                ),
                payload=RequestPayload(intent=intent, context=context),
                lifecycle=RequestLifecycle(
                    status=status,
                    pending_reason=pending_reason,
                    expires_at=expires_at,
                    created_at=now,
                    updated_at=now,
                ),
                requirements=tuple(requirements),
                approval_requirements=tuple(approval_requirements),
                decisions=tuple(decisions),
                versioning=RequestVersioning(expected_state_version=expected_state_version),
                metadata=dict(metadata) if metadata else {},
            )
        except ValidationError as exc:
            raise InvalidArgumentError(
                f"request '{request_id}' cannot be built: {exc}") from exc

    @classmethod
    def approved(
        cls,
        state_id: str,
        state_type: str | type[Any],
        mutation_type: str | type[Any],
        intent: MutationIntent,
        context: MutationContext,
        *,
        expected_state_version: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        now: datetime | None = None,
    ) -> MutationRequest:
        """A request approved at submission (decisions: SUBMITTED, APPROVED).

        ``state_type`` and ``mutation_type`` accept a class, whose ``__name__`` is used.

        Raises:
            MissingArgumentError: ``intent`` or ``context`` is None.
            InvalidArgumentError: ``state_id`` is blank, or an argument has the wrong type
                (see ``_check_request_inputs``), or ``now`` has no timezone.
        """
        request_id = _check_request_inputs(
            request_id, state_id, state_type, mutation_type, intent, context,
            expected_state_version, metadata, now, None)
        now = now or utc_now()
        return cls._new(
            state_id, state_type, mutation_type, intent, context,
            status=RequestStatus.APPROVED,
            decisions=(
                RequestDecision.lifecycle(LifecycleDecision.SUBMITTED, context, context.reason,
                                          timestamp=now),
                RequestDecision.lifecycle(LifecycleDecision.APPROVED, context,
                                          "Approved when it was submitted", timestamp=now),
            ),
            now=now,
            expected_state_version=expected_state_version,
            metadata=metadata,
            request_id=request_id,
        )

    @classmethod
    def approved_compensation(
        cls,
        state_id: str,
        state_type: str | type[Any],
        mutation_type: str | type[Any],
        intent: MutationIntent,
        context: MutationContext,
        compensation: CompensationPlan,
        *,
        expected_state_version: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        now: datetime | None = None,
    ) -> MutationRequest:
        """An approved request that compensates the request named by ``compensation``.

        Built like ``approved``; its execution kind is COMPENSATION, it carries the plan and a
        COMPENSATES link to the original, and its APPROVED decision names the original and
        carries the plan's metadata (``compensation_metadata``). Executing it through
        ``GovernanceExecutionManager`` links the original back (COMPENSATED_BY) and records a
        COMPENSATED decision on it.

        Args:
            compensation: what is compensated, how and why.

        Raises:
            MissingArgumentError: ``compensation``, ``intent`` or ``context`` is None.
            InvalidOperationError: the plan's original request id is blank, or is the id of
                this request.
            InvalidArgumentError: ``state_id`` is blank.
        """
        if compensation is None:
            raise MissingArgumentError("a compensation request needs a compensation plan")
        original_id = compensation.original_request_id
        # A plan built with model_construct or model_copy skips the plan's own validation.
        if original_id is None or not str(original_id).strip():
            raise InvalidOperationError(
                "a compensation request needs the non-blank id of the request it compensates")
        if request_id is not None and request_id == original_id:
            raise InvalidOperationError(f"request '{request_id}' cannot compensate itself")
        now = now or utc_now()
        request = cls.approved(
            state_id, state_type, mutation_type, intent, context,
            expected_state_version=expected_state_version, metadata=metadata,
            request_id=request_id, now=now)
        link = ExecutionLink.model_construct(
            request_id=original_id,
            type=ExecutionLinkType.COMPENSATES,
            execution_kind=GovernedExecutionKind.STANDARD,
            compensation_kind=compensation.kind,
            trigger=compensation.trigger,
            batch_id=compensation.batch_id,
            linked_at=now,
        )
        execution = GovernedExecutionDetails.model_construct(
            kind=GovernedExecutionKind.COMPENSATION,
            compensation=compensation,
            related_executions=(link,),
            claim=None,
        )
        approved = RequestDecision.lifecycle(
            LifecycleDecision.APPROVED, context,
            f"Compensation of request '{original_id}', approved when it was submitted",
            compensation_metadata(compensation), timestamp=now)
        return request.model_copy(update={
            "execution": execution,
            "decisions": DecisionLog((*request.decisions[:-1], approved)),
        })

    @classmethod
    def pending(
        cls,
        state_id: str,
        state_type: str | type[Any],
        mutation_type: str | type[Any],
        intent: MutationIntent,
        context: MutationContext,
        pending_reason: PendingReason,
        *,
        requirements: Sequence[PolicyRequirement] | None = None,
        expected_state_version: str | None = None,
        expires_at: datetime | None = None,
        metadata: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        now: datetime | None = None,
    ) -> MutationRequest:
        """A request waiting for ``pending_reason`` (decisions: SUBMITTED, PENDING).

        Raises:
            MissingArgumentError: ``intent``, ``context`` or ``pending_reason`` is None.
            InvalidArgumentError: ``state_id`` is blank, an argument has the wrong type, or
                ``now`` or ``expires_at`` has no timezone.
        """
        request_id = _check_request_inputs(
            request_id, state_id, state_type, mutation_type, intent, context,
            expected_state_version, metadata, now, expires_at)
        if pending_reason is None:
            raise MissingArgumentError(
                f"pending request '{request_id}' needs a pending reason")
        if type(pending_reason) is not PendingReason:
            raise InvalidArgumentError(
                f"pending request '{request_id}' needs a PendingReason, not {pending_reason!r}")
        now = now or utc_now()
        return cls._new(
            state_id, state_type, mutation_type, intent, context,
            status=RequestStatus.PENDING,
            pending_reason=pending_reason,
            expires_at=expires_at,
            requirements=requirements or (),
            decisions=(
                RequestDecision.lifecycle(LifecycleDecision.SUBMITTED, context, context.reason,
                                          timestamp=now),
                RequestDecision.lifecycle(
                    LifecycleDecision.PENDING, context,
                    f"Request is pending: {pending_reason.name}", timestamp=now),
            ),
            now=now,
            expected_state_version=expected_state_version,
            metadata=metadata,
            request_id=request_id,
        )

    @classmethod
    def pending_approval(
        cls,
        state_id: str,
        state_type: str | type[Any],
        mutation_type: str | type[Any],
        intent: MutationIntent,
        context: MutationContext,
        requirements: Sequence[PolicyRequirement],
        *,
        expected_state_version: str | None = None,
        expires_at: datetime | None = None,
        metadata: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        now: datetime | None = None,
    ) -> MutationRequest:
        """A request waiting for approvals mapped from the "Approval" ``requirements``.

        Decisions: SUBMITTED, PENDING, and an approval REQUESTED carrying the requirement count.

        Raises:
            InvalidOperationError: no requirement is of type "Approval".
            InvalidApprovalConfigurationError: an approval requirement is misconfigured.
        """
        from governance.approval import map_approval_requirements

        rid = _check_request_inputs(
            request_id, state_id, state_type, mutation_type, intent, context,
            expected_state_version, metadata, now, expires_at)
        if requirements is None:
            raise MissingArgumentError(
                f"pending-approval request '{rid}' needs its requirements")
        approvals = map_approval_requirements(requirements, request_id=rid)
        if not approvals:
            raise InvalidOperationError(
                f"request '{rid}' cannot wait for approval: none of its requirements is an "
                "approval requirement"
            )
        now = now or utc_now()
        return cls._new(
            state_id, state_type, mutation_type, intent, context,
            status=RequestStatus.PENDING,
            pending_reason=PendingReason.APPROVAL,
            expires_at=expires_at,
            requirements=requirements,
            approval_requirements=approvals,
            decisions=(
                RequestDecision.lifecycle(LifecycleDecision.SUBMITTED, context, context.reason,
                                          timestamp=now),
                RequestDecision.lifecycle(LifecycleDecision.PENDING, context,
                                          "Request is pending approval", timestamp=now),
                RequestDecision.approval(
                    ApprovalDecision.REQUESTED, context,
                    f"{len(approvals)} approval action(s) requested",
                    {"ApprovalRequirementCount": len(approvals)}, timestamp=now),
            ),
            now=now,
            expected_state_version=expected_state_version,
            metadata=metadata,
            request_id=rid,
        )


def _check_request_inputs(
    request_id: Any, state_id: Any, state_type: Any, mutation_type: Any, intent: Any,
    context: Any, expected_state_version: Any, metadata: Any, now: Any, expires_at: Any,
) -> str:
    """Check a factory's arguments; return the request id (the given one, or a new uuid).

    Refused: an id that is not a non-blank string; a blank state id; a state or mutation type
    that is neither a class nor a non-blank string; an intent or context of the wrong type; an
    expected state version that is not a string; metadata that is not a mapping; ``now`` or
    ``expires_at`` without a timezone. Messages name the request.
    """
    if request_id is not None and (not isinstance(request_id, str) or not request_id.strip()):
        raise InvalidArgumentError(
            f"a request id must be a non-blank string, not {request_id!r}")
    rid = request_id if request_id is not None else str(uuid.uuid4())
    what = f"request '{rid}'"
    if intent is None:
        raise MissingArgumentError(f"{what} needs an intent")
    if context is None:
        raise MissingArgumentError(f"{what} needs the requester's context")
    if not isinstance(intent, MutationIntent):
        raise InvalidArgumentError(
            f"{what} needs a MutationIntent as its intent, not {type(intent).__name__}")
    if not isinstance(context, MutationContext):
        raise InvalidArgumentError(
            f"{what} needs a MutationContext as its context, not {type(context).__name__}")
    if state_id is None or not isinstance(state_id, str) or not state_id.strip():
        raise InvalidArgumentError(f"{what} needs a non-blank state id, not {state_id!r}")
    for label, value in (("state type", state_type), ("mutation type", mutation_type)):
        if isinstance(value, str) and value.strip():
            continue
        if isinstance(value, type):
            continue
        raise InvalidArgumentError(
            f"{what} needs its {label} as a class or a non-blank name, not {value!r}")
    if expected_state_version is not None and not isinstance(expected_state_version, str):
        raise InvalidArgumentError(
            f"{what} needs its expected state version as a string, not "
            f"{expected_state_version!r}")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise InvalidArgumentError(
            f"{what} needs its metadata as a mapping, not {type(metadata).__name__}")
    for label, instant in (("now", now), ("expires_at", expires_at)):
        if instant is not None and not _aware(instant):
            raise InvalidArgumentError(
                f"{what}: {label} must be a timezone-aware datetime, not {instant!r}")
    return rid

# -- the rules every change of a request obeys -------------------------------------------------

_FIRST_TERMINAL = RequestStatus.REJECTED
_APPROVED = RequestStatus.APPROVED
_FULFILLED_APPROVALS = frozenset({ApprovalRequirementStatus.APPROVED,
                                  ApprovalRequirementStatus.SATISFIED})


def _aware(value: Any) -> bool:
    """Whether ``value`` is a timezone-aware datetime. A fixed-offset ``timezone`` (UTC among
    them) always has an offset; only other tzinfo classes, such as the one pydantic gives a
    parsed instant, are asked for theirs, which costs ten times as much."""
    if not isinstance(value, datetime):
        return False
    tz = value.tzinfo
    return tz is not None and (type(tz) is timezone or value.utcoffset() is not None)


def _aware_or_none(value: Any) -> bool:
    return value is None or _aware(value)


_LIFECYCLE_RULES: dict[str, tuple[Any, str]] = {
    "status": (lambda v: type(v) is RequestStatus, "a RequestStatus"),
    "pending_reason": (lambda v: v is None or type(v) is PendingReason,
                       "a PendingReason or None"),
    "expires_at": (_aware_or_none, "a timezone-aware datetime or None"),
    "created_at": (_aware, "a timezone-aware datetime"),
    "updated_at": (_aware, "a timezone-aware datetime"),
}


class LifecycleChanges(dict[str, Any]):
    """Lifecycle edits whose values were checked when they were built (``lifecycle_changes``):
    ``next_snapshot`` applies them without checking them again. The runtime's own edits (the
    terminal outcomes, the resolution outcomes) are built once, at import."""

    __slots__ = ()


def _check_lifecycle_changes(request_id: str | None, changes: Mapping[str, Any]) -> None:
    for key, value in changes.items():
        rule = _LIFECYCLE_RULES.get(key)
        if rule is None or not rule[0](value):
            expected = rule[1] if rule is not None else "no lifecycle field"
            where = f"request '{request_id}': " if request_id is not None else ""
            raise InvalidArgumentError(
                f"{where}lifecycle {key} cannot be {value!r}; expected {expected}")


def lifecycle_changes(**changes: Any) -> LifecycleChanges:
    """Checked lifecycle edits (see ``LifecycleChanges``).

    Raises:
        InvalidArgumentError: a value breaks the lifecycle rules.
    """
    _check_lifecycle_changes(None, changes)
    return LifecycleChanges(changes)


def held_claim(request: MutationRequest) -> ExecutionClaim | None:
    """The claim of the governed execution that is running ``request``, if one is.

    A claim is held from the moment resolution sets it until the execution records its
    outcome; a request in a terminal status keeps its claim as the record of the execution that
    finished it, but no longer holds it.
    """
    claim = request.execution.claim
    if claim is not None and request.lifecycle.status < _FIRST_TERMINAL:
        return claim
    return None


def _pending_approvals(requirements: Sequence[ApprovalRequirement]) -> list[str]:
    return [f"'{r.approval_id}' ({r.status.name})" for r in requirements
            if r.status not in _FULFILLED_APPROVALS]


def next_snapshot(
    current: MutationRequest,
    decisions: Sequence[RequestDecision],
    *,
    owner: ExecutionClaim | None = None,
    lifecycle_changes: Mapping[str, Any] | None = None,
    touch: bool = True,
    **updates: Any,
) -> MutationRequest:
    """The next snapshot of ``current``: the one place every change of a request is built.

    Every writer of the runtime (lifecycle, approval, resolution, execution, the link of a
    compensation) builds its snapshot here, so each obeys the same rules:

    - a request held by a running execution (``held_claim``) is changed only by that execution,
      which passes its claim as ``owner``; anyone else gets ``RequestClaimedError``;
    - ``decisions`` are appended, and each is timestamped with a timezone-aware instant;
    - ``lifecycle_changes`` hold valid values (a ``RequestStatus``, a ``PendingReason`` or
      None, timezone-aware instants), and a request with approval requirements becomes
      APPROVED only when every one of them is APPROVED or SATISFIED;
    - ``updated_at`` becomes the last decision's timestamp (unless ``touch`` is False), and
      ``revision`` is one above ``current``'s, which is what the store's compare-and-set gives
      it.

    ``updates`` replace whole fields (``versioning=...``, ``approval_requirements=...``, or
    ``lifecycle``, to which ``lifecycle_changes`` then apply). Nothing is re-validated through
    pydantic: the parts come from valid snapshots and the checks above.

    Raises:
        RequestClaimedError: another execution holds the request.
        InvalidArgumentError: a decision timestamp or a lifecycle value breaks the rules.
        InvalidOperationError: APPROVED while an approval requirement is not fulfilled.
    """
    claim = current.execution.claim
    if claim is not owner and claim is not None and current.lifecycle.status < _FIRST_TERMINAL:
        raise RequestClaimedError(current.request_id, claim.claim_id)
    last = decisions[-1].timestamp
    if last.tzinfo is None or (len(decisions) > 1 and any(
            d.timestamp.tzinfo is None for d in decisions)):
        raise InvalidArgumentError(
            f"request '{current.request_id}': a decision has a timestamp without a timezone; "
            "every instant must be timezone-aware")
    values = current.__dict__.copy()
    if updates:
        values.update(updates)
    if touch or lifecycle_changes:
        lifecycle_values = values["lifecycle"].__dict__.copy()
        if touch:
            lifecycle_values["updated_at"] = last
        if lifecycle_changes:
            if type(lifecycle_changes) is not LifecycleChanges:
                _check_lifecycle_changes(current.request_id, lifecycle_changes)
            lifecycle_values.update(lifecycle_changes)
            if lifecycle_values["status"] is _APPROVED:
                pending = _pending_approvals(values["approval_requirements"])
                if pending:
                    raise InvalidOperationError(
                        f"request '{current.request_id}' cannot be APPROVED while approval "
                        f"requirement(s) {', '.join(pending)} are not fulfilled; they are "
                        "decided through the approval workflow")
        values["lifecycle"] = assemble(RequestLifecycle, lifecycle_values)
    values["decisions"] = append_decisions(current.decisions, *decisions)
    values["revision"] = current.revision + 1
    return assemble(MutationRequest, values)


def _cannot_store(request_id: str, detail: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"request '{request_id}' cannot be stored: {detail}")


def check_snapshot(request: MutationRequest) -> None:
    """Check a snapshot that enters a store from outside the runtime (``create``).

    The rules are those ``next_snapshot`` enforces on every change: a non-blank string id; a
    ``RequestStatus``; a ``PendingReason`` or None; timezone-aware instants (lifecycle,
    decisions, approval requirements, versioning, claim, links); no claim held (a new request
    has no running execution); APPROVED only with every approval requirement fulfilled.

    Raises:
        InvalidArgumentError: the snapshot breaks one of them (the message names it).
    """
    request_id = request.request_id
    if not isinstance(request_id, str) or not request_id.strip():
        raise InvalidArgumentError(f"a stored request needs a non-blank string id, not "
                                   f"{request_id!r}")
    lifecycle = request.lifecycle
    reason = lifecycle.pending_reason
    execution = request.execution
    claim = execution.claim
    # Every store.create runs this, so the common case is decided in one pass over the
    # instants; the rules that name what is broken are read only once something is.
    required = (lifecycle.created_at, lifecycle.updated_at,
                *[decision.timestamp for decision in request.decisions])
    optional = [lifecycle.expires_at, request.versioning.executed_at,
                None if claim is None else claim.claimed_at]
    for requirement in request.approval_requirements:
        optional.append(requirement.expires_at)
        optional.append(requirement.decided_at)
    optional.extend(link.linked_at for link in execution.related_executions)
    if type(lifecycle.status) is not RequestStatus or (
            reason is not None and type(reason) is not PendingReason):
        _name_broken_rule(request)
    for value in required:
        if not (type(value) is datetime and type(value.tzinfo) is timezone) \
                and not _aware(value):
            _name_broken_rule(request)
    for instant in optional:
        if instant is not None and not (type(instant) is datetime
                                        and type(instant.tzinfo) is timezone) \
                and not _aware(instant):
            _name_broken_rule(request)
    if held_claim(request) is not None:
        assert claim is not None
        raise _cannot_store(request_id,
                            f"it is {lifecycle.status.name} and claimed by execution "
                            f"'{claim.claim_id}'; a claim is only taken by "
                            "resolution, before the engine runs")
    if lifecycle.status is _APPROVED:
        pending = _pending_approvals(request.approval_requirements)
        if pending:
            raise _cannot_store(request_id,
                                f"it is APPROVED while approval requirement(s) "
                                f"{', '.join(pending)} are not fulfilled")


def _name_broken_rule(request: MutationRequest) -> None:
    """Raise the error that names the first instant or lifecycle rule ``request`` breaks."""
    request_id = request.request_id
    lifecycle = request.lifecycle
    for key, (rule, expected) in _LIFECYCLE_RULES.items():
        value = getattr(lifecycle, key, None)
        if not rule(value):
            raise _cannot_store(request_id,
                                f"its lifecycle {key} is {value!r}; expected {expected}")
    for index, decision in enumerate(request.decisions):
        if not _aware(decision.timestamp):
            raise _cannot_store(request_id,
                                f"its decision {index} ({decision.type.code}) has the "
                                f"timestamp {decision.timestamp!r}, not a timezone-aware "
                                "datetime")
    for requirement in request.approval_requirements:
        for label in ("expires_at", "decided_at"):
            value = getattr(requirement, label)
            if not _aware_or_none(value):
                raise _cannot_store(request_id,
                                    f"its approval '{requirement.approval_id}' has {label} "
                                    f"{value!r}, not a timezone-aware datetime")
    execution = request.execution
    others: list[tuple[str, Any]] = [("versioning executed_at",
                                      request.versioning.executed_at)]
    if execution.claim is not None:
        others.append(("claim claimed_at", execution.claim.claimed_at))
    others.extend(("link linked_at", link.linked_at) for link in execution.related_executions)
    for label, value in others:
        if not _aware_or_none(value):
            raise _cannot_store(request_id,
                                f"its {label} is {value!r}, not a timezone-aware datetime")
    raise AssertionError(f"request '{request_id}' breaks a rule that no message names")

"""The governed request aggregate: ``MutationRequest`` and its parts (scope, payload, lifecycle,
execution details, versioning), its factories, and the rules every change of it obeys.

A request is a frozen pydantic model, validated once at the boundary (its factories, JSON, the
store's ``create``). Every change produces a new snapshot through ``next_snapshot``, the one
place that enforces the rules every change obeys (only the execution holding a claim writes its
request, valid lifecycle values, timezone-aware instants, revision + 1); it assembles
already-valid parts without re-validating them through pydantic.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from enum import IntEnum
from typing import Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from governance._clock import is_aware, is_aware_or_none, utc_now
from governance._models import model_assembler, nested_model_assembler
from governance.approval_requirements import (
    FULFILLED_APPROVAL_STATUSES,
    ApprovalRequirement,
    map_approval_requirements,
)
from governance.core.context import MutationContext, MutationIntent
from governance.core.effects import SideEffect
from governance.core.policies import PolicyRequirement
from governance.decisions import (
    ApprovalDecision,
    DecisionLog,
    DecisionValues,
    LifecycleDecision,
    RequestDecision,
    append_decisions,
    decision_time,
)
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
        return self >= FIRST_TERMINAL_STATUS


FIRST_TERMINAL_STATUS = RequestStatus.REJECTED
"""The first terminal status: a status is terminal when ``status >= FIRST_TERMINAL_STATUS``."""

# Enum members compared on the hot paths are bound once, at module level, in every module that
# compares them: under Python 3.11 each read of a member off its enum class runs
# EnumType.__getattr__, a Python-level hook costing some 250 instructions.
_APPROVED = RequestStatus.APPROVED


class PendingReason(IntEnum):
    """Why a PENDING request waits."""

    APPROVAL = 0
    EXTERNAL_CHECK = 1
    SCHEDULE = 2
    DEPENDENCY = 3
    QUOTA = 4
    MANUAL_REVIEW = 5
    REVALIDATION = 6


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
            status=_APPROVED,
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
        if instant is not None and not is_aware(instant):
            raise InvalidArgumentError(
                f"{what}: {label} must be a timezone-aware datetime, not {instant!r}")
    return rid

# -- the rules every change of a request obeys -------------------------------------------------



_LIFECYCLE_RULES: dict[str, tuple[Any, str]] = {
    "status": (lambda v: type(v) is RequestStatus, "a RequestStatus"),
    "pending_reason": (lambda v: v is None or type(v) is PendingReason,
                       "a PendingReason or None"),
    "expires_at": (is_aware_or_none, "a timezone-aware datetime or None"),
    "created_at": (is_aware, "a timezone-aware datetime"),
    "updated_at": (is_aware, "a timezone-aware datetime"),
}


class LifecycleChanges(Mapping[str, Any]):
    """Lifecycle edits whose values were checked when they were built (``lifecycle_changes``):
    ``next_snapshot`` applies them without checking them again. The runtime's own edits (the
    terminal outcomes, the resolution outcomes) are built once, at import.

    A read-only mapping around a plain dict (``edits``, never changed): merging a plain dict
    into another skips the ``keys`` lookup (and its bound method) that merging a dict subclass
    makes.
    """

    __slots__ = ("edits",)

    def __init__(self, edits: dict[str, Any]) -> None:
        self.edits = edits

    def __getitem__(self, key: str) -> Any:
        return self.edits[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.edits)

    def __len__(self) -> int:
        return len(self.edits)

    def __repr__(self) -> str:
        return f"LifecycleChanges({self.edits!r})"


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


# The runtime's own lifecycle edits, checked once here and shared by every writer.
TO_REJECTED = lifecycle_changes(status=RequestStatus.REJECTED, pending_reason=None)
TO_EXECUTED = lifecycle_changes(status=RequestStatus.EXECUTED, pending_reason=None)
TO_PENDING_APPROVAL = lifecycle_changes(status=RequestStatus.PENDING,
                                        pending_reason=PendingReason.APPROVAL)
TO_PENDING_REVALIDATION = lifecycle_changes(status=RequestStatus.PENDING,
                                            pending_reason=PendingReason.REVALIDATION)


def held_claim(request: MutationRequest) -> ExecutionClaim | None:
    """The claim of the governed execution that is running ``request``, if one is.

    A claim is held from the moment resolution sets it until the execution records its
    outcome; a request in a terminal status keeps its claim as the record of the execution that
    finished it, but no longer holds it.
    """
    claim = request.execution.claim
    if claim is not None and request.lifecycle.status < FIRST_TERMINAL_STATUS:
        return claim
    return None


def _pending_approvals(requirements: Sequence[ApprovalRequirement]) -> list[str]:
    return [f"'{r.approval_id}' ({r.status.name})" for r in requirements
            if r.status not in FULFILLED_APPROVAL_STATUSES]


_assemble_request = model_assembler(MutationRequest)
_assemble_request_and_lifecycle = nested_model_assembler(MutationRequest, "lifecycle",
                                                         RequestLifecycle)


def next_snapshot(
    current: MutationRequest,
    decisions: Sequence[RequestDecision | DecisionValues],
    *,
    owner: ExecutionClaim | None = None,
    lifecycle_changes: Mapping[str, Any] | None = None,
    touch: bool = True,
    held: dict[str, Any] | None = None,
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
    pydantic: the parts come from valid snapshots and the checks above. ``held`` is
    ``current.__dict__`` for a caller that has read it already (it is read otherwise).

    Raises:
        RequestClaimedError: another execution holds the request.
        InvalidArgumentError: a decision timestamp or a lifecycle value breaks the rules.
        InvalidOperationError: APPROVED while an approval requirement is not fulfilled.
    """
    # The snapshot's fields are read from its values: every attribute read of a pydantic model
    # passes through its ``__getattr__`` hook, a dict subscript does not.
    if held is None:
        held = current.__dict__
    return snapshot_after(held, held["execution"].claim, decisions, owner, lifecycle_changes,
                          touch, updates or None)


def snapshot_after(
    held: dict[str, Any],
    claim: ExecutionClaim | None,
    decisions: Sequence[RequestDecision | DecisionValues],
    owner: ExecutionClaim | None,
    lifecycle_changes: Mapping[str, Any] | None,
    touch: bool,
    replaced: dict[str, Any] | None,
    lifecycle_held: dict[str, Any] | None = None,
) -> MutationRequest:
    """``next_snapshot`` for the runtime's writers, which have read the current snapshot's
    values (``held``, its ``__dict__``) and its execution ``claim`` already; ``replaced`` holds
    the whole fields it replaces (``next_snapshot``'s ``updates``), or is None;
    ``lifecycle_held``, the values of ``held``'s lifecycle, if the caller has read them. The
    arguments are positional: a call that names them costs twice as much (each keyword matched,
    each default of a keyword-only parameter looked up), and every write of the runtime makes
    one.

    Raises:
        the errors of ``next_snapshot``.
    """
    lifecycle = held["lifecycle"]
    if claim is not owner and claim is not None and lifecycle.status < FIRST_TERMINAL_STATUS:
        raise RequestClaimedError(held["request_id"], claim.claim_id)
    last_decision = decisions[-1]
    last = last_decision[3] if isinstance(last_decision, tuple) else last_decision.timestamp
    if last.tzinfo is None or (len(decisions) > 1 and any(
            decision_time(d).tzinfo is None for d in decisions)):
        raise InvalidArgumentError(
            f"request '{held['request_id']}': a decision has a timestamp without a timezone; "
            "every instant must be timezone-aware")
    if replaced is not None:
        values = {**held, **replaced}
        if "lifecycle" in replaced:
            lifecycle, lifecycle_held = replaced["lifecycle"], None
    else:
        values = held.copy()
    lifecycle_values: dict[str, Any] | None = None  # the values of a new lifecycle, if any
    if touch or lifecycle_changes is not None:
        # A copy, not a dict display: a copy's table is the size of the original's.
        lifecycle_values = (lifecycle.__dict__ if lifecycle_held is None
                            else lifecycle_held).copy()
        if touch:
            lifecycle_values["updated_at"] = last
        if lifecycle_changes is not None:
            if type(lifecycle_changes) is LifecycleChanges:
                lifecycle_values |= lifecycle_changes.edits
            else:
                _check_lifecycle_changes(held["request_id"], lifecycle_changes)
                lifecycle_values.update(lifecycle_changes)
            if lifecycle_values["status"] is _APPROVED:
                pending = _pending_approvals(values["approval_requirements"])
                if pending:
                    raise InvalidOperationError(
                        f"request '{held['request_id']}' cannot be APPROVED while approval "
                        f"requirement(s) {', '.join(pending)} are not fulfilled; they are "
                        "decided through the approval workflow")
    log = held["decisions"]
    if type(log) is DecisionLog:
        values["decisions"] = log.extended(decisions)
    else:
        values["decisions"] = append_decisions(log, *decisions)
    values["revision"] = held["revision"] + 1
    if lifecycle_values is None:
        return _assemble_request(values)
    return _assemble_request_and_lifecycle(values, lifecycle_values)


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
                and not is_aware(value):
            _name_broken_rule(request)
    for instant in optional:
        if instant is not None and not (type(instant) is datetime
                                        and type(instant.tzinfo) is timezone) \
                and not is_aware(instant):
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
        if not is_aware(decision.timestamp):
            raise _cannot_store(request_id,
                                f"its decision {index} ({decision.type.code}) has the "
                                f"timestamp {decision.timestamp!r}, not a timezone-aware "
                                "datetime")
    for requirement in request.approval_requirements:
        for label in ("expires_at", "decided_at"):
            value = getattr(requirement, label)
            if not is_aware_or_none(value):
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
        if not is_aware_or_none(value):
            raise _cannot_store(request_id,
                                f"its {label} is {value!r}, not a timezone-aware datetime")
    raise AssertionError(f"request '{request_id}' breaks a rule that no message names")

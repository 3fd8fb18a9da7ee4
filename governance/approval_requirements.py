"""Approval requirements: the model of one approval a request waits for, and the mapping of a
policy's "Approval" requirements onto them (targets, ordered steps, N-of-M quorums, expiry).

The workflow that decides them is ``governance.approval``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import IntEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from governance.core.context import MutationContext
from governance.core.policies import PolicyRequirement
from governance.errors import InvalidApprovalConfigurationError

_FROZEN = ConfigDict(frozen=True, extra="forbid")


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


FULFILLED_APPROVAL_STATUSES = frozenset({ApprovalRequirementStatus.APPROVED,
                                         ApprovalRequirementStatus.SATISFIED})
"""The statuses of an approval requirement that no longer holds its request back."""


APPROVAL_REQUIREMENT_TYPE = "Approval"
"""The ``PolicyRequirement.type`` that is mapped onto approval requirements."""

ACTOR_ROLES_KEY = "ActorRoles"
"""The ``MutationContext.metadata`` key listing the roles an actor carries."""

ACTOR_GROUPS_KEY = "ActorGroups"
"""The ``MutationContext.metadata`` key listing the groups an actor belongs to."""


def _read(data: Any, *keys: str) -> Any:
    for key in keys:
        if isinstance(data, Mapping):
            if key in data and data[key] is not None:
                return data[key]
        elif data is not None:
            value = getattr(data, key, None)
            if value is not None:
                return value
    return None


def _as_datetime(value: Any, request_id: str | None, label: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise InvalidApprovalConfigurationError(
                f"{label}: expiry '{value}' is not a date and time", request_id) from exc
    if parsed.utcoffset() is None:
        raise InvalidApprovalConfigurationError(
            f"{label}: expiry '{value}' has no timezone; every instant must be "
            "timezone-aware", request_id)
    return parsed


def _as_int(value: Any, request_id: str | None, label: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidApprovalConfigurationError(
            f"{label}: {key} must be an integer, not {value!r}", request_id)
    try:
        return int(value)
    except ValueError as exc:
        raise InvalidApprovalConfigurationError(
            f"{label}: {key} must be an integer, not {value!r}", request_id) from exc


def _as_name(value: Any, request_id: str | None, label: str, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidApprovalConfigurationError(
            f"{label}: {key} must be a string, not {value!r}", request_id)
    return value if value.strip() else None


def actor_identity(actor_id: str) -> str:
    """The identity an actor id stands for: trimmed and case-folded.

    Approver ids, the acting context's ``actor_id`` and the requester's ``actor_id`` are
    compared through it, so ``"sec-ana"``, ``"SEC-ANA"`` and ``" sec-ana "`` are one actor: one
    approver of a quorum, a match for a requirement naming any of them, and the requester when
    the request was filed under any of them. Recorded decisions keep the spelling they were
    given.
    """
    return actor_id.strip().casefold()


def map_approval_requirements(
    requirements: Sequence[PolicyRequirement], *, request_id: str | None = None
) -> tuple[ApprovalRequirement, ...]:
    """Turn the "Approval" policy requirements into approval requirements.

    Each requirement's ``data`` (a mapping or an object with attributes) may carry ``StepOrder``
    (default: its position among approval requirements, from 1), ``ApproverName``, ``Reason``,
    ``ApprovalGroupId``/``GroupId``, ``ApproverRole``, ``ApproverGroup``,
    ``RequiredApprovals``/``Quorum`` (default 1), ``ExpiresAt`` (a timezone-aware datetime or
    ISO 8601 text with an offset) and ``Approvers`` (several ids) or ``Approver`` (one id). One
    approval requirement is made per approver id, then one for the role, then one for the
    group; with more than one target they share an approval group.

    An approval group belongs to one policy requirement: two requirements naming the same
    ``ApprovalGroupId`` are refused (their approvals would pool), and a generated id
    (``approval-group-{i+1}-{i}``) is suffixed when an explicit id already has it.

    Raises:
        InvalidApprovalConfigurationError: no target, a quorum below 1, a quorum larger than
            the number of targets, one approver listed twice (ids compared as
            ``actor_identity`` does), an approval group id shared by two requirements, or a
            value of the wrong type (a step or quorum that is not an integer, approvers that
            are not a list of strings, an expiry without a timezone). It is also a
            ``ValueError``.
    """
    mapped: list[ApprovalRequirement] = []
    approvals = [r for r in requirements if r is not None and r.type == APPROVAL_REQUIREMENT_TYPE]
    explicit_groups: dict[str, int] = {}
    for index, requirement in enumerate(approvals):
        label = f"approval requirement {index + 1} ('{requirement.description}')"
        group_id = _as_name(_read(requirement.data, "ApprovalGroupId", "GroupId"), request_id,
                            label, "ApprovalGroupId")
        if group_id is not None:
            if group_id in explicit_groups:
                raise InvalidApprovalConfigurationError(
                    f"{label} uses approval group '{group_id}', which approval requirement "
                    f"{explicit_groups[group_id] + 1} uses already; an approval group belongs "
                    "to one requirement", request_id)
            explicit_groups[group_id] = index
    taken = set(explicit_groups)
    for index, requirement in enumerate(approvals):
        data = requirement.data
        label = f"approval requirement {index + 1} ('{requirement.description}')"
        step = _read(data, "StepOrder")
        step_order = _as_int(step, request_id, label, "StepOrder") if step is not None \
            else index + 1
        approver_name = _read(data, "ApproverName")
        reason = _read(data, "Reason")
        group_id = _as_name(_read(data, "ApprovalGroupId", "GroupId"), request_id, label,
                            "ApprovalGroupId")
        role = _as_name(_read(data, "ApproverRole"), request_id, label, "ApproverRole")
        group = _as_name(_read(data, "ApproverGroup"), request_id, label, "ApproverGroup")
        quorum = _read(data, "RequiredApprovals", "Quorum")
        required = _as_int(quorum, request_id, label, "RequiredApprovals") \
            if quorum is not None else 1
        expires_at = _as_datetime(_read(data, "ExpiresAt"), request_id, label)
        approvers_value = _read(data, "Approvers")
        if approvers_value is not None and not isinstance(approvers_value, str):
            if not isinstance(approvers_value, list | tuple | set | frozenset):
                raise InvalidApprovalConfigurationError(
                    f"{label}: Approvers must be a list of approver ids, not "
                    f"{approvers_value!r}", request_id)
            approvers = [str(a) for a in approvers_value if a is not None and str(a).strip()]
        else:
            single = _read(data, "Approver")
            approvers = [str(single)] if single is not None and str(single).strip() else []
        seen: dict[str, str] = {}
        for approver in approvers:
            identity = actor_identity(approver)
            if identity in seen:
                raise InvalidApprovalConfigurationError(
                    f"{label} lists approver '{approver}' twice (as '{seen[identity]}'); "
                    "approver ids are compared trimmed and case-insensitively", request_id)
            seen[identity] = approver
        targets = len(approvers) + (1 if role else 0) + (1 if group else 0)
        if targets == 0:
            raise InvalidApprovalConfigurationError(
                f"{label} names no approver, role or group", request_id)
        if required <= 0:
            raise InvalidApprovalConfigurationError(
                f"{label} asks for {required} approvals; at least 1 is needed", request_id)
        if required > targets:
            raise InvalidApprovalConfigurationError(
                f"{label} asks for {required} approvals but has only {targets} target(s)",
                request_id)
        if targets > 1 and not group_id:
            group_id = generated = f"approval-group-{index + 1}-{index}"
            suffix = 1
            while group_id in taken:
                suffix += 1
                group_id = f"{generated}-{suffix}"
            taken.add(group_id)
        common: dict[str, Any] = {
            "type": requirement.type,
            "description": requirement.description,
            "approver_name": approver_name,
            "step_order": step_order,
            "approval_group_id": group_id,
            "required_approvals": required,
            "expires_at": expires_at,
            "metadata": {
                "RequirementDescription": requirement.description,
                "RequirementReason": reason or "",
            },
        }
        mapped.extend(ApprovalRequirement(approver_id=a, **common) for a in approvers)
        if role:
            mapped.append(ApprovalRequirement(approver_role=role, **common))
        if group:
            mapped.append(ApprovalRequirement(approver_group=group, **common))
    return tuple(mapped)


# -- who may act ------------------------------------------------------------------------------

"""Approval requirements: mapping policy requirements onto approval steps, targets and quorums."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from governance.core.policies import PolicyRequirement
from governance.errors import InvalidApprovalConfigurationError
from governance.requests import ApprovalRequirement

APPROVAL_REQUIREMENT_TYPE = "Approval"


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


def _as_datetime(value: Any, request_id: str | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidApprovalConfigurationError(
            f"approval expiry '{value}' is not a date and time", request_id
        ) from exc


def map_approval_requirements(
    requirements: Sequence[PolicyRequirement], *, request_id: str | None = None
) -> tuple[ApprovalRequirement, ...]:
    """Turn the "Approval" policy requirements into approval requirements.

    Each requirement's ``data`` (a mapping or an object with attributes) may carry ``StepOrder``
    (default: its position among approval requirements, from 1), ``ApproverName``, ``Reason``,
    ``ApprovalGroupId``/``GroupId``, ``ApproverRole``, ``ApproverGroup``,
    ``RequiredApprovals``/``Quorum`` (default 1), ``ExpiresAt`` and ``Approvers`` (several ids)
    or ``Approver`` (one id). One approval requirement is made per approver id, then one for the
    role, then one for the group; with more than one target they share an approval group.

    Raises:
        InvalidApprovalConfigurationError: no target, a quorum below 1, or a quorum larger than
            the number of targets.
    """
    mapped: list[ApprovalRequirement] = []
    approvals = [r for r in requirements if r is not None and r.type == APPROVAL_REQUIREMENT_TYPE]
    for index, requirement in enumerate(approvals):
        data = requirement.data
        step = _read(data, "StepOrder")
        step_order = int(step) if step is not None else index + 1
        approver_name = _read(data, "ApproverName")
        reason = _read(data, "Reason")
        group_id = _read(data, "ApprovalGroupId", "GroupId")
        role = _read(data, "ApproverRole")
        group = _read(data, "ApproverGroup")
        quorum = _read(data, "RequiredApprovals", "Quorum")
        required = int(quorum) if quorum is not None else 1
        expires_at = _as_datetime(_read(data, "ExpiresAt"), request_id)
        approvers_value = _read(data, "Approvers")
        if approvers_value is not None and not isinstance(approvers_value, str):
            approvers = [str(a) for a in approvers_value if a is not None and str(a).strip()]
        else:
            single = _read(data, "Approver")
            approvers = [str(single)] if single is not None and str(single).strip() else []
        targets = len(approvers) + (1 if role else 0) + (1 if group else 0)
        label = f"approval requirement {index + 1} ('{requirement.description}')"
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
            group_id = f"approval-group-{index + 1}-{index}"
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
            mapped.append(ApprovalRequirement(approver_role=str(role), **common))
        if group:
            mapped.append(ApprovalRequirement(approver_group=str(group), **common))
    return tuple(mapped)

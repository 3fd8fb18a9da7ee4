"""Policies decide whether a mutation may run, may run modified, or needs something first."""

from __future__ import annotations

import threading
from datetime import datetime
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from governance._clock import utc_now
from governance._models import record_builder
from governance.errors import InvalidArgumentError, MissingArgumentError

if TYPE_CHECKING:
    from governance.core.mutation import Mutation


class PolicyDecisionSeverity(IntEnum):
    """How serious a policy decision is."""

    INFO = 0
    WARNING = 1
    ERROR = 2
    CRITICAL = 3


# Members bound once: under Python 3.11 each read of a member off its enum class runs
# EnumType.__getattr__ (some 250 instructions); the factories below read them on every call.
_INFO, _WARNING = PolicyDecisionSeverity.INFO, PolicyDecisionSeverity.WARNING
_ERROR, _CRITICAL = PolicyDecisionSeverity.ERROR, PolicyDecisionSeverity.CRITICAL


class PolicyRequirement(BaseModel):
    """Something that must happen before a mutation may run (an approval, a second factor)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    description: str
    data: Any = None
    is_fulfilled: bool = False

    @classmethod
    def approval(cls, approver: str, reason: str, **data: Any) -> PolicyRequirement:
        """An approval by ``approver``; extra keys (StepOrder, ApproverRole...) go into ``data``."""
        return cls(
            type="Approval",
            description=f"Approval needed from {approver}: {reason}",
            data={"Approver": approver, "Reason": reason, **data},
        )

    @classmethod
    def two_factor(cls) -> PolicyRequirement:
        """A second authentication factor."""
        return cls(type="TwoFactor", description="A second authentication factor is needed")


class PolicyDecision(BaseModel):
    """What a policy decided about one mutation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    is_allowed: bool
    reason: str | None = None
    policy_name: str | None = None
    severity: PolicyDecisionSeverity = PolicyDecisionSeverity.INFO
    modifications: dict[str, Any] | None = None
    requirements: list[PolicyRequirement] | None = None
    metadata: dict[str, Any] | None = None
    timestamp: datetime = Field(default_factory=utc_now)

    # Policies build a decision on every evaluation: the factories check their two texts
    # (``_check_texts``) and build the model directly (positionally: is_allowed, reason,
    # policy_name, severity, modifications, requirements, metadata, timestamp) instead of
    # running the full validator.
    @classmethod
    def allow(cls, policy_name: str | None = None, reason: str | None = None) -> PolicyDecision:
        """The mutation may run unchanged."""
        if (reason is None or type(reason) is str) and \
                (policy_name is None or type(policy_name) is str):
            return _build_decision(True, reason, policy_name, _INFO, None, None, None, utc_now())
        _check_texts(reason, policy_name)
        return _build_decision(True, reason, policy_name, _INFO, None, None, None, utc_now())

    @classmethod
    def deny(cls, reason: str, policy_name: str | None = None) -> PolicyDecision:
        """The mutation is refused (severity ERROR)."""
        _check_texts(reason, policy_name)
        return _build_decision(False, reason, policy_name, _ERROR, None, None, None, utc_now())

    @classmethod
    def deny_critical(cls, reason: str, policy_name: str | None = None) -> PolicyDecision:
        """The mutation is refused (severity CRITICAL)."""
        _check_texts(reason, policy_name)
        return _build_decision(False, reason, policy_name, _CRITICAL, None, None, None,
                               utc_now())

    @classmethod
    def modify(
        cls, modifications: dict[str, Any], policy_name: str | None = None
    ) -> PolicyDecision:
        """The mutation may run, with ``modifications`` applied to its successful result.

        Keys the engine understands: ``"State"`` (replaces the new state), ``"SideEffect"``
        (appends one side effect) and ``"SideEffects"`` (appends several).
        """
        return cls(is_allowed=True, modifications=dict(modifications), policy_name=policy_name)

    @classmethod
    def require_approval(
        cls, requirement: PolicyRequirement, policy_name: str | None = None
    ) -> PolicyDecision:
        """The mutation may not run before ``requirement`` is met."""
        return cls(is_allowed=False, reason="Approval is required", policy_name=policy_name,
                   requirements=[requirement], severity=_WARNING)


_build_decision = record_builder(PolicyDecision, positional=True)


def _check_texts(reason: object, policy_name: object) -> None:
    """Refuse a reason or a policy name that is neither None nor text."""
    if reason is not None and not isinstance(reason, str):
        raise InvalidArgumentError(
            f"a policy decision's reason must be text, not {type(reason).__name__}")
    if policy_name is not None and not isinstance(policy_name, str):
        raise InvalidArgumentError(
            f"a policy decision's policy name must be text, not {type(policy_name).__name__}")


@runtime_checkable
class Policy(Protocol):
    """A rule evaluated before a mutation runs; higher ``priority`` is evaluated first."""

    @property
    def name(self) -> str:
        """Unique name within a registry."""
        ...

    @property
    def priority(self) -> int:
        """Evaluation order: higher first."""
        ...

    def evaluate(self, mutation: Mutation[Any], state: Any) -> PolicyDecision:
        """Decide about ``mutation`` applied to ``state``."""
        ...


def policy_order_key(policy: Policy) -> tuple[int, str, str]:
    """Sort key: priority descending, then name, then class name (ordinal)."""
    return (-policy.priority, policy.name, type(policy).__name__)


class PolicyRegistry:
    """Thread-safe set of policies keyed by name, kept in evaluation order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._policies: dict[str, Policy] = {}
        self._ordered: tuple[Policy, ...] = ()

    def register(self, policy: Policy) -> None:
        """Add ``policy``, replacing a policy of the same name.

        Raises:
            MissingArgumentError: ``policy`` is None.
            InvalidArgumentError: its name is blank.
        """
        if policy is None:
            raise MissingArgumentError("cannot register a None policy")
        if not policy.name or not policy.name.strip():
            raise InvalidArgumentError("a policy needs a non-blank name")
        with self._lock:
            self._policies[policy.name] = policy
            self._ordered = tuple(sorted(self._policies.values(), key=policy_order_key))

    def unregister(self, name: str) -> bool:
        """Remove the policy called ``name``; return whether one was removed."""
        with self._lock:
            removed = self._policies.pop(name, None) is not None
            if removed:
                self._ordered = tuple(sorted(self._policies.values(), key=policy_order_key))
            return removed

    def get_policies(self) -> tuple[Policy, ...]:
        """A snapshot of the policies in evaluation order."""
        return self._ordered

    def get_policy(self, name: str) -> Policy | None:
        """The policy called ``name``, if registered."""
        return self._policies.get(name)

"""Who, when, why and how of a mutation (``MutationContext``), and what it does
(``MutationIntent``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import IntEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from governance._clock import utc_now
from governance.errors import InvalidArgumentError

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ActorType(IntEnum):
    """The kind of actor behind a mutation."""

    UNKNOWN = 0
    USER = 1
    SYSTEM = 2
    SERVICE = 3
    POLICY = 4
    SCHEDULER = 5
    ADMINISTRATOR = 6


class MutationMode(IntEnum):
    """How the engine runs a mutation: simulate it, only validate it, or commit it."""

    SIMULATE = 0
    VALIDATE = 1
    COMMIT = 2


class RiskLevel(IntEnum):
    """How risky a mutation is judged to be."""

    LOW = 0
    MEDIUM = 1
    HIGH = 2
    CRITICAL = 3


class BlastRadiusScope(IntEnum):
    """How far the effects of a mutation reach; ordered from narrow to wide."""

    SINGLE = 0
    MODULE = 1
    SYSTEM = 2
    GLOBAL = 3


class BlastRadius(BaseModel):
    """The estimated reach of a mutation."""

    model_config = _FROZEN

    scope: BlastRadiusScope = BlastRadiusScope.SINGLE
    estimated_affected_count: int | None = None
    description: str | None = None

    @classmethod
    def single(cls) -> BlastRadius:
        """One item is affected."""
        return cls(scope=BlastRadiusScope.SINGLE, estimated_affected_count=1)

    @classmethod
    def module(cls, estimated_affected_count: int | None = None) -> BlastRadius:
        """A module is affected."""
        return cls(scope=BlastRadiusScope.MODULE, estimated_affected_count=estimated_affected_count)

    @classmethod
    def system(cls, estimated_affected_count: int | None = None) -> BlastRadius:
        """A whole system is affected."""
        return cls(scope=BlastRadiusScope.SYSTEM, estimated_affected_count=estimated_affected_count)

    @classmethod
    def global_(cls, estimated_affected_count: int | None = None) -> BlastRadius:
        """Everything is affected."""
        return cls(scope=BlastRadiusScope.GLOBAL, estimated_affected_count=estimated_affected_count)


class MutationContext(BaseModel):
    """Immutable record of who asks for a mutation, when, why and how.

    Approval targeting reads ``metadata["ActorRoles"]`` and ``metadata["ActorGroups"]``.
    Update with ``model_copy(update=...)``.
    """

    model_config = _FROZEN

    state_id: str | None = None
    actor_id: str | None = None
    actor_name: str | None = None
    actor_type: ActorType = ActorType.UNKNOWN
    reason: str | None = None
    mode: MutationMode = MutationMode.COMMIT
    correlation_id: str | None = None
    causation_id: str | None = None
    session_id: str | None = None
    source_ip_address: str | None = None
    user_agent: str | None = None
    timestamp: datetime = Field(default_factory=utc_now)
    time_zone: str | None = None
    culture: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def system(
        cls, reason: str, correlation_id: str | None = None, **fields: Any
    ) -> MutationContext:
        """A context for the system itself; ``correlation_id`` defaults to a new uuid."""
        return cls(
            actor_type=ActorType.SYSTEM,
            reason=reason,
            correlation_id=correlation_id or str(uuid.uuid4()),
            **fields,
        )

    @classmethod
    def user(
        cls,
        actor_id: str,
        actor_name: str | None = None,
        reason: str | None = None,
        **fields: Any,
    ) -> MutationContext:
        """A context for a human user.

        Raises:
            InvalidArgumentError: ``actor_id`` is blank.
        """
        if not actor_id or not actor_id.strip():
            raise InvalidArgumentError("a user context needs a non-blank actor id")
        return cls(
            actor_type=ActorType.USER,
            actor_id=actor_id,
            actor_name=actor_name,
            reason=reason,
            **fields,
        )

    @classmethod
    def service(cls, service_id: str, reason: str | None = None, **fields: Any) -> MutationContext:
        """A context for a service acting on its own.

        Raises:
            InvalidArgumentError: ``service_id`` is blank.
        """
        if not service_id or not service_id.strip():
            raise InvalidArgumentError("a service context needs a non-blank service id")
        return cls(actor_type=ActorType.SERVICE, actor_id=service_id, reason=reason, **fields)

    def with_state(self, state_id: str) -> MutationContext:
        """Return a copy targeting ``state_id``."""
        return self.model_copy(update={"state_id": state_id})

    def with_mode(self, mode: MutationMode) -> MutationContext:
        """Return a copy with another execution mode."""
        return self.model_copy(update={"mode": mode})


class MutationIntent(BaseModel):
    """What a mutation does and how risky it is."""

    model_config = _FROZEN

    operation_name: str = ""
    category: str = ""
    description: str | None = None
    risk_level: RiskLevel = RiskLevel.LOW
    is_reversible: bool = True
    estimated_blast_radius: BlastRadius | None = None
    tags: frozenset[str] = frozenset()
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utc_now)

    @classmethod
    def create(cls, operation_name: str, category: str, **fields: Any) -> MutationIntent:
        """An intent for ``operation_name`` in ``category``; other fields by keyword."""
        return cls(operation_name=operation_name, category=category, **fields)

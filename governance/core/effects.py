"""Side effects a mutation reports, with typed payload contracts for JSON round-trips."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import datetime
from enum import IntEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from governance._clock import utc_now
from governance.errors import InvalidArgumentError

T = TypeVar("T")

_CONTRACTS: dict[tuple[str, int], type[Any]] = {}


class SideEffectSeverity(IntEnum):
    """How serious a side effect is."""

    INFO = 0
    WARNING = 1
    ERROR = 2
    CRITICAL = 3


def side_effect_contract(contract_type: str, contract_version: int) -> Callable[[type[T]], type[T]]:
    """Class decorator marking a payload type as a side-effect data contract.

    ``SideEffect.create`` copies the contract onto the effect, and the registry lets
    ``SideEffect.typed_data`` rebuild the payload after a JSON round-trip.
    """
    if not contract_type or not contract_type.strip():
        raise InvalidArgumentError("a side-effect contract needs a non-blank type")
    if contract_version < 1:
        raise InvalidArgumentError("a side-effect contract version starts at 1")

    def mark(cls: type[T]) -> type[T]:
        cls.__side_effect_contract__ = (contract_type, contract_version)  # type: ignore[attr-defined]
        _CONTRACTS[(contract_type, contract_version)] = cls
        return cls

    return mark


def contract_for(contract_type: str, contract_version: int) -> type[Any] | None:
    """The payload class registered for a contract, if any."""
    return _CONTRACTS.get((contract_type, contract_version))


class SideEffect(BaseModel):
    """Something a mutation caused besides its state change (an e-mail to send, an alert...)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    type: str
    description: str
    severity: SideEffectSeverity = SideEffectSeverity.INFO
    data: Any = None
    data_contract_type: str | None = None
    data_contract_version: int | None = None
    timestamp: datetime = Field(default_factory=utc_now)
    requires_action: bool = False

    @classmethod
    def create(
        cls,
        type: str,
        description: str,
        data: Any = None,
        severity: SideEffectSeverity = SideEffectSeverity.INFO,
        requires_action: bool = False,
        timestamp: datetime | None = None,
    ) -> SideEffect:
        """A side effect; a CRITICAL one always requires action.

        When ``data``'s class carries a ``@side_effect_contract``, its type and version are
        recorded on the effect.
        """
        contract = getattr(type_of(data), "__side_effect_contract__", None)
        return cls(
            type=type,
            description=description,
            severity=severity,
            data=data,
            data_contract_type=contract[0] if contract else None,
            data_contract_version=contract[1] if contract else None,
            timestamp=timestamp or utc_now(),
            requires_action=requires_action or severity == SideEffectSeverity.CRITICAL,
        )

    @classmethod
    def critical(cls, type: str, description: str, data: Any = None) -> SideEffect:
        """A CRITICAL side effect (which therefore requires action)."""
        return cls.create(type, description, data, SideEffectSeverity.CRITICAL)

    def try_get_data(self, cls: builtins.type[T]) -> T | None:
        """The payload if it is an instance of ``cls``, else None."""
        return self.data if isinstance(self.data, cls) else None

    def typed_data(self) -> Any:
        """The payload rebuilt as its contract class when it arrived as plain JSON data."""
        if self.data_contract_type is None or self.data_contract_version is None:
            return self.data
        target = contract_for(self.data_contract_type, self.data_contract_version)
        if target is None or isinstance(self.data, target) or not isinstance(self.data, dict):
            return self.data
        validate = getattr(target, "model_validate", None)
        return validate(self.data) if validate is not None else target(**self.data)


def type_of(value: Any) -> type[Any]:
    """``type(value)``; a helper so ``SideEffect.create`` can use ``type`` as a parameter name."""
    return type(value)

"""Changes a mutation makes to its state: ``StateChange`` and the ordered ``ChangeSet``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any

from governance._clock import utc_now
from governance._models import record_builder
from governance.errors import MissingArgumentError


class ChangeType(IntEnum):
    """What happened at a path."""

    MODIFIED = 0
    ADDED = 1
    REMOVED = 2
    REPLACED = 3
    MOVED = 4


# Members bound once: under Python 3.11 each read of a member off its enum class runs
# EnumType.__getattr__ (some 250 instructions); the factories below read them on every call.
_MODIFIED, _ADDED = ChangeType.MODIFIED, ChangeType.ADDED
_REMOVED, _REPLACED = ChangeType.REMOVED, ChangeType.REPLACED

# Slotted: mutations create changes on every execution, and the factories build them
# through a ``record_builder`` (frozen-dataclass ``__init__`` dominates their cost), which
# fills the slots directly.
@dataclass(frozen=True, slots=True)
class StateChange:
    """One change at one path of the state."""

    path: str
    old_value: Any = None
    new_value: Any = None
    type: ChangeType = ChangeType.MODIFIED
    timestamp: datetime = field(default_factory=utc_now)
    priority: int = 0
    metadata: dict[str, Any] | None = None

    # The factories build the record directly (positionally: path, old and new value, type,
    # timestamp, priority, metadata); mutations call them on every apply.
    @classmethod
    def modified(cls, path: str, old_value: Any, new_value: Any) -> StateChange:
        """A value at ``path`` changed from ``old_value`` to ``new_value``."""
        return _build_change(path, old_value, new_value, _MODIFIED, utc_now(), 0, None)

    @classmethod
    def added(cls, path: str, value: Any) -> StateChange:
        """A value appeared at ``path``."""
        return _build_change(path, None, value, _ADDED, utc_now(), 0, None)

    @classmethod
    def removed(cls, path: str, old_value: Any) -> StateChange:
        """The value at ``path`` was removed."""
        return _build_change(path, old_value, None, _REMOVED, utc_now(), 0, None)

    @classmethod
    def replaced(cls, path: str, old_value: Any, new_value: Any) -> StateChange:
        """The value at ``path`` was replaced as a whole."""
        return _build_change(path, old_value, new_value, _REPLACED, utc_now(), 0, None)


_build_change = record_builder(StateChange, positional=True)


class ChangeSet:
    """An ordered, append-only list of changes."""

    __slots__ = ("_changes", "checksum", "timestamp")

    def __init__(self, changes: Iterable[StateChange] = (), checksum: str | None = None) -> None:
        self._changes: list[StateChange] = []
        self.timestamp: datetime = utc_now()
        self.checksum = checksum
        for change in changes:
            self.add(change)

    def add(self, change: StateChange) -> None:
        """Append ``change``.

        Raises:
            MissingArgumentError: ``change`` is None.
        """
        if change is None:
            raise MissingArgumentError("a change set cannot hold a None change")
        self._changes.append(change)

    @property
    def changes(self) -> tuple[StateChange, ...]:
        """The changes, in the order they were added."""
        return tuple(self._changes)

    @property
    def has_changes(self) -> bool:
        """Whether at least one change is recorded."""
        return bool(self._changes)

    @property
    def count(self) -> int:
        """How many changes are recorded."""
        return len(self._changes)

    def get_changes(self, path: str) -> list[StateChange]:
        """The changes recorded at ``path``, in order."""
        return [c for c in self._changes if c.path == path]

    def is_changed(self, path: str) -> bool:
        """Whether any change touches ``path``."""
        return any(c.path == path for c in self._changes)

    def get_changed_paths(self) -> list[str]:
        """Distinct changed paths, in first-seen order."""
        return list(dict.fromkeys(c.path for c in self._changes))

    def __iter__(self) -> Iterator[StateChange]:
        return iter(self._changes)

    def __len__(self) -> int:
        return len(self._changes)

    def __repr__(self) -> str:
        return f"ChangeSet({self._changes!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChangeSet):
            return NotImplemented
        return self._changes == other._changes

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def empty(cls) -> ChangeSet:
        """A new empty change set (never shared, since change sets are appendable)."""
        return cls()

    @classmethod
    def single(cls, change: StateChange) -> ChangeSet:
        """A change set holding one change.

        Raises:
            MissingArgumentError: ``change`` is None.
        """
        if change is None:
            raise MissingArgumentError("a change set cannot hold a None change")
        return cls._of([change], utc_now())

    @classmethod
    def _of(cls, changes: list[StateChange], timestamp: datetime) -> ChangeSet:
        # For callers that already hold the changes, checked, and the time; the set takes
        # ``changes`` over.
        made = cls.__new__(cls)
        made._changes = changes
        made.timestamp = timestamp
        made.checksum = None
        return made

    @classmethod
    def from_changes(cls, *changes: StateChange) -> ChangeSet:
        """A change set holding ``changes`` in order."""
        return cls(changes)

"""History: the committed mutations of each state, and what can be derived from them."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar, runtime_checkable

from governance._clock import utc_now
from governance._models import built_copy, record_builder
from governance.core.changes import ChangeSet, StateChange
from governance.core.context import MutationContext, MutationIntent
from governance.core.effects import SideEffect
from governance.errors import InvalidArgumentError, InvalidOperationError

TState = TypeVar("TState")


# The engine builds these on every execution through a ``record_builder``.
@dataclass(frozen=True, kw_only=True)
class MutationHistoryEntry:
    """One committed mutation of one state.

    ``timestamp`` is the mutation context's timestamp. The sequences are kept as given (not
    copied); treat them as read-only.
    """

    execution_id: str
    state_id: str
    intent: MutationIntent
    context: MutationContext
    changes: ChangeSet = field(default_factory=ChangeSet)
    side_effects: Sequence[SideEffect] = ()
    timestamp: datetime = field(default_factory=utc_now)
    execution_time: timedelta = timedelta(0)
    previous_state_hash: str | None = None
    new_state_hash: str | None = None


@runtime_checkable
class HistoryStore(Protocol):
    """Where the engine writes history entries."""

    @property
    def is_enabled(self) -> bool:
        """False lets the engine skip building entries."""
        ...

    def store(self, entry: MutationHistoryEntry) -> None:
        """Record ``entry`` under its ``state_id``."""
        ...

    def get_history(self, state_id: str) -> list[MutationHistoryEntry]:
        """Entries of ``state_id``, oldest first."""
        ...

    def get_history_range(
        self, state_id: str, start: datetime, end: datetime
    ) -> list[MutationHistoryEntry]:
        """Entries of ``state_id`` with ``start <= timestamp <= end``, oldest first."""
        ...

    def get_recent(self, state_id: str, count: int) -> list[MutationHistoryEntry]:
        """At most ``count`` entries of ``state_id``, newest first."""
        ...


def _by_timestamp(entry: MutationHistoryEntry) -> datetime:
    return entry.timestamp


_build_entry = record_builder(MutationHistoryEntry)

HistoryValues = tuple[str, str, Any, "MutationIntent | None", "MutationContext | None",
                      ChangeSet, Sequence[SideEffect], float]
"""An entry as the engine hands it to ``InMemoryHistoryStore.keep``: execution id, state id,
the mutation whose intent and context are read when the entry is built (or None), the intent
and context (None when they are read from that mutation), changes, side effects and the
execution time in seconds; the timestamp is the context's."""


def build_history_entry(values: HistoryValues) -> MutationHistoryEntry:
    """The ``MutationHistoryEntry`` that ``values`` stand for."""
    execution_id, state_id, source, intent, context, changes, side_effects, seconds = values
    if source is not None:
        intent, context = source.intent, source.context
    assert intent is not None and context is not None
    return _build_entry(
        execution_id=execution_id, state_id=state_id, intent=intent, context=context,
        changes=changes, side_effects=side_effects, timestamp=context.timestamp,
        execution_time=timedelta(0, seconds), previous_state_hash=None, new_state_hash=None)


class InMemoryHistoryStore:
    """Entries grouped by state id in lists (it grows without bound). Reads hold one lock;
    adding an entry, two atomic dict and list operations, does not need it.

    Reads sort by timestamp; entries with the same timestamp keep the order they were stored in.
    A blank state id matches nothing. The engine hands over its entries as ``HistoryValues``
    (``keep``); each is built into its ``MutationHistoryEntry`` the first time it is read, and
    kept as that record.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, list[MutationHistoryEntry | HistoryValues]] = {}

    @property
    def is_enabled(self) -> bool:
        """Always True."""
        return True

    def store(self, entry: MutationHistoryEntry) -> None:
        """Record ``entry``.

        Raises:
            InvalidOperationError: the entry's ``state_id`` is blank.
        """
        self._add(entry.state_id, entry.execution_id, entry)

    def keep(self, values: HistoryValues) -> None:
        """Record the entry ``values`` stand for, built when it is first read.

        Raises:
            InvalidOperationError: its state id is blank.
        """
        self._add(values[1], values[0], values)

    def _add(self, state_id: str, execution_id: str,
             entry: MutationHistoryEntry | HistoryValues) -> None:
        if not state_id or not state_id.strip():
            raise InvalidOperationError(
                f"history entry of execution '{execution_id}' has no state id to store it "
                "under")
        # Atomic steps, no lock: a state's list is made by ``dict.setdefault`` (of writers
        # racing on a new state, one list wins and the others append to it), and an append
        # does not disturb a reader building entries under the lock (docs/conventions.md).
        entries = self._entries
        bucket = entries.get(state_id)
        if bucket is None:
            # Made holding the entry: a list grown from empty by an append holds room for
            # four.
            made = [entry]
            bucket = entries.setdefault(state_id, made)
            if bucket is made:
                return
        bucket.append(entry)

    def _snapshot(self, state_id: str) -> list[MutationHistoryEntry]:
        with self._lock:
            bucket = self._entries.get(state_id)
            if bucket is None:
                return []
            # Appends take no lock: the copy is taken in one step (``built_copy``).
            return built_copy(bucket, build_history_entry)

    def get_history(self, state_id: str) -> list[MutationHistoryEntry]:
        """Entries of ``state_id``, oldest first."""
        entries = self._snapshot(state_id)
        entries.sort(key=_by_timestamp)
        return entries

    def get_history_range(
        self, state_id: str, start: datetime, end: datetime
    ) -> list[MutationHistoryEntry]:
        """Entries of ``state_id`` with ``start <= timestamp <= end``, oldest first."""
        entries = [e for e in self._snapshot(state_id) if start <= e.timestamp <= end]
        entries.sort(key=_by_timestamp)
        return entries

    def get_recent(self, state_id: str, count: int) -> list[MutationHistoryEntry]:
        """At most ``count`` entries of ``state_id``, newest first.

        Raises:
            InvalidArgumentError: ``count`` is negative.
        """
        if count < 0:
            raise InvalidArgumentError(f"cannot take a negative number ({count}) of entries")
        entries = self._snapshot(state_id)
        entries.sort(key=_by_timestamp, reverse=True)
        return entries[:count]

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()


class NullHistoryStore:
    """A history store that is disabled and stores nothing."""

    @property
    def is_enabled(self) -> bool:
        """Always False."""
        return False

    def store(self, entry: MutationHistoryEntry) -> None:
        """Drops ``entry``."""

    def get_history(self, state_id: str) -> list[MutationHistoryEntry]:
        """Always empty."""
        return []

    def get_history_range(
        self, state_id: str, start: datetime, end: datetime
    ) -> list[MutationHistoryEntry]:
        """Always empty."""
        return []

    def get_recent(self, state_id: str, count: int) -> list[MutationHistoryEntry]:
        """Always empty."""
        return []


@dataclass(frozen=True, slots=True)
class TimelineItem:
    """One change at a path, with the execution and actor that made it."""

    timestamp: datetime
    change: StateChange
    execution_id: str
    actor_id: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class HistoryStatistics:
    """Counts derived from a state's history."""

    total_mutations: int
    unique_actors: int
    mutations_by_category: dict[str, int]
    average_changes_per_mutation: float


@dataclass(frozen=True, slots=True)
class MutationHistory:
    """The history of one state, with replay and summaries.

    ``entries`` may be in any order; every derived view orders them by timestamp (ties keep the
    given order).
    """

    state_id: str
    state_type: str | None
    entries: Sequence[MutationHistoryEntry]

    def _ordered(self) -> list[MutationHistoryEntry]:
        return sorted(self.entries, key=_by_timestamp)

    @property
    def first_mutation_at(self) -> datetime | None:
        """Timestamp of the oldest entry; None without entries."""
        return min((e.timestamp for e in self.entries), default=None)

    @property
    def last_mutation_at(self) -> datetime | None:
        """Timestamp of the newest entry; None without entries."""
        return max((e.timestamp for e in self.entries), default=None)

    @property
    def total_mutations(self) -> int:
        """How many entries there are."""
        return len(self.entries)

    def replay(
        self, initial: TState, apply_changes: Callable[[TState, ChangeSet], TState]
    ) -> TState:
        """Fold every entry's changes, oldest first, into ``initial``."""
        state = initial
        for entry in self._ordered():
            state = apply_changes(state, entry.changes)
        return state

    def replay_until(
        self,
        initial: TState,
        until: datetime,
        apply_changes: Callable[[TState, ChangeSet], TState],
    ) -> TState:
        """Like ``replay`` but only with entries whose timestamp is at or before ``until``."""
        state = initial
        for entry in self._ordered():
            if entry.timestamp > until:
                break
            state = apply_changes(state, entry.changes)
        return state

    def get_timeline_for_path(self, path: str) -> list[TimelineItem]:
        """Every change at ``path``, oldest entry first (changes of one entry in their order)."""
        return [
            TimelineItem(
                timestamp=entry.timestamp,
                change=change,
                execution_id=entry.execution_id,
                actor_id=entry.context.actor_id,
                reason=entry.context.reason,
            )
            for entry in self._ordered()
            for change in entry.changes
            if change.path == path
        ]

    def get_statistics(self) -> HistoryStatistics:
        """Totals, distinct actors (ignoring entries without an actor id), counts per intent
        category and the average number of changes per mutation (0.0 without entries)."""
        total = len(self.entries)
        actors = {e.context.actor_id for e in self.entries if e.context.actor_id is not None}
        by_category = Counter(e.intent.category for e in self.entries)
        changes = sum(e.changes.count for e in self.entries)
        return HistoryStatistics(
            total_mutations=total,
            unique_actors=len(actors),
            mutations_by_category=dict(by_category),
            average_changes_per_mutation=changes / total if total else 0.0,
        )

    @classmethod
    def from_store(
        cls, store: HistoryStore, state_id: str, state_type: str | None = None
    ) -> MutationHistory:
        """The history of ``state_id`` as ``store`` holds it."""
        return cls(state_id, state_type, store.get_history(state_id))


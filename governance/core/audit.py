"""Audit: one entry per engine execution, successful or not, with who asked and what happened."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from governance._clock import utc_now
from governance._models import built_copy, record_builder
from governance.core.changes import ChangeSet
from governance.core.context import MutationContext, MutationIntent
from governance.core.effects import SideEffect
from governance.core.policies import PolicyDecision


# The engine builds these on every execution through a ``record_builder``.
@dataclass(frozen=True, kw_only=True)
class MutationAuditEntry:
    """What the engine records about one execution.

    ``timestamp`` is the mutation context's timestamp (when the mutation was asked for), and
    ``is_success`` says whether the mutation succeeded; ``error_message`` says why it did not.
    The sequences are kept as given (not copied); treat them as read-only.
    """

    execution_id: str
    mutation_intent: MutationIntent
    context: MutationContext
    is_success: bool
    state_id: str | None = None
    state_type: str | None = None
    changes: ChangeSet = field(default_factory=ChangeSet)
    error_message: str | None = None
    policy_decisions: Sequence[PolicyDecision] = ()
    side_effects: Sequence[SideEffect] = ()
    timestamp: datetime = field(default_factory=utc_now)
    duration: timedelta = timedelta(0)
    source_ip_address: str | None = None
    user_agent: str | None = None
    metadata: dict[str, Any] | None = None


@runtime_checkable
class Auditor(Protocol):
    """Where the engine writes audit entries."""

    @property
    def is_enabled(self) -> bool:
        """False lets the engine skip building entries for the normal (non-exception) paths."""
        ...

    def audit(self, entry: MutationAuditEntry) -> None:
        """Record ``entry``."""
        ...

    def get_audit_log(
        self, state_id: str, start: datetime | None = None, end: datetime | None = None
    ) -> list[MutationAuditEntry]:
        """Entries of ``state_id`` with ``start <= timestamp <= end`` (open bounds when None)."""
        ...


def _within(moment: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or moment >= start) and (end is None or moment <= end)


_build_entry = record_builder(MutationAuditEntry)

AuditValues = tuple[str, Any, "MutationIntent | None", "MutationContext | None", bool, str,
                    ChangeSet, "str | None", Sequence[PolicyDecision], Sequence[SideEffect], float]
"""An entry as the engine hands it to ``InMemoryAuditor.keep``: execution id, the mutation
whose intent and context are read when the entry is built (or None), the intent and context
(None when they are read from that mutation), success, state type name, changes, error
message, policy decisions, side effects, and the duration in seconds. The rest of the entry is
read from the context."""


def build_audit_entry(values: AuditValues) -> MutationAuditEntry:
    """The ``MutationAuditEntry`` that ``values`` stand for."""
    (execution_id, source, intent, context, is_success, state_type, changes, error_message,
     decisions, side_effects, seconds) = values
    if source is not None:
        intent, context = source.intent, source.context
    assert intent is not None and context is not None
    return _build_entry(
        execution_id=execution_id, mutation_intent=intent, context=context,
        is_success=is_success, state_id=context.state_id, state_type=state_type,
        changes=changes, error_message=error_message, policy_decisions=decisions,
        side_effects=side_effects, timestamp=context.timestamp, duration=timedelta(0, seconds),
        source_ip_address=context.source_ip_address, user_agent=context.user_agent,
        metadata=context.metadata or None)


class InMemoryAuditor:
    """Keeps every entry in a list (it grows without bound). Reads hold a lock; appending, one
    atomic list operation, does not need it.

    The engine hands over its entries as ``AuditValues`` (``keep``); each is built into its
    ``MutationAuditEntry`` the first time the entries are read, and kept as that record.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[MutationAuditEntry | AuditValues] = []

    def _built(self) -> list[MutationAuditEntry]:
        """Every entry, as records: a copy of the list, taken in one step, with what was kept
        as values built, in the copy and in the list (called with the lock held; an entry
        appended meanwhile is not in the copy, and is built by the next read)."""
        return built_copy(self._entries, build_audit_entry)

    @property
    def is_enabled(self) -> bool:
        """Always True."""
        return True

    @property
    def entries(self) -> tuple[MutationAuditEntry, ...]:
        """A snapshot of every entry, in the order they were recorded."""
        with self._lock:
            return tuple(self._built())

    def audit(self, entry: MutationAuditEntry) -> None:
        """Append ``entry``."""
        with self._lock:
            self._entries.append(entry)

    def keep(self, values: AuditValues) -> None:
        """Append the entry ``values`` stand for, built when the entries are read."""
        # One list append, atomic on its own: readers hold the lock while they build entries
        # in place, which an append does not disturb (see docs/conventions.md).
        self._entries.append(values)

    def get_audit_log(
        self, state_id: str, start: datetime | None = None, end: datetime | None = None
    ) -> list[MutationAuditEntry]:
        """Entries of ``state_id`` within the inclusive bounds, ordered by timestamp.

        Entries with the same timestamp keep the order they were recorded in.
        """
        with self._lock:
            matches = [
                e for e in self._built()
                if e.state_id == state_id and _within(e.timestamp, start, end)
            ]
        matches.sort(key=lambda e: e.timestamp)
        return matches

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()


class NullAuditor:
    """An auditor that is disabled and stores nothing."""

    @property
    def is_enabled(self) -> bool:
        """Always False."""
        return False

    def audit(self, entry: MutationAuditEntry) -> None:
        """Drops ``entry``."""

    def get_audit_log(
        self, state_id: str, start: datetime | None = None, end: datetime | None = None
    ) -> list[MutationAuditEntry]:
        """Always empty."""
        return []

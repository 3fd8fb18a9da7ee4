"""A request's decision history: decision categories and codes, ``RequestDecision``, and the
append-only ``DecisionLog`` whose snapshots share storage.

Every runtime action on a request (a lifecycle transition, an approval action, a version
resolution) appends one decision, with the actor's context, a reason and metadata.
"""

from __future__ import annotations

import builtins
import itertools
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from enum import IntEnum
from typing import Any, overload

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, GetCoreSchemaHandler
from pydantic_core import core_schema

from governance._clock import is_aware, utc_now
from governance._models import record_builder
from governance.core.context import MutationContext
from governance.errors import InvalidArgumentError, MissingArgumentError

_FROZEN = ConfigDict(frozen=True, extra="forbid")


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
        if timestamp is not None and not is_aware(timestamp):
            raise InvalidArgumentError(
                f"a {type.code} decision needs a timezone-aware timestamp, not {timestamp!r}")
        return _build_decision(
            type=type,
            context=context,
            reason=reason,
            timestamp=timestamp or utc_now(),
            metadata=dict(metadata) if metadata else {},
        )

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


_build_decision = record_builder(RequestDecision)


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


DecisionText = Callable[[Any], tuple[str | None, dict[str, Any]]]
"""Makes the reason and metadata of a decision from its facts (see ``DecisionValues``)."""

DecisionValues = tuple[DecisionType, MutationContext, str | DecisionText | None, datetime,
                       dict[str, Any] | tuple[Any, ...]]
"""A decision the runtime records, as the values of its ``RequestDecision`` (type, context,
reason, timestamp, metadata): a ``DecisionLog`` builds the record the first time it is read.

A decision whose reason and metadata are text about a few facts (the versions a resolution
compared) holds, in their place, the ``DecisionText`` that writes them and the facts (a
tuple): the reason and metadata are then made once, when the record is built, rather than on
every write."""

def owned_decision(type: DecisionType, context: MutationContext, reason: str | None,
                   metadata: dict[str, Any], timestamp: datetime) -> DecisionValues:
    """A decision of the runtime's own, kept as its values until read (``DecisionValues``):
    ``metadata`` is a dict the caller built for this decision and hands over (it is not
    copied), and the arguments are the runtime's, already checked.

    Raises:
        MissingArgumentError: ``context`` is None.
    """
    if context is None:
        raise MissingArgumentError(f"a {type.code} decision needs the context of its actor")
    return (type, context, reason, timestamp, metadata)


def decision_time(decision: RequestDecision | DecisionValues) -> datetime:
    """The timestamp of a decision or of its values."""
    return decision[3] if isinstance(decision, tuple) else decision.timestamp


def decision_record(item: RequestDecision | DecisionValues) -> RequestDecision:
    """The ``RequestDecision`` of ``DecisionValues`` (a record is returned as it is)."""
    if not isinstance(item, tuple):
        return item
    type, context, reason, timestamp, metadata = item
    if callable(reason):  # a ``DecisionText`` and its facts
        reason, metadata = reason(metadata)
    return _build_decision(type=type, context=context, reason=reason, timestamp=timestamp,
                           metadata=metadata)


class DecisionLog(Sequence[RequestDecision]):
    """A request's decision history: an immutable sequence whose snapshots share storage.

    Each snapshot of a request sees a prefix of one growing list. Appending to the newest
    snapshot extends that list in place and returns a view one longer, so recording a decision
    costs the same whatever the length of the history; views held by older snapshots keep their
    length and never change. Appending to an older snapshot (a writer that will lose the store's
    compare-and-set anyway) copies its prefix first. Compares equal to any tuple or list with
    the same decisions; serializes as a list.

    The runtime appends its own decisions as ``DecisionValues``; each is built into its
    ``RequestDecision`` the first time any view reads it, and kept in the shared list as that
    record, so every later read returns the same object.
    """

    __slots__ = ("_items", "_length")
    _build_lock = threading.Lock()

    def __init__(self, decisions: Iterable[RequestDecision | DecisionValues] = ()) -> None:
        self._items = _shared(decisions)
        self._length = len(self._items)

    @classmethod
    def _view(cls, items: _SharedItems, length: int) -> DecisionLog:
        view = cls.__new__(cls)
        view._items = items
        view._length = length
        return view

    def appended(self, *decisions: RequestDecision | DecisionValues) -> DecisionLog:
        """A log holding these decisions followed by ``decisions``; this log is unchanged."""
        return self.extended(decisions)

    def extended(self, decisions: Sequence[RequestDecision | DecisionValues]) -> DecisionLog:
        """``appended`` for a caller holding the decisions as a sequence (``next_snapshot``).

        Lock-free: the shared list is extended in one step (``+=``: ``list.extend``, atomic),
        then checked to hold these decisions right after this log's prefix. A writer that lost a
        race to another one appending to the same log finds the other's decisions there and
        copies its prefix instead; what it appended stays past the length of every view, and
        the next append to the winner's log copies too (its list is longer than the log).
        """
        view = _new_log(DecisionLog)
        items = self._items
        length = self._length
        count = len(decisions)
        view._length = length + count
        if count:
            if len(items) == length:
                # ``+=`` is ``list.extend`` without the method call: one step, as atomic.
                items += decisions
                # One extend places them together, so the first says where they went (unless
                # another writer's extend began with the same record: ``_follow``).
                if items[length] is decisions[0] and (
                        count == 1 or _follow(items, length, decisions)):
                    view._items = items
                    return view
            # Not the newest log, or a writer that lost the race: its own copy of the prefix.
            items = _shared(items[:length])
            items.extend(decisions)
        view._items = items
        return view

    def _build_values(self) -> None:
        """Build every decision of the shared list that is still values, up to its length when
        the pass starts (they are all read sooner or later; one pass leaves none for the next
        read), and move the list's ``built`` mark there. Readers build one at a time; writers
        do not wait for them: what they append is past the mark."""
        items = self._items
        with self._build_lock:
            end = len(items)
            for index in range(items.built, end):
                item = items[index]
                if builtins.type(item) is tuple:
                    items[index] = decision_record(item)
            if end > items.built:
                items.built = end

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> RequestDecision: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[RequestDecision, ...]: ...

    def __getitem__(self, index: int | slice) -> RequestDecision | tuple[RequestDecision, ...]:
        items = self._items
        if isinstance(index, slice):
            if self._length > items.built:
                self._build_values()
            return tuple(items[:self._length][index])
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError("decision index out of range")
        item = items[index]
        if builtins.type(item) is tuple:
            with self._build_lock:
                item = items[index]
                if builtins.type(item) is tuple:
                    item = items[index] = decision_record(item)
        decision: RequestDecision = item
        return decision

    def __iter__(self) -> Iterator[RequestDecision]:
        items = self._items
        if self._length > items.built:
            self._build_values()
        return itertools.islice(items, self._length)

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


_new_log = object.__new__


class _SharedItems(list[Any]):
    """The list a log's views share, with ``built``: every item before it is a record (items
    are appended, never inserted, and a value is only ever replaced by its record). A view no
    longer than ``built`` reads without building, and iterates as an ``islice``."""

    __slots__ = ("built",)
    built: int


def _shared(decisions: Iterable[RequestDecision | DecisionValues]) -> _SharedItems:
    items = _SharedItems(decisions)
    items.built = 0 if any(builtins.type(item) is tuple for item in items) else len(items)
    return items


def _follow(items: _SharedItems, length: int,
            decisions: Sequence[RequestDecision | DecisionValues]) -> bool:
    """Whether ``decisions`` after the first are the items of ``items`` that follow
    ``length``. A loop over indexes: a generator here would leave a block allocated behind
    every append of several decisions."""
    offset = len(decisions) - 1
    while offset:
        if items[length + offset] is not decisions[offset]:
            return False
        offset -= 1
    return True


def append_decisions(decisions: Sequence[RequestDecision],
                     *new: RequestDecision | DecisionValues) -> DecisionLog:
    """``decisions`` followed by ``new``, as a ``DecisionLog`` (O(1) when ``decisions`` is the
    newest view of its log; a plain sequence, as ``model_copy`` may leave, is converted)."""
    if type(decisions) is DecisionLog:
        return decisions.appended(*new)
    return DecisionLog((*decisions, *new))

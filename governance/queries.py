"""The query model: grouped, storage-agnostic filters over requests, their approval requirements
and their decisions, with pure evaluation and the documented orderings.

A ``MutationRequestQuery`` is a set of groups (scope, actor, intent, metadata, lifecycle, time
range, side effects). An empty collection or ``None`` in a group sets no constraint; the groups
are AND-ed. ``ApprovalQuery`` and ``DecisionQuery`` narrow a request query down to single approval
requirements (``ApprovalView``) or single decisions (``DecisionView``).

Queries are frozen pydantic models: validated (and collections turned into frozensets) when built,
shareable, and round-tripped through JSON. The evaluation functions (``matches``,
``approval_matches``, ``decision_matches``) and the ``select_*`` functions are pure, so a store
can run them over any iterable of snapshots; ``InMemoryRequestStore`` does. ``RequestQueryStore``
is the contract a store that answers these queries implements.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from governance.approval_requirements import ApprovalRequirement, ApprovalRequirementStatus
from governance.core.context import BlastRadiusScope
from governance.core.effects import SideEffect, SideEffectSeverity
from governance.decisions import (
    ApprovalDecision,
    DecisionCategory,
    LifecycleDecision,
    RequestDecision,
)
from governance.requests import MutationRequest, PendingReason, RequestStatus

_FROZEN = ConfigDict(frozen=True, extra="forbid")
_MISSING = object()

T = TypeVar("T")


class TagMatchMode(IntEnum):
    """How ``IntentFilter.tags`` is matched: ANY listed tag, or ALL of them."""

    ANY = 0
    ALL = 1


class ScopeFilter(BaseModel):
    """Which requests, states, state types and mutation types (membership in each set)."""

    model_config = _FROZEN

    request_ids: frozenset[str] = frozenset()
    state_ids: frozenset[str] = frozenset()
    state_types: frozenset[str] = frozenset()
    mutation_types: frozenset[str] = frozenset()


class ActorFilter(BaseModel):
    """Who filed the request (its context's actor id and name). A request without an actor id
    (or name) never matches a non-empty ``actor_ids`` (or ``actor_names``)."""

    model_config = _FROZEN

    actor_ids: frozenset[str] = frozenset()
    actor_names: frozenset[str] = frozenset()


class IntentFilter(BaseModel):
    """What the request asks for.

    ``categories``: the intent's category is one of them. ``tags`` with ``tag_match_mode``:
    the intent has ANY (default) or ALL of them. ``metadata``: every pair is present in the
    intent's metadata with an equal value. The blast-radius bounds are inclusive; a request
    without an estimated blast radius fails as soon as either bound is set.
    """

    model_config = _FROZEN

    categories: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    tag_match_mode: TagMatchMode = TagMatchMode.ANY
    metadata: dict[str, Any] = Field(default_factory=dict)
    minimum_blast_radius_scope: BlastRadiusScope | None = None
    maximum_blast_radius_scope: BlastRadiusScope | None = None


class MetadataFilter(BaseModel):
    """Request-level metadata: every pair of ``values`` is present with an equal value."""

    model_config = _FROZEN

    values: dict[str, Any] = Field(default_factory=dict)


class LifecycleFilter(BaseModel):
    """Status, pending reason (a request without one fails a non-empty ``pending_reasons``),
    and decision history (at least one decision in any of ``decision_categories``)."""

    model_config = _FROZEN

    statuses: frozenset[RequestStatus] = frozenset()
    pending_reasons: frozenset[PendingReason] = frozenset()
    decision_categories: frozenset[DecisionCategory] = frozenset()


class TimeRangeFilter(BaseModel):
    """Creation and last-update time bounds, all inclusive."""

    model_config = _FROZEN

    created_from: datetime | None = None
    created_to: datetime | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None


class SideEffectFilter(BaseModel):
    """Side effects captured from execution: the request matches when ONE of its side effects
    satisfies every given constraint (type, data contract type, severity, requires action)."""

    model_config = _FROZEN

    types: frozenset[str] = frozenset()
    data_contract_types: frozenset[str] = frozenset()
    severities: frozenset[SideEffectSeverity] = frozenset()
    requires_action: bool | None = None


class MutationRequestQuery(BaseModel):
    """A grouped request query; every group defaults to "no constraint", groups are AND-ed.

    Example::

        MutationRequestQuery(
            scope=ScopeFilter(state_ids={"tenant-42/quota"}),
            lifecycle=LifecycleFilter(statuses={RequestStatus.PENDING}),
        )
    """

    model_config = _FROZEN

    scope: ScopeFilter = Field(default_factory=ScopeFilter)
    actor: ActorFilter = Field(default_factory=ActorFilter)
    intent: IntentFilter = Field(default_factory=IntentFilter)
    metadata: MetadataFilter = Field(default_factory=MetadataFilter)
    lifecycle: LifecycleFilter = Field(default_factory=LifecycleFilter)
    time_range: TimeRangeFilter = Field(default_factory=TimeRangeFilter)
    side_effects: SideEffectFilter = Field(default_factory=SideEffectFilter)


_PENDING = MutationRequestQuery(lifecycle=LifecycleFilter(statuses={RequestStatus.PENDING}))
_PENDING_APPROVAL_QUEUE = MutationRequestQuery(lifecycle=LifecycleFilter(
    statuses={RequestStatus.PENDING}, pending_reasons={PendingReason.APPROVAL},
    decision_categories={DecisionCategory.APPROVAL}))
_RECENT_APPROVALS = MutationRequestQuery(lifecycle=LifecycleFilter(
    statuses={RequestStatus.APPROVED, RequestStatus.EXECUTED},
    decision_categories={DecisionCategory.APPROVAL}))


class RequestQueries:
    """Preset request queries (shared, frozen instances)."""

    @staticmethod
    def pending() -> MutationRequestQuery:
        """PENDING requests, whatever they wait for."""
        return _PENDING

    @staticmethod
    def pending_approval_queue() -> MutationRequestQuery:
        """PENDING requests waiting for APPROVAL that have an approval decision."""
        return _PENDING_APPROVAL_QUEUE

    @staticmethod
    def recent_approvals() -> MutationRequestQuery:
        """APPROVED or EXECUTED requests that have an approval decision."""
        return _RECENT_APPROVALS


class ApprovalQuery(BaseModel):
    """A query over single approval requirements (each returned as an ``ApprovalView``).

    ``request_query`` and the request-level sets (``categories``: the request intent's category;
    ``pending_reasons``, ``request_statuses``) filter the request; ``approval_statuses`` and the
    target sets filter the requirement. When more than one of ``approver_ids``,
    ``approver_roles`` and ``approver_groups`` is given, a requirement matching any of them
    matches (a requirement has one kind of target, so AND-ing them would match nothing): an
    actor's inbox is its id, its roles and its groups together.
    """

    model_config = _FROZEN

    request_query: MutationRequestQuery | None = None
    categories: frozenset[str] = frozenset()
    approver_ids: frozenset[str] = frozenset()
    approver_roles: frozenset[str] = frozenset()
    approver_groups: frozenset[str] = frozenset()
    approval_statuses: frozenset[ApprovalRequirementStatus] = frozenset()
    pending_reasons: frozenset[PendingReason] = frozenset()
    request_statuses: frozenset[RequestStatus] = frozenset()

    @classmethod
    def pending(cls) -> ApprovalQuery:
        """PENDING requirements of requests PENDING for APPROVAL."""
        return _PENDING_APPROVALS


_PENDING_APPROVALS = ApprovalQuery(
    approval_statuses={ApprovalRequirementStatus.PENDING},
    request_statuses={RequestStatus.PENDING}, pending_reasons={PendingReason.APPROVAL})


class DecisionQuery(BaseModel):
    """A query over single decisions (each returned as a ``DecisionView``).

    ``categories`` and ``codes`` filter the decision type; ``actor_ids`` and ``actor_names`` the
    decision's context; ``from_timestamp`` and ``to_timestamp`` (inclusive) its timestamp;
    ``request_query`` the request it belongs to.
    """

    model_config = _FROZEN

    request_query: MutationRequestQuery | None = None
    categories: frozenset[DecisionCategory] = frozenset()
    codes: frozenset[str] = frozenset()
    actor_ids: frozenset[str] = frozenset()
    actor_names: frozenset[str] = frozenset()
    from_timestamp: datetime | None = None
    to_timestamp: datetime | None = None

    @classmethod
    def recent_version_resolutions(cls) -> DecisionQuery:
        """Version-resolution decisions."""
        return _RECENT_VERSION_RESOLUTIONS

    @classmethod
    def recent_execution_outcomes(cls) -> DecisionQuery:
        """Lifecycle decisions that end a request: EXECUTED, REJECTED, CANCELED, EXPIRED,
        SUPERSEDED."""
        return _RECENT_EXECUTION_OUTCOMES


_RECENT_VERSION_RESOLUTIONS = DecisionQuery(categories={DecisionCategory.VERSION_RESOLUTION})
_RECENT_EXECUTION_OUTCOMES = DecisionQuery(
    categories={DecisionCategory.LIFECYCLE},
    codes={d.name for d in (LifecycleDecision.EXECUTED, LifecycleDecision.REJECTED,
                            LifecycleDecision.CANCELED, LifecycleDecision.EXPIRED,
                            LifecycleDecision.SUPERSEDED)})


@dataclass(frozen=True, slots=True)
class ApprovalView:
    """One approval requirement together with the request snapshot it belongs to."""

    request: MutationRequest
    approval: ApprovalRequirement


@dataclass(frozen=True, slots=True)
class DecisionView:
    """One decision together with the request snapshot it belongs to."""

    request: MutationRequest
    decision: RequestDecision


# -- evaluation -------------------------------------------------------------------------------

def _same(expected: Any, actual: Any) -> bool:
    # Exact equality: Python's True == 1 would otherwise let a flag match a count.
    return (expected == actual
            and isinstance(expected, bool) == isinstance(actual, bool))


def _has_pairs(wanted: Mapping[str, Any], actual: Mapping[str, Any]) -> bool:
    return all(_same(value, actual.get(key, _MISSING)) for key, value in wanted.items())


def _in_range(value: datetime, low: datetime | None, high: datetime | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def _scope_matches(request: MutationRequest, f: ScopeFilter) -> bool:
    scope = request.scope
    return ((not f.request_ids or request.request_id in f.request_ids)
            and (not f.state_ids or scope.state_id in f.state_ids)
            and (not f.state_types or scope.state_type in f.state_types)
            and (not f.mutation_types or scope.mutation_type in f.mutation_types))


def _actor_matches(request: MutationRequest, f: ActorFilter) -> bool:
    context = request.payload.context
    return ((not f.actor_ids or (context.actor_id is not None
                                 and context.actor_id in f.actor_ids))
            and (not f.actor_names or (context.actor_name is not None
                                       and context.actor_name in f.actor_names)))


def _intent_matches(request: MutationRequest, f: IntentFilter) -> bool:
    intent = request.payload.intent
    if f.categories and intent.category not in f.categories:
        return False
    if f.tags:
        if f.tag_match_mode == TagMatchMode.ALL:
            if not f.tags <= intent.tags:
                return False
        elif f.tags.isdisjoint(intent.tags):
            return False
    if f.metadata and not _has_pairs(f.metadata, intent.metadata):
        return False
    low, high = f.minimum_blast_radius_scope, f.maximum_blast_radius_scope
    if low is not None or high is not None:
        radius = intent.estimated_blast_radius
        if radius is None:
            return False
        if (low is not None and radius.scope < low) or (high is not None and radius.scope > high):
            return False
    return True


def _lifecycle_matches(request: MutationRequest, f: LifecycleFilter) -> bool:
    lifecycle = request.lifecycle
    if f.statuses and lifecycle.status not in f.statuses:
        return False
    if f.pending_reasons and (lifecycle.pending_reason is None
                              or lifecycle.pending_reason not in f.pending_reasons):
        return False
    return not f.decision_categories or any(
        d.type.category in f.decision_categories for d in request.decisions)


def _time_matches(request: MutationRequest, f: TimeRangeFilter) -> bool:
    lifecycle = request.lifecycle
    return (_in_range(lifecycle.created_at, f.created_from, f.created_to)
            and _in_range(lifecycle.updated_at, f.updated_from, f.updated_to))


def _side_effect_matches(effect: SideEffect, f: SideEffectFilter) -> bool:
    return ((not f.types or effect.type in f.types)
            and (not f.data_contract_types or (effect.data_contract_type is not None
                                               and effect.data_contract_type
                                               in f.data_contract_types))
            and (not f.severities or effect.severity in f.severities)
            and (f.requires_action is None or effect.requires_action == f.requires_action))


def _side_effects_match(request: MutationRequest, f: SideEffectFilter) -> bool:
    if not (f.types or f.data_contract_types or f.severities or f.requires_action is not None):
        return True
    return any(_side_effect_matches(effect, f) for effect in request.side_effects)


def matches(request: MutationRequest, query: MutationRequestQuery | None) -> bool:
    """Whether ``request`` satisfies every group of ``query`` (``None`` matches everything)."""
    if query is None:
        return True
    return (_scope_matches(request, query.scope)
            and _lifecycle_matches(request, query.lifecycle)
            and _actor_matches(request, query.actor)
            and _intent_matches(request, query.intent)
            and (not query.metadata.values
                 or _has_pairs(query.metadata.values, request.metadata))
            and _time_matches(request, query.time_range)
            and _side_effects_match(request, query.side_effects))


def _approval_request_matches(request: MutationRequest, query: ApprovalQuery) -> bool:
    lifecycle = request.lifecycle
    return ((not query.request_statuses or lifecycle.status in query.request_statuses)
            and (not query.pending_reasons or (lifecycle.pending_reason is not None
                                               and lifecycle.pending_reason
                                               in query.pending_reasons))
            and (not query.categories or request.payload.intent.category in query.categories)
            and matches(request, query.request_query))


def _approval_requirement_matches(approval: ApprovalRequirement, query: ApprovalQuery) -> bool:
    if query.approval_statuses and approval.status not in query.approval_statuses:
        return False
    if not (query.approver_ids or query.approver_roles or query.approver_groups):
        return True
    return ((bool(approval.approver_id) and approval.approver_id in query.approver_ids)
            or (approval.approver_role is not None
                and approval.approver_role in query.approver_roles)
            or (approval.approver_group is not None
                and approval.approver_group in query.approver_groups))


def approval_matches(request: MutationRequest, approval: ApprovalRequirement,
                     query: ApprovalQuery | None) -> bool:
    """Whether ``approval`` (one of ``request``'s requirements) satisfies ``query``."""
    if query is None:
        return True
    return (_approval_requirement_matches(approval, query)
            and _approval_request_matches(request, query))


def _decision_only_matches(decision: RequestDecision, query: DecisionQuery) -> bool:
    context = decision.context
    return ((not query.categories or decision.type.category in query.categories)
            and (not query.codes or decision.type.code in query.codes)
            and (not query.actor_ids or (context.actor_id is not None
                                         and context.actor_id in query.actor_ids))
            and (not query.actor_names or (context.actor_name is not None
                                           and context.actor_name in query.actor_names))
            and _in_range(decision.timestamp, query.from_timestamp, query.to_timestamp))


def decision_matches(request: MutationRequest, decision: RequestDecision,
                     query: DecisionQuery | None) -> bool:
    """Whether ``decision`` (one of ``request``'s decisions) satisfies ``query``."""
    if query is None:
        return True
    return _decision_only_matches(decision, query) and matches(request, query.request_query)


# -- selection and ordering -------------------------------------------------------------------

def _take(items: list[T], take: int | None) -> list[T]:
    return items if take is None or take < 0 else items[:take]


def _request_order(request: MutationRequest) -> tuple[datetime, str]:
    return (request.lifecycle.created_at, request.request_id)


def select_requests(
    requests: Iterable[MutationRequest],
    query: MutationRequestQuery | None = None,
    *,
    where: Callable[[MutationRequest], bool] | None = None,
) -> list[MutationRequest]:
    """The requests matching ``query`` (and ``where``), ordered by creation time, then id."""
    found = [r for r in requests if (where is None or where(r)) and matches(r, query)]
    found.sort(key=_request_order)
    return found


def has_approval_activity(request: MutationRequest) -> bool:
    """Whether the request has approval requirements or any approval decision."""
    return bool(request.approval_requirements) or any(
        d.type.category == DecisionCategory.APPROVAL for d in request.decisions)


_REQUESTED = ApprovalDecision.REQUESTED.name


def _last_approval_activity(request: MutationRequest) -> datetime:
    latest: datetime | None = None
    for d in request.decisions:
        if d.type.category == DecisionCategory.APPROVAL and d.type.code != _REQUESTED \
                and (latest is None or d.timestamp > latest):
            latest = d.timestamp
    return latest if latest is not None else request.lifecycle.updated_at


def select_recent_approvals(
    requests: Iterable[MutationRequest],
    query: MutationRequestQuery | None = None,
    take: int | None = None,
) -> list[MutationRequest]:
    """Requests with approval activity matching ``query`` (default
    ``RequestQueries.recent_approvals()``), most recent approval activity first.

    Order: the latest approval decision other than REQUESTED (else ``updated_at``) descending,
    then ``updated_at`` descending, then request id ascending. ``take`` (when not None and
    ≥ 0) keeps the first ``take``.
    """
    query = RequestQueries.recent_approvals() if query is None else query
    found = [r for r in requests if has_approval_activity(r) and matches(r, query)]
    # Stable sorts, least significant key first, so that keys can run in different directions.
    found.sort(key=lambda r: r.request_id)
    found.sort(key=lambda r: r.lifecycle.updated_at, reverse=True)
    found.sort(key=_last_approval_activity, reverse=True)
    return _take(found, take)


def select_pending_approvals(
    requests: Iterable[MutationRequest], query: ApprovalQuery | None = None
) -> list[ApprovalView]:
    """The approval requirements matching ``query`` (default ``ApprovalQuery.pending()``),
    ordered by request creation time, request id, step order, then approval id."""
    query = ApprovalQuery.pending() if query is None else query
    views = [ApprovalView(request, approval)
             for request in requests if _approval_request_matches(request, query)
             for approval in request.approval_requirements
             if _approval_requirement_matches(approval, query)]
    views.sort(key=lambda v: (v.request.lifecycle.created_at, v.request.request_id,
                              v.approval.step_order, v.approval.approval_id))
    return views


def select_recent_decisions(
    requests: Iterable[MutationRequest],
    query: DecisionQuery | None = None,
    take: int | None = None,
) -> list[DecisionView]:
    """The decisions matching ``query`` (default: every decision), most recent first.

    Order: decision timestamp descending, then the request's ``updated_at`` descending, then
    request id ascending; decisions of one request with the same timestamp come latest
    appended first. ``take`` (when not None and ≥ 0) keeps the first ``take``.
    """
    indexed: list[tuple[int, DecisionView]] = []
    for request in requests:
        if query is not None and not matches(request, query.request_query):
            continue
        for index, decision in enumerate(request.decisions):
            if query is None or _decision_only_matches(decision, query):
                indexed.append((index, DecisionView(request, decision)))
    indexed.sort(key=lambda item: item[0], reverse=True)
    indexed.sort(key=lambda item: item[1].request.request_id)
    indexed.sort(key=lambda item: item[1].request.lifecycle.updated_at, reverse=True)
    indexed.sort(key=lambda item: item[1].decision.timestamp, reverse=True)
    return _take([view for _, view in indexed], take)


class RequestQueryStore(ABC):
    """The query contract of a request store: grouped queries over its stored requests, evaluated
    as the pure functions of this module do (``InMemoryRequestStore`` runs them as they are).

    Every method returns the latest stored snapshots, in the order its docstring fixes; ``take``
    keeps the first ``take`` results when it is not None and ≥ 0.
    """

    @abstractmethod
    def query(self, query: MutationRequestQuery) -> list[MutationRequest]:
        """The requests matching ``query``, ordered by creation time, then request id."""

    @abstractmethod
    def get_pending_requests(
        self, query: MutationRequestQuery | None = None
    ) -> list[MutationRequest]:
        """PENDING requests matching ``query``, ordered by creation time, then request id."""

    @abstractmethod
    def get_pending_approval_queue(
        self, query: MutationRequestQuery | None = None
    ) -> list[MutationRequest]:
        """Requests PENDING for APPROVAL matching ``query``, ordered by creation time, then id."""

    @abstractmethod
    def get_recent_approvals(
        self, query: MutationRequestQuery | None = None, take: int | None = None
    ) -> list[MutationRequest]:
        """Requests with approval activity (approval requirements or an approval decision)
        matching ``query`` (default ``RequestQueries.recent_approvals()``), ordered by their
        latest approval decision other than REQUESTED (else ``updated_at``) descending, then
        ``updated_at`` descending, then request id."""

    @abstractmethod
    def get_pending_approvals(self, query: ApprovalQuery | None = None) -> list[ApprovalView]:
        """Approval requirements matching ``query`` (default ``ApprovalQuery.pending()``),
        ordered by request creation time, request id, step order, then approval id."""

    @abstractmethod
    def get_recent_decisions(
        self, query: DecisionQuery | None = None, take: int | None = None
    ) -> list[DecisionView]:
        """Decisions matching ``query`` (default: all), ordered by decision timestamp
        descending, then request ``updated_at`` descending, then request id (decisions of one
        request with equal timestamps: latest appended first)."""

"""The query API over seeded in-memory stores.

One timed call is one query: it reads the store's snapshots, evaluates the preset query on each
and sorts the matches (and, for decisions, flattens them into views). Nothing is written, so the
three stores are built once per process on the first call (asv's calibration call) and shared by
every call; there is no ``setup`` and asv times many calls per sample. Stores hold fixed ids and
fixed creation and decision times (``fixtures_requests.seeded_*_store``):

- pending store: 96 PENDING requests alternating APPROVAL / EXTERNAL_CHECK, plus 48 noise
  requests alternating APPROVED / EXECUTED;
- approval store: 64 requests pending approval (approver security-lead or platform-lead, role
  security-approver, group platform-team), plus 48 APPROVED noise requests;
- decision store: 72 requests with SUBMITTED, PENDING and a terminal decision (EXECUTED,
  REJECTED, CANCELED, EXPIRED in turn), plus 32 PENDING noise requests whose only decision is
  SUBMITTED.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from .fixtures_requests import seeded_approval_store, seeded_decision_store, seeded_pending_store
from .harness import ReadOnlyBenchmark, allocation_twins, kept

_REQUIRED = ("RequestQueries", "DecisionQuery", "ApprovalWorkflowManager")
RECENT_TAKE = 64


def _pending(g: Any) -> Any:
    store, query = seeded_pending_store(g), g.RequestQueries.pending()
    return lambda: store.get_pending_requests(query)


def _approval_queue(g: Any) -> Any:
    store, query = seeded_approval_store(g), g.RequestQueries.pending_approval_queue()
    return lambda: store.get_pending_approval_queue(query)


def _recent_outcomes(g: Any) -> Any:
    store, query = seeded_decision_store(g), g.DecisionQuery.recent_execution_outcomes()
    return lambda: store.get_recent_decisions(query, take=RECENT_TAKE)


SCENARIOS = {
    "pending_requests": _pending,
    "pending_approval_queue": _approval_queue,
    "recent_execution_outcomes": _recent_outcomes,
}


class GovernanceQueries(ReadOnlyBenchmark):
    """The three preset reads.

    - pending_requests: ``get_pending_requests(RequestQueries.pending())`` → 96 requests.
    - pending_approval_queue: ``get_pending_approval_queue(pending_approval_queue())`` → 64.
    - recent_execution_outcomes: ``get_recent_decisions(recent_execution_outcomes(),
      take=64)`` → the 64 latest of 72 terminal decisions.
    """

    version = "1"
    required_api = _REQUIRED
    rounds = 2
    repeat = (10, 25, 0.25)

    def build(self, g: Any) -> SimpleNamespace:
        return SimpleNamespace(**{name: build(g) for name, build in SCENARIOS.items()})

    def time_pending_requests(self) -> None:
        self.fixtures[None].pending_requests()

    def time_pending_approval_queue(self) -> None:
        self.fixtures[None].pending_approval_queue()

    def time_recent_execution_outcomes(self) -> None:
        self.fixtures[None].recent_execution_outcomes()


GovernanceQueriesAllocatedBytes, GovernanceQueriesAllocatedBlocks = allocation_twins(
    "GovernanceQueries", kept(SCENARIOS), what="one query over a seeded store",
    required=_REQUIRED)

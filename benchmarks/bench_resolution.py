"""Version resolution alone: ``VersionResolutionManager.resolve_and_store``.

One timed call loads the approved request (expected v10), compares versions, appends the
resolution decision, applies the strategy's status change and persists the snapshot through the
store's compare-and-set. The store, manager and request are built in ``setup`` for every call;
no engine runs.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from .callgrind import InstructionCounter
from .common import EXPECTED_VERSION, STALE_VERSION
from .fixtures_execution import ExecutionFixture
from .harness import StageBenchmark, allocation_twins

_SCENARIOS = {
    # name: (current state version, strategy attribute)
    "matching_version": (EXPECTED_VERSION, "REJECT_STALE"),
    "rejected_as_stale": (STALE_VERSION, "REJECT_STALE"),
    "revalidation_required": (STALE_VERSION, "REVALIDATE_ON_LATEST_STATE"),
    "renewed_approval_required": (STALE_VERSION, "REQUIRE_RENEWED_APPROVAL"),
}


def _resolve(g: Any, scenario: str) -> Any:
    version, strategy_name = _SCENARIOS[scenario]
    fixture = ExecutionFixture(version)
    strategy = getattr(g.ResolutionStrategy, strategy_name)
    manager, request_id, context = fixture.resolution, fixture.request_id, fixture.context
    return lambda: manager.resolve_and_store(request_id, version, context, strategy)


_BUILDERS = {name: partial(_resolve, scenario=name) for name in _SCENARIOS}


class ResolveAndStore(StageBenchmark):
    """``resolve_and_store`` for each outcome, on a fresh stored approved request per call.

    - matching_version: v10 against v10: VALIDATED, status unchanged.
    - rejected_as_stale: v15, REJECT_STALE: REJECTED_AS_STALE, status REJECTED.
    - revalidation_required: v15, REVALIDATE_ON_LATEST_STATE: PENDING for revalidation.
    - renewed_approval_required: v15, REQUIRE_RENEWED_APPROVAL: PENDING for approval.
    """

    scenarios = _BUILDERS

    def time_matching_version(self) -> None:
        self.ops["matching_version"]()

    def time_rejected_as_stale(self) -> None:
        self.ops["rejected_as_stale"]()

    def time_revalidation_required(self) -> None:
        self.ops["revalidation_required"]()

    def time_renewed_approval_required(self) -> None:
        self.ops["renewed_approval_required"]()


def _resolve_with_history(g: Any, decisions: int) -> Any:
    fixture = ExecutionFixture(EXPECTED_VERSION, history_length=decisions)
    strategy = g.ResolutionStrategy.REJECT_STALE
    manager, request_id, context = fixture.resolution, fixture.request_id, fixture.context
    return lambda: manager.resolve_and_store(request_id, EXPECTED_VERSION, context, strategy)


class ResolveAndStoreHistoryLength(StageBenchmark):
    """``resolve_and_store`` with a matching version on a request that already holds
    ``decisions`` decisions. Resolution appends one decision; its cost should not grow with the
    length of the history it appends to."""

    params = [2, 64, 1024]
    param_names = ["decisions"]
    scenarios = {"matching_version": _resolve_with_history}

    def time_matching_version(self, decisions: int) -> None:
        self.ops["matching_version"]()


ResolveAndStoreAllocatedBytes, ResolveAndStoreAllocatedBlocks = allocation_twins(
    "ResolveAndStore", _BUILDERS, what="one resolve_and_store call")


class ResolveAndStoreInstructions(InstructionCounter):
    """Instructions of one ``resolve_and_store`` call per outcome, counted under callgrind on
    the fixtures of ``ResolveAndStore`` (built and warmed up outside the counted calls)."""

    family = "ResolveAndStore"

    def track_matching_version(self, counts: dict[str, Any]) -> int:
        return self.count(counts, "matching_version")

    def track_rejected_as_stale(self, counts: dict[str, Any]) -> int:
        return self.count(counts, "rejected_as_stale")

    def track_revalidation_required(self, counts: dict[str, Any]) -> int:
        return self.count(counts, "revalidation_required")

    def track_renewed_approval_required(self, counts: dict[str, Any]) -> int:
        return self.count(counts, "renewed_approval_required")

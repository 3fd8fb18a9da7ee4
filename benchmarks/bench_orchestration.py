"""Governed execution end to end: ``GovernanceExecutionManager.execute_approved``.

One timed call resolves an approved request against the state version, claims it, runs the
mutation through a strict engine with one allow policy (validation, policy, audit, history,
metrics) when resolution lets it, and records the terminal outcome in the store. Building the
store, engine, managers, request, mutation and state happens in ``setup``, outside the timed
region, for every call: each call consumes its approved request.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from .callgrind import InstructionCounter
from .common import EXPECTED_VERSION, STALE_VERSION, api
from .fixtures_execution import ExecutionFixture, FloorFixture, floor_execute
from .harness import StageBenchmark, allocation_twins, ratio_to_floor

SCENARIOS = {
    # name: (current state version, strategy, floor revalidates)
    "matching_version": (EXPECTED_VERSION, "REJECT_STALE", False),
    "rejected_as_stale": (STALE_VERSION, "REJECT_STALE", False),
    "revalidated_then_executed": (STALE_VERSION, "REVALIDATE_ON_LATEST_STATE", True),
}


def scenario(g: Any, name: str) -> tuple[ExecutionFixture, Any]:
    """A fresh fixture for scenario ``name`` and the ``execute_approved`` call it times."""
    version, strategy_name, _ = SCENARIOS[name]
    fixture = ExecutionFixture(version)
    strategy = getattr(g.ResolutionStrategy, strategy_name)
    return fixture, lambda: fixture.execute(strategy)


def _real(g: Any, name: str) -> Any:
    return scenario(g, name)[1]


def _floor(name: str) -> Any:
    version, _, revalidate = SCENARIOS[name]
    fixture = FloorFixture(version)
    return lambda: floor_execute(fixture.store, "req-1", fixture.state, revalidate)


def _floor_builder(g: Any, name: str) -> Any:
    """``_floor`` with the builder signature the instruction counter calls."""
    return _floor(name)


_REAL_SCENARIOS = {name: partial(_real, name=name) for name in SCENARIOS}
_FLOOR_SCENARIOS = {name: partial(_floor_builder, name=name) for name in SCENARIOS}


class ExecuteApproved(StageBenchmark):
    """``execute_approved`` on a fresh approved request (expected v10) per call.

    - matching_version: state at v10, REJECT_STALE: resolved, executed, recorded EXECUTED.
    - rejected_as_stale: state at v15, REJECT_STALE: recorded REJECTED; the engine never runs.
    - revalidated_then_executed: state at v15, REVALIDATE_ON_LATEST_STATE: resolved for
      revalidation, executed on the latest state, recorded EXECUTED.
    """

    scenarios = _REAL_SCENARIOS

    def time_matching_version(self) -> None:
        self.ops["matching_version"]()

    def time_rejected_as_stale(self) -> None:
        self.ops["rejected_as_stale"]()

    def time_revalidated_then_executed(self) -> None:
        self.ops["revalidated_then_executed"]()


class ExecuteApprovedFloor(StageBenchmark):
    """The floor of each scenario: the same flow in plain Python on a dict store (look up,
    compare versions, append timestamped decisions, bump revision, build the new state). A fresh
    dict store per call is built in ``setup``."""

    scenarios = _FLOOR_SCENARIOS

    def time_matching_version(self) -> None:
        self.ops["matching_version"]()

    def time_rejected_as_stale(self) -> None:
        self.ops["rejected_as_stale"]()

    def time_revalidated_then_executed(self) -> None:
        self.ops["revalidated_then_executed"]()


class ExecuteApprovedRatioToFloor:
    """Real / floor time of each scenario, both measured in one process (median of 200
    interleaved calls each, fresh fixtures built outside the timed calls). Unitless, so it does
    not depend on the machine: it is the price of the runtime over the least the flow needs."""

    version = "1"
    unit = "ratio"
    rounds = 1
    repeat = 1
    number = 1

    def setup(self) -> None:
        self.g = api()

    def track_matching_version(self) -> float:
        return ratio_to_floor(lambda: _real(self.g, "matching_version"),
                              lambda: _floor("matching_version"))

    def track_rejected_as_stale(self) -> float:
        return ratio_to_floor(lambda: _real(self.g, "rejected_as_stale"),
                              lambda: _floor("rejected_as_stale"))

    def track_revalidated_then_executed(self) -> float:
        return ratio_to_floor(lambda: _real(self.g, "revalidated_then_executed"),
                              lambda: _floor("revalidated_then_executed"))


ExecuteApprovedAllocatedBytes, ExecuteApprovedAllocatedBlocks = allocation_twins(
    "ExecuteApproved", _REAL_SCENARIOS, what="one execute_approved call")


class ExecuteApprovedInstructions(InstructionCounter):
    """Instructions of one ``execute_approved`` call per scenario, counted under callgrind (see
    ``callgrind.py``): the same fixtures as ``ExecuteApproved``, built and warmed up outside
    the counted calls. Deterministic: it moves only when the work done changes."""

    family = "ExecuteApproved"

    def track_matching_version(self, counts: dict[str, Any]) -> int:
        return self.count(counts, "matching_version")

    def track_rejected_as_stale(self, counts: dict[str, Any]) -> int:
        return self.count(counts, "rejected_as_stale")

    def track_revalidated_then_executed(self, counts: dict[str, Any]) -> int:
        return self.count(counts, "revalidated_then_executed")


class ExecuteApprovedFloorInstructions(ExecuteApprovedInstructions):
    """Instructions of one call of each scenario's floor (``ExecuteApprovedFloor``), counted in
    the same valgrind process as ``ExecuteApprovedInstructions`` (whose ``track_*`` methods it
    inherits)."""

    family = "ExecuteApprovedFloor"


class ExecuteApprovedInstructionRatioToFloor(InstructionCounter):
    """Instructions of the real call divided by those of its floor, per scenario: the
    deterministic twin of ``ExecuteApprovedRatioToFloor`` (unitless)."""

    unit = "ratio"

    def _ratio(self, counts: dict[str, Any], scenario: str) -> float:
        return (self.count(counts, scenario, "ExecuteApproved")
                / self.count(counts, scenario, "ExecuteApprovedFloor"))

    def track_matching_version(self, counts: dict[str, Any]) -> float:
        return self._ratio(counts, "matching_version")

    def track_rejected_as_stale(self, counts: dict[str, Any]) -> float:
        return self._ratio(counts, "rejected_as_stale")

    def track_revalidated_then_executed(self, counts: dict[str, Any]) -> float:
        return self._ratio(counts, "revalidated_then_executed")

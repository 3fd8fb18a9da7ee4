"""Terminal outcome recording alone: ``OutcomeRecorder``.

One timed call appends the terminal lifecycle decision to the claimed request and persists it
through the store's compare-and-set. Not timed, built in ``setup`` for every call: the store, the
claimed request (resolved and claimed exactly as ``execute_approved`` leaves it before the engine
runs) and the engine result being recorded.
"""

from __future__ import annotations

from typing import Any

from .callgrind import InstructionCounter
from .common import EXPECTED_VERSION, STALE_VERSION
from .fixtures_execution import ExecutionFixture
from .harness import StageBenchmark, allocation_twins

_REQUIRED = ("OutcomeRecorder",)


def _executed(g: Any) -> Any:
    fixture = ExecutionFixture(EXPECTED_VERSION)
    resolution = fixture.resolution.resolve_for_execution(
        fixture.request_id, EXPECTED_VERSION, fixture.context, g.ResolutionStrategy.REJECT_STALE)
    claimed = resolution.request
    result = fixture.engine.execute(g.GovernedMutation(fixture.mutation, claimed), fixture.state)
    recorder, context = g.OutcomeRecorder(fixture.store), fixture.context
    version = result.new_state.version
    return lambda: recorder.record_executed(claimed, context, result, version)


def _stale(g: Any) -> Any:
    fixture = ExecutionFixture(STALE_VERSION)
    resolution = fixture.resolution.resolver.resolve(
        fixture.request, STALE_VERSION, fixture.context, g.ResolutionStrategy.REJECT_STALE)
    recorder, revision = g.OutcomeRecorder(fixture.store), fixture.request.revision
    return lambda: recorder.record_resolution(resolution, revision)


def _refused(g: Any) -> Any:
    fixture = ExecutionFixture(EXPECTED_VERSION, deny=True)
    resolution = fixture.resolution.resolve_for_execution(
        fixture.request_id, EXPECTED_VERSION, fixture.context, g.ResolutionStrategy.REJECT_STALE)
    claimed = resolution.request
    result = fixture.engine.execute(g.GovernedMutation(fixture.mutation, claimed), fixture.state)
    recorder, context = g.OutcomeRecorder(fixture.store), fixture.context
    return lambda: recorder.record_refused(claimed, context, result, EXPECTED_VERSION)


_BUILDERS = {"executed": _executed, "rejected_as_stale": _stale, "rejected_by_policy": _refused}


def _recording_builder(g: Any, name: str) -> Any:
    """Scenario ``name`` of ``_BUILDERS``, as the instruction counter calls it."""
    return _BUILDERS[name](g)


class OutcomeRecording(StageBenchmark):
    """Record one terminal outcome.

    - executed: EXECUTED with the resulting version, after a successful engine run.
    - rejected_as_stale: the REJECTED_AS_STALE resolution (v10 expected, v15 current) persisted.
    - rejected_by_policy: REJECTED after a deny policy blocked the engine run.
    """

    required = _REQUIRED
    scenarios = _BUILDERS

    def time_executed(self) -> None:
        self.ops["executed"]()

    def time_rejected_as_stale(self) -> None:
        self.ops["rejected_as_stale"]()

    def time_rejected_by_policy(self) -> None:
        self.ops["rejected_by_policy"]()


OutcomeRecordingAllocatedBytes, OutcomeRecordingAllocatedBlocks = allocation_twins(
    "OutcomeRecording", _BUILDERS, what="one recording call", required=_REQUIRED)


class OutcomeRecordingInstructions(InstructionCounter):
    """Instructions of one recording call per outcome, counted under callgrind on the fixtures
    of ``OutcomeRecording`` (built and warmed up outside the counted calls)."""

    family = "OutcomeRecording"

    def track_executed(self, counts: dict[str, Any]) -> int:
        return self.count(counts, "executed")

    def track_rejected_as_stale(self, counts: dict[str, Any]) -> int:
        return self.count(counts, "rejected_as_stale")

    def track_rejected_by_policy(self, counts: dict[str, Any]) -> int:
        return self.count(counts, "rejected_by_policy")

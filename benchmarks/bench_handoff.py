"""The execution handoff alone: wrapping the approved request's mutation as a
``GovernedMutation`` and running it through the engine.

One timed call builds the governed mutation and calls ``engine.execute`` (strict preset, one
allow policy: the governed intent and context, with the governance metadata, built when the
engine reads them; policy evaluation, validation,
apply, audit, history, metrics; the in-memory audit and history entries and the metrics are
kept as their values, built into records when first read, which ``bench_materialization``'s
``ExecutionRecordsFirstRead`` times). Not timed: resolution and outcome recording, and the fresh
engine, request, mutation and state built in ``setup`` for every call (the engine's audit and
history grow with each execution).
"""

from __future__ import annotations

from typing import Any

from .callgrind import InstructionCounter
from .common import EXPECTED_VERSION
from .fixtures_execution import ExecutionFixture
from .harness import StageBenchmark, allocation_twins


def _handoff(g: Any) -> Any:
    fixture = ExecutionFixture(EXPECTED_VERSION)
    engine, mutation, request, state = (fixture.engine, fixture.mutation, fixture.request,
                                        fixture.state)
    governed_mutation = g.GovernedMutation

    def run() -> Any:
        result = engine.execute(governed_mutation(mutation, request), state)
        if not result.is_success:
            raise RuntimeError("the handoff benchmark's mutation did not succeed")
        return result

    return run


_SCENARIOS = {"wrap_and_execute": _handoff}


class EngineHandoff(StageBenchmark):
    """Wrap and execute one approved request's mutation through the engine."""

    scenarios = _SCENARIOS

    def time_wrap_and_execute(self) -> None:
        self.ops["wrap_and_execute"]()


EngineHandoffAllocatedBytes, EngineHandoffAllocatedBlocks = allocation_twins(
    "EngineHandoff", _SCENARIOS, what="one wrap-and-execute call")


class EngineHandoffInstructions(InstructionCounter):
    """Instructions of one wrap-and-execute call, counted under callgrind on the fixture of
    ``EngineHandoff`` (built and warmed up outside the counted calls)."""

    family = "EngineHandoff"

    def track_wrap_and_execute(self, counts: dict[str, Any]) -> int:
        return self.count(counts, "wrap_and_execute")

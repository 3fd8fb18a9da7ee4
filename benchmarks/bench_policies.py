"""Policy evaluation inside the engine: one COMMIT with 0, 1, 4 or 16 allow policies.

One timed call executes one IncrementCounter COMMIT on counter 42 through an engine (performance
preset, ``NullAuditor``, ``NullHistoryStore``) that holds ``policies`` policies, all of which
allow without modifications, so the engine asks every one of them. One policy has priority 100;
four have the mixed priorities 300, 200, 100 and 0; sixteen cycle through those. The engine is
built once per process and reused (nothing grows); building it is not timed (first call).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from .fixtures_engine import CounterState, counter_engine, counter_mutation
from .harness import ReadOnlyBenchmark, allocation_twins, kept

POLICY_COUNTS = [0, 1, 4, 16]


def _commit(g: Any, policies: int) -> Any:
    engine = counter_engine(g, "performance", policies=policies)
    op = partial(engine.execute, counter_mutation(g, "policies"), CounterState(42))
    op()
    return op


class PolicyEvaluation(ReadOnlyBenchmark):
    """COMMIT with ``policies`` allow policies (0: the no-policy baseline; 1: a single policy;
    4: mixed priorities). Should grow linearly with the number of policies, by the cost of one
    ``evaluate`` and one allow decision each."""

    version = "1"
    params = POLICY_COUNTS
    param_names = ["policies"]
    rounds = 2
    repeat = (10, 25, 0.25)

    def build(self, g: Any, policies: int) -> Any:
        return _commit(g, policies)

    def time_commit_all_allow(self, policies: int) -> None:
        self.fixtures[policies]()


PolicyEvaluationAllocatedBytes, PolicyEvaluationAllocatedBlocks = allocation_twins(
    "PolicyEvaluation", kept({"commit_all_allow": _commit}), params=POLICY_COUNTS,
    param_names=["policies"], what="one COMMIT through the policies")

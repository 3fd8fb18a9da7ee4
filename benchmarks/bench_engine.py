"""The core engine on its own: ``MutationEngine.execute`` and ``execute_batch``.

One timed call runs counter or slot mutations through an engine that is built once per process
and reused for every call, with ``NullAuditor``, ``NullHistoryStore`` and a metrics collector
that keeps only the latest metrics, so nothing grows from call to call (what in-memory audit and
history cost is measured in ``bench_diagnostics``). The mutations are pure and every call gets
the same input state, so no call consumes anything: there is no ``setup``, and asv times many
calls per sample. Not timed: building the engine, mutations and states (on the first call,
asv's calibration call).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from .fixtures_engine import (
    CounterState,
    counter_engine,
    counter_mutation,
    single_slot_mutation,
    slot_mutations,
    slot_state,
)
from .harness import ReadOnlyBenchmark, allocation_twins, kept

STATE_SIZES = [32, 1024, 16384]
THROUGHPUT_BATCH_SIZES = [8, 64]
BATCH_SIZES = [10, 100]


def _warm(op: Any) -> Any:
    """Run ``op`` once (the engine creates its per-state gate on first use) and return it."""
    op()
    return op


def _commit(g: Any, preset: str, policies: int) -> Any:
    engine = counter_engine(g, preset, policies=policies)
    return _warm(partial(engine.execute, counter_mutation(g, "commit"), CounterState(42)))


def _mode(g: Any, mode: str) -> Any:
    engine = counter_engine(g, "strict", policies=1)
    mutation = counter_mutation(g, mode.lower(), getattr(g.MutationMode, mode))
    return _warm(partial(engine.execute, mutation, CounterState(42)))


def _batch(g: Any, size: int) -> Any:
    engine = counter_engine(g, "performance")
    mutations = [counter_mutation(g, f"batch-{i}") for i in range(size)]
    return _warm(partial(engine.execute_batch, mutations, CounterState(42)))


def _single_slot(g: Any, state_size: int) -> Any:
    engine = counter_engine(g, "performance")
    return _warm(partial(engine.execute, single_slot_mutation(g, state_size),
                         slot_state(state_size)))


def _slot_batch(g: Any, state_size: int, batch_size: int) -> Any:
    engine = counter_engine(g, "performance")
    return _warm(partial(engine.execute_batch, slot_mutations(g, state_size, batch_size),
                         slot_state(state_size)))


_COMMIT_SCENARIOS = {
    "commit_performance_no_policy": lambda g: _commit(g, "performance", 0),
    "commit_strict_with_policy": lambda g: _commit(g, "strict", 1),
}
_MODE_SCENARIOS = {
    "simulate_strict_with_policy": lambda g: _mode(g, "SIMULATE"),
    "validate_only_strict_with_policy": lambda g: _mode(g, "VALIDATE"),
}


class EngineCommit(ReadOnlyBenchmark):
    """COMMIT of one IncrementCounter mutation on counter 42, one reused engine per variant.

    - performance_no_policy: performance preset (no validation on COMMIT, no detailed
      metrics), no policy: the engine's floor.
    - strict_with_policy: strict preset (validation, detailed metrics) and one allow policy.
    """

    version = "1"
    rounds = 2
    repeat = (10, 25, 0.25)

    def build(self, g: Any) -> dict[str, Any]:
        return {name: build(g) for name, build in _COMMIT_SCENARIOS.items()}

    def time_commit_performance_no_policy(self) -> None:
        self.fixtures[None]["commit_performance_no_policy"]()

    def time_commit_strict_with_policy(self) -> None:
        self.fixtures[None]["commit_strict_with_policy"]()


class EngineModes(ReadOnlyBenchmark):
    """The other two modes, strict preset and one allow policy, one reused engine each.

    - simulate: validation, then ``simulate`` (no history entry).
    - validate_only: validation twice (the gate and the VALIDATE run), the state unchanged.
    """

    version = "1"
    rounds = 2
    repeat = (10, 25, 0.25)

    def build(self, g: Any) -> dict[str, Any]:
        return {name: build(g) for name, build in _MODE_SCENARIOS.items()}

    def time_simulate_strict_with_policy(self) -> None:
        self.fixtures[None]["simulate_strict_with_policy"]()

    def time_validate_only_strict_with_policy(self) -> None:
        self.fixtures[None]["validate_only_strict_with_policy"]()


class EngineBatch(ReadOnlyBenchmark):
    """``execute_batch`` of ``batch_size`` IncrementCounter COMMITs (correlation ``batch-{i}``),
    performance preset, no policy. Should grow linearly with the batch."""

    version = "1"
    params = BATCH_SIZES
    param_names = ["batch_size"]
    rounds = 2
    repeat = (10, 25, 0.25)

    def build(self, g: Any, batch_size: int) -> Any:
        return _batch(g, batch_size)

    def time_batch_commit_performance_no_policy(self, batch_size: int) -> None:
        self.fixtures[batch_size]()


class SingleMutationThroughput(ReadOnlyBenchmark):
    """One ReplaceSlot COMMIT (slot ``state_size // 2``, delta 1) on a state of ``state_size``
    slots, performance preset. The mutation copies the slots, so the call is O(state_size) by
    construction; the engine itself should add a constant."""

    version = "1"
    params = STATE_SIZES
    param_names = ["state_size"]
    rounds = 2
    repeat = (10, 25, 0.25)

    def build(self, g: Any, state_size: int) -> Any:
        return _single_slot(g, state_size)

    def time_single_commit(self, state_size: int) -> None:
        self.fixtures[state_size]()


class BatchMutationThroughput(ReadOnlyBenchmark):
    """``execute_batch`` of ``batch_size`` ReplaceSlot COMMITs (slot ``i % state_size``, delta
    ``i % 4 + 1``) on a state of ``state_size`` slots, performance preset: O(state_size *
    batch_size) by construction of the mutation."""

    version = "1"
    params = [STATE_SIZES, THROUGHPUT_BATCH_SIZES]
    param_names = ["state_size", "batch_size"]
    rounds = 2
    repeat = (10, 25, 0.25)

    def build(self, g: Any, state_size: int, batch_size: int) -> Any:
        return _slot_batch(g, state_size, batch_size)

    def time_batch_commit(self, state_size: int, batch_size: int) -> None:
        self.fixtures[(state_size, batch_size)]()


EngineCommitAllocatedBytes, EngineCommitAllocatedBlocks = allocation_twins(
    "EngineCommit", kept(_COMMIT_SCENARIOS),
    what="one COMMIT on a reused engine (no-op audit and history)")

EngineModesAllocatedBytes, EngineModesAllocatedBlocks = allocation_twins(
    "EngineModes", kept(_MODE_SCENARIOS),
    what="one SIMULATE or VALIDATE execution on a reused engine (no-op audit and history)")

EngineBatchAllocatedBytes, EngineBatchAllocatedBlocks = allocation_twins(
    "EngineBatch", kept({"batch_commit_performance_no_policy": _batch}),
    params=BATCH_SIZES, param_names=["batch_size"], what="one execute_batch call")

SingleMutationThroughputAllocatedBytes, SingleMutationThroughputAllocatedBlocks = (
    allocation_twins(
        "SingleMutationThroughput", kept({"single_commit": _single_slot}),
        params=STATE_SIZES, param_names=["state_size"], what="one ReplaceSlot COMMIT"))

BatchMutationThroughputAllocatedBytes, BatchMutationThroughputAllocatedBlocks = (
    allocation_twins(
        "BatchMutationThroughput", kept({"batch_commit": _slot_batch}),
        params=[STATE_SIZES, THROUGHPUT_BATCH_SIZES], param_names=["state_size", "batch_size"],
        what="one execute_batch of ReplaceSlot COMMITs"))

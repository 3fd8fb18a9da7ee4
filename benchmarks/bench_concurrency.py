"""The engine on several threads: admission gates and hand-offs.

Every benchmark here reuses one engine (performance preset, ``NullAuditor``,
``NullHistoryStore``: nothing grows) and a pool of worker threads, both built once per process on
the first call (asv's calibration call); one timed call submits the work to the pool and waits
for all of it. The timings include handing work to threads and waking them, which on CPython
(one interpreter lock) is most of the cost: they say what concurrent callers pay, not how fast
work runs in parallel. Thread scheduling is not deterministic, so there are no allocation twins.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

from .fixtures_engine import (
    GATE_WAIT_LIMIT,
    CounterState,
    counter_engine,
    counter_mutation,
    engine_classes,
)
from .harness import ReadOnlyBenchmark

THREADS = [2, 8]
CONCURRENT_BATCHES = [2, 4]
BATCH_SIZES = [4, 16]


class ParallelDistinctStates(ReadOnlyBenchmark):
    """``threads`` COMMITs at once, one per thread, each on a state of its own (so no state gate
    is shared), ``max_concurrent_mutations = threads``."""

    version = "1"
    params = THREADS
    param_names = ["threads"]
    rounds = 2
    repeat = (10, 25, 0.25)

    def build(self, g: Any, threads: int) -> Any:
        engine = counter_engine(g, "performance", max_concurrent=threads)
        work = [(counter_mutation(g, f"parallel-{i}", state_id=f"benchmark-parallel-{i}"),
                 CounterState(42)) for i in range(threads)]
        pool = ThreadPoolExecutor(threads, thread_name_prefix="bench-parallel")
        return SimpleNamespace(engine=engine, work=work, pool=pool)

    def time_execute_on_distinct_states(self, threads: int) -> None:
        fixture = self.fixtures[threads]
        execute, submit = fixture.engine.execute, fixture.pool.submit
        futures = [submit(execute, mutation, state) for mutation, state in fixture.work]
        for future in futures:
            future.result(GATE_WAIT_LIMIT)


class ConcurrentBatches(ReadOnlyBenchmark):
    """``concurrent_batches`` threads each run ``execute_batch`` of ``batch_size`` COMMITs on a
    state of its own, through an engine that admits only 2 executions at a time
    (``max_concurrent_mutations = 2``): batches queue at the global gate."""

    version = "1"
    params = [CONCURRENT_BATCHES, BATCH_SIZES]
    param_names = ["concurrent_batches", "batch_size"]
    rounds = 2
    repeat = (10, 25, 0.25)

    def build(self, g: Any, concurrent_batches: int, batch_size: int) -> Any:
        engine = counter_engine(g, "performance", max_concurrent=2)
        batches = [[counter_mutation(g, f"batch-{b}-{i}", state_id=f"benchmark-batch-{b}")
                    for i in range(batch_size)] for b in range(concurrent_batches)]
        pool = ThreadPoolExecutor(concurrent_batches, thread_name_prefix="bench-batches")
        return SimpleNamespace(engine=engine, batches=batches, pool=pool)

    def time_batches_on_two_runtime_slots(self, concurrent_batches: int,
                                          batch_size: int) -> None:
        fixture = self.fixtures[(concurrent_batches, batch_size)]
        run, submit, state = fixture.engine.execute_batch, fixture.pool.submit, CounterState(42)
        futures = [submit(run, batch, state) for batch in fixture.batches]
        for future in futures:
            future.result(GATE_WAIT_LIMIT)


def contend_for_shared_gate(fixture: Any) -> tuple[Any, Any]:
    """Two executions on one state id: the first holds the state's gate inside ``apply`` until
    the second has been picked up by its worker (and so queues at the gate), then both finish.

    Every wait is bounded by ``GATE_WAIT_LIMIT``: a runtime that deadlocks fails with
    ``TimeoutError`` instead of hanging. Returns both results.
    """
    engine, pool, blocking = fixture.engine, fixture.pool, fixture.blocking
    blocking.entered.clear()
    blocking.release.clear()
    first = pool.submit(engine.execute, blocking, CounterState(42))
    if not blocking.entered.wait(GATE_WAIT_LIMIT):
        blocking.release.set()
        raise TimeoutError("the first execution never reached apply")
    second = pool.submit(engine.execute, fixture.waiter, CounterState(42))
    deadline = time.perf_counter() + GATE_WAIT_LIMIT
    while not second.running() and not second.done() and time.perf_counter() < deadline:
        time.sleep(0)
    blocking.release.set()
    return first.result(GATE_WAIT_LIMIT), second.result(GATE_WAIT_LIMIT)


class SharedStateGate(ReadOnlyBenchmark):
    """Two concurrent COMMITs on one state id (engine with 4 global slots): the first holds the
    state's gate inside ``apply`` until the second is running and queued behind it, then it is
    released and both complete (``contend_for_shared_gate``; every wait bounded). One call
    covers two hand-offs to worker threads, the wait on the gate and its release."""

    version = "1"
    rounds = 2
    repeat = (10, 25, 0.25)

    def build(self, g: Any) -> Any:
        return SimpleNamespace(
            engine=counter_engine(g, "performance", max_concurrent=4),
            pool=ThreadPoolExecutor(2, thread_name_prefix="bench-gate"),
            blocking=counter_mutation(g, "gate-holder",
                                      cls=engine_classes(g).BlockingMutation),
            waiter=counter_mutation(g, "gate-waiter"))

    def time_two_executions_contend_for_one_state(self) -> None:
        contend_for_shared_gate(self.fixtures[None])

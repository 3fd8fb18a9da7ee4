"""Admission: the global concurrency limit and the per-state gate of MutationEngine.execute."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from governance.core import (
    EngineOptions,
    MutationAuditEntry,
    MutationEngine,
    MutationHistoryEntry,
    MutationResult,
)
from governance.core.engine import Admission
from tests.core.core_support import Counter, Increment, context

WAIT = 5.0  # seconds a barrier waits before the test is declared stuck


class Occupancy:
    """Counts how many callers are inside ``hold`` at once, overall and per key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.active_by_key: dict[str, int] = {}
        self.peak_by_key: dict[str, int] = {}

    def hold(self, key: str, inside: Callable[[], None]) -> None:
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.active_by_key[key] = self.active_by_key.get(key, 0) + 1
            self.peak_by_key[key] = max(self.peak_by_key.get(key, 0), self.active_by_key[key])
        try:
            inside()
        finally:
            with self._lock:
                self.active -= 1
                self.active_by_key[key] -= 1


def run_in_threads(
    engine: MutationEngine, mutations: list[Increment]
) -> list[MutationResult[Counter]]:
    with ThreadPoolExecutor(max_workers=len(mutations)) as pool:
        futures = [pool.submit(engine.execute, m, Counter(0)) for m in mutations]
        return [f.result(timeout=30) for f in futures]


def test_executions_on_the_same_state_never_overlap() -> None:
    engine = MutationEngine(EngineOptions.performance())
    occupancy = Occupancy()

    def slow(_: Counter) -> None:
        occupancy.hold("counter-1", lambda: time.sleep(0.005))

    results = run_in_threads(
        engine, [Increment(context("counter-1"), during_apply=slow) for _ in range(12)]
    )

    assert all(r.is_success for r in results)
    assert occupancy.peak_by_key["counter-1"] == 1


def test_executions_on_distinct_states_run_in_parallel() -> None:
    engine = MutationEngine(EngineOptions(max_concurrent_mutations=4))
    # Each apply waits until all four are inside: this only completes if they run together.
    everyone_inside = threading.Barrier(4, timeout=WAIT)

    def meet(_: Counter) -> None:
        everyone_inside.wait()

    results = run_in_threads(
        engine, [Increment(context(f"state-{i}"), during_apply=meet) for i in range(4)]
    )

    assert all(r.is_success for r in results)


def test_the_global_limit_caps_parallel_executions_across_states() -> None:
    engine = MutationEngine(EngineOptions(max_concurrent_mutations=2))
    occupancy = Occupancy()
    # Pairs meet inside apply: proves two run together; the occupancy proves never three.
    pair = threading.Barrier(2, timeout=WAIT)

    def meet_then_linger() -> None:
        pair.wait()
        time.sleep(0.002)

    def meet_in_pairs(state: Counter) -> None:
        occupancy.hold("all", meet_then_linger)

    results = run_in_threads(
        engine,
        [Increment(context(f"state-{i}"), during_apply=meet_in_pairs) for i in range(8)],
    )

    assert all(r.is_success for r in results)
    assert occupancy.peak == 2


def test_executions_without_a_state_id_take_no_state_gate() -> None:
    engine = MutationEngine(EngineOptions(max_concurrent_mutations=2))
    both_inside = threading.Barrier(2, timeout=WAIT)

    def meet(_: Counter) -> None:
        both_inside.wait()

    results = run_in_threads(
        engine, [Increment(context(None), during_apply=meet) for _ in range(2)]
    )

    assert all(r.is_success for r in results)


def test_same_state_gate_serialises_while_other_states_proceed() -> None:
    engine = MutationEngine(EngineOptions(max_concurrent_mutations=8))
    occupancy = Occupancy()

    def slow(key: str) -> Callable[[Counter], None]:
        return lambda _: occupancy.hold(key, lambda: time.sleep(0.003))

    mutations = [
        Increment(context(f"state-{i % 3}"), during_apply=slow(f"state-{i % 3}"))
        for i in range(15)
    ]

    results = run_in_threads(engine, mutations)

    assert all(r.is_success for r in results)
    assert set(occupancy.peak_by_key.values()) == {1}


def test_audit_and_history_keep_every_concurrent_execution() -> None:
    engine = MutationEngine(EngineOptions.strict())
    mutations = [Increment(context(f"state-{i % 4}")) for i in range(40)]

    run_in_threads(engine, mutations)

    assert sum(len(engine.get_history(f"state-{i}")) for i in range(4)) == 40
    assert sum(len(engine.auditor.get_audit_log(f"state-{i}")) for i in range(4)) == 40
    assert engine.get_statistics().total_executed == 40


def _outcome_within(wait: float, call: Callable[[], object]) -> object:
    """What ``call`` returned or raised, run on a daemon thread so that a call blocked forever
    fails the test instead of hanging it."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as error:
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(wait)
    assert not thread.is_alive(), "the execution waited for a global slot nobody gave back"
    return outcome[0]


def test_an_execution_that_raises_gives_its_global_slot_back() -> None:
    engine = MutationEngine(EngineOptions(max_concurrent_mutations=1))

    def fail(_: Counter) -> None:
        raise RuntimeError("apply failed")

    # With one slot, a slot kept by any failure would block every later execution.
    for _ in range(3):
        raised = _outcome_within(WAIT, lambda: engine.execute(
            Increment(context("state-1"), during_apply=fail), Counter(0)))
        assert isinstance(raised, Exception) and "apply failed" in str(raised)
    result = _outcome_within(WAIT, lambda: engine.execute(Increment(context("state-2")),
                                                          Counter(0)))
    assert isinstance(result, MutationResult) and result.is_success


def test_callers_racing_on_a_new_state_all_get_one_gate() -> None:
    admission = Admission(limit=4)
    start = threading.Barrier(8)
    gates: list[threading.Lock] = []

    def take() -> None:
        start.wait()
        gates.append(admission.gates.get("new-state") or admission.new_gate("new-state"))

    workers = [threading.Thread(target=take) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert len(gates) == 8 and all(gate is admission.gates["new-state"] for gate in gates)
    assert list(admission.gates) == ["new-state"]


def test_records_kept_without_a_lock_survive_writers_racing_readers_on_new_states() -> None:
    # The in-memory auditor, history store and metrics collector keep an execution's values
    # without taking their lock (docs/conventions.md); their readers build records in place
    # under it. Writers start together on states nobody has seen, while readers read all along,
    # with the interpreter switching threads as often as it can.
    engine = MutationEngine(EngineOptions.strict())
    writers, per_writer, states = 12, 10, 6
    start = threading.Barrier(writers)
    stop = threading.Event()
    seen: set[type] = set()
    failures: list[BaseException] = []

    def write(index: int) -> None:
        start.wait(WAIT)
        for round_ in range(per_writer):
            engine.execute(Increment(context(f"state-{(index + round_) % states}")), Counter(0))

    def read() -> None:
        try:
            while not stop.is_set():
                for i in range(states):
                    seen.update(type(e) for e in engine.get_history(f"state-{i}"))
                    seen.update(type(e) for e in engine.auditor.get_audit_log(f"state-{i}"))
                seen.update(type(e) for e in engine.auditor.entries)
        except BaseException as error:
            failures.append(error)

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        readers = [threading.Thread(target=read) for _ in range(2)]
        for reader in readers:
            reader.start()
        with ThreadPoolExecutor(max_workers=writers) as pool:
            for future in [pool.submit(write, i) for i in range(writers)]:
                future.result(timeout=60)
        stop.set()
        for reader in readers:
            reader.join(WAIT)
    finally:
        sys.setswitchinterval(previous)

    total = writers * per_writer
    assert not failures, failures
    assert sum(len(engine.get_history(f"state-{i}")) for i in range(states)) == total
    assert len(engine.auditor.entries) == total
    assert engine.metrics.count == total  # type: ignore[attr-defined]
    assert seen <= {MutationAuditEntry, MutationHistoryEntry}

"""Fixtures shared by the governance benchmarks.

Inputs here are append-only: changing an id, a version or the shape of a fixture changes what
every stored result means and breaks the history. Add new builders instead of editing old ones.

The suite runs against every commit of the history, including commits that predate part of the
API: ``api()`` raises ``NotImplementedError`` (asv records the benchmark as skipped) when the
installed ``governance`` lacks a name a benchmark needs. Nothing imports ``governance`` at module
level, so discovery never fails.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

STATE_ID = "governance-benchmark:execution"
EXPECTED_VERSION = "v10"
STALE_VERSION = "v15"
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)

_REQUIRED = (
    "MutationEngine", "EngineOptions", "MutationContext", "MutationIntent", "MutationResult",
    "StateChange", "MutationBase", "PolicyDecision", "MutationRequest", "InMemoryRequestStore",
    "VersionResolutionManager", "VersionResolver", "GovernanceExecutionManager",
    "ResolutionStrategy", "GovernedMutation",
)


def api(*extra: str) -> Any:
    """The installed ``governance`` module, or ``NotImplementedError`` when it lacks a name."""
    try:
        import governance
    except ImportError as exc:
        raise NotImplementedError(f"governance is not importable here: {exc}") from exc
    missing = [n for n in (*_REQUIRED, *extra) if not hasattr(governance, n)]
    if missing:
        raise NotImplementedError(f"this commit lacks {', '.join(missing)}")
    return governance


@dataclass(frozen=True, slots=True)
class VersionedState:
    """The benchmarked state: a value and the version that identifies it."""

    value: int
    version: str


def next_version(version: str) -> str:
    """``v10`` → ``v11``."""
    return f"v{int(version[1:]) + 1}"


_MUTATION_CLASSES: dict[str, Any] = {}


def mutation_classes(g: Any) -> SimpleNamespace:
    """The benchmark's mutation and policy classes, built once on the installed package."""
    if "ns" in _MUTATION_CLASSES:
        return _MUTATION_CLASSES["ns"]  # type: ignore[no-any-return]

    class IncrementValueMutation(g.MutationBase):  # type: ignore[misc, name-defined]
        """Adds one to the value and moves the state to the next version."""

        def apply(self, state: VersionedState) -> Any:
            new_state = VersionedState(state.value + 1, next_version(state.version))
            return g.MutationResult.success(
                new_state, g.StateChange.modified("Value", state.value, new_state.value))

        def validate(self, state: VersionedState) -> Any:
            result = g.ValidationResult.success()
            if state.value < 0:
                result.add_error("Value", "The value must not be negative")
            return result

    class AllowAllPolicy:
        """Allows every mutation."""

        name = "allow-all"
        priority = 0

        def evaluate(self, mutation: Any, state: Any) -> Any:
            return g.PolicyDecision.allow(self.name)

    class DenyAllPolicy:
        """Refuses every mutation."""

        name = "deny-all"
        priority = 100

        def evaluate(self, mutation: Any, state: Any) -> Any:
            return g.PolicyDecision.deny("Changes are frozen", self.name)

    ns = SimpleNamespace(IncrementValueMutation=IncrementValueMutation,
                         AllowAllPolicy=AllowAllPolicy, DenyAllPolicy=DenyAllPolicy)
    _MUTATION_CLASSES["ns"] = ns
    return ns


class ExecutionFixture:
    """A fresh store, strict engine with an allow policy, managers, and one approved request
    (expected version v10) with its mutation and a versioned state at ``state_version``."""

    def __init__(self, state_version: str = EXPECTED_VERSION, *, deny: bool = False,
                 history_length: int = 2) -> None:
        g = api()
        classes = mutation_classes(g)
        self.g = g
        self.engine = g.MutationEngine(g.EngineOptions.strict())
        self.engine.register_policy(classes.AllowAllPolicy())
        if deny:
            self.engine.register_policy(classes.DenyAllPolicy())
        self.store = g.InMemoryRequestStore()
        self.resolution = g.VersionResolutionManager(self.store, g.VersionResolver())
        self.manager = g.GovernanceExecutionManager(self.store, self.resolution, self.engine)
        self.context = g.MutationContext.system("benchmark", correlation_id="benchmark-execution")
        self.intent = g.MutationIntent.create("IncrementValue", "Benchmark")
        self.mutation = classes.IncrementValueMutation(self.intent, self.context)
        request = g.MutationRequest.approved(
            STATE_ID, VersionedState, classes.IncrementValueMutation, self.intent, self.context,
            expected_state_version=EXPECTED_VERSION)
        if history_length > len(request.decisions):
            request = with_history(g, request, history_length)
        self.request = self.store.create(request)
        self.request_id = self.request.request_id
        self.state = VersionedState(42, state_version)

    def execute(self, strategy: Any) -> Any:
        """The orchestration under test: ``execute_approved`` end to end."""
        return self.manager.execute_approved(
            self.request_id, self.mutation, self.state,
            governance_context=self.context, strategy=strategy)


def with_history(g: Any, request: Any, length: int) -> Any:
    """``request`` with ``length`` decisions: its own, then alternating re-approval decisions
    (as a request that went back and forth through review accumulates)."""
    extra = []
    for index in range(length - len(request.decisions)):
        extra.append(g.RequestDecision.lifecycle(
            g.LifecycleDecision.PENDING if index % 2 == 0 else g.LifecycleDecision.APPROVED,
            request.context, "Review round", timestamp=BASE_TIME))
    decisions = (*request.decisions, *extra)
    # Keep the history's own type (a tuple on older commits, a shared log on newer ones).
    history_type = type(request.decisions)
    return request.model_copy(update={
        "decisions": decisions if history_type is tuple else history_type(decisions)})


# -- the floor: the same governed flow in the least plain Python can do ----------------------

_APPROVED, _PENDING, _REJECTED, _EXECUTED = "APPROVED", "PENDING", "REJECTED", "EXECUTED"


class FloorFixture:
    """A dict store holding one approved request as a dict, and the same versioned state."""

    def __init__(self, state_version: str = EXPECTED_VERSION) -> None:
        self.store: dict[str, dict[str, Any]] = {
            "req-1": {"status": _APPROVED, "expected": EXPECTED_VERSION, "revision": 0,
                      "decisions": [("SUBMITTED", BASE_TIME), ("APPROVED", BASE_TIME)]},
        }
        self.state = VersionedState(42, state_version)


def floor_execute(store: dict[str, dict[str, Any]], request_id: str, state: VersionedState,
                  revalidate: bool) -> VersionedState | None:
    """Governed execution with nothing but what the flow needs: look the request up, compare
    versions, append decisions with timestamps, bump the revision, build the new state."""
    request = store[request_id]
    if request["status"] != _APPROVED:
        raise RuntimeError("not approved")
    decisions = request["decisions"]
    expected = request["expected"]
    if expected and expected != state.version:
        if not revalidate:
            request["status"] = _REJECTED
            decisions.append(("REJECTED_AS_STALE", datetime.now(UTC)))
            request["revision"] += 1
            return None
        request["status"] = _PENDING
        request["expected"] = state.version
        decisions.append(("REVALIDATION_REQUIRED", datetime.now(UTC)))
    else:
        decisions.append(("VALIDATED", datetime.now(UTC)))
    request["revision"] += 1
    new_state = VersionedState(state.value + 1, next_version(state.version))
    request["status"] = _EXECUTED
    request["expected"] = new_state.version
    decisions.append(("EXECUTED", datetime.now(UTC)))
    request["revision"] += 1
    return new_state


# -- measurement helpers for the tracked twins ----------------------------------------------

def allocations(build: Callable[[], Callable[[], Any]]) -> tuple[int, int]:
    """Bytes and blocks one operation allocates, measured with tracemalloc.

    ``build`` makes a fresh fixture and returns the operation. A first operation on its own
    fixture warms caches; then, with the garbage collector off, the second one is traced.
    Bytes: the peak of traced memory above its level before the call (what the call needed at
    its high point). Blocks: memory blocks allocated during the call and still alive after it
    (what the call left behind: new snapshots, decisions, audit and history entries).
    """
    build()()
    operation = build()
    gc.collect()
    gc.disable()
    try:
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            base, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            operation()
            _, peak = tracemalloc.get_traced_memory()
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
    finally:
        gc.enable()
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    diff = after.filter_traces(ignore).compare_to(before.filter_traces(ignore), "lineno")
    blocks = sum(stat.count_diff for stat in diff if stat.count_diff > 0)
    return peak - base, blocks


def ratio_to_floor(real: Callable[[], Callable[[], Any]], floor: Callable[[], Callable[[], Any]],
                   rounds: int = 200) -> float:
    """Median time of the real operation divided by the median time of its floor.

    Both run ``rounds`` times, interleaved in this process, each call on a fresh fixture that is
    built outside the timed region, so machine speed cancels out of the ratio.
    """
    real_times: list[float] = []
    floor_times: list[float] = []
    timer = time.perf_counter
    for _ in range(rounds):
        op = real()
        start = timer()
        op()
        real_times.append(timer() - start)
        op = floor()
        start = timer()
        op()
        floor_times.append(timer() - start)
    return statistics.median(real_times) / statistics.median(floor_times)


def allocation_twins(
    prefix: str,
    scenarios: dict[str, Callable[[Any], Callable[[], Any]]],
    *,
    what: str,
    required: tuple[str, ...] = (),
) -> tuple[type, type]:
    """The two allocation-twin classes of a benchmark family, ``<prefix>AllocatedBytes`` and
    ``<prefix>AllocatedBlocks``, with one ``track_<scenario>`` per entry of ``scenarios``.

    Each scenario builds a fresh fixture from the ``governance`` module and returns the call to
    measure (see ``allocations``); ``what`` says in words what one call does.
    """
    made = []
    for index, (suffix, unit, doc) in enumerate((
        ("AllocatedBytes", "bytes",
         f"Peak bytes traced by tracemalloc during {what} (a fresh fixture, built before tracing "
         "starts). Deterministic: it moves only when the work done changes."),
        ("AllocatedBlocks", "blocks",
         f"Memory blocks allocated during {what} and still alive after it (the snapshots, "
         "decisions and entries the call leaves behind)."),
    )):
        attrs: dict[str, Any] = {
            "__doc__": doc, "version": "1", "unit": unit, "rounds": 1, "repeat": 1,
            "number": 1, "setup": _twin_setup, "required_api": required,
        }
        for name, build in scenarios.items():
            attrs[f"track_{name}"] = _twin_method(name, build, index, unit)
        made.append(type(f"{prefix}{suffix}", (), attrs))
    return made[0], made[1]


def _twin_setup(self: Any) -> None:
    self.g = api(*self.required_api)


def _twin_method(name: str, build: Callable[[Any], Callable[[], Any]], index: int,
                 unit: str) -> Callable[[Any], int]:
    def track(self: Any) -> int:
        return allocations(lambda: build(self.g))[index]

    track.__name__ = f"track_{name}"
    track.__doc__ = f"{unit.capitalize()} of one call, scenario {name}."
    return track

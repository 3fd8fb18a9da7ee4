"""Fixtures shared by the governance benchmarks.

Inputs here are append-only: changing an id, a version or the shape of a fixture changes what
every stored result means and breaks the history. Add new builders instead of editing old ones.

The suite runs against every commit of the history, including commits that predate part of the
API: ``api()`` raises ``NotImplementedError`` (asv records the benchmark as skipped) when the
installed ``governance`` lacks a name a benchmark needs. Nothing imports ``governance`` at module
level, so discovery never fails.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import logging
import statistics
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

try:
    from asv_runner.benchmarks.mark import SkipNotImplemented
except ImportError:  # pragma: no cover - outside an asv environment
    class SkipNotImplemented(NotImplementedError):  # type: ignore[no-redef]
        """Stands in for asv_runner's exception where asv_runner is not installed."""

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


@functools.cache
def mutation_classes(g: Any) -> SimpleNamespace:
    """The benchmark's mutation and policy classes, built once on the installed package."""
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


# == Fixtures of the runtime-wide suites =====================================================
# bench_engine, bench_policies, bench_diagnostics, bench_concurrency, bench_results,
# bench_lifecycle, bench_approval, bench_queries, bench_materialization and bench_growth build
# their inputs here. The same rule holds: ids, versions, times and shapes are append-only.

LIFECYCLE_STATE_ID = "governance-benchmark:lifecycle"
LIFECYCLE_EXPECTED_VERSION = "v12"
APPROVAL_STATE_ID = "governance-benchmark:approval"
QUERY_STATE_ID = "governance-benchmark:queries"
MATERIALIZATION_STATE_ID = "governance-benchmark:materialization"
BACKGROUND_STATE_PREFIX = "governance-benchmark:background-"
COUNTER_STATE_ID = "benchmark-counter"
SLOTS_STATE_ID = "benchmark-slots"
GOVERNANCE_STATE_TYPE = "GovernanceState"
GOVERNANCE_MUTATION_TYPE = "ApproveGovernanceMutation"
SWEEP_AT = BASE_TIME + timedelta(hours=1)
"""The "now" every expiry sweep compares deadlines with."""
DUE_AT = SWEEP_AT - timedelta(minutes=5)
"""A deadline the sweep finds passed (five minutes before it)."""
NOT_DUE_AT = SWEEP_AT + timedelta(days=1)
"""A deadline still ahead of the sweep."""
MATERIALIZATION_CONTRACT = ("governance.materialization.side-effect", 1)
REJECTION_CODE, REJECTION_CATEGORY = "benchmark-rejection", "policy"


def skip_unless(*extra: str) -> Any:
    """``api(*extra)`` for code that runs inside a timed call: a missing name raises asv's
    ``SkipNotImplemented`` (a ``NotImplementedError`` that asv also records as n/a when it
    comes from the benchmark call rather than from ``setup``)."""
    try:
        return api(*extra)
    except NotImplementedError as exc:
        raise SkipNotImplemented(str(exc)) from exc


class Built(dict[Any, Any]):
    """Fixtures built on first use, one per key (a benchmark's parameter values)."""

    def __init__(self, build: Callable[[Any], Any]) -> None:
        super().__init__()
        self._build = build

    def __missing__(self, key: Any) -> Any:
        value = self[key] = self._build(key)
        return value


class ReadOnlyBenchmark:
    """Base of the benchmarks whose timed call consumes nothing: pure factories, queries over
    seeded stores, record construction from one finished execution, and an engine reused across
    calls with no-op audit and history.

    They have no ``setup``, so asv times ``number`` calls per sample with nothing re-run between
    them and the per-call timer overhead (ASV.md) does not swamp microsecond operations. The
    fixture is built by ``build(g, *params)`` on the first call, which is asv's calibration and
    warm-up call (its timing is discarded), and is then read from ``self.fixtures[key]`` (key:
    the parameter value, a tuple of them, or None). On a commit that lacks a name of
    ``required_api`` that first call raises ``SkipNotImplemented``: the benchmark is n/a, as
    with ``NotImplementedError`` from ``setup``.

    ``warmup_time`` is a quarter of a second: a freshly forked benchmark process runs the first
    150 ms or so of calls up to several times slower, and with a shorter warm-up those samples
    spread a microsecond benchmark by ±10-20 % (±1 % after it).
    """

    required_api: tuple[str, ...] = ()
    warmup_time = 0.25

    def __init__(self) -> None:
        self.fixtures = Built(self._build_for)

    def _build_for(self, key: Any) -> Any:
        params = key if isinstance(key, tuple) else () if key is None else (key,)
        return self.build(skip_unless(*self.required_api), *params)

    def build(self, g: Any, *params: Any) -> Any:
        """The fixture for ``params``: subclasses override."""
        raise NotImplementedError


# -- engine states, mutations, policies and interceptors -------------------------------------

@dataclass(frozen=True, slots=True)
class CounterState:
    """The engine benchmarks' state: one counter."""

    value: int


@dataclass(frozen=True, slots=True)
class SlotState:
    """The throughput benchmarks' state: ``size`` integer slots and a revision."""

    slots: tuple[int, ...]
    revision: int


def slot_state(size: int) -> SlotState:
    """Slots 0..size-1 at revision 0."""
    return SlotState(tuple(range(size)), 0)


@functools.cache
def engine_classes(g: Any) -> SimpleNamespace:
    """The engine benchmarks' mutations, policies, interceptors and collectors, built once."""
    class IncrementCounterMutation(g.MutationBase):  # type: ignore[misc, name-defined]
        """Adds one to the counter (one Modified change); valid while it is not negative."""

        def apply(self, state: CounterState) -> Any:
            new_state = CounterState(state.value + 1)
            return g.MutationResult.success(
                new_state, g.StateChange.modified("Value", state.value, new_state.value))

        def validate(self, state: CounterState) -> Any:
            result = g.ValidationResult.success()
            if state.value < 0:
                result.add_error("Value", "The counter must not be negative")
            return result

    class ReplaceSlotMutation(g.MutationBase):  # type: ignore[misc, name-defined]
        """Copies the slots, adds ``delta`` to slot ``slot`` and bumps the revision (one
        Modified change on ``Slots[slot]``): O(slots) by construction."""

        def __init__(self, intent: Any, context: Any, slot: int, delta: int) -> None:
            super().__init__(intent, context)
            self.slot, self.delta = slot, delta

        def apply(self, state: SlotState) -> Any:
            slots = list(state.slots)
            old = slots[self.slot]
            slots[self.slot] = old + self.delta
            return g.MutationResult.success(
                SlotState(tuple(slots), state.revision + 1),
                g.StateChange.modified(f"Slots[{self.slot}]", old, old + self.delta))

    class AllowPolicy:
        """Allows every mutation (no modifications, so the engine asks every policy)."""

        def __init__(self, name: str = "allow-all-counter", priority: int = 0) -> None:
            self.name, self.priority = name, priority

        def evaluate(self, mutation: Any, state: Any) -> Any:
            return g.PolicyDecision.allow(self.name)

    class PassiveInterceptor(g.InterceptorBase):  # type: ignore[misc, name-defined]
        """Runs for every mutation and does nothing in its hooks."""

    class FormattingLoggingInterceptor(g.InterceptorBase):  # type: ignore[misc, name-defined]
        """Formats a log line before and after each mutation and hands it to a logger whose
        level drops it (the formatting is paid, nothing is written)."""

        order = 10

        def __init__(self) -> None:
            self.logger = logging.getLogger("governance.benchmarks.interceptor")
            self.logger.setLevel(logging.WARNING)
            self.logger.propagate = False

        def on_before_mutation(self, intent: Any, context: Any, state: Any,
                               execution_id: str) -> None:
            self.logger.debug(f"before {intent.operation_name} ({intent.category}) on "
                              f"{context.state_id} by {context.actor_type.name}: {execution_id}")

        def on_after_mutation(self, intent: Any, context: Any, old_state: Any, new_state: Any,
                              changes: Any, execution_id: str) -> None:
            self.logger.debug(f"after {intent.operation_name} on {context.state_id}: "
                              f"{len(changes)} change(s), {old_state!r} -> {new_state!r}: "
                              f"{execution_id}")

    class LatestMetricsCollector:
        """Builds detailed metrics scopes like the in-memory collector, but keeps only the
        latest metrics, so an engine reused across calls does not grow."""

        def __init__(self) -> None:
            self.latest: Any = None

        def begin_scope(self, execution_id: str) -> Any:
            return g.MetricsScope(execution_id)

        def record(self, execution_id: str, metrics: Any) -> None:
            self.latest = metrics

        def get_aggregated(self, start: Any, end: Any) -> Any:
            raise NotImplementedError("the benchmark collector keeps no history")

    class BlockingMutation(IncrementCounterMutation):
        """Signals ``entered`` from ``apply`` and then waits (bounded) for ``release``."""

        def __init__(self, intent: Any, context: Any) -> None:
            super().__init__(intent, context)
            self.entered = threading.Event()
            self.release = threading.Event()

        def apply(self, state: CounterState) -> Any:
            self.entered.set()
            self.release.wait(GATE_WAIT_LIMIT)
            return super().apply(state)

    @g.side_effect_contract(*MATERIALIZATION_CONTRACT)
    @dataclass(frozen=True, slots=True)
    class MaterializationPayload:
        """The typed payload of the materialization benchmark's critical side effect."""

        alert: str
        value: int

    class MaterializedMutation(g.MutationBase):  # type: ignore[misc, name-defined]
        """Moves a ``VersionedState`` to the next version with two changes (value and version)
        and two side effects: an INFO one and a CRITICAL one with a contract payload."""

        def apply(self, state: VersionedState) -> Any:
            new_state = VersionedState(state.value + 1, next_version(state.version))
            changes = g.ChangeSet([
                g.StateChange.modified("Value", state.value, new_state.value),
                g.StateChange.modified("Version", state.version, new_state.version),
            ])
            effects = [
                g.SideEffect.create("cache.invalidate", "Cached value is stale",
                                    timestamp=BASE_TIME),
                g.SideEffect.create("operator.alert", "Value crossed its limit",
                                    MaterializationPayload("value-limit", new_state.value),
                                    g.SideEffectSeverity.CRITICAL, timestamp=BASE_TIME),
            ]
            return g.MutationResult.success(new_state, changes, effects)

    ns = SimpleNamespace(
        IncrementCounterMutation=IncrementCounterMutation, ReplaceSlotMutation=ReplaceSlotMutation,
        AllowPolicy=AllowPolicy, PassiveInterceptor=PassiveInterceptor,
        FormattingLoggingInterceptor=FormattingLoggingInterceptor,
        LatestMetricsCollector=LatestMetricsCollector, BlockingMutation=BlockingMutation,
        MaterializationPayload=MaterializationPayload, MaterializedMutation=MaterializedMutation)
    return ns


GATE_WAIT_LIMIT = 2.0
"""Seconds any wait of the gate-contention benchmark may take before it gives up (so a broken
runtime fails the benchmark instead of hanging it)."""

COUNTER_INTENT = ("IncrementCounter", "Benchmark")


def counter_context(g: Any, suffix: str, mode: Any = None, state_id: str = COUNTER_STATE_ID
                    ) -> Any:
    """System("benchmark") on ``state_id``, correlation ``benchmark-counter:{suffix}``."""
    fields: dict[str, Any] = {"state_id": state_id}
    if mode is not None:
        fields["mode"] = mode
    return g.MutationContext.system("benchmark", f"benchmark-counter:{suffix}", **fields)


def counter_mutation(g: Any, suffix: str, mode: Any = None, state_id: str = COUNTER_STATE_ID,
                     cls: Any = None) -> Any:
    """An ``IncrementCounterMutation`` (or ``cls``) with the benchmark intent and context."""
    classes = engine_classes(g)
    intent = g.MutationIntent.create(*COUNTER_INTENT)
    return (cls or classes.IncrementCounterMutation)(
        intent, counter_context(g, suffix, mode, state_id))


def counter_engine(g: Any, preset: str = "performance", *, policies: int = 0,
                   in_memory: bool = False, interceptors: tuple[str, ...] = (),
                   max_concurrent: int | None = None) -> Any:
    """An engine for the counter benchmarks.

    ``preset``: ``performance`` or ``strict``. ``in_memory``: the engine's own in-memory
    auditor, history and metrics (they grow with every call: rebuild the engine per call);
    otherwise ``NullAuditor``, ``NullHistoryStore`` and a collector keeping only the latest
    metrics, so the engine can be reused. ``policies``: that many allow policies (see
    ``POLICY_PRIORITIES``). ``interceptors``: ``passive`` and/or ``logging``.
    """
    classes = engine_classes(g)
    options = getattr(g.EngineOptions, preset)()
    if max_concurrent is not None:
        options = dataclasses.replace(options, max_concurrent_mutations=max_concurrent)
    if in_memory:
        engine = g.MutationEngine(options)
    else:
        engine = g.MutationEngine(options, auditor=g.NullAuditor(), history=g.NullHistoryStore(),
                                  metrics=classes.LatestMetricsCollector())
    for name, priority in policy_set(policies):
        engine.register_policy(classes.AllowPolicy(name, priority))
    for kind in interceptors:
        engine.register_interceptor(classes.PassiveInterceptor() if kind == "passive"
                                    else classes.FormattingLoggingInterceptor())
    return engine


POLICY_PRIORITIES = (300, 200, 100, 0)
"""Priorities of the mixed policy set, cycled: four policies get 300, 200, 100 and 0."""


def policy_set(count: int) -> list[tuple[str, int]]:
    """Names and priorities of ``count`` allow policies: one policy gets priority 100 (the
    single-policy case of the reference suite); more cycle through ``POLICY_PRIORITIES``."""
    if count == 1:
        return [("allow-policy-0", 100)]
    return [(f"allow-policy-{i}", POLICY_PRIORITIES[i % len(POLICY_PRIORITIES)])
            for i in range(count)]


def slot_mutations(g: Any, size: int, count: int) -> list[Any]:
    """``count`` ReplaceSlot mutations on a state of ``size`` slots: slot ``i % size``, delta
    ``i % 4 + 1`` (the batch shape of the reference suite)."""
    classes = engine_classes(g)
    intent = g.MutationIntent.create("ReplaceSlot", "Benchmark")
    context = g.MutationContext.system("benchmark", "benchmark-slots", state_id=SLOTS_STATE_ID)
    return [classes.ReplaceSlotMutation(intent, context, i % size, i % 4 + 1)
            for i in range(count)]


def single_slot_mutation(g: Any, size: int) -> Any:
    """The single-mutation case: slot ``size // 2``, delta 1."""
    classes = engine_classes(g)
    intent = g.MutationIntent.create("ReplaceSlot", "Benchmark")
    context = g.MutationContext.system("benchmark", "benchmark-slots", state_id=SLOTS_STATE_ID)
    return classes.ReplaceSlotMutation(intent, context, size // 2, 1)


# -- governance requests ---------------------------------------------------------------------

def requester_context(g: Any) -> Any:
    """The user who files the benchmark requests."""
    return g.MutationContext.user("requester", "Requester", "Benchmark change")


def governance_intent(g: Any) -> Any:
    """The intent of the lifecycle, approval and query benchmark requests."""
    return g.MutationIntent.create("ApproveGovernance", "Benchmark")


def approver_context(g: Any, actor_id: str, **metadata: Any) -> Any:
    """A user acting on approvals; ``metadata`` may carry ActorRoles / ActorGroups."""
    return g.MutationContext.user(actor_id, actor_id.capitalize(), f"Reviewed by {actor_id}",
                                  metadata=metadata)


def lifecycle_request(g: Any, request_id: str = "lifecycle-request-1", *,
                      expires_at: datetime | None = None, reason: Any = None,
                      state_id: str = LIFECYCLE_STATE_ID, now: datetime = BASE_TIME) -> Any:
    """A pending request (reason APPROVAL unless ``reason``), expected version v12."""
    return g.MutationRequest.pending(
        state_id, GOVERNANCE_STATE_TYPE, GOVERNANCE_MUTATION_TYPE, governance_intent(g),
        requester_context(g), reason if reason is not None else g.PendingReason.APPROVAL,
        expected_state_version=LIFECYCLE_EXPECTED_VERSION, expires_at=expires_at,
        request_id=request_id, now=now)


APPROVAL_SHAPES = ("single_step", "two_step", "role_based", "expired")


def approval_requirements(g: Any, shape: str) -> list[Any]:
    """Policy requirements of each approval shape: ``single_step`` (alice), ``two_step`` (alice
    then bob), ``role_based`` (role security-approver, step 1), ``expired`` (alice, deadline
    ``DUE_AT``)."""
    alice = g.PolicyRequirement.approval("alice", "Manager approval")
    if shape == "single_step":
        return [alice]
    if shape == "two_step":
        return [alice, g.PolicyRequirement.approval("bob", "Security approval")]
    if shape == "role_based":
        return [g.PolicyRequirement(
            type="Approval", description="Approval needed from the security approvers",
            data={"ApproverRole": "security-approver", "StepOrder": 1,
                  "Reason": "Security review"})]
    if shape == "expired":
        return [g.PolicyRequirement.approval("alice", "Manager approval", ExpiresAt=DUE_AT)]
    raise ValueError(shape)


def step_requirements(g: Any, steps: int) -> list[Any]:
    """``steps`` sequential approval steps: step ``i`` needs ``approver-{i}``."""
    return [g.PolicyRequirement.approval(f"approver-{i}", f"Step {i} approval", StepOrder=i)
            for i in range(1, steps + 1)]


def approval_request(g: Any, requirements: list[Any], request_id: str = "approval-request-1",
                     *, history_length: int = 0, state_id: str = APPROVAL_STATE_ID) -> Any:
    """A request pending approval of ``requirements``, expected version v10, created at
    ``BASE_TIME``; with ``history_length``, padded to that many decisions (``with_history``)."""
    request = g.MutationRequest.pending_approval(
        state_id, GOVERNANCE_STATE_TYPE, GOVERNANCE_MUTATION_TYPE, governance_intent(g),
        requester_context(g), requirements, expected_state_version=EXPECTED_VERSION,
        request_id=request_id, now=BASE_TIME)
    if history_length > len(request.decisions):
        request = with_history(g, request, history_length)
    return request


def rejection_reason(g: Any) -> Any:
    """The structured rejection of the rejection benchmark."""
    return g.ApprovalRejectionReason(
        code=REJECTION_CODE, category=REJECTION_CATEGORY,
        message="The change breaks the release freeze", metadata={"Ticket": "BENCH-1"})


# -- seeded query stores (read only once built) ----------------------------------------------

_SEEDED: dict[tuple[str, int, int], Any] = {}


def _seeded(name: str, first: int, second: int, build: Callable[[], Any]) -> Any:
    key = (name, first, second)
    if key not in _SEEDED:
        _SEEDED[key] = build()
    return _SEEDED[key]


def _at(index: int) -> datetime:
    return BASE_TIME + timedelta(seconds=index)


def seeded_pending_store(g: Any, pending: int = 96, noise: int = 48) -> Any:
    """``pending`` PENDING requests alternating APPROVAL / EXTERNAL_CHECK, then ``noise``
    requests alternating APPROVED / EXECUTED. Built once per process; only read."""
    def build() -> Any:
        store = g.InMemoryRequestStore()
        lifecycle = g.LifecycleManager(store, clock=lambda: SWEEP_AT)
        reasons = (g.PendingReason.APPROVAL, g.PendingReason.EXTERNAL_CHECK)
        for i in range(pending):
            store.create(lifecycle_request(g, f"query-pending-{i:03d}", reason=reasons[i % 2],
                                           state_id=QUERY_STATE_ID, now=_at(i)))
        for i in range(noise):
            request = store.create(g.MutationRequest.approved(
                QUERY_STATE_ID, GOVERNANCE_STATE_TYPE, GOVERNANCE_MUTATION_TYPE,
                governance_intent(g), requester_context(g), request_id=f"query-noise-{i:03d}",
                now=_at(pending + i)))
            if i % 2:
                lifecycle.mark_executed(request.request_id, requester_context(g))
        return store
    return _seeded("pending", pending, noise, build)


def seeded_approval_store(g: Any, pending: int = 64, noise: int = 48) -> Any:
    """``pending`` requests pending approval (approver security-lead or platform-lead, plus role
    security-approver and group platform-team: three requirements, one quorum group), then
    ``noise`` APPROVED requests. Built once per process; only read."""
    def build() -> Any:
        store = g.InMemoryRequestStore()
        for i in range(pending):
            requirement = g.PolicyRequirement.approval(
                "security-lead" if i % 2 == 0 else "platform-lead", "Change review",
                ApproverRole="security-approver", ApproverGroup="platform-team")
            store.create(g.MutationRequest.pending_approval(
                QUERY_STATE_ID, GOVERNANCE_STATE_TYPE, GOVERNANCE_MUTATION_TYPE,
                governance_intent(g), requester_context(g), [requirement],
                request_id=f"query-approval-{i:03d}", now=_at(i)))
        for i in range(noise):
            store.create(g.MutationRequest.approved(
                QUERY_STATE_ID, GOVERNANCE_STATE_TYPE, GOVERNANCE_MUTATION_TYPE,
                governance_intent(g), requester_context(g), request_id=f"query-noise-{i:03d}",
                now=_at(pending + i)))
        return store
    return _seeded("approval", pending, noise, build)


OUTCOME_CODES = ("EXECUTED", "REJECTED", "CANCELED", "EXPIRED")


def seeded_decision_store(g: Any, outcomes: int = 72, noise: int = 32) -> Any:
    """``outcomes`` requests with SUBMITTED, PENDING and a terminal decision cycling EXECUTED /
    REJECTED / CANCELED / EXPIRED (status set to match), then ``noise`` PENDING requests whose
    only decision is SUBMITTED. Built once per process; only read."""
    def build() -> Any:
        store = g.InMemoryRequestStore()
        context = requester_context(g)
        for i in range(outcomes):
            request = lifecycle_request(g, f"query-outcome-{i:03d}", state_id=QUERY_STATE_ID,
                                        now=_at(i))
            code = OUTCOME_CODES[i % len(OUTCOME_CODES)]
            decision = g.RequestDecision.lifecycle(
                g.LifecycleDecision[code], context, f"Outcome {code}",
                timestamp=_at(i) + timedelta(minutes=1))
            lifecycle = request.lifecycle.model_copy(update={
                "status": g.RequestStatus[code], "pending_reason": None})
            store.create(request.with_decision(decision, lifecycle=lifecycle))
        for i in range(noise):
            request = lifecycle_request(g, f"query-submitted-{i:03d}", state_id=QUERY_STATE_ID,
                                        now=_at(outcomes + i))
            store.create(request.model_copy(update={"decisions": request.decisions[:1]}))
        return store
    return _seeded("decisions", outcomes, noise, build)


# -- the background store of the growth benchmarks -------------------------------------------

BACKGROUND_KINDS = ("APPROVED", "PENDING_APPROVAL", "PENDING_EXTERNAL_CHECK", "EXECUTED")
"""Request ``i`` of a background store is of kind ``BACKGROUND_KINDS[i % 4]``."""


def background_state_id(index: int) -> str:
    """Background request ``index`` targets a state of its own."""
    return f"{BACKGROUND_STATE_PREFIX}{index:06d}"


class BackgroundStore:
    """An in-memory store holding ``size`` background requests (a quarter each APPROVED,
    PENDING for APPROVAL with one requirement, PENDING for EXTERNAL_CHECK, EXECUTED; none has a
    deadline), built once per process and per size, plus the probe requests a growth benchmark
    puts in it before each call.

    Background requests are copies of four templates with their own id, state id and creation
    time (``model_copy`` with the garbage collector off: about 8 µs each, so 100,000 take about
    a second), and the collector is then told to leave them alone (``gc.freeze``), so a large
    store costs no collection time later. ``put`` stores a probe under its fixed id: ``create``
    the first time, then a compare-and-set over whatever the last call left (an executed,
    approved or expired snapshot), so the store keeps ``size`` background requests plus one
    request per probe id.
    """

    def __init__(self, g: Any, size: int) -> None:
        self.g, self.size = g, size
        self.store = g.InMemoryRequestStore()
        context, intent = requester_context(g), governance_intent(g)
        common = (GOVERNANCE_STATE_TYPE, GOVERNANCE_MUTATION_TYPE, intent, context)
        approved = g.MutationRequest.approved(
            BACKGROUND_STATE_PREFIX, *common, expected_state_version=EXPECTED_VERSION,
            request_id="background-template", now=BASE_TIME)
        executed = approved.model_copy(update={
            "decisions": (*approved.decisions, g.RequestDecision.lifecycle(
                g.LifecycleDecision.EXECUTED, context, "Executed", timestamp=BASE_TIME)),
            "lifecycle": approved.lifecycle.model_copy(
                update={"status": g.RequestStatus.EXECUTED}),
        })
        templates = (
            approved,
            g.MutationRequest.pending_approval(
                BACKGROUND_STATE_PREFIX, *common, [g.PolicyRequirement.approval(
                    "carol", "Background approval")],
                request_id="background-template", now=BASE_TIME),
            g.MutationRequest.pending(
                BACKGROUND_STATE_PREFIX, *common, g.PendingReason.EXTERNAL_CHECK,
                request_id="background-template", now=BASE_TIME),
            executed,
        )
        create = self.store.create
        enabled = gc.isenabled()
        gc.disable()  # collections during the build would double its time
        try:
            for i in range(size):
                template = templates[i % 4]
                at = BASE_TIME + timedelta(milliseconds=i)
                create(template.model_copy(update={
                    "request_id": f"background-{i:06d}",
                    "scope": template.scope.model_copy(
                        update={"state_id": background_state_id(i)}),
                    "lifecycle": template.lifecycle.model_copy(
                        update={"created_at": at, "updated_at": at}),
                }))
        finally:
            gc.freeze()
            if enabled:
                gc.enable()

    def put(self, request: Any) -> Any:
        """Store ``request`` fresh under its id (see the class docstring); return the stored
        snapshot."""
        current = self.store.get(request.request_id)
        if current is None:
            return self.store.create(request)
        stored = self.store.try_store(request, current.revision)
        if stored is None:  # pragma: no cover - nothing else writes to a benchmark's store
            raise RuntimeError(f"could not reset probe {request.request_id}")
        return stored


_BACKGROUND: dict[int, BackgroundStore] = {}


def background_store(g: Any, size: int) -> BackgroundStore:
    """The process's background store of ``size`` requests (built on first use)."""
    if size not in _BACKGROUND:
        _BACKGROUND[size] = BackgroundStore(g, size)
    return _BACKGROUND[size]


# -- parameterized allocation twins ----------------------------------------------------------

def allocation_twins_by_param(
    prefix: str,
    scenarios: dict[str, Callable[..., Callable[[], Any]]],
    *,
    params: list[Any],
    param_names: list[str],
    what: str,
    required: tuple[str, ...] = (),
) -> tuple[type, type]:
    """``allocation_twins`` for a parameterized family: each scenario is
    ``build(g, *params) -> operation`` and each ``track_<scenario>`` takes the parameters."""
    made = []
    for index, (suffix, unit, doc) in enumerate((
        ("AllocatedBytes", "bytes",
         f"Peak bytes traced by tracemalloc during {what}, per parameter (a fresh fixture, "
         "built before tracing starts). Deterministic: it moves only when the work changes."),
        ("AllocatedBlocks", "blocks",
         f"Memory blocks allocated during {what} and still alive after it, per parameter."),
    )):
        attrs: dict[str, Any] = {
            "__doc__": doc, "version": "1", "unit": unit, "rounds": 1, "repeat": 1,
            "number": 1, "params": params, "param_names": param_names,
            "setup": _param_twin_setup, "required_api": required, "timeout": 120,
        }
        for name, build in scenarios.items():
            attrs[f"track_{name}"] = _param_twin_method(name, build, index, unit)
        made.append(type(f"{prefix}{suffix}", (), attrs))
    return made[0], made[1]


def _param_twin_setup(self: Any, *params: Any) -> None:
    self.g = api(*self.required_api)


def _param_twin_method(name: str, build: Callable[..., Callable[[], Any]], index: int,
                       unit: str) -> Callable[..., int]:
    def track(self: Any, *params: Any) -> int:
        return allocations(lambda: build(self.g, *params))[index]

    track.__name__ = f"track_{name}"
    track.__doc__ = f"{unit.capitalize()} of one call, scenario {name}, per parameter."
    return track


def kept(scenarios: dict[str, Callable[..., Callable[[], Any]]]
         ) -> dict[str, Callable[..., Callable[[], Any]]]:
    """``scenarios`` whose operations keep what they return (in a slot allocated beforehand),
    so that an allocation twin's blocks count the records a pure call produces instead of
    seeing them freed as soon as the call returns."""
    def wrap(build: Callable[..., Callable[[], Any]]) -> Callable[..., Callable[[], Any]]:
        def built(g: Any, *params: Any) -> Callable[[], Any]:
            op, box = build(g, *params), [None]

            def run() -> Any:
                box[0] = op()
                return box[0]

            return run

        return built

    return {name: wrap(build) for name, build in scenarios.items()}


WARM_CALLS, WARM_SECONDS = 200, 0.25


class FreshPerCall:
    """Base of the benchmarks whose timed call consumes its fixture.

    ``setup`` builds every scenario's operation afresh before every timed call (asv_runner 0.3
    reruns ``setup`` per call): ``number = 1``, ``warmup_time = 0`` (asv's own warm-up would
    reuse a consumed fixture under older runners) and an explicit ``repeat``. Scenarios are
    ``build(g, *params) -> operation``; ``required`` names the API they need (missing:
    ``NotImplementedError`` from ``setup``, n/a).

    The first ``setup`` in a benchmark process also runs throwaway fixtures through every
    scenario (up to ``WARM_CALLS`` rounds or ``WARM_SECONDS``), never the measured ones: a
    freshly forked benchmark process runs its first few dozen calls several times slower while
    its heap grows, which would otherwise weigh on the median of a few hundred samples.
    """

    version = "1"
    warmup_time = 0
    number = 1
    rounds = 2
    repeat = (20, 300, 1.0)
    required: tuple[str, ...] = ()
    scenarios: dict[str, Callable[..., Callable[[], Any]]] = {}

    def setup(self, *params: Any) -> None:
        g = api(*self.required)
        if not getattr(self, "_warmed", False):
            self._warmed = True
            deadline = time.perf_counter() + WARM_SECONDS
            for _ in range(WARM_CALLS):
                for build in self.scenarios.values():
                    build(g, *params)()
                if time.perf_counter() > deadline:
                    break
        self.ops = {name: build(g, *params) for name, build in self.scenarios.items()}

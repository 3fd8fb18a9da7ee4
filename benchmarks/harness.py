"""How the benchmarks measure: the two fixture styles, the allocation twins and the ratio to a
floor.

- ``ReadOnlyBenchmark``: the timed call consumes nothing; no ``setup``, the fixture is built by
  the first (calibration) call.
- ``FreshPerCall``: the timed call consumes its fixture; ``setup`` builds every scenario afresh
  before every call. ``StageBenchmark`` is the same with the settings the governed-execution
  stage series were recorded with.
- ``allocation_twins``: the ``…AllocatedBytes`` / ``…AllocatedBlocks`` classes of a family,
  measured with tracemalloc (``allocations``).
- ``ratio_to_floor``: real time over floor time, measured interleaved in one process.

Scenarios are builders, ``build(g, *params) -> operation``: ``g`` is the installed
``governance`` module (``common.api``), the operation a no-argument callable the benchmark times,
traces or counts (``callgrind``).
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from .common import api, skip_unless

Scenario = Callable[..., Callable[[], Any]]
"""``build(g, *params) -> operation``: a fresh fixture and the call to measure on it."""


# -- measurement helpers ---------------------------------------------------------------------

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


# -- allocation twins ------------------------------------------------------------------------

def allocation_twins(
    prefix: str,
    scenarios: dict[str, Scenario],
    *,
    what: str,
    required: tuple[str, ...] = (),
    params: list[Any] | None = None,
    param_names: list[str] | None = None,
) -> tuple[type, type]:
    """The two allocation-twin classes of a benchmark family, ``<prefix>AllocatedBytes`` (asv
    unit ``bytes``) and ``<prefix>AllocatedBlocks`` (unit ``blocks``), with one
    ``track_<scenario>`` per entry of ``scenarios``.

    Each scenario is ``build(g, *params) -> operation`` (see ``allocations``); ``what`` says in
    words what one call does. With ``params`` (and ``param_names``) the family is
    parameterized like its timing: every ``track_<scenario>`` takes the parameters, and the
    timeout is 120 s. The classes carry an explicit ``version`` of their own, so rewording a
    docstring here does not start new series.
    """
    per = ", per parameter" if params is not None else ""
    made = []
    for index, (suffix, unit, doc) in enumerate((
        ("AllocatedBytes", "bytes",
         f"Peak bytes traced by tracemalloc during {what}{per} (a fresh fixture, built before "
         "tracing starts). Deterministic: it moves only when the work done changes."),
        ("AllocatedBlocks", "blocks",
         f"Memory blocks allocated during {what} and still alive after it{per} (the snapshots, "
         "decisions and entries the call leaves behind)."),
    )):
        attrs: dict[str, Any] = {
            "__doc__": doc, "version": "1", "unit": unit, "rounds": 1, "repeat": 1,
            "number": 1, "setup": _twin_setup, "required_api": required,
        }
        if params is not None:
            attrs.update(params=params, param_names=param_names or [], timeout=120)
        for name, build in scenarios.items():
            attrs[f"track_{name}"] = _twin_method(name, build, index, f"{unit.capitalize()} of "
                                                  f"one call, scenario {name}{per}.")
        made.append(type(f"{prefix}{suffix}", (), attrs))
    return made[0], made[1]


def _twin_setup(self: Any, *params: Any) -> None:
    self.g = api(*self.required_api)


def _twin_method(name: str, build: Scenario, index: int, doc: str) -> Callable[..., int]:
    def track(self: Any, *params: Any) -> int:
        return allocations(lambda: build(self.g, *params))[index]

    track.__name__ = f"track_{name}"
    track.__doc__ = doc
    return track


def kept(scenarios: dict[str, Scenario]) -> dict[str, Scenario]:
    """``scenarios`` whose operations keep what they return (in a slot allocated beforehand),
    so that an allocation twin's blocks count the records a pure call produces instead of
    seeing them freed as soon as the call returns."""
    def wrap(build: Scenario) -> Scenario:
        def built(g: Any, *params: Any) -> Callable[[], Any]:
            op, box = build(g, *params), [None]

            def run() -> Any:
                box[0] = op()
                return box[0]

            return run

        return built

    return {name: wrap(build) for name, build in scenarios.items()}


# -- the two fixture styles ------------------------------------------------------------------

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


WARM_CALLS, WARM_SECONDS = 200, 0.25


class FreshPerCall:
    """Base of the benchmarks whose timed call consumes its fixture.

    ``setup`` builds every scenario's operation afresh before every timed call (asv_runner 0.3
    reruns ``setup`` per call) into ``self.ops``; a ``time_<name>`` method calls
    ``self.ops[name]()``. ``number = 1``, ``warmup_time = 0`` (asv's own warm-up would reuse a
    consumed fixture under older runners) and an explicit ``repeat``. Scenarios are
    ``build(g, *params) -> operation``; ``required`` names the API they need (missing:
    ``NotImplementedError`` from ``setup``, n/a).

    The first ``setup`` in a benchmark process also runs throwaway fixtures through every
    scenario (up to ``warm_calls`` rounds or ``WARM_SECONDS``), never the measured ones: a
    freshly forked benchmark process runs its first few dozen calls several times slower while
    its heap grows, which would otherwise weigh on the median of a few hundred samples.
    """

    version = "1"
    warmup_time = 0
    number = 1
    rounds = 2
    repeat = (20, 300, 1.0)
    warm_calls = WARM_CALLS
    required: tuple[str, ...] = ()
    scenarios: dict[str, Scenario] = {}

    def setup(self, *params: Any) -> None:
        g = api(*self.required)
        if self.warm_calls and not getattr(self, "_warmed", False):
            self._warmed = True
            deadline = time.perf_counter() + WARM_SECONDS
            for _ in range(self.warm_calls):
                for build in self.scenarios.values():
                    build(g, *params)()
                if time.perf_counter() > deadline:
                    break
        self.ops = {name: build(g, *params) for name, build in self.scenarios.items()}


class StageBenchmark(FreshPerCall):
    """``FreshPerCall`` with the settings the governed-execution stage series (``ExecuteApproved``
    and its floor, ``ResolveAndStore``, ``EngineHandoff``, ``OutcomeRecording``) have been
    recorded with since their first results: up to 100 samples in 2 s per round, and no
    throwaway warm-up. Changing either would move those series for a reason other than the code
    they measure: make it a deliberate, announced step if ever."""

    repeat = (10, 100, 2.0)
    warm_calls = 0

"""The benchmark harness (``benchmarks/harness.py``): each fresh-per-call benchmark times the
operation its method names, on fixtures built for that call; the warm-up never touches a measured
fixture; the stage benchmarks keep the settings their series were recorded with; and the
allocation twins carry their units and track what one call allocates."""

from __future__ import annotations

import importlib
import inspect
import itertools
import pkgutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import benchmarks
from benchmarks.harness import (
    WARM_CALLS,
    FreshPerCall,
    StageBenchmark,
    allocation_twins,
    kept,
)

STAGE_CLASSES = {
    ("bench_orchestration", "ExecuteApproved"), ("bench_orchestration", "ExecuteApprovedFloor"),
    ("bench_resolution", "ResolveAndStore"), ("bench_resolution", "ResolveAndStoreHistoryLength"),
    ("bench_handoff", "EngineHandoff"), ("bench_recording", "OutcomeRecording"),
}


def _suite_classes() -> Iterator[tuple[str, type]]:
    for info in pkgutil.iter_modules(benchmarks.__path__):
        if not info.name.startswith("bench_"):
            continue
        module = importlib.import_module(f"benchmarks.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ or cls.__name__.endswith(
                    ("AllocatedBytes", "AllocatedBlocks")):
                yield info.name, cls


def _timed(cls: type) -> list[str]:
    return sorted(name for name in dir(cls) if name.startswith("time_"))


def _first_params(cls: type) -> tuple[Any, ...]:
    """The first parameter combination of ``cls`` (the smallest fixtures), or ()."""
    params = getattr(cls, "params", [])
    if not params:
        return ()
    if getattr(cls, "param_names", None) and len(cls.param_names) > 1:
        return next(itertools.product(*params))
    return (params[0],)


FRESH = sorted(((module, cls) for module, cls in _suite_classes()
                if issubclass(cls, FreshPerCall) and _timed(cls)),
               key=lambda pair: (pair[0], pair[1].__name__))


def test_the_suite_has_the_fresh_per_call_benchmarks_it_documents() -> None:
    names = {(module, cls.__name__) for module, cls in FRESH}

    assert STAGE_CLASSES <= names
    assert len(names) >= 18


@pytest.mark.parametrize(("module", "cls"), FRESH,
                         ids=[f"{m}.{c.__name__}" for m, c in FRESH])
def test_each_timed_method_calls_the_operation_it_names_and_nothing_else(
    module: str, cls: type
) -> None:
    params = _first_params(cls)
    assert sorted(f"time_{name}" for name in cls.scenarios) == _timed(cls)
    for method in _timed(cls):
        bench = cls()
        bench.warm_calls = 0
        bench.setup(*params)
        assert set(bench.ops) == set(cls.scenarios)
        called: list[str] = []
        bench.ops = {name: (lambda name=name, called=called: called.append(name))
                     for name in bench.ops}

        getattr(bench, method)(*params)

        assert called == [method.removeprefix("time_")]


@pytest.mark.parametrize(("module", "name"), sorted(STAGE_CLASSES))
def test_the_stage_benchmarks_keep_the_settings_their_series_were_recorded_with(
    module: str, name: str
) -> None:
    cls = getattr(importlib.import_module(f"benchmarks.{module}"), name)

    assert issubclass(cls, StageBenchmark)
    assert (cls.version, cls.number, cls.warmup_time, cls.rounds, cls.repeat, cls.warm_calls) == (
        "1", 1, 0, 2, (10, 100, 2.0), 0)


class _Counted:
    """Scenarios that count how many fixtures they built and which ones ran."""

    def __init__(self) -> None:
        self.built: list[int] = []
        self.ran: list[int] = []

    def scenario(self, g: Any, *params: Any) -> Callable[[], Any]:
        number = len(self.built)
        self.built.append(number)
        return lambda: self.ran.append(number)


def test_the_first_setup_warms_up_on_throwaway_fixtures_and_later_ones_do_not() -> None:
    counted = _Counted()

    class Warmed(FreshPerCall):
        scenarios = {"op": counted.scenario}

        def time_op(self) -> None:
            self.ops["op"]()

    bench = Warmed()
    bench.setup()
    warmed = len(counted.built) - 1
    bench.time_op()
    bench.setup()
    bench.time_op()

    assert 1 <= warmed <= WARM_CALLS
    assert counted.ran == [*range(warmed), warmed, warmed + 1]  # each call on its own fixture


def test_a_stage_benchmark_builds_one_fixture_per_call_and_no_warm_up() -> None:
    counted = _Counted()

    class Stage(StageBenchmark):
        scenarios = {"op": counted.scenario}

        def time_op(self) -> None:
            self.ops["op"]()

    bench = Stage()
    for _ in range(3):
        bench.setup()
        bench.time_op()

    assert counted.built == counted.ran == [0, 1, 2]


def test_setup_is_skipped_on_a_commit_that_lacks_the_api() -> None:
    class NeedsTheFuture(FreshPerCall):
        required = ("NoSuchGovernanceName",)
        scenarios = {"op": _Counted().scenario}

    with pytest.raises(NotImplementedError, match="NoSuchGovernanceName"):
        NeedsTheFuture().setup()


TWINS = sorted(((module, cls) for module, cls in _suite_classes()
                if cls.__name__.endswith(("AllocatedBytes", "AllocatedBlocks"))),
               key=lambda pair: (pair[0], pair[1].__name__))


def test_every_allocation_twin_has_its_unit_and_its_pair() -> None:
    names = {(module, cls.__name__) for module, cls in TWINS}

    assert len(TWINS) >= 50
    for module, cls in TWINS:
        unit = "bytes" if cls.__name__.endswith("Bytes") else "blocks"
        assert cls.unit == unit, cls.__name__
        assert cls.version == "1"
        assert any(n.startswith("track_") for n in dir(cls))
        pair = cls.__name__.replace("Bytes", "Blocks") if unit == "bytes" else (
            cls.__name__.replace("Blocks", "Bytes"))
        assert (module, pair) in names


def _grow(g: Any, size: int) -> Callable[[], Any]:
    return lambda: [str(i) * 3 for i in range(size)]


def test_parameterized_twins_track_what_one_call_keeps_per_parameter() -> None:
    allocated_bytes, allocated_blocks = allocation_twins(
        "Grow", kept({"strings": _grow}), what="building strings", params=[10, 1000],
        param_names=["size"])

    assert allocated_bytes.__name__ == "GrowAllocatedBytes"
    assert (allocated_bytes.unit, allocated_blocks.unit) == ("bytes", "blocks")
    assert allocated_blocks.params == [10, 1000] and allocated_blocks.param_names == ["size"]
    assert allocated_blocks.timeout == 120
    blocks = allocated_blocks()
    blocks.setup(10)
    small, large = blocks.track_strings(10), blocks.track_strings(1000)
    assert blocks.track_strings(10) == small
    assert 900 <= large - small <= 1100  # about a string per item more
    bytes_twin = allocated_bytes()
    bytes_twin.setup(1000)
    assert bytes_twin.track_strings(1000) > bytes_twin.track_strings(10)


def test_plain_twins_have_no_parameters() -> None:
    allocated_bytes, _ = allocation_twins("Once", {"strings": lambda g: _grow(g, 5)},
                                          what="building strings")

    assert not hasattr(allocated_bytes, "params")
    assert not hasattr(allocated_bytes, "timeout")
    twin = allocated_bytes()
    twin.setup()
    assert twin.track_strings() > 0

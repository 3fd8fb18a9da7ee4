"""The instruction counters: what one valgrind process reports, how it reads callgrind's dump
files, how it reports a scenario a commit cannot build or that raises, and that the counts do
not move with the machine's load."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from benchmarks import callgrind
from benchmarks.bench_handoff import EngineHandoffInstructions
from benchmarks.bench_orchestration import (
    ExecuteApprovedFloorInstructions,
    ExecuteApprovedInstructionRatioToFloor,
    ExecuteApprovedInstructions,
)
from benchmarks.bench_recording import OutcomeRecordingInstructions
from benchmarks.bench_resolution import ResolveAndStoreInstructions
from benchmarks.callgrind import InstructionCounter, SkipNotImplemented
from scripts.cpu_load import saturated_cpus

ROOT = Path(__file__).resolve().parents[2]

needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None,
                                    reason="valgrind is not installed")

COUNTER_CLASSES = (ExecuteApprovedInstructions, ExecuteApprovedFloorInstructions,
                   ResolveAndStoreInstructions, EngineHandoffInstructions,
                   OutcomeRecordingInstructions)


def _tracks(cls: type) -> list[str]:
    return sorted(name for name in dir(cls) if name.startswith("track_"))


def test_every_counted_scenario_has_exactly_one_counter_benchmark() -> None:
    """Each key the child counts is read by one track_ method, and each track_ reads a key."""
    read = {f"{cls.family}.{name.removeprefix('track_')}"
            for cls in COUNTER_CLASSES for name in _tracks(cls)}
    assert read == set(callgrind.COUNTED)


def test_counter_benchmarks_share_one_setup_cache() -> None:
    """asv keys setup_cache by function: one valgrind process per commit counts them all."""
    functions = {cls.setup_cache for cls in (*COUNTER_CLASSES,
                                             ExecuteApprovedInstructionRatioToFloor)}
    assert functions == {InstructionCounter.setup_cache}
    assert all(cls.unit == "instructions" for cls in COUNTER_CLASSES)
    assert ExecuteApprovedInstructionRatioToFloor.unit == "ratio"


def test_a_counter_reads_its_count_and_reports_skips_and_errors() -> None:
    counts: dict[str, Any] = {
        "OutcomeRecording.executed": {"instructions": 60213},
        "OutcomeRecording.rejected_as_stale": {"skipped": "this commit lacks OutcomeRecorder"},
        "OutcomeRecording.rejected_by_policy": {"error": "Traceback ...\nRuntimeError: boom"},
    }
    bench = OutcomeRecordingInstructions()
    assert bench.track_executed(counts) == 60213
    with pytest.raises(SkipNotImplemented, match="lacks OutcomeRecorder"):
        bench.track_rejected_as_stale(counts)
    with pytest.raises(RuntimeError, match="boom"):
        bench.track_rejected_by_policy(counts)
    with pytest.raises(SkipNotImplemented, match="not counted"):
        ExecuteApprovedInstructions().track_matching_version(counts)


def test_the_ratio_to_the_floor_divides_the_two_counts() -> None:
    counts = {"ExecuteApproved.matching_version": {"instructions": 300_000},
              "ExecuteApprovedFloor.matching_version": {"instructions": 20_000}}
    assert ExecuteApprovedInstructionRatioToFloor().track_matching_version(counts) == 15.0


def test_dump_files_are_read_by_their_instruction_event(tmp_path: Path) -> None:
    plain = tmp_path / "plain.out"
    plain.write_text("version: 1\ncmd: python\nevents: Ir\nfn=(1) main\n5 100\nsummary: 1234\n")
    cached = tmp_path / "cached.out"
    cached.write_text("events: Ir Dr Dw I1mr\nfn=(1) main\n5 1 2 3 4\ntotals: 900 10 20 3\n")
    assert callgrind.dump_instructions(plain) == 1234
    assert callgrind.dump_instructions(cached) == 900
    (tmp_path / "empty.out").write_text("events: Ir\n")
    with pytest.raises(ValueError, match="no summary"):
        callgrind.dump_instructions(tmp_path / "empty.out")


def test_per_call_counts_subtract_the_empty_section_and_divide_by_the_calls() -> None:
    sections = {"A.x": {"dump": 3, "calls": 40}, "A.y": {"skipped": "missing"},
                "__empty_section__": {"dump": 5, "calls": 1}}
    totals = {1: 10**9, 2: 5000, 3: 40 * 1000 + 120, 4: 777, 5: 120}
    assert callgrind.per_call_counts(sections, totals) == {
        "A.x": {"instructions": 1000}, "A.y": {"skipped": "missing"}}


def test_the_counter_machine_names_python_architecture_and_valgrind() -> None:
    name = callgrind.counter_machine_name()
    assert name.startswith("callgrind-cpython3.")
    assert f"-valgrind{callgrind.valgrind_version() or 'none'}" in name


_FAKE_COMMON = '''
def api(*extra):
    if "OutcomeRecorder" in extra:
        raise NotImplementedError("this commit lacks OutcomeRecorder")
    return object()
'''
_FAKE_ORCHESTRATION = '''
def _real(g, name):
    if name == "rejected_as_stale":
        def fail():
            raise RuntimeError("stale call broke")
        return fail
    return lambda: sum(range(1000))


def _floor_builder(g, name):
    return lambda: None
'''
_FAKE_RECORDING = '''
def _recording_builder(g, name):
    return lambda: None
'''


@needs_valgrind
def test_the_child_counts_what_it_can_and_reports_skips_and_errors(tmp_path: Path) -> None:
    """A suite whose recording API is missing and whose stale scenario raises, counted for
    real under callgrind: the counted call costs more than the empty one, the missing API is a
    skip, the exception an error with its traceback."""
    suite = tmp_path / "benchmarks"
    suite.mkdir()
    (suite / "__init__.py").write_text("")
    (suite / "common.py").write_text(_FAKE_COMMON)
    (suite / "bench_orchestration.py").write_text(_FAKE_ORCHESTRATION)
    (suite / "bench_recording.py").write_text(_FAKE_RECORDING)

    counts = callgrind.run_counter_child(suite, calls=10, warmup=1, keys=[
        "ExecuteApproved.matching_version", "ExecuteApprovedFloor.matching_version",
        "ExecuteApproved.rejected_as_stale", "OutcomeRecording.executed"])

    summed = counts["ExecuteApproved.matching_version"]["instructions"]
    empty_call = counts["ExecuteApprovedFloor.matching_version"]["instructions"]
    assert 10_000 < summed - empty_call < 1_000_000  # a thousand-term sum, not the harness
    assert counts["OutcomeRecording.executed"] == {
        "skipped": "this commit lacks OutcomeRecorder"}
    assert "stale call broke" in counts["ExecuteApproved.rejected_as_stale"]["error"]


@needs_valgrind
@pytest.mark.slow
def test_counts_do_not_move_with_load_and_order_the_stages() -> None:
    """Two quiet runs and two while a load generator keeps every core busy: every counter
    within 0.2 % of the others. And the counts say what the flow is: an execution costs more
    than its stages, a stale rejection less than an execution, the runtime more than its
    floor."""
    runs = [callgrind.run_counter_child(ROOT / "benchmarks") for _ in range(2)]
    with saturated_cpus(600):
        runs += [callgrind.run_counter_child(ROOT / "benchmarks") for _ in range(2)]

    for run in runs:
        assert set(run) == set(callgrind.COUNTED)
        assert all("instructions" in entry for entry in run.values()), run
    for key in callgrind.COUNTED:
        values = [run[key]["instructions"] for run in runs]
        assert (max(values) - min(values)) / min(values) <= 0.002, (key, values)

    count = {key: entry["instructions"] for key, entry in runs[0].items()}
    matching = count["ExecuteApproved.matching_version"]
    assert matching > count["EngineHandoff.wrap_and_execute"]
    assert matching > count["ResolveAndStore.matching_version"]
    assert matching > count["OutcomeRecording.executed"]
    assert count["ExecuteApproved.rejected_as_stale"] < matching / 2
    for scenario in ("matching_version", "rejected_as_stale", "revalidated_then_executed"):
        assert count[f"ExecuteApproved.{scenario}"] > count[f"ExecuteApprovedFloor.{scenario}"]

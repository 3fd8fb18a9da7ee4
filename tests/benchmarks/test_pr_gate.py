"""The PR gate tells its three outcomes apart.

In a temporary clone of the repository, three commits are made on top of main: one that adds
about 20 % to the cost of version resolution (the gate must fail with exit 1 and name the
resolution and orchestration benchmarks), one that changes nothing measurable (exit 0), and one
that breaks a benchmark (exit 2, naming it with its error).
"""

from __future__ import annotations

import gc
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import pr_gate  # noqa: E402

RESOLVE_SIGNATURE = (
    "        if request is None:\n"
    '            raise MissingArgumentError("version resolution needs a request")\n'
)


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=gate-test", "-c", "user.email=gate@localhost",
                           *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A clone of the committed main branch, whose asv environments all gate runs share."""
    path = tmp_path_factory.mktemp("gate") / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(path)], check=True)
    _git(path, "checkout", "-q", _git(ROOT, "rev-parse", "HEAD"))
    _git(path, "checkout", "-q", "-B", "main")
    yield path


@pytest.fixture(scope="module")
def gate_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("home")
    return {**os.environ, "HOME": str(home)}


def _branch(clone: Path, name: str, edit: Path, old: str, new: str) -> None:
    _git(clone, "checkout", "-q", "main")
    _git(clone, "checkout", "-q", "-B", name)
    text = edit.read_text()
    assert old in text, f"{edit} no longer holds the line the gate test edits"
    edit.write_text(text.replace(old, new, 1))
    _git(clone, "commit", "-qam", f"gate test: {name}")


def _run_gate(clone: Path, env: dict[str, str], head: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(clone / "scripts" / "pr_gate.py"), "main", head],
                          cwd=clone, env=env, capture_output=True, text=True, timeout=1500)


def _spin_iterations_for(fraction: float) -> int:
    """How many ``sum(range(n))`` iterations cost ``fraction`` of version resolution as governed
    execution performs it, here: ``execute_approved`` on a stale request, which resolves,
    records the rejection and never reaches the engine. This calibrates the injected slowdown;
    it asserts nothing about speed.

    The stale call is timed as asv times it: the benchmark's own ``setup`` (which builds every
    scenario's fixture) before each sample, the garbage collector off during the call. Timed on
    its fixture alone it reads 10-20 % faster, and a slowdown calibrated on that falls further
    below 20 % of what the gate measures."""
    from benchmarks.bench_orchestration import ExecuteApproved

    bench = ExecuteApproved()
    samples = []
    for _ in range(300):
        bench.setup()
        gc.disable()
        try:
            start = time.perf_counter()
            bench.time_rejected_as_stale()
            samples.append(time.perf_counter() - start)
        finally:
            gc.enable()
    target = fraction * statistics.median(samples)
    iterations = max(1, round(target / 10e-9))
    for _ in range(3):  # the cost per iteration depends on n: refine n on its own timing
        cost = statistics.median(_timed(lambda n=iterations: sum(range(n))) for _ in range(200))
        iterations = max(1, round(iterations * target / cost))
    return iterations


def _timed(call: object) -> float:
    start = time.perf_counter()
    call()  # type: ignore[operator]
    return time.perf_counter() - start


@pytest.mark.slow
def test_a_twenty_percent_slower_resolution_fails_the_gate_naming_resolution_and_orchestration(
    clone: Path, gate_env: dict[str, str]
) -> None:
    iterations = _spin_iterations_for(0.20)
    _branch(clone, "slower-resolution", clone / "governance" / "resolution.py",
            RESOLVE_SIGNATURE,
            RESOLVE_SIGNATURE + f"        sum(range({iterations}))\n")

    result = _run_gate(clone, gate_env, "slower-resolution")
    output = result.stdout + result.stderr

    assert result.returncode == 1, output[-5000:]
    verdict = output[output.index("== gate verdict"):]
    assert "REGRESSION" in verdict
    assert "bench_resolution.ResolveAndStore" in verdict, output[-5000:]
    assert "bench_orchestration.ExecuteApproved" in verdict, output[-5000:]


@pytest.mark.slow
def test_a_change_with_no_measurable_effect_passes_the_gate(
    clone: Path, gate_env: dict[str, str]
) -> None:
    _branch(clone, "docs-only", clone / "README.md", "# governance\n",
            "# governance\n\nA sentence that changes nothing measurable.\n")

    result = _run_gate(clone, gate_env, "docs-only")
    output = result.stdout + result.stderr

    assert result.returncode == 0, output[-5000:]
    assert "gate verdict: PASS" in output


@pytest.mark.slow
def test_a_broken_benchmark_gives_exit_two_and_names_it_with_its_error(
    clone: Path, gate_env: dict[str, str]
) -> None:
    _branch(clone, "broken-recording", clone / "governance" / "execution.py",
            '        """Record REJECTED for an engine result that did not succeed',
            '        raise RuntimeError("recording is broken on purpose")\n'
            '        """Record REJECTED for an engine result that did not succeed')

    result = _run_gate(clone, gate_env, "broken-recording")
    output = result.stdout + result.stderr

    assert result.returncode == 2, output[-5000:]
    verdict = output[output.index("== gate verdict"):]
    assert "BROKEN BENCHMARK" in verdict
    assert "bench_recording.OutcomeRecording" in verdict
    assert "recording is broken on purpose" in verdict


def test_the_gate_reads_failures_and_their_errors_from_asv_output() -> None:
    output = (
        "[ 10.00%] ··· bench_recording.OutcomeRecording.time_executed          failed\n"
        "[ 10.00%] ···· Traceback (most recent call last):\n"
        "             File \"x.py\", line 1, in setup\n"
        "           RuntimeError: boom\n"
        "[ 20.00%] ··· bench_resolution.ResolveAndStore.time_matching_version     10.1±0.3μs\n"
    )
    broken = pr_gate.broken_benchmarks(output)
    assert list(broken) == ["bench_recording.OutcomeRecording.time_executed"]
    assert "RuntimeError: boom" in broken["bench_recording.OutcomeRecording.time_executed"]


def test_the_gate_reads_regressed_rows_from_the_comparison_table() -> None:
    output = (
        "| Change   | Before [aaaa]   | After [bbbb]   |   Ratio | Benchmark (Parameter)   |\n"
        "|----------|-----------------|----------------|---------|-------------------------|\n"
        "| +        | 10.1±0.3μs      | 12.4±0.2μs     |    1.23 | "
        "bench_resolution.ResolveAndStore.time_matching_version |\n"
        "| -        | 20.0±0.3μs      | 15.0±0.2μs     |    0.75 | "
        "bench_handoff.EngineHandoff.time_wrap_and_execute |\n"
    )
    assert pr_gate.regressed_benchmarks(output) == [
        "bench_resolution.ResolveAndStore.time_matching_version"]
    assert pr_gate.improved_benchmarks(output) == [
        "bench_handoff.EngineHandoff.time_wrap_and_execute"]


def _table(*names: str, mark: str = "+") -> str:
    ratio = "1.30" if mark == "+" else "0.70"
    rows = "".join(f"| {mark}        | 10.0±0.1μs      | 13.0±0.1μs     |    {ratio} | {name} |\n"
                   for name in names)
    return ("| Change   | Before [aaaa]   | After [bbbb]   |   Ratio | Benchmark (Parameter)   |\n"
            "|----------|-----------------|----------------|---------|-------------------------|\n"
            + rows)


class _ScriptedAsv:
    """Stands in for ``asv continuous``: returns prepared runs in order, keeps each call."""

    def __init__(self, *runs: pr_gate.ContinuousRun) -> None:
        self.runs = list(runs)
        self.calls: list[tuple[list[str], bool]] = []

    def __call__(self, benches: list[str], append_samples: bool) -> pr_gate.ContinuousRun:
        self.calls.append((benches, append_samples))
        return self.runs.pop(0)


RESOLVE = "bench_resolution.ResolveAndStore.time_matching_version"
STALE = "bench_orchestration.ExecuteApproved.time_rejected_as_stale"
HISTORY = "bench_resolution.ResolveAndStoreHistoryLength.time_matching_version(64)"
UNCHANGED = pr_gate.ContinuousRun(0, "BENCHMARKS NOT SIGNIFICANTLY CHANGED.")


def _only(name: str) -> str:
    return f"^{re.escape(name)}$"


def test_a_regression_cleared_by_the_pooled_rerun_is_reported_as_noise_and_passes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    asv = _ScriptedAsv(pr_gate.ContinuousRun(1, _table(RESOLVE)), UNCHANGED)

    status = pr_gate.run_gate("main", "HEAD", 1.12, "^bench_", "m", confirm=2, runner=asv)

    out = capsys.readouterr().out
    assert status == 0
    assert "gate verdict: PASS, no regression in the pooled comparison" in out
    assert RESOLVE in out[out.index("cleared"):out.index("gate verdict")]
    # The first run measures the suite; the rerun only the changed benchmark, pooling its
    # samples with the first run's. Nothing is left to re-measure after it.
    assert asv.calls == [(["^bench_"], False), ([_only(RESOLVE)], True)]


def test_the_last_pooled_comparison_decides_which_benchmarks_regressed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    asv = _ScriptedAsv(pr_gate.ContinuousRun(1, _table(RESOLVE, STALE, HISTORY)),
                       pr_gate.ContinuousRun(1, _table(RESOLVE, HISTORY)),
                       pr_gate.ContinuousRun(1, _table(HISTORY)))

    status = pr_gate.run_gate("main", "HEAD", 1.12, "^bench_", "m", confirm=2, runner=asv)

    out = capsys.readouterr().out
    verdict = out[out.index("gate verdict"):]
    assert status == 1
    assert HISTORY in verdict and RESOLVE not in verdict and STALE not in verdict
    noise = out[out.index("cleared"):out.index("gate verdict")]
    assert RESOLVE in noise and STALE in noise
    # A benchmark found unchanged by a pooled comparison is not measured again.
    assert asv.calls[2] == ([_only(RESOLVE), _only(HISTORY)], True)


def test_a_regression_hidden_by_a_slow_base_run_is_found_by_the_pooled_reruns(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A burst on the base side makes the first run see an improvement.
    asv = _ScriptedAsv(pr_gate.ContinuousRun(0, _table(STALE, mark="-")),
                       pr_gate.ContinuousRun(0, _table(STALE, mark="-")),
                       pr_gate.ContinuousRun(1, _table(STALE)))

    status = pr_gate.run_gate("main", "HEAD", 1.12, "^bench_", "m", confirm=2, runner=asv)

    out = capsys.readouterr().out
    assert status == 1
    assert STALE in out[out.index("better in the first run"):out.index("gate verdict")]
    assert STALE in out[out.index("gate verdict"):]
    assert [call[1] for call in asv.calls] == [False, True, True]


def test_a_real_improvement_passes_after_its_pooled_reruns(
    capsys: pytest.CaptureFixture[str],
) -> None:
    improved = pr_gate.ContinuousRun(0, _table(STALE, mark="-"))
    asv = _ScriptedAsv(improved, improved, improved)

    status = pr_gate.run_gate("main", "HEAD", 1.12, "^bench_", "m", confirm=2, runner=asv)

    assert status == 0
    assert "gate verdict: PASS" in capsys.readouterr().out
    assert len(asv.calls) == 3


def test_a_rerun_selects_a_parameterized_benchmark_by_its_parameters() -> None:
    regex = pr_gate.selection_regex(HISTORY + " [m/virtualenv-py3.11]")
    assert re.search(regex, HISTORY)
    assert not re.search(regex, HISTORY.replace("(64)", "(1024)"))


def test_a_rerun_that_breaks_gives_exit_two(capsys: pytest.CaptureFixture[str]) -> None:
    failure = ("[ 50.00%] ··· " + RESOLVE + "          failed\n"
               "[ 50.00%] ···· RuntimeError: broken in the rerun\n")
    asv = _ScriptedAsv(pr_gate.ContinuousRun(1, _table(RESOLVE)),
                       pr_gate.ContinuousRun(2, failure))

    status = pr_gate.run_gate("main", "HEAD", 1.12, "^bench_", "m", confirm=2, runner=asv)

    assert status == 2
    assert "broken in the rerun" in capsys.readouterr().out


def test_without_confirmation_one_flagging_run_is_a_regression(
    capsys: pytest.CaptureFixture[str],
) -> None:
    asv = _ScriptedAsv(pr_gate.ContinuousRun(1, _table(STALE)))

    status = pr_gate.run_gate("main", "HEAD", 1.12, "^bench_", "m", confirm=0, runner=asv)

    assert status == 1
    assert STALE in capsys.readouterr().out
    assert len(asv.calls) == 1

"""The PR gate tells its three outcomes apart, whatever the machine's load.

In a temporary clone of the repository, commits are made on top of main, and the gate runs on
each while a load generator keeps every core busy: 5 % more instructions in outcome recording
(exit 1, naming the recording counters), 5 % more in version resolution (exit 1, naming the
resolution counters), a change with no measurable effect (exit 0), and a broken benchmark
(exit 2, naming it with its error). The injected cost is sized in instructions, counted under
callgrind. Then the gate's decisions, on scripted asv output.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.callgrind import dump_instructions, run_counter_child
from scripts import gate_noise, pr_gate
from scripts.cpu_load import saturated_cpus

ROOT = Path(__file__).resolve().parents[2]


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
    return subprocess.run([sys.executable, "-m", "scripts.pr_gate", "main", head],
                          cwd=clone, env=env, capture_output=True, text=True, timeout=1500)


def _inject(path: Path, qualname: str, statement: str) -> None:
    """Insert ``statement`` as the first statement (after the docstring) of the method
    ``Class.method`` in ``path``; found through the syntax tree, so edits elsewhere in the
    method do not break the proof."""
    class_name, method_name = qualname.split(".")
    text = path.read_text()
    tree = ast.parse(text)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name)
    method = next(n for n in cls.body
                  if isinstance(n, ast.FunctionDef) and n.name == method_name)
    body = method.body
    has_doc = (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
               and isinstance(body[0].value.value, str))
    first = body[1] if has_doc and len(body) > 1 else body[0]
    lines = text.splitlines(keepends=True)
    indent = " " * first.col_offset
    lines.insert(first.lineno - 1, f"{indent}{statement}\n")
    path.write_text("".join(lines))


def _commit_injected(clone: Path, name: str, path: Path, qualname: str, statement: str) -> None:
    _git(clone, "checkout", "-q", "main")
    _git(clone, "checkout", "-q", "-B", name)
    _inject(path, qualname, statement)
    _git(clone, "commit", "-qam", f"gate test: {name}")


@pytest.fixture(scope="module")
def spin_instructions() -> float:
    """Instructions per iteration of ``sum(range(n))``, counted under callgrind (the cost
    injected into a stage to make it a known fraction more expensive)."""
    n = 200_000
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "spin.out"
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                        "--dump-before=getppid", "--quiet", sys.executable, "-c",
                        f"import os; os.getppid(); sum(range({n})); os.getppid()"],
                       check=True, capture_output=True, env={**os.environ,
                                                              "PYTHONHASHSEED": "0"})
        return dump_instructions(Path(f"{out}.2")) / n


@pytest.fixture(scope="module")
def stage_counts() -> dict[str, int]:
    """Instructions per call of the stages the proofs slow down, at the tested commit."""
    keys = ["OutcomeRecording.executed", *(f"ResolveAndStore.{s}" for s in (
        "matching_version", "rejected_as_stale", "revalidation_required",
        "renewed_approval_required"))]
    counts = run_counter_child(ROOT / "benchmarks", keys=keys)
    return {key: int(counts[key]["instructions"]) for key in keys}


def _spin_for(fraction: float, instructions: int, per_iteration: float) -> str:
    return f"sum(range({max(1, round(fraction * instructions / per_iteration))}))"


def _gate_under_load(clone: Path, env: dict[str, str], head: str
                     ) -> subprocess.CompletedProcess[str]:
    """The gate on ``head`` while every core is kept busy by a load generator."""
    with saturated_cpus(1500):
        return _run_gate(clone, env, head)


@pytest.mark.slow
def test_five_percent_more_instructions_in_recording_fails_the_gate_naming_recording(
    clone: Path, gate_env: dict[str, str], spin_instructions: float,
    stage_counts: dict[str, int],
) -> None:
    spin = _spin_for(0.05, stage_counts["OutcomeRecording.executed"], spin_instructions)
    _commit_injected(clone, "costlier-recording", clone / "governance" / "execution.py",
                     "OutcomeRecorder.record_executed", spin)

    result = _gate_under_load(clone, gate_env, "costlier-recording")
    output = result.stdout + result.stderr

    assert result.returncode == 1, output[-5000:]
    verdict = output[output.index("== gate verdict"):]
    assert "REGRESSION" in verdict
    assert "bench_recording.OutcomeRecordingInstructions.track_executed" in verdict, verdict
    assert "bench_resolution." not in verdict, verdict


@pytest.mark.slow
def test_five_percent_more_instructions_in_resolution_fails_the_gate_naming_resolution(
    clone: Path, gate_env: dict[str, str], spin_instructions: float,
    stage_counts: dict[str, int],
) -> None:
    cheapest = min(v for k, v in stage_counts.items() if k.startswith("ResolveAndStore."))
    spin = _spin_for(0.05, cheapest, spin_instructions)
    _commit_injected(clone, "costlier-resolution", clone / "governance" / "resolution.py",
                     "VersionResolver._resolve", spin)

    result = _gate_under_load(clone, gate_env, "costlier-resolution")
    output = result.stdout + result.stderr

    assert result.returncode == 1, output[-5000:]
    verdict = output[output.index("== gate verdict"):]
    assert "REGRESSION" in verdict
    for outcome in ("matching_version", "rejected_as_stale", "revalidation_required",
                    "renewed_approval_required"):
        assert f"bench_resolution.ResolveAndStoreInstructions.track_{outcome}" in verdict, verdict
    assert "bench_recording." not in verdict, verdict


@pytest.mark.slow
def test_a_change_with_no_measurable_effect_passes_the_gate(
    clone: Path, gate_env: dict[str, str]
) -> None:
    _branch(clone, "docs-only", clone / "README.md", "# governance\n",
            "# governance\n\nA sentence that changes nothing measurable.\n")

    result = _gate_under_load(clone, gate_env, "docs-only")
    output = result.stdout + result.stderr

    assert result.returncode == 0, output[-5000:]
    assert "gate verdict: PASS" in output


@pytest.mark.slow
def test_a_broken_benchmark_gives_exit_two_and_names_it_with_its_error(
    clone: Path, gate_env: dict[str, str]
) -> None:
    _commit_injected(clone, "broken-recording", clone / "governance" / "execution.py",
                     "OutcomeRecorder.record_refused",
                     'raise RuntimeError("recording is broken on purpose")')

    result = _gate_under_load(clone, gate_env, "broken-recording")
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


# What ``asv continuous --split`` prints (asv 0.6.6): one GitHub-style table per group, the
# Change cell empty on an unchanged row, ``~`` on a ratio asv finds not significant, ``n/a``
# where a side has no number, a ``[machine/env]`` suffix when several environments compare.
SPLIT_OUTPUT = """\
[ 50.00%] ··· bench_recording.OutcomeRecording.time_refused                       failed
Benchmarks that have got worse:

| Change   | Before [aaaaaaaa] <main>   | After [bbbbbbbb] <pr>   |   Ratio | Benchmark (Parameter)                                                        |
|----------|----------------------------|-------------------------|---------|------------------------------------------------------------------------------|
| +        | 10.1±0.3μs                 | 12.4±0.2μs              |    1.23 | bench_resolution.ResolveAndStore.time_matching_version                       |
| +        | 1.00M                      | 1.30M                   |    1.3  | bench_resolution.ResolveAndStoreHistoryLength.track_instructions(64, 'tail') |

Benchmarks that have stayed the same:

| Change   | Before [aaaaaaaa] <main>   | After [bbbbbbbb] <pr>   | Ratio   | Benchmark (Parameter)                                                                                         |
|----------|----------------------------|-------------------------|---------|---------------------------------------------------------------------------------------------------------------|
|          | 5.00±0.1μs                 | 5.01±0.1μs              | ~1.00   | bench_handoff.EngineHandoff.time_wrap_and_execute                                                             |
| -        | 20.0±0.3μs                 | 15.0±0.2μs              | 0.75    | bench_orchestration.ExecuteApproved.time_matching_version [governance-2vcpu/virtualenv-py3.11-pydantic2.13.5] |
| x        | 1.00μs                     | 2.00μs                  | 2.00    | bench_queries.Queries.time_changed_version                                                                    |
| !        | 1.00μs                     | failed                  | n/a     | bench_recording.OutcomeRecording.time_refused                                                                 |

SOME BENCHMARKS HAVE CHANGED SIGNIFICANTLY.
"""  # noqa: E501


def test_the_comparison_table_is_read_row_by_row_across_split_tables() -> None:
    rows = pr_gate.comparison_rows(SPLIT_OUTPUT)

    assert [(r.mark, r.ratio, r.name) for r in rows] == [
        ("+", 1.23, "bench_resolution.ResolveAndStore.time_matching_version"),
        ("+", 1.3, "bench_resolution.ResolveAndStoreHistoryLength.track_instructions"
                   "(64, 'tail')"),
        ("", 1.0, "bench_handoff.EngineHandoff.time_wrap_and_execute"),
        ("-", 0.75, "bench_orchestration.ExecuteApproved.time_matching_version "
                    "[governance-2vcpu/virtualenv-py3.11-pydantic2.13.5]"),
        ("x", 2.0, "bench_queries.Queries.time_changed_version"),
        ("!", None, "bench_recording.OutcomeRecording.time_refused"),
    ]
    assert (rows[0].before, rows[0].after) == ("10.1±0.3μs", "12.4±0.2μs")
    assert rows[-1].after == "failed"


def test_the_gate_and_the_noise_measurement_read_the_same_rows() -> None:
    """The PR gate's marks and the A/A noise measurement's ratios come from one parser."""
    assert pr_gate.regressed_benchmarks(SPLIT_OUTPUT) == [
        "bench_resolution.ResolveAndStore.time_matching_version",
        "bench_resolution.ResolveAndStoreHistoryLength.track_instructions(64, 'tail')"]
    assert pr_gate.improved_benchmarks(SPLIT_OUTPUT) == [
        "bench_orchestration.ExecuteApproved.time_matching_version "
        "[governance-2vcpu/virtualenv-py3.11-pydantic2.13.5]"]
    ratios = gate_noise.parse_ratios(SPLIT_OUTPUT)
    assert ratios == {row.name: row.ratio for row in pr_gate.comparison_rows(SPLIT_OUTPUT)
                      if row.ratio is not None}
    assert "bench_recording.OutcomeRecording.time_refused" not in ratios
    assert pr_gate.comparison_rows("BENCHMARKS NOT SIGNIFICANTLY CHANGED.") == []


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


COUNTERS = "Instructions"


def _options(confirm: int) -> pr_gate.GateOptions:
    return pr_gate.GateOptions(factor=1.12, bench="^bench_", counter_bench=COUNTERS,
                               machine="m", confirm=confirm)


def _only(name: str) -> str:
    return f"^{re.escape(name)}$"


def test_a_regression_cleared_by_the_pooled_rerun_is_reported_as_noise_and_passes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    asv = _ScriptedAsv(pr_gate.ContinuousRun(1, _table(RESOLVE)), UNCHANGED)

    status = pr_gate.run_gate("main", "HEAD", _options(confirm=2), runner=asv)

    out = capsys.readouterr().out
    assert status == 0
    assert "gate verdict: PASS" in out
    assert RESOLVE in out[out.index("cleared"):out.index("gate verdict")]
    # The first run measures the suite; the rerun only the changed benchmark, pooling its
    # samples with the first run's. Nothing is left to re-measure after it.
    assert asv.calls == [(["^bench_", COUNTERS], False), ([_only(RESOLVE)], True)]


def test_the_last_pooled_comparison_decides_which_benchmarks_regressed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    asv = _ScriptedAsv(pr_gate.ContinuousRun(1, _table(RESOLVE, STALE, HISTORY)),
                       pr_gate.ContinuousRun(1, _table(RESOLVE, HISTORY)),
                       pr_gate.ContinuousRun(1, _table(HISTORY)))

    status = pr_gate.run_gate("main", "HEAD", _options(confirm=2), runner=asv)

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

    status = pr_gate.run_gate("main", "HEAD", _options(confirm=2), runner=asv)

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

    status = pr_gate.run_gate("main", "HEAD", _options(confirm=2), runner=asv)

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

    status = pr_gate.run_gate("main", "HEAD", _options(confirm=2), runner=asv)

    assert status == 2
    assert "broken in the rerun" in capsys.readouterr().out


def test_without_confirmation_one_flagging_run_is_a_regression(
    capsys: pytest.CaptureFixture[str],
) -> None:
    asv = _ScriptedAsv(pr_gate.ContinuousRun(1, _table(STALE)))

    status = pr_gate.run_gate("main", "HEAD", _options(confirm=0), runner=asv)

    assert status == 1
    assert STALE in capsys.readouterr().out
    assert len(asv.calls) == 1


REC = "bench_recording.OutcomeRecordingInstructions.track_executed"
RES = "bench_resolution.ResolveAndStoreInstructions.track_matching_version"


def _counted(before: float, after: float) -> pr_gate.Figure:
    return pr_gate.Figure("instructions", before, after)


def test_a_counter_worse_than_its_factor_is_a_regression_without_reruns(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    figures = {REC: _counted(60_000, 63_000), RES: _counted(53_000, 53_010),
               RESOLVE: pr_gate.Figure("seconds", 5e-6, 5.2e-6)}
    asv = _ScriptedAsv(pr_gate.ContinuousRun(0, "BENCHMARKS NOT SIGNIFICANTLY CHANGED.",
                                             figures))
    summary = tmp_path / "verdict.json"
    options = pr_gate.GateOptions(factor=1.5, counter_factor=1.02, bench="^bench_",
                                  counter_bench=COUNTERS, machine="m", confirm=2,
                                  summary_json=summary)

    status = pr_gate.run_gate("main", "HEAD", options, runner=asv)

    out = capsys.readouterr().out
    verdict = out[out.index("gate verdict"):]
    assert status == 1
    assert REC in verdict and RES not in verdict and RESOLVE not in verdict
    assert "60,000 ->       63,000  1.0500" in out
    assert len(asv.calls) == 1  # counts are deterministic: nothing is measured again
    written = json.loads(summary.read_text())
    assert written["verdict"] == "regression" and written["exit_status"] == 1
    assert written["regressed"] == [REC]
    rows = {row["benchmark"]: row for row in written["rows"]}
    assert rows[REC] == {"benchmark": REC, "kind": "counter", "unit": "instructions",
                         "before": 60_000, "after": 63_000, "ratio": 1.05, "change": "worse"}
    assert rows[RES]["change"] is None and rows[RESOLVE]["kind"] == "timing"


def test_a_counter_within_its_factor_passes_even_when_asv_marks_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # asv marks rows with its own factor and statistics; for counters the gate's factor decides.
    asv = _ScriptedAsv(pr_gate.ContinuousRun(1, _table(REC), {REC: _counted(60_000, 60_600)}))

    status = pr_gate.run_gate("main", "HEAD", _options(confirm=2), runner=asv)

    assert status == 0
    assert "gate verdict: PASS" in capsys.readouterr().out
    assert len(asv.calls) == 1


def test_a_counter_better_than_its_factor_passes_and_is_reported_better(
    tmp_path: Path,
) -> None:
    asv = _ScriptedAsv(pr_gate.ContinuousRun(0, "", {REC: _counted(60_000, 40_000)}))
    summary = tmp_path / "verdict.json"
    options = pr_gate.GateOptions(counter_bench=COUNTERS, confirm=2, summary_json=summary)

    assert pr_gate.run_gate("main", "HEAD", options, runner=asv) == 0
    written = json.loads(summary.read_text())
    assert written["verdict"] == "pass" and written["rows"][0]["change"] == "better"


def test_a_counter_new_on_one_side_is_shown_and_not_a_regression() -> None:
    asv = _ScriptedAsv(pr_gate.ContinuousRun(0, "", {REC: pr_gate.Figure("instructions", None,
                                                                          60_000)}))
    assert pr_gate.run_gate("main", "HEAD", _options(confirm=2), runner=asv) == 0


def test_a_broken_benchmark_writes_a_broken_summary(tmp_path: Path) -> None:
    failure = ("[ 50.00%] ··· " + REC + "          failed\n"
               "[ 50.00%] ···· RuntimeError: raised under callgrind\n")
    asv = _ScriptedAsv(pr_gate.ContinuousRun(2, failure))
    summary = tmp_path / "verdict.json"
    options = pr_gate.GateOptions(counter_bench=COUNTERS, summary_json=summary)

    assert pr_gate.run_gate("main", "HEAD", options, runner=asv) == 2
    written = json.loads(summary.read_text())
    assert written["verdict"] == "broken" and written["exit_status"] == 2
    assert "raised under callgrind" in written["broken"][REC]


def test_parameterized_results_are_named_as_asv_names_their_rows() -> None:
    assert pr_gate._param_names([]) == [""]
    assert pr_gate._param_names([["2", "64"]]) == ["2", "64"]
    assert pr_gate._param_names([["1", "2"], ["'a'"]]) == ["1, 'a'", "2, 'a'"]

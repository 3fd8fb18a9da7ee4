"""The asv suite stays runnable: ``asv check``, a dry quick run, and a real run in a fresh
virtualenv environment that produces a number for every benchmark."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ASV = [sys.executable, "-m", "asv"]
EXPECTED_PREFIXES = (
    "bench_orchestration.ExecuteApproved.time_",
    "bench_orchestration.ExecuteApprovedFloor.time_",
    "bench_orchestration.ExecuteApprovedRatioToFloor.track_",
    "bench_orchestration.ExecuteApprovedAllocatedBytes.track_",
    "bench_orchestration.ExecuteApprovedAllocatedBlocks.track_",
    "bench_orchestration.ExecuteApprovedInstructions.track_",
    "bench_orchestration.ExecuteApprovedFloorInstructions.track_",
    "bench_orchestration.ExecuteApprovedInstructionRatioToFloor.track_",
    "bench_resolution.ResolveAndStoreInstructions.track_",
    "bench_handoff.EngineHandoffInstructions.track_",
    "bench_recording.OutcomeRecordingInstructions.track_",
    "bench_resolution.ResolveAndStore.time_",
    "bench_resolution.ResolveAndStoreHistoryLength.time_",
    "bench_resolution.ResolveAndStoreAllocatedBytes.track_",
    "bench_resolution.ResolveAndStoreAllocatedBlocks.track_",
    "bench_handoff.EngineHandoff.time_",
    "bench_handoff.EngineHandoffAllocatedBytes.track_",
    "bench_handoff.EngineHandoffAllocatedBlocks.track_",
    "bench_recording.OutcomeRecording.time_",
    "bench_recording.OutcomeRecordingAllocatedBytes.track_",
    "bench_recording.OutcomeRecordingAllocatedBlocks.track_",
    "bench_lifecycle.RequestSubmission.time_",
    "bench_lifecycle.LifecycleTransitions.time_",
    "bench_lifecycle.LifecycleExpiration.time_",
    "bench_lifecycle.LifecycleAllocatedBytes.track_",
    "bench_lifecycle.LifecycleAllocatedBlocks.track_",
    "bench_approval.ApprovalRequestCreation.time_",
    "bench_approval.ApprovalDecisions.time_",
    "bench_approval.ApprovalExpiration.time_",
    "bench_approval.ApprovalRequestCreationAllocatedBytes.track_",
    "bench_approval.ApprovalRequestCreationAllocatedBlocks.track_",
    "bench_approval.ApprovalDecisionsAllocatedBytes.track_",
    "bench_approval.ApprovalDecisionsAllocatedBlocks.track_",
    "bench_queries.GovernanceQueries.time_",
    "bench_queries.GovernanceQueriesAllocatedBytes.track_",
    "bench_queries.GovernanceQueriesAllocatedBlocks.track_",
    "bench_materialization.GovernedOutputs.time_",
    "bench_materialization.GovernedOutputsAllocatedBytes.track_",
    "bench_materialization.GovernedOutputsAllocatedBlocks.track_",
    "bench_materialization.ExecutionRecordsFirstRead.time_",
    "bench_materialization.ExecutionRecordsFirstReadAllocatedBytes.track_",
    "bench_materialization.ExecutionRecordsFirstReadAllocatedBlocks.track_",
    "bench_materialization.ResolutionFirstRead.time_",
    "bench_materialization.ResolutionFirstReadAllocatedBytes.track_",
    "bench_materialization.ResolutionFirstReadAllocatedBlocks.track_",
    "bench_engine.EngineCommit.time_",
    "bench_engine.EngineModes.time_",
    "bench_engine.EngineBatch.time_",
    "bench_engine.SingleMutationThroughput.time_",
    "bench_engine.BatchMutationThroughput.time_",
    "bench_engine.EngineCommitAllocatedBytes.track_",
    "bench_engine.EngineCommitAllocatedBlocks.track_",
    "bench_engine.EngineModesAllocatedBytes.track_",
    "bench_engine.EngineModesAllocatedBlocks.track_",
    "bench_engine.EngineBatchAllocatedBytes.track_",
    "bench_engine.EngineBatchAllocatedBlocks.track_",
    "bench_engine.SingleMutationThroughputAllocatedBytes.track_",
    "bench_engine.SingleMutationThroughputAllocatedBlocks.track_",
    "bench_engine.BatchMutationThroughputAllocatedBytes.track_",
    "bench_engine.BatchMutationThroughputAllocatedBlocks.track_",
    "bench_policies.PolicyEvaluation.time_",
    "bench_policies.PolicyEvaluationAllocatedBytes.track_",
    "bench_policies.PolicyEvaluationAllocatedBlocks.track_",
    "bench_diagnostics.DiagnosticsOverhead.time_",
    "bench_diagnostics.InterceptorOverhead.time_",
    "bench_diagnostics.DiagnosticsOverheadAllocatedBytes.track_",
    "bench_diagnostics.DiagnosticsOverheadAllocatedBlocks.track_",
    "bench_diagnostics.InterceptorOverheadAllocatedBytes.track_",
    "bench_diagnostics.InterceptorOverheadAllocatedBlocks.track_",
    "bench_concurrency.ParallelDistinctStates.time_",
    "bench_concurrency.ConcurrentBatches.time_",
    "bench_concurrency.SharedStateGate.time_",
    "bench_results.ResultCreation.time_",
    "bench_results.ResultRecords.time_",
    "bench_results.ResultCreationAllocatedBytes.track_",
    "bench_results.ResultCreationAllocatedBlocks.track_",
    "bench_results.ResultRecordsAllocatedBytes.track_",
    "bench_results.ResultRecordsAllocatedBlocks.track_",
    "bench_growth.StoreSizeExecution.time_",
    "bench_growth.StoreSizeLifecycle.time_",
    "bench_growth.StoreSizeApproval.time_",
    "bench_growth.StoreSizeQueries.time_",
    "bench_growth.ExecuteApprovedHistoryLength.time_",
    "bench_growth.ApproveRequirementHistoryLength.time_",
    "bench_growth.ApprovalStepsCreation.time_",
    "bench_growth.ApprovalSteps.time_",
    "bench_growth.StoreSizeWritesAllocatedBytes.track_",
    "bench_growth.StoreSizeWritesAllocatedBlocks.track_",
    "bench_growth.StoreSizeApprovalAllocatedBytes.track_",
    "bench_growth.StoreSizeApprovalAllocatedBlocks.track_",
    "bench_growth.StoreSizeQueriesAllocatedBytes.track_",
    "bench_growth.StoreSizeQueriesAllocatedBlocks.track_",
    "bench_growth.ExecuteApprovedHistoryLengthAllocatedBytes.track_",
    "bench_growth.ExecuteApprovedHistoryLengthAllocatedBlocks.track_",
    "bench_growth.ApproveRequirementHistoryLengthAllocatedBytes.track_",
    "bench_growth.ApproveRequirementHistoryLengthAllocatedBlocks.track_",
    "bench_growth.ApprovalStepsAllocatedBytes.track_",
    "bench_growth.ApprovalStepsAllocatedBlocks.track_",
)


def _asv(args: list[str], env: dict[str, str], cwd: Path = ROOT, timeout: int = 900
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ASV, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture
def asv_home(tmp_path: Path) -> dict[str, str]:
    """An environment whose HOME holds a machine file of its own, so tests never touch the
    developer's ``~/.asv-machine.json``."""
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    (tmp_path / "home").mkdir()
    result = _asv(["machine", "--yes", "--machine", "pytest-machine"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    return env


@pytest.fixture
def asv_config(tmp_path: Path) -> Path:
    """The project's asv configuration with environments, results and html moved to a temporary
    folder, so no test ever writes into the committed ``results/``."""
    config = json.loads((ROOT / "asv.conf.json").read_text())
    config.update(
        repo=str(ROOT),
        benchmark_dir=str(ROOT / "benchmarks"),
        env_dir=str(tmp_path / "env"),
        results_dir=str(tmp_path / "results"),
        html_dir=str(tmp_path / "html"),
    )
    path = tmp_path / "asv.conf.json"
    path.write_text(json.dumps(config))
    return path


def _results_snapshot() -> dict[str, float]:
    results = ROOT / "results"
    if not results.exists():
        return {}
    return {str(p): p.stat().st_mtime for p in results.rglob("*.json")}


def test_asv_check_finds_no_problem(asv_home: dict[str, str], asv_config: Path) -> None:
    result = _asv(["check", "--config", str(asv_config), "--python=same"], asv_home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No problems found" in result.stdout


def test_a_dry_quick_run_in_this_environment_runs_every_benchmark_and_writes_nothing(
    asv_home: dict[str, str], asv_config: Path,
) -> None:
    before = _results_snapshot()
    result = _asv(["run", "--config", str(asv_config), "--python=same", "--quick", "--dry-run",
                   "--show-stderr", "--machine", "pytest-machine"], asv_home)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "failed" not in output.lower()
    total = int(re.search(r"Running (\d+) total benchmarks", output).group(1))  # type: ignore[union-attr]
    reported = [line for line in output.splitlines() if re.match(r"\[\s*[\d.]+%\] ··· ", line)]
    assert total >= len(EXPECTED_PREFIXES)
    assert len(reported) >= total
    assert not [line for line in reported if line.rstrip().endswith(("n/a", "failed"))]
    assert _results_snapshot() == before
    written = [p.name for p in (asv_config.parent / "results").rglob("*.json")]
    assert sorted(set(written) - {"machine.json", "benchmarks.json"}) == []


def _result_values(results_dir: Path) -> dict[str, object]:
    files = [p for p in results_dir.rglob("*.json") if p.name not in {"machine.json",
                                                                       "benchmarks.json"}]
    assert len(files) == 1, files
    data = json.loads(files[0].read_text())
    column = data["result_columns"].index("result")
    return {name: row[column] for name, row in data["results"].items()}


@pytest.mark.slow
def test_asv_run_in_a_real_virtualenv_produces_a_number_for_every_benchmark(
    tmp_path: Path, asv_home: dict[str, str], asv_config: Path
) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is needed to build the project from its history")
    before = _results_snapshot()

    result = _asv(["run", "--config", str(asv_config), "--machine", "pytest-machine",
                   "--show-stderr", "HEAD^!"], asv_home, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]

    values = _result_values(tmp_path / "results")
    for prefix in EXPECTED_PREFIXES:
        matching = {name: v for name, v in values.items() if name.startswith(prefix)}
        assert matching, f"no benchmark starts with {prefix}"
        for name, value in matching.items():
            assert isinstance(value, list) and value and all(
                isinstance(v, (int, float)) for v in value), f"{name} produced {value!r}"
    assert _results_snapshot() == before

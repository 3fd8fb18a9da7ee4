"""The stage profile script runs against the current package and reports every stage."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from benchmarks.common import EXPECTED_VERSION
from benchmarks.fixtures_execution import ExecutionFixture
from scripts import profile_stages

ROOT = Path(__file__).resolve().parents[2]


def test_the_stage_profile_reports_each_stage_and_the_whole_call() -> None:
    result = subprocess.run([sys.executable, "-m", "scripts.profile_stages",
                             "--calls", "20", "--cprofile"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    out = result.stdout

    figures = dict(re.findall(r"^  (.+?)\s+([\d.]+) us$", out, flags=re.M))
    for stage in ("resolve and claim (resolve_for_execution)", "wrap (GovernedMutation)",
                  "engine (MutationEngine.execute)", "record (OutcomeRecorder.record_executed)",
                  "resolve, reject and store (resolve_for_execution)",
                  "execute_approved as one call"):
        assert stage in figures, out
        assert float(figures[stage]) > 0
    assert "cProfile, 20 matching-version executions" in out
    assert "execute_approved" in out[out.index("cProfile"):]


def test_the_records_alone_are_the_records_a_real_execution_builds() -> None:
    real_fixture = ExecutionFixture(EXPECTED_VERSION)
    real = real_fixture.execute(real_fixture.g.ResolutionStrategy.REJECT_STALE)
    alone_fixture = ExecutionFixture(EXPECTED_VERSION)
    alone = profile_stages.records_only(alone_fixture)()

    assert type(alone) is type(real)
    assert [d.code for d in alone.request.decisions] == [d.code for d in real.request.decisions]
    assert alone.request.status == real.request.status
    assert alone.request.revision == real.request.revision
    assert type(alone.mutation_result) is type(real.mutation_result)
    assert alone.mutation_result.new_state == real.mutation_result.new_state
    assert alone.resolution.outcome == real.resolution.outcome
    assert alone.request.execution.claim is not None and real.request.execution.claim is not None
    real_entries = (len(real_fixture.engine.auditor.entries),
                    len(real_fixture.engine.get_history(real.request.state_id)))
    assert real_entries == (1, 1)  # one audit and one history entry, as the builder makes


def test_the_records_option_prints_both_ratios_to_the_floor() -> None:
    result = subprocess.run([sys.executable, "-m", "scripts.profile_stages",
                             "--calls", "20", "--records"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)

    ratios = dict(re.findall(r"^  (.+?)\s+[\d.]+ us\s+([\d.]+)x floor$", result.stdout,
                             flags=re.M))
    assert set(ratios) == {"the records alone", "execute_approved as one call"}, result.stdout
    assert all(float(value) > 0 for value in ratios.values())

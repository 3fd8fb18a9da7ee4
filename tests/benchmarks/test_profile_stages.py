"""The stage profile script runs against the current package and reports every stage."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_stage_profile_reports_each_stage_and_the_whole_call() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "profile_stages.py"),
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

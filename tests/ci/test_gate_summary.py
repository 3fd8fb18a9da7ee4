"""The job summary the PR check writes: rendered from the gate's verdict file for each of the
three verdicts (fixtures in ``fixtures/``), with no rows, and without a verdict file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import gate_summary

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def render_fixture(name: str) -> str:
    return gate_summary.render(gate_summary.load_verdict(FIXTURES / f"verdict-{name}.json"),
                               artifact="benchmark-comparison")


def section(markdown: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading or folded block."""
    start = markdown.index(heading)
    ends = [markdown.find(mark, start + len(heading)) for mark in ("\n#", "\n<details>")]
    end = min((e for e in ends if e != -1), default=len(markdown))
    return markdown[start:end]


def test_pass_shows_verdict_commits_factors_and_what_moved() -> None:
    text = render_fixture("pass")
    assert text.startswith("## ✅ Benchmark gate: pass\n")
    assert "`main` at `3b4bbf0e` → `HEAD` at `9f8e7d6c`" in text
    assert "counter factor 1.02 · timing factor 1.5 · 3 min 22 s · exit 0" in text
    moved = section(text, "### Instruction counters that moved")
    assert ("| better | `bench_orchestration.ExecuteApprovedInstructions.track_matching_version` "
            "| 321,604 | 305,112 | 0.949 |") in moved
    # Unchanged rows are not among those that moved, only in the folded full table.
    assert "OutcomeRecordingInstructions" not in moved
    assert "### Timings that moved" not in text
    assert "regression" not in text.lower()
    full = text[text.index("<summary>Every comparison (4)</summary>"):]
    assert ("|  | `bench_orchestration.ExecuteApproved.time_matching_version` | 37.7 µs "
            "| 38.1 µs | 1.011 |") in full
    assert "| 6.58 µs | 6.61 µs | 1.005 |" in full
    assert "artifact `benchmark-comparison`" in text


def test_regression_marks_the_deciding_benchmark_in_its_table() -> None:
    text = render_fixture("regression")
    assert text.startswith("## ❌ Benchmark gate: regression\n")
    assert "`HEAD` at `c0ffee00`" in text and "exit 1" in text
    assert ("**Regressed beyond the factor:** "
            "`bench_recording.OutcomeRecordingInstructions.track_executed`") in text
    counters = section(text, "### Instruction counters that moved")
    assert ("| ❌ **regression** | `bench_recording.OutcomeRecordingInstructions.track_executed` "
            "| 60,213 | 63,224 | 1.050 |") in counters
    # A counter ratio is unitless: plain figures, no separators or units.
    assert ("| worse "
            "| `bench_orchestration.ExecuteApprovedInstructionRatioToFloor."
            "track_matching_version` | 45.3 | 46.1 | 1.018 |") in counters
    assert "time_executed" not in counters
    timings = section(text, "### Timings that moved")
    assert ("| worse | `bench_recording.OutcomeRecording.time_executed` "
            "| 6.64 µs | 7.12 µs | 1.072 |") in timings
    assert "EngineHandoff" not in timings
    assert "| 9,830 B | 10,240 B |" in text
    assert "Broken benchmarks" not in text


def test_broken_lists_each_benchmark_with_its_error_folded() -> None:
    text = render_fixture("broken")
    assert text.startswith("## 💥 Benchmark gate: a benchmark is broken\n")
    assert "exit 2" in text and "`HEAD` at `badc0de0`" in text
    assert "### Broken benchmarks (2)" in text
    block = text[text.index("<details>"):]
    assert ("<summary><code>bench_recording.OutcomeRecording.time_executed</code></summary>"
            in block)
    assert ("TypeError: OutcomeRecorder.__init__() missing 1 required positional argument: "
            "'clock'") in block
    # The error text sits in a code block verbatim; HTML in it cannot break the page.
    assert "RuntimeError: the counting child failed <exit 1>" in block
    assert block.count("<details>") == block.count("</details>") == 2
    # asv prints no table when a benchmark broke: nothing claims a comparison.
    assert "moved" not in text and "Every comparison" not in text
    assert "The gate compared no benchmark" not in text


@pytest.mark.parametrize("verdict,status", [("pass", 0), ("regression", 1), ("broken", 2)])
def test_every_verdict_renders_without_rows(verdict: str, status: int) -> None:
    summary = gate_summary.check_verdict({
        "verdict": verdict, "exit_status": status, "base": "main", "head": "HEAD",
        "base_commit": "a" * 40, "head_commit": "b" * 40, "counter_factor": 1.02,
        "timing_factor": 1.5, "elapsed_seconds": 12.0, "rows": [], "regressed": [],
        "broken": {}})
    text = gate_summary.render(summary)
    assert text.startswith(f"## {gate_summary.HEADINGS[verdict]}\n")
    assert "The gate compared no benchmark." in text
    assert "|" not in text


def test_all_rows_unchanged_says_so() -> None:
    data = json.loads((FIXTURES / "verdict-pass.json").read_text())
    for row in data["rows"]:
        row["change"] = None
    text = gate_summary.render(gate_summary.check_verdict(data))
    assert "No benchmark moved: 4 compared, all within their factor." in text
    assert "that moved" not in text


@pytest.mark.parametrize("value,unit,expected", [
    (3.77e-05, "seconds", "37.7 µs"),
    (6.58e-06, "seconds", "6.58 µs"),
    (0.00123, "seconds", "1.23 ms"),
    (2.5, "seconds", "2.50 s"),
    (4.2e-07, "seconds", "420 ns"),
    (321604.4, "instructions", "321,604"),
    (16.84, "ratio", "16.8"),
    (None, "seconds", "n/a"),
])
def test_values_are_formatted_by_unit(value: float | None, unit: str, expected: str) -> None:
    assert gate_summary.format_value(value, unit) == expected


def test_markdown_in_names_and_errors_is_contained() -> None:
    assert gate_summary.cell("a|b") == "a\\|b"
    assert gate_summary.code_span("x`y") == "``x`y``"
    block = gate_summary.code_block("```\ninjected\n```")
    assert block.startswith("````text\n") and block.endswith("\n````")


def test_command_line_prints_markdown_and_handles_a_missing_verdict(tmp_path: Path) -> None:
    script = [sys.executable, "-m", "scripts.gate_summary"]
    done = subprocess.run([*script, str(FIXTURES / "verdict-broken.json")], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    assert done.stdout.startswith("## 💥 Benchmark gate")
    missing = subprocess.run([*script, str(tmp_path / "none.json"),
                              "--artifact", "benchmark-comparison"],
                             cwd=ROOT, capture_output=True, text=True)
    assert missing.returncode == 0
    assert "no verdict" in missing.stdout and "`benchmark-comparison`" in missing.stdout
    bad = tmp_path / "bad.json"
    bad.write_text('{"verdict": "maybe"}')
    broken = subprocess.run([*script, str(bad)], cwd=ROOT, capture_output=True, text=True)
    assert broken.returncode == 1 and "unknown verdict 'maybe'" in broken.stderr

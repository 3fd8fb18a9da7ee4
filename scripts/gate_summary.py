"""Render the PR gate's verdict file as Markdown for a GitHub job summary.

Usage: python -m scripts.gate_summary VERDICT.json [--artifact NAME] >> "$GITHUB_STEP_SUMMARY"

``python -m scripts.pr_gate --summary-json VERDICT.json`` writes the verdict whatever it is:
``pass`` (exit 0), ``regression`` (exit 1) or ``broken`` (exit 2), with one row per compared
benchmark. This script turns it into what a reviewer reads on the pull request's checks page:
the verdict, the two commits and the factors, then the benchmarks that moved (counters and
timings in separate tables, before, after and ratio, the regressions that decided the verdict
marked), every comparison in a folded table, and each broken benchmark with its error in a
folded block.

A missing verdict file (the gate stopped before deciding) renders as a note, so the summary step
can always run; a file that is not a verdict is an error (exit 1).
"""

from __future__ import annotations

import argparse
import html
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypedDict

Verdict = Literal["pass", "regression", "broken"]
Kind = Literal["counter", "timing"]
Change = Literal["worse", "better"]


class Row(TypedDict):
    """One benchmark compared between base and head, as the gate writes it."""

    benchmark: str
    kind: Kind
    unit: str
    before: float | None
    after: float | None
    ratio: float | None
    change: Change | None


class GateVerdict(TypedDict):
    """The gate's ``--summary-json`` file."""

    verdict: Verdict
    exit_status: int
    base: str
    head: str
    base_commit: str
    head_commit: str
    counter_factor: float
    timing_factor: float
    elapsed_seconds: float
    rows: list[Row]
    regressed: list[str]
    broken: dict[str, str]


HEADINGS: dict[str, str] = {
    "pass": "✅ Benchmark gate: pass",
    "regression": "❌ Benchmark gate: regression",
    "broken": "💥 Benchmark gate: a benchmark is broken",
}
VERDICT_FOR_STATUS: dict[int, Verdict] = {0: "pass", 1: "regression", 2: "broken"}
STATUS_FOR_VERDICT: dict[str, int] = {v: s for s, v in VERDICT_FOR_STATUS.items()}
SHORT_HASH = 8
"""asv's result files and dashboard name commits by their first 8 hex digits."""


class VerdictError(ValueError):
    """The file is not a verdict the gate writes."""


def load_verdict(path: Path) -> GateVerdict:
    """Read and check a verdict file; raise ``VerdictError`` when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise VerdictError(f"{path} is not JSON: {error}") from error
    return check_verdict(data)


def check_verdict(data: Any) -> GateVerdict:
    """``data`` as a verdict, with absent optional parts filled in (no rows, nothing broken)."""
    if not isinstance(data, dict):
        raise VerdictError("a verdict is a JSON object")
    verdict = data.get("verdict")
    status = data.get("exit_status")
    if verdict not in HEADINGS and status in VERDICT_FOR_STATUS:
        verdict = VERDICT_FOR_STATUS[status]
    if verdict not in HEADINGS:
        raise VerdictError(f"unknown verdict {verdict!r} (expected pass, regression or broken)")
    rows = data.get("rows") or []
    if not isinstance(rows, list) or not all(
            isinstance(row, dict) and isinstance(row.get("benchmark"), str) for row in rows):
        raise VerdictError("rows must be a list of objects that name their benchmark")
    broken = data.get("broken") or {}
    regressed = data.get("regressed") or []
    if not isinstance(broken, dict) or not isinstance(regressed, list):
        raise VerdictError("broken must be an object and regressed a list")
    return {
        "verdict": verdict,
        "exit_status": status if isinstance(status, int) else STATUS_FOR_VERDICT[verdict],
        "base": str(data.get("base", "")),
        "head": str(data.get("head", "")),
        "base_commit": str(data.get("base_commit", "")),
        "head_commit": str(data.get("head_commit", "")),
        "counter_factor": _number(data.get("counter_factor")),
        "timing_factor": _number(data.get("timing_factor")),
        "elapsed_seconds": _number(data.get("elapsed_seconds")),
        "rows": [_row(row) for row in rows],
        "regressed": [str(name) for name in regressed],
        "broken": {str(name): str(error) for name, error in broken.items()},
    }


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


def _optional_number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _row(row: Mapping[str, Any]) -> Row:
    kind: Kind = "counter" if row.get("kind") == "counter" else "timing"
    change: Change | None = row["change"] if row.get("change") in ("worse", "better") else None
    return {
        "benchmark": row["benchmark"],
        "kind": kind,
        "unit": str(row.get("unit") or ""),
        "before": _optional_number(row.get("before")),
        "after": _optional_number(row.get("after")),
        "ratio": _optional_number(row.get("ratio")),
        "change": change,
    }


# -- formatting ------------------------------------------------------------------------------

def format_value(value: float | None, unit: str) -> str:
    """A measured value in the unit's usual form: seconds as ns/µs/ms/s with three significant
    digits, instructions with thousands separators, anything else as a plain number."""
    if value is None or math.isnan(value):
        return "n/a"
    if unit == "seconds":
        for scale, suffix in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
            if abs(value) >= scale:
                return f"{_three_digits(value / scale)} {suffix}"
        return f"{_three_digits(value / 1e-9)} ns"
    if unit == "instructions":
        return f"{round(value):,}"
    if unit == "bytes":
        return f"{round(value):,} B"
    return _three_digits(value)


def _three_digits(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_ratio(ratio: float | None) -> str:
    """after / before, with three decimals for a counter's fine steps."""
    return "n/a" if ratio is None or math.isnan(ratio) else f"{ratio:.3f}"


def format_factor(factor: float) -> str:
    return "?" if math.isnan(factor) else f"{factor:g}"


def format_elapsed(seconds: float) -> str:
    if math.isnan(seconds):
        return "?"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def short(commit: str) -> str:
    return commit[:SHORT_HASH] if commit else "?"


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell: pipes escaped, newlines folded."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def code_span(text: str) -> str:
    """``text`` as inline code, fenced with more backticks than it contains."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def code_block(text: str) -> str:
    """``text`` as a fenced code block whose fence no line of it can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"


# -- rendering --------------------------------------------------------------------------------

def moved(row: Row, regressed: Iterable[str]) -> bool:
    """Whether the gate found the row changed (worse or better) or named it a regression."""
    return row["change"] is not None or row["benchmark"] in set(regressed)


def table(rows: list[Row], regressed: set[str]) -> list[str]:
    """A Markdown table of ``rows``: benchmark, before, after, ratio and what happened."""
    lines = ["| | benchmark | before | after | ratio |", "| --- | --- | ---: | ---: | ---: |"]
    for row in rows:
        if row["benchmark"] in regressed:
            mark = "❌ **regression**"
        elif row["change"] == "worse":
            mark = "worse"
        elif row["change"] == "better":
            mark = "better"
        else:
            mark = ""
        lines.append(
            f"| {mark} | {cell(code_span(row['benchmark']))} "
            f"| {format_value(row['before'], row['unit'])} "
            f"| {format_value(row['after'], row['unit'])} | {format_ratio(row['ratio'])} |")
    return lines


def render(summary: GateVerdict, artifact: str | None = None) -> str:
    """The job summary of one gate run, in Markdown."""
    regressed = set(summary["regressed"])
    rows = summary["rows"]
    out = [
        f"## {HEADINGS[summary['verdict']]}",
        "",
        f"{code_span(summary['base'] or 'base')} at `{short(summary['base_commit'])}` → "
        f"{code_span(summary['head'] or 'head')} at `{short(summary['head_commit'])}` · "
        f"counter factor {format_factor(summary['counter_factor'])} · "
        f"timing factor {format_factor(summary['timing_factor'])} · "
        f"{format_elapsed(summary['elapsed_seconds'])} · exit {summary['exit_status']}",
        "",
    ]
    if summary["regressed"]:
        names = ", ".join(code_span(name) for name in summary["regressed"])
        out += [f"**Regressed beyond the factor:** {names}", ""]

    changed = [row for row in rows if moved(row, regressed)]
    for kind, title in (("counter", "Instruction counters"), ("timing", "Timings")):
        of_kind = [row for row in changed if row["kind"] == kind]
        if of_kind:
            out += [f"### {title} that moved", "", *table(of_kind, regressed), ""]
    if rows and not changed:
        out += [f"No benchmark moved: {len(rows)} compared, all within their factor.", ""]
    elif not rows and not summary["broken"]:
        out += ["The gate compared no benchmark.", ""]

    if summary["broken"]:
        out += [f"### Broken benchmarks ({len(summary['broken'])})", ""]
        for name, error in summary["broken"].items():
            out += ["<details>", f"<summary><code>{html.escape(name)}</code></summary>", "",
                    code_block(error), "", "</details>", ""]

    if rows:
        out += ["<details>", f"<summary>Every comparison ({len(rows)})</summary>", ""]
        for kind, title in (("counter", "Instruction counters"), ("timing", "Timings")):
            of_kind = [row for row in rows if row["kind"] == kind]
            if of_kind:
                out += [f"**{title}**", "", *table(of_kind, regressed), ""]
        out += ["</details>", ""]

    if artifact:
        out += [f"The gate's full output and asv results are in the artifact "
                f"{code_span(artifact)}.", ""]
    return "\n".join(out)


def render_missing(path: Path, artifact: str | None = None) -> str:
    """The summary when the gate wrote no verdict: it stopped before deciding."""
    lines = ["## ⚠️ Benchmark gate: no verdict", "",
             f"The gate wrote no {code_span(str(path))}: it stopped before it could decide "
             "(set-up failed, or the run was cancelled)."]
    if artifact:
        lines.append(f"Its output is in the artifact {code_span(artifact)}.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.gate_summary",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("verdict", type=Path, help="the gate's --summary-json file")
    parser.add_argument("--artifact", help="name of the uploaded artifact to point readers to")
    args = parser.parse_args(argv)
    if not args.verdict.is_file():
        print(render_missing(args.verdict, args.artifact))
        return 0
    try:
        summary = load_verdict(args.verdict)
    except VerdictError as error:
        print(f"## ⚠️ Benchmark gate: unreadable verdict\n\n{html.escape(str(error))}\n")
        print(f"gate_summary: {error}", file=sys.stderr)
        return 1
    print(render(summary, args.artifact))
    return 0


if __name__ == "__main__":
    sys.exit(main())

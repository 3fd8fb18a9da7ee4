"""Every figure the committed history shows getting worse is explained in
docs/accepted-changes.toml, as the dashboard's changes page reads it: a flagged change nobody
explained fails here, not only on the published page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.dashboard_data import (
    changes,
    commits_between,
    first_parent_history,
    load_accepted,
    load_series,
    match_accepted,
)

ROOT = Path(__file__).resolve().parents[2]


def test_every_worse_figure_of_the_committed_history_has_an_accepted_change() -> None:
    history = first_parent_history(ROOT, ["HEAD"])
    if len(history) < 2:
        pytest.skip("needs the repository's git history")
    benchmarks = json.loads((ROOT / "results" / "benchmarks.json").read_text(encoding="utf-8"))
    series = load_series(ROOT / "results", benchmarks, history)
    accepted = load_accepted(ROOT / "docs" / "accepted-changes.toml")

    listed = changes(series, benchmarks, history)
    worse = [(entry.commit, change) for entry in listed for change in entry.changes
             if change.direction == "worse"]
    unexplained = [
        f"{commit[:8]} {change.machine} {change.name}: {change.before:g} -> {change.after:g}"
        for commit, change in worse
        if match_accepted(accepted, change.name,
                          commits_between(history, change.previous, commit)) is None]

    assert worse, "the committed results show no worse figure at all: nothing was compared"
    assert not unexplained, "worse figures without an accepted change:\n" + "\n".join(unexplained)

"""Every series in the recorded history continues: the suite as asv discovers it still holds
every benchmark that ``results/benchmarks.json`` records, under the same name and version.

asv keys a series by the benchmark's name and version; a renamed benchmark, or a changed version
(an explicit ``version`` edited, or, without one, any edit of the hashed source), starts a new
series and orphans the old one. Discovery runs in a child process, as asv runs it, so the suite
is imported the way asv imports it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RECORDED = ROOT / "results" / "benchmarks.json"

INTENDED_VERSION_CHANGES: dict[str, str] = {}
"""Benchmarks whose version is meant to change, name to new version: a deliberate new series
(the measured thing changed). The next recorded results carry the new version; remove the entry
then."""

_DISCOVER = """
import io, json, sys
from asv_runner.discovery import list_benchmarks
out = io.StringIO()
list_benchmarks(sys.argv[1], out)
print(json.dumps({b["name"]: b["version"] for b in json.loads(out.getvalue())}))
"""


def _discovered() -> dict[str, str]:
    done = subprocess.run([sys.executable, "-c", _DISCOVER, str(ROOT / "benchmarks")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    found: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_every_recorded_benchmark_is_discovered_under_its_name_and_version() -> None:
    recorded = json.loads(RECORDED.read_text())
    recorded.pop("version", None)
    discovered = _discovered()

    missing = sorted(set(recorded) - set(discovered))
    assert not missing, f"renamed or removed benchmarks would orphan their series: {missing}"
    changed = {name: (entry["version"], discovered[name]) for name, entry in recorded.items()
               if discovered[name] != INTENDED_VERSION_CHANGES.get(name, entry["version"])}
    assert not changed, f"versions changed (recorded, discovered): {changed}"

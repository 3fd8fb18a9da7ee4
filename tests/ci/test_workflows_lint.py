"""The GitHub Actions workflows pass the two linters of the Actions ecosystem with no finding:
actionlint (syntax, expressions, runner and action metadata, shellcheck on every ``run:``) and
zizmor (template injection, unpinned actions, persisted credentials, permissions), both pinned
in the ``test`` extra. A finding judged wrong is suppressed in the workflow file, with the reason
beside it, never here."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<comment>.*)$")


def tool(name: str) -> str:
    """The tool from this interpreter's environment (where the test extra installs it), else
    from PATH."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.is_file() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]' (pinned there)")
    return found


def workflow_files() -> list[Path]:
    files = sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])
    assert files, "no workflow found under .github/workflows"
    return files


def test_actionlint_finds_nothing() -> None:
    result = subprocess.run(
        [tool("actionlint"), "-no-color", "-shellcheck", tool("shellcheck"),
         *map(str, workflow_files())],
        cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"actionlint findings:\n{result.stdout}{result.stderr}"


def test_zizmor_finds_nothing() -> None:
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", "--format", "plain", str(WORKFLOWS)],
        cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"zizmor findings:\n{result.stdout}{result.stderr}"
    assert "No findings to report" in result.stdout, result.stdout


def test_every_action_is_pinned_to_a_commit_with_its_version() -> None:
    """zizmor requires the commit; the version beside it is what a reviewer reads."""
    seen = 0
    for path in workflow_files():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            match = USES.match(line)
            if not match or match["ref"].startswith("./"):
                continue
            seen += 1
            where = f"{path.name}:{number}: {line.strip()}"
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", match["ref"]), where
            assert re.fullmatch(r"\s+# v\d+\.\d+\.\d+\s*", match["comment"]), where
    assert seen, "no action reference found"

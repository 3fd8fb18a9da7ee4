"""The tools under ``scripts/`` form a package, run as ``python -m scripts.<name>`` from the
repository root: every such command the workflows and shell scripts give names a module that
starts, none runs a tool by its file path, and importing the tools leaves ``sys.path`` as it
was."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CALLERS = sorted([*(ROOT / ".github" / "workflows").glob("*.yml"),
                  *(ROOT / "scripts").glob("*.sh"), ROOT / ".ci" / "run"])
MODULE_COMMAND = re.compile(r"python3? -m scripts\.(\w+)")
PATH_COMMAND = re.compile(r"python3?\s+\S*scripts/\w+\.py")
TOOLS = sorted(path.stem for path in (ROOT / "scripts").glob("*.py")
               if "argparse" in path.read_text() and "__main__" in path.read_text())


def test_the_callers_name_existing_tools_and_none_by_file_path() -> None:
    named = set()
    for path in CALLERS:
        text = path.read_text()
        assert not PATH_COMMAND.search(text), f"{path.name}: {PATH_COMMAND.search(text)}"
        named |= set(MODULE_COMMAND.findall(text))
    assert {"benchmark_history", "pr_gate", "gate_summary", "counter_shards"} <= named
    missing = sorted(name for name in named if not (ROOT / "scripts" / f"{name}.py").is_file())
    assert not missing, f"commands name modules that do not exist: {missing}"


@pytest.mark.parametrize("tool", TOOLS)
def test_each_tool_starts_as_a_module(tool: str) -> None:
    done = subprocess.run([sys.executable, "-m", f"scripts.{tool}", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:"), done.stdout


def test_importing_the_tools_leaves_sys_path_alone() -> None:
    modules = sorted(path.stem for path in (ROOT / "scripts").glob("*.py")
                     if path.stem != "__init__")
    code = ("import importlib, sys\n"
            "before = list(sys.path)\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module('scripts.' + name)\n"
            "print(sys.path == before)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"

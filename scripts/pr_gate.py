"""The PR gate: ``asv continuous`` between a base (default ``main``) and ``HEAD`` on the governance
suites, with a verdict that tells the three outcomes apart.

Exit 0: unchanged or better. Exit 1: a regression (asv's comparison table is printed, then the
regressed benchmarks). Exit 2: a benchmark is broken on either side; asv prints no table then,
so the gate names each broken benchmark and shows its error.

Results go to ``.asv/gate-results`` (git-ignored), never into the committed ``results/``.

Usage: python scripts/pr_gate.py [BASE] [HEAD] [--factor F] [--bench REGEX] [--machine NAME]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from asv_config import redirected_config  # noqa: E402

# The governance suites. The real/floor ratio twins are left out: each is a ratio of two noisy
# timings and is read on the dashboard, not gated.
DEFAULT_BENCH = r"^bench_(orchestration|resolution|handoff|recording)\.(?!.*RatioToFloor)"
# Chosen from the A/A spread measured on this machine class (README, "The PR gate").
DEFAULT_FACTOR = 1.12
DEFAULT_MACHINE = os.environ.get("ASV_MACHINE", "governance-2vcpu")


def gate_config() -> Path:
    """The project's asv configuration with results and html moved under ``.asv/gate``."""
    return redirected_config("gate")


def rev_parse(ref: str) -> str:
    return subprocess.run(["git", "rev-parse", "--verify", f"{ref}^{{commit}}"], cwd=ROOT,
                          check=True, capture_output=True, text=True).stdout.strip()


def broken_benchmarks(output: str) -> dict[str, str]:
    """Benchmarks reported as failed in asv's output, with the error text asv printed."""
    broken: dict[str, str] = {}
    lines = output.splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"\[\s*[\d.]+%\]\s+···\s+(\S+)\s+failed\s*$", line)
        if not match:
            continue
        error = []
        for follow in lines[index + 1:]:
            if re.match(r"\[\s*[\d.]+%\]\s+····", follow):
                error.append(re.sub(r"^\[\s*[\d.]+%\]\s+····\s?", "", follow))
            elif follow.startswith(" ") and error:
                error.append(follow.strip())
            else:
                break
        broken.setdefault(match.group(1), "\n".join(error).strip() or "(no error text)")
    return broken


def regressed_benchmarks(output: str) -> list[str]:
    """Names on the rows asv marks with ``+`` (worse) in its comparison table."""
    names = []
    for line in output.splitlines():
        cells = ([c.strip() for c in line.strip().strip("|").split("|")] if "|" in line
                 else line.split())
        if cells and cells[0] == "+":
            names.append(cells[-1])
    return names


def run_gate(base: str, head: str, factor: float, bench: str, machine: str) -> int:
    base_hash, head_hash = rev_parse(base), rev_parse(head)
    config = gate_config()
    env = {**os.environ, "COLUMNS": "240"}
    subprocess.run([sys.executable, "-m", "asv", "machine", "--yes", "--machine", machine,
                    "--config", str(config)], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    command = [sys.executable, "-m", "asv", "continuous", "--config", str(config),
               "--machine", machine, "--factor", str(factor), "--show-stderr",
               "--split", "-b", bench, base_hash, head_hash]
    print(f"== gate: {base} ({base_hash[:8]}) -> {head} ({head_hash[:8]}), factor {factor}",
          flush=True)
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    captured = []
    for line in process.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        captured.append(line)
    status = process.wait()
    output = "".join(captured)
    elapsed = time.monotonic() - started

    if status == 0:
        print(f"== gate verdict: PASS, no significant regression ({elapsed:.0f}s)")
        return 0
    if status == 1:
        print(f"== gate verdict: REGRESSION ({elapsed:.0f}s). Worse by more than {factor}x:")
        for name in regressed_benchmarks(output):
            print(f"   {name}")
        return 1
    broken = broken_benchmarks(output)
    print(f"== gate verdict: BROKEN BENCHMARK (asv exit {status}, {elapsed:.0f}s). asv prints no "
          "comparison when a benchmark fails; the failures:")
    for name, error in broken.items() or {"(unknown)": output[-2000:]}.items():
        print(f"-- {name}\n{error}\n")
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", nargs="?", default="main")
    parser.add_argument("head", nargs="?", default="HEAD")
    parser.add_argument("--factor", type=float, default=DEFAULT_FACTOR)
    parser.add_argument("--bench", default=DEFAULT_BENCH)
    parser.add_argument("--machine", default=DEFAULT_MACHINE)
    args = parser.parse_args(argv)
    return run_gate(args.base, args.head, args.factor, args.bench, args.machine)


if __name__ == "__main__":
    sys.exit(main())

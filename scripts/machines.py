"""The benchmark machine's name: one name per hardware class, never the hostname.

asv keeps one series per machine name, so the name must change exactly when the hardware does.
The timings of this host go under:

1. ``$ASV_MACHINE`` (or the ``--machine`` option) when it is set;
2. else the name of a machine recorded under ``results/`` (``results/<name>/machine.json``) with
   this host's hardware, so that a hardware class keeps its committed series (the 2-vCPU AMD
   EPYC hosts of the history keep ``governance-2vcpu``); if several are, the one with the most
   result files (then the first by name);
3. else a name derived from the hardware, ``<cpu-model>-<N>cpu-<M>gib``
   (e.g. ``intel-core-i7-1165g7-8cpu-16gib``): a new series of its own.

Whatever its source, a name whose recorded hardware differs from this host's is refused with
``MachineMismatch``, which names the machine and the facts that differ: its numbers would land in
a series they do not compare with.

Hardware here is what asv records of a machine: architecture, CPU model, cores, and memory in
whole GiB (rounded, so that a rebooted VM reporting a few hundred KB less stays the same class).
The kernel release is left out: it changes with every update and does not make another machine.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
MACHINE_FILE = "machine.json"
OVERRIDE = "ASV_MACHINE"


class MachineMismatch(Exception):
    """A machine name whose recorded hardware differs from this host's."""

    def __init__(self, machine: str, differences: list[str], hint: str) -> None:
        self.machine = machine
        self.differences = differences
        super().__init__(
            f"machine '{machine}' is recorded with other hardware than this host's "
            f"({'; '.join(differences)}): its numbers would not compare with that series; "
            f"{hint}")


@dataclass(frozen=True)
class Hardware:
    """What makes two hosts one hardware class."""

    arch: str
    cpu: str
    cores: int
    memory_gib: int

    @classmethod
    def of(cls, description: Mapping[str, Any]) -> Hardware:
        """The hardware of an asv machine description (``Machine.get_defaults()`` or a
        ``machine.json``), whose ``ram`` is in bytes."""
        ram = str(description.get("ram") or "0")
        return cls(arch=str(description.get("arch") or ""),
                   cpu=str(description.get("cpu") or "").strip(),
                   cores=int(str(description.get("num_cpu") or "0")),
                   memory_gib=round(int(ram) / 2**30) if ram.isdigit() else 0)

    def differences(self, host: Hardware) -> list[str]:
        """Each fact that differs, as ``fact 'recorded' recorded, 'host' here``; ``self`` is
        the recorded hardware."""
        facts = (("architecture", self.arch, host.arch), ("cpu", self.cpu, host.cpu),
                 ("cores", self.cores, host.cores),
                 ("memory GiB", self.memory_gib, host.memory_gib))
        return [f"{fact} {recorded!r} recorded, {here!r} here"
                for fact, recorded, here in facts if recorded != here]

    def derived_name(self) -> str:
        """``<cpu-model>-<N>cpu-<M>gib``: the CPU model in lower case without trademarks,
        clock speed or the words CPU and Processor (the architecture if the model is
        unknown)."""
        model = re.sub(r"\((r|tm|c)\)", " ", self.cpu.lower())
        model = re.sub(r"@.*$", " ", model)
        model = re.sub(r"\b(cpu|processor)\b", " ", model)
        slug = re.sub(r"[^a-z0-9]+", "-", model).strip("-") or self.arch.lower() or "unknown"
        return f"{slug}-{self.cores}cpu-{self.memory_gib}gib"


def host_description() -> dict[str, str]:
    """This host as asv describes it (``os``, ``arch``, ``cpu``, ``num_cpu``, ``ram`` in
    bytes), without a machine name."""
    from asv.machine import Machine

    description: dict[str, str] = {key: str(value)
                                   for key, value in Machine.get_defaults().items()}
    description.pop("machine", None)
    return description


def recorded_machines(results_dir: Path = RESULTS) -> dict[str, dict[str, Any]]:
    """Every machine recorded under ``results_dir``: name -> its ``machine.json``."""
    recorded = {}
    for path in sorted(results_dir.glob(f"*/{MACHINE_FILE}")):
        try:
            description = json.loads(path.read_text())
        except ValueError:
            continue
        if isinstance(description, dict):
            recorded[path.parent.name] = description
    return recorded


def _result_count(results_dir: Path, machine: str) -> int:
    return sum(1 for path in (results_dir / machine).glob("*.json")
               if path.name != MACHINE_FILE)


def machine_name(requested: str | None = None, *, results_dir: Path = RESULTS,
                 host: Mapping[str, Any] | None = None) -> str:
    """This host's machine name for timings (see the module doc): ``requested``, else
    ``$ASV_MACHINE``, else the recorded machine of this hardware, else the derived name.

    Raises ``MachineMismatch`` when the name is recorded under ``results_dir`` with other
    hardware than this host's (``host``: an asv description, by default this host's)."""
    here = Hardware.of(host if host is not None else host_description())
    recorded = recorded_machines(results_dir)
    own = _own_name(recorded, here, results_dir)
    name = requested or os.environ.get(OVERRIDE) or own
    if name in recorded:
        differences = Hardware.of(recorded[name]).differences(here)
        if differences:
            hint = (f"leave ${OVERRIDE} and --machine unset to use this host's own series "
                    f"'{own}'" if own != name else f"set ${OVERRIDE} to a name of its own")
            raise MachineMismatch(name, differences, hint)
    return name


def _own_name(recorded: Mapping[str, Mapping[str, Any]], here: Hardware,
              results_dir: Path) -> str:
    """The name this host takes when none is given: a recorded machine of its hardware (the
    one with the most results), else the derived name."""
    same = [machine for machine, description in recorded.items()
            if Hardware.of(description) == here]
    if same:
        return min(same, key=lambda m: (-_result_count(results_dir, m), m))
    return here.derived_name()

"""Fixtures of the governed-execution stage benchmarks (``bench_orchestration``,
``bench_resolution``, ``bench_handoff``, ``bench_recording``) and of their instruction counts
(``callgrind``): one approved request in a fresh store with a strict engine, and the floor, the
same flow in the least plain Python can do.

The benchmarks keep their own ``VersionedState`` and ``next_version`` rather than those of
``governance.testing``: asv runs this suite against every historical commit, most of which have
no ``governance.testing``, and a fixture taken from the package under test would change whenever
that package's test helpers change, showing up as a step in the runtime's own series. The
benchmark inputs stay here, constant across the whole history (append-only, see ``common``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from .common import BASE_TIME, EXPECTED_VERSION, STATE_ID, api
from .fixtures_requests import with_history


@dataclass(frozen=True, slots=True)
class VersionedState:
    """The benchmarked state: a value and the version that identifies it."""

    value: int
    version: str


def next_version(version: str) -> str:
    """``v10`` → ``v11``."""
    return f"v{int(version[1:]) + 1}"


@functools.cache
def mutation_classes(g: Any) -> SimpleNamespace:
    """The benchmark's mutation and policy classes, built once on the installed package."""
    class IncrementValueMutation(g.MutationBase):  # type: ignore[misc, name-defined]
        """Adds one to the value and moves the state to the next version."""

        def apply(self, state: VersionedState) -> Any:
            new_state = VersionedState(state.value + 1, next_version(state.version))
            return g.MutationResult.success(
                new_state, g.StateChange.modified("Value", state.value, new_state.value))

        def validate(self, state: VersionedState) -> Any:
            result = g.ValidationResult.success()
            if state.value < 0:
                result.add_error("Value", "The value must not be negative")
            return result

    class AllowAllPolicy:
        """Allows every mutation."""

        name = "allow-all"
        priority = 0

        def evaluate(self, mutation: Any, state: Any) -> Any:
            return g.PolicyDecision.allow(self.name)

    class DenyAllPolicy:
        """Refuses every mutation."""

        name = "deny-all"
        priority = 100

        def evaluate(self, mutation: Any, state: Any) -> Any:
            return g.PolicyDecision.deny("Changes are frozen", self.name)

    ns = SimpleNamespace(IncrementValueMutation=IncrementValueMutation,
                         AllowAllPolicy=AllowAllPolicy, DenyAllPolicy=DenyAllPolicy)
    return ns


class ExecutionFixture:
    """A fresh store, strict engine with an allow policy, managers, and one approved request
    (expected version v10) with its mutation and a versioned state at ``state_version``."""

    def __init__(self, state_version: str = EXPECTED_VERSION, *, deny: bool = False,
                 history_length: int = 2) -> None:
        g = api()
        classes = mutation_classes(g)
        self.g = g
        self.engine = g.MutationEngine(g.EngineOptions.strict())
        self.engine.register_policy(classes.AllowAllPolicy())
        if deny:
            self.engine.register_policy(classes.DenyAllPolicy())
        self.store = g.InMemoryRequestStore()
        self.resolution = g.VersionResolutionManager(self.store, g.VersionResolver())
        self.manager = g.GovernanceExecutionManager(self.store, self.resolution, self.engine)
        self.context = g.MutationContext.system("benchmark", correlation_id="benchmark-execution")
        self.intent = g.MutationIntent.create("IncrementValue", "Benchmark")
        self.mutation = classes.IncrementValueMutation(self.intent, self.context)
        request = g.MutationRequest.approved(
            STATE_ID, VersionedState, classes.IncrementValueMutation, self.intent, self.context,
            expected_state_version=EXPECTED_VERSION)
        if history_length > len(request.decisions):
            request = with_history(g, request, history_length)
        self.request = self.store.create(request)
        self.request_id = self.request.request_id
        self.state = VersionedState(42, state_version)

    def execute(self, strategy: Any) -> Any:
        """The orchestration under test: ``execute_approved`` end to end."""
        return self.manager.execute_approved(
            self.request_id, self.mutation, self.state,
            governance_context=self.context, strategy=strategy)


# -- the floor: the same governed flow in the least plain Python can do ----------------------

_APPROVED, _PENDING, _REJECTED, _EXECUTED = "APPROVED", "PENDING", "REJECTED", "EXECUTED"


class FloorFixture:
    """A dict store holding one approved request as a dict, and the same versioned state."""

    def __init__(self, state_version: str = EXPECTED_VERSION) -> None:
        self.store: dict[str, dict[str, Any]] = {
            "req-1": {"status": _APPROVED, "expected": EXPECTED_VERSION, "revision": 0,
                      "decisions": [("SUBMITTED", BASE_TIME), ("APPROVED", BASE_TIME)]},
        }
        self.state = VersionedState(42, state_version)


def floor_execute(store: dict[str, dict[str, Any]], request_id: str, state: VersionedState,
                  revalidate: bool) -> VersionedState | None:
    """Governed execution with nothing but what the flow needs: look the request up, compare
    versions, append decisions with timestamps, bump the revision, build the new state."""
    request = store[request_id]
    if request["status"] != _APPROVED:
        raise RuntimeError("not approved")
    decisions = request["decisions"]
    expected = request["expected"]
    if expected and expected != state.version:
        if not revalidate:
            request["status"] = _REJECTED
            decisions.append(("REJECTED_AS_STALE", datetime.now(UTC)))
            request["revision"] += 1
            return None
        request["status"] = _PENDING
        request["expected"] = state.version
        decisions.append(("REVALIDATION_REQUIRED", datetime.now(UTC)))
    else:
        decisions.append(("VALIDATED", datetime.now(UTC)))
    request["revision"] += 1
    new_state = VersionedState(state.value + 1, next_version(state.version))
    request["status"] = _EXECUTED
    request["expected"] = new_state.version
    decisions.append(("EXECUTED", datetime.now(UTC)))
    request["revision"] += 1
    return new_state

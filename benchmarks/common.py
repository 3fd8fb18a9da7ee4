"""What every benchmark module shares: the fixed inputs and ``api()``.

Inputs here are append-only: changing an id, a version, a time or the shape of a fixture changes
what every stored result means and breaks the history. Add new constants and builders instead of
editing old ones (the same rule holds in the fixture modules).

The suite runs against every commit of the history, including commits that predate part of the
API: ``api()`` raises ``NotImplementedError`` (asv records the benchmark as skipped) when the
installed ``governance`` lacks a name a benchmark needs. Nothing imports ``governance`` at module
level, so discovery never fails. The suite's modules (see the README's benchmark map):

- ``common``: these constants, ``api`` and ``skip_unless``;
- ``harness``: ``ReadOnlyBenchmark``, ``FreshPerCall``, the allocation twins, the ratio to floor;
- ``fixtures_execution``, ``fixtures_engine``, ``fixtures_requests``: the builders;
- ``bench_*``: the benchmarks; ``callgrind``: their instruction counts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

try:
    from asv_runner.benchmarks.mark import SkipNotImplemented
except ImportError:  # pragma: no cover - outside an asv environment
    class SkipNotImplemented(NotImplementedError):  # type: ignore[no-redef]
        """Stands in for asv_runner's exception where asv_runner is not installed."""

STATE_ID = "governance-benchmark:execution"
EXPECTED_VERSION = "v10"
STALE_VERSION = "v15"
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)

LIFECYCLE_STATE_ID = "governance-benchmark:lifecycle"
LIFECYCLE_EXPECTED_VERSION = "v12"
APPROVAL_STATE_ID = "governance-benchmark:approval"
QUERY_STATE_ID = "governance-benchmark:queries"
MATERIALIZATION_STATE_ID = "governance-benchmark:materialization"
BACKGROUND_STATE_PREFIX = "governance-benchmark:background-"
COUNTER_STATE_ID = "benchmark-counter"
SLOTS_STATE_ID = "benchmark-slots"
GOVERNANCE_STATE_TYPE = "GovernanceState"
GOVERNANCE_MUTATION_TYPE = "ApproveGovernanceMutation"
SWEEP_AT = BASE_TIME + timedelta(hours=1)
"""The "now" every expiry sweep compares deadlines with."""
DUE_AT = SWEEP_AT - timedelta(minutes=5)
"""A deadline the sweep finds passed (five minutes before it)."""
NOT_DUE_AT = SWEEP_AT + timedelta(days=1)
"""A deadline still ahead of the sweep."""
MATERIALIZATION_CONTRACT = ("governance.materialization.side-effect", 1)
REJECTION_CODE, REJECTION_CATEGORY = "benchmark-rejection", "policy"

_REQUIRED = (
    "MutationEngine", "EngineOptions", "MutationContext", "MutationIntent", "MutationResult",
    "StateChange", "MutationBase", "PolicyDecision", "MutationRequest", "InMemoryRequestStore",
    "VersionResolutionManager", "VersionResolver", "GovernanceExecutionManager",
    "ResolutionStrategy", "GovernedMutation",
)


def api(*extra: str) -> Any:
    """The installed ``governance`` module, or ``NotImplementedError`` when it lacks a name."""
    try:
        import governance
    except ImportError as exc:
        raise NotImplementedError(f"governance is not importable here: {exc}") from exc
    missing = [n for n in (*_REQUIRED, *extra) if not hasattr(governance, n)]
    if missing:
        raise NotImplementedError(f"this commit lacks {', '.join(missing)}")
    return governance


def skip_unless(*extra: str) -> Any:
    """``api(*extra)`` for code that runs inside a timed call: a missing name raises asv's
    ``SkipNotImplemented`` (a ``NotImplementedError`` that asv also records as n/a when it
    comes from the benchmark call rather than from ``setup``)."""
    try:
        return api(*extra)
    except NotImplementedError as exc:
        raise SkipNotImplemented(str(exc)) from exc

"""What diagnostics cost on one COMMIT: audit, history and interceptors.

``DiagnosticsOverhead``: one timed call executes one IncrementCounter COMMIT (performance preset,
no policy) on an engine built in ``setup`` for every call, because the in-memory auditor and
history store keep every entry: a reused engine would grow with each call. Every variant gets a
fresh engine, so all three pay the same first-use cost (the engine creates the state's gate on
its first execution). Not timed: building the engine, mutation and state.

``InterceptorOverhead``: one timed call executes the same COMMIT on an engine built once per
process and reused (``NullAuditor`` and ``NullHistoryStore``: nothing grows), with no interceptor
or with one passive interceptor; no ``setup``, many calls per sample.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from .fixtures_engine import CounterState, counter_engine, counter_mutation
from .harness import FreshPerCall, ReadOnlyBenchmark, allocation_twins

_DIAGNOSTICS = {
    # name: (in-memory audit and history, interceptors)
    "no_diagnostics": (False, ()),
    "audit_and_history_in_memory": (True, ()),
    "audit_history_and_interceptors": (True, ("passive", "logging")),
}


def _diagnostics(g: Any, name: str) -> Any:
    in_memory, interceptors = _DIAGNOSTICS[name]
    engine = counter_engine(g, "performance", in_memory=in_memory, interceptors=interceptors)
    return partial(engine.execute, counter_mutation(g, "diagnostics"), CounterState(42))


def _interceptor(g: Any, interceptors: tuple[str, ...]) -> Any:
    engine = counter_engine(g, "performance", interceptors=interceptors)
    op = partial(engine.execute, counter_mutation(g, "interceptors"), CounterState(42))
    op()
    return op


class DiagnosticsOverhead(FreshPerCall):
    """One COMMIT on a fresh engine per call.

    - no_diagnostics: ``NullAuditor`` and ``NullHistoryStore`` (the baseline).
    - audit_and_history_in_memory: the in-memory auditor and history store (one audit and one
      history entry written; since the runtime keeps them as their values and builds the
      records when first read, that build is not in the timed call: see
      ``bench_materialization.ExecutionRecordsFirstRead``).
    - audit_history_and_interceptors: the same plus a passive interceptor and one that formats
      a log line before and after the mutation.
    """

    scenarios = {name: (lambda g, name=name: _diagnostics(g, name)) for name in _DIAGNOSTICS}

    def time_no_diagnostics(self) -> None:
        self.ops["no_diagnostics"]()

    def time_audit_and_history_in_memory(self) -> None:
        self.ops["audit_and_history_in_memory"]()

    def time_audit_history_and_interceptors(self) -> None:
        self.ops["audit_history_and_interceptors"]()


class InterceptorOverhead(ReadOnlyBenchmark):
    """One COMMIT on a reused engine with no-op audit and history.

    - no_interceptor: the baseline.
    - passive_interceptor: one interceptor whose hooks do nothing (``should_run`` and two hook
      calls per execution).
    """

    version = "1"
    rounds = 2
    repeat = (10, 25, 0.25)

    def build(self, g: Any) -> dict[str, Any]:
        return {"none": _interceptor(g, ()), "passive": _interceptor(g, ("passive",))}

    def time_no_interceptor(self) -> None:
        self.fixtures[None]["none"]()

    def time_passive_interceptor(self) -> None:
        self.fixtures[None]["passive"]()


DiagnosticsOverheadAllocatedBytes, DiagnosticsOverheadAllocatedBlocks = allocation_twins(
    "DiagnosticsOverhead", DiagnosticsOverhead.scenarios,
    what="one COMMIT on a fresh engine")

InterceptorOverheadAllocatedBytes, InterceptorOverheadAllocatedBlocks = allocation_twins(
    "InterceptorOverhead",
    {"no_interceptor": lambda g: _interceptor(g, ()),
     "passive_interceptor": lambda g: _interceptor(g, ("passive",))},
    what="one COMMIT on a reused engine")

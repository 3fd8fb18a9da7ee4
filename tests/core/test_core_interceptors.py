"""The interceptor base class and the pipeline that runs interceptors in order."""

from __future__ import annotations

import pytest

from governance.core import (
    ChangeSet,
    Interceptor,
    InterceptorBase,
    InterceptorPipeline,
    MutationContext,
    MutationIntent,
    PolicyDecision,
)
from governance.errors import MissingArgumentError
from tests.core.core_support import HookCall, RecordingInterceptor

INTENT = MutationIntent.create("Op", "Cat")
CONTEXT = MutationContext.system("test")


class Passive(InterceptorBase):
    pass


def test_interceptor_base_is_named_after_its_class_runs_first_and_does_nothing() -> None:
    passive = Passive()

    assert passive.name == "Passive"
    assert passive.order == 0
    assert passive.should_run(INTENT, CONTEXT) is True
    passive.on_before_mutation(INTENT, CONTEXT, 1, "e")
    passive.on_after_mutation(INTENT, CONTEXT, 1, 2, ChangeSet(), "e")
    passive.on_mutation_failed(INTENT, CONTEXT, 1, ValueError("x"), "e")
    passive.on_policy_blocked(INTENT, CONTEXT, 1, PolicyDecision.deny("no"), "e")
    assert isinstance(passive, Interceptor)


def test_pipeline_runs_interceptors_by_ascending_order_keeping_registration_order_on_ties() -> None:
    calls: list[HookCall] = []
    pipeline = InterceptorPipeline()
    for label, order in [("late", 10), ("first-zero", 0), ("early", -5), ("second-zero", 0)]:
        pipeline.register(RecordingInterceptor(label, order, calls))

    pipeline.run_before(INTENT, CONTEXT, 1, "exec-1")

    assert [c.interceptor for c in calls] == ["early", "first-zero", "second-zero", "late"]
    assert [i.name for i in pipeline.snapshot] == [c.interceptor for c in calls]
    assert len(pipeline) == 4


def test_each_pipeline_hook_reaches_the_matching_interceptor_hook() -> None:
    recorder = RecordingInterceptor()
    pipeline = InterceptorPipeline()
    pipeline.register(recorder)
    changes = ChangeSet()
    decision = PolicyDecision.deny("no")
    error = ValueError("boom")

    pipeline.run_before(INTENT, CONTEXT, 1, "e")
    pipeline.run_after(INTENT, CONTEXT, 1, 2, changes, "e")
    pipeline.run_failed(INTENT, CONTEXT, 1, error, "e")
    pipeline.run_policy_blocked(INTENT, CONTEXT, 1, decision, "e")

    assert recorder.hooks() == ["before", "after", "failed", "blocked"]
    assert recorder.calls[1].args == {"old_state": 1, "new_state": 2, "changes": changes}
    assert recorder.calls[2].args["exception"] is error
    assert recorder.calls[3].args["decision"] is decision


def test_interceptors_that_decline_are_skipped() -> None:
    calls: list[HookCall] = []
    pipeline = InterceptorPipeline()
    pipeline.register(RecordingInterceptor("no", calls=calls, run=False))
    pipeline.register(RecordingInterceptor("yes", calls=calls))

    pipeline.run_before(INTENT, CONTEXT, 1, "e")
    pipeline.run_failed(INTENT, CONTEXT, 1, ValueError(), "e")

    assert [c.interceptor for c in calls] == ["yes", "yes"]


def test_unregister_removes_interceptors_by_name() -> None:
    pipeline = InterceptorPipeline()
    pipeline.register(RecordingInterceptor("a"))
    pipeline.register(RecordingInterceptor("b"))

    assert pipeline.unregister("a") is True
    assert pipeline.unregister("a") is False
    assert [i.name for i in pipeline.snapshot] == ["b"]


def test_a_snapshot_taken_before_a_registration_does_not_change() -> None:
    pipeline = InterceptorPipeline()
    pipeline.register(RecordingInterceptor("a"))
    snapshot = pipeline.snapshot

    pipeline.register(RecordingInterceptor("b"))
    pipeline.unregister("a")

    assert [i.name for i in snapshot] == ["a"]
    assert isinstance(snapshot, tuple)


def test_pipeline_refuses_a_none_interceptor() -> None:
    with pytest.raises(MissingArgumentError):
        InterceptorPipeline().register(None)  # type: ignore[arg-type]


def test_a_hook_that_raises_stops_the_later_interceptors() -> None:
    calls: list[HookCall] = []
    pipeline = InterceptorPipeline()
    pipeline.register(RecordingInterceptor("first", 0, calls, fail_before=RuntimeError("x")))
    pipeline.register(RecordingInterceptor("second", 1, calls))

    with pytest.raises(RuntimeError):
        pipeline.run_before(INTENT, CONTEXT, 1, "e")

    assert [c.interceptor for c in calls] == ["first"]

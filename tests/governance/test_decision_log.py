"""A request's decision history is shared between snapshots without ever changing a view."""

from __future__ import annotations

import threading

import pytest

from governance import (
    DecisionLog,
    LifecycleDecision,
    MutationContext,
    MutationIntent,
    MutationRequest,
    RequestDecision,
)

ACTOR = MutationContext.user("log-tester")


def _decision(reason: str) -> RequestDecision:
    return RequestDecision.lifecycle(LifecycleDecision.PENDING, ACTOR, reason)


def test_appending_returns_a_longer_log_and_leaves_the_original_as_it_was() -> None:
    first = DecisionLog([_decision("a")])
    second = first.appended(_decision("b"))

    assert len(first) == 1
    assert [d.reason for d in second] == ["a", "b"]
    assert first == (first[0],)


def test_appending_to_an_older_view_copies_instead_of_changing_the_newer_one() -> None:
    base = DecisionLog([_decision("a")])
    newer = base.appended(_decision("b"))
    forked = base.appended(_decision("c"))

    assert [d.reason for d in newer] == ["a", "b"]
    assert [d.reason for d in forked] == ["a", "c"]
    assert [d.reason for d in base] == ["a"]


def test_concurrent_appends_to_one_view_each_see_only_their_own_decision() -> None:
    base = DecisionLog([_decision("root")])
    results: list[DecisionLog] = []
    barrier = threading.Barrier(8)

    def append(index: int) -> None:
        barrier.wait()
        results.append(base.appended(_decision(f"t{index}")))

    threads = [threading.Thread(target=append, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(log[-1].reason or "" for log in results) == [f"t{i}" for i in range(8)]
    assert all(len(log) == 2 and log[0].reason == "root" for log in results)


def test_indexing_and_slicing_respect_the_view_length() -> None:
    base = DecisionLog([_decision("a"), _decision("b")])
    longer = base.appended(_decision("c"))

    assert base[-1].reason == "b"
    assert [d.reason for d in base[0:5]] == ["a", "b"]
    with pytest.raises(IndexError):
        base[2]
    assert longer[2].reason == "c"


def test_a_request_with_a_shared_history_round_trips_through_json() -> None:
    request = MutationRequest.approved("state-1", "S", "M", MutationIntent.create("op", "cat"),
                                       ACTOR)
    grown = request.with_decision(_decision("review"))

    restored = MutationRequest.model_validate_json(grown.model_dump_json())

    assert restored == grown
    assert isinstance(restored.decisions, DecisionLog)
    assert len(request.decisions) == 2 and len(grown.decisions) == 3

"""A request's decision history is shared between snapshots without ever changing a view."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable

import pytest

from governance import (
    DecisionLog,
    DecisionType,
    InvalidArgumentError,
    LifecycleDecision,
    MutationContext,
    MutationIntent,
    MutationRequest,
    RequestDecision,
)
from governance._models import evolve
from governance.decisions import (
    DecisionValues,
    _SharedItems,
    decision_record,
    owned_decision,
)
from governance.requests import next_snapshot
from governance.testing import BASE_TIME, approved_request

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


# -- decisions the runtime appends as their values ------------------------------------------

RUNNER = MutationContext.system("runner")


def _values(reason: str) -> DecisionValues:
    return owned_decision(DecisionType.lifecycle(LifecycleDecision.EXECUTED), RUNNER, reason,
                          {"Key": reason}, BASE_TIME)


def test_appended_values_read_as_the_records_they_stand_for() -> None:
    log = DecisionLog([_decision("a")]).appended(_values("b"), _values("c"))

    expected = [decision_record(_values(r)) for r in "bc"]
    assert list(log)[1:] == expected
    assert log[-1] == expected[-1]
    assert log[1:] == tuple(expected)
    assert all(isinstance(d, RequestDecision) for d in log)


def test_a_decision_read_once_is_the_same_object_in_every_view() -> None:
    first = DecisionLog().appended(_values("a"))
    second = first.appended(_values("b"))

    assert second[0] is first[0]
    assert next(iter(first)) is next(iter(second))
    assert second[1] is second[1]


def test_a_log_with_values_serializes_and_compares_as_its_records() -> None:
    request = approved_request(request_id="req-values")
    log = request.decisions.appended(_values("done"))
    snapshot = evolve(request, decisions=log)

    restored = MutationRequest.model_validate_json(snapshot.model_dump_json())

    assert restored.decisions == snapshot.decisions
    assert restored == snapshot


def test_concurrent_first_reads_get_one_record() -> None:
    log = DecisionLog().appended(*[_values(str(i)) for i in range(50)])
    seen: list[list[RequestDecision]] = []
    start = threading.Barrier(4)

    def read() -> None:
        start.wait()
        seen.append([log[i] for i in range(50)])

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(a is b for reads in seen for a, b in zip(reads, list(log), strict=True))


def test_next_snapshot_checks_the_time_of_appended_values() -> None:
    request = approved_request(request_id="req-naive")
    naive = owned_decision(DecisionType.lifecycle(LifecycleDecision.EXECUTED),
                           MutationContext.system("runner"), "done", {},
                           BASE_TIME.replace(tzinfo=None))

    with pytest.raises(InvalidArgumentError, match=r"req-naive.*without a timezone"):
        next_snapshot(request, (naive,), touch=False)


def test_a_forked_view_builds_the_values_it_copied() -> None:
    base = DecisionLog().appended(_values("a"))
    newer = base.appended(_values("b"))
    forked = base.appended(_values("c"))

    assert [d.reason for d in forked] == ["a", "c"]
    assert [d.reason for d in newer] == ["a", "b"]
    assert all(isinstance(d, RequestDecision) for log in (base, newer, forked) for d in log)


def test_appends_racing_on_one_log_each_get_exactly_their_history() -> None:
    # Appends take no lock (DecisionLog.appended_counted): writers race to extend the newest
    # log, one of them becomes the new head (as the store's compare-and-set would decide), the
    # others' logs are kept too; readers iterate the head all along. The interpreter switches
    # threads as often as it can.
    root = DecisionLog([_decision("root")])
    head = [root]
    head_lock = threading.Lock()
    made: list[tuple[DecisionLog, list[str]]] = [(root, ["root"])]
    expected = {id(root): ["root"]}
    failures: list[str] = []
    writers, rounds = 6, 150
    start = threading.Barrier(writers + 2)
    stop = threading.Event()

    def write(index: int) -> None:
        start.wait()
        for round_ in range(rounds):
            with head_lock:
                current = head[0]
                before = expected[id(current)]
            added = [f"w{index}-{round_}"] if round_ % 3 else [f"w{index}-{round_}a",
                                                               f"w{index}-{round_}b"]
            log = current.appended(*[_values(reason) if round_ % 2 else _decision(reason)
                                     for reason in added])
            with head_lock:
                made.append((log, before + added))
                expected[id(log)] = before + added
                if head[0] is current:
                    head[0] = log

    def read() -> None:
        start.wait()
        while not stop.is_set():
            with head_lock:
                current = head[0]
            if any(not isinstance(d, RequestDecision) for d in current):
                failures.append("a log returned a decision's values instead of its record")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    readers = [threading.Thread(target=read) for _ in range(2)]
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads + readers:
            thread.start()
        for thread in threads:
            thread.join()
        stop.set()
        for thread in readers:
            thread.join()
    finally:
        sys.setswitchinterval(previous)

    assert not failures
    assert len(made) == writers * rounds + 1
    for log, reasons in made:
        assert [d.reason for d in log] == reasons
        assert len(log) == len(reasons) and log[-1].reason == reasons[-1]


class _RivalFirst(_SharedItems):
    """A shared list on which another writer's extend lands between a writer's length check
    and its own extend (the interleaving a thread switch can make)."""

    __slots__ = ("rival",)

    def __iadd__(self, decisions: Iterable[object]) -> _RivalFirst:  # type: ignore[misc]
        # ``DecisionLog.extended`` extends the shared list with ``+=``.
        rival, self.rival = self.rival, None
        if rival is not None:
            self.extend(rival)
        self.extend(decisions)
        return self


def _with_rival(log: DecisionLog, rival: list[object]) -> DecisionLog:
    items = _RivalFirst(log._items)
    items.built, items.rival = log._items.built, rival
    log._items = items
    return log


@pytest.mark.parametrize("rival_starts_with_ours", [False, True])
def test_a_writer_whose_extend_lands_after_a_rivals_copies_its_prefix(
        rival_starts_with_ours: bool) -> None:
    base = DecisionLog([_decision("root")])
    ours = (_values("ours-1"), _values("ours-2"))
    rival = [ours[0] if rival_starts_with_ours else _values("rival-1"), _values("rival-2")]
    log = _with_rival(base, rival)

    appended = log.appended(*ours)

    assert [d.reason for d in appended] == ["root", "ours-1", "ours-2"]
    assert appended._items is not log._items  # the loser copied its prefix
    assert [d.reason for d in log] == ["root"]

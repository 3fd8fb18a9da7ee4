"""The ``RequestStore`` contract, written once and run against every store implementation.

A store implementation gets the whole contract with one subclass that provides ``make_store``::

    class TestMyRequestStore(RequestStoreContract):
        def make_store(self) -> RequestStore:
            return MyRequestStore(...)

The class has no ``Test`` prefix, so pytest collects it only through its subclasses.
"""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest

from governance import (
    GovernanceError,
    InvalidArgumentError,
    MissingArgumentError,
    MutationRequest,
    PendingReason,
    RequestAlreadyExistsError,
    RequestConcurrencyError,
    RequestNotFoundError,
    RequestScope,
    RequestStatus,
    RequestStore,
)
from tests.governance.conftest import (
    BASE_TIME,
    STATE_ID,
    approved_request,
    pending_request,
)

RACE_THREADS = 8
RACE_ROUNDS = 50


def _with_status(request: MutationRequest, status: RequestStatus,
                 reason: PendingReason | None = None) -> MutationRequest:
    lifecycle = request.lifecycle.model_copy(update={"status": status, "pending_reason": reason})
    return request.model_copy(update={"lifecycle": lifecycle})


def _with_note(request: MutationRequest, note: str) -> MutationRequest:
    return request.model_copy(update={"metadata": {**request.metadata, "Note": note}})


class RequestStoreContract:
    """Behaviour every ``RequestStore`` must have. Subclasses implement ``make_store``."""

    def make_store(self) -> RequestStore:
        """A new, empty store of the implementation under test."""
        raise NotImplementedError

    @pytest.fixture
    def store(self) -> RequestStore:
        return self.make_store()

    # -- create / get -------------------------------------------------------------------------

    def test_create_stores_the_request_at_revision_zero_whatever_revision_it_carries(
            self, store: RequestStore) -> None:
        request = approved_request().model_copy(update={"revision": 7})

        created = store.create(request)

        assert created.revision == 0
        assert created.model_copy(update={"revision": 7}) == request
        assert store.get(request.request_id) == created
        assert len(store) == 1

    def test_get_answers_none_for_an_unknown_id(self, store: RequestStore) -> None:
        store.create(approved_request())

        assert store.get("no-such-request") is None

    def test_creating_a_duplicate_id_is_refused_and_keeps_the_stored_request(
            self, store: RequestStore) -> None:
        original = store.create(approved_request(request_id="req-dup"))
        store.try_store(_with_note(original, "first write"), 0)
        before = store.get("req-dup")

        with pytest.raises(RequestAlreadyExistsError) as raised:
            store.create(pending_request(request_id="req-dup"))

        assert isinstance(raised.value, GovernanceError)
        assert raised.value.request_id == "req-dup"
        assert "req-dup" in str(raised.value)
        assert store.get("req-dup") == before
        assert store.get("req-dup").revision == 1
        assert len(store) == 1

    def test_creating_none_is_refused_as_a_missing_argument(self, store: RequestStore) -> None:
        with pytest.raises(MissingArgumentError) as raised:
            store.create(None)  # type: ignore[arg-type]

        assert isinstance(raised.value, TypeError)
        assert len(store) == 0

    # -- try_store ----------------------------------------------------------------------------

    def test_try_store_at_the_stored_revision_replaces_the_snapshot_and_bumps_the_revision(
            self, store: RequestStore) -> None:
        created = store.create(approved_request())
        changed = _with_note(created, "second look")

        stored = store.try_store(changed, 0)

        assert stored is not None
        assert stored.revision == 1
        assert stored.metadata["Note"] == "second look"
        assert store.get(created.request_id) == stored

    def test_try_store_ignores_the_revision_carried_by_the_incoming_request(
            self, store: RequestStore) -> None:
        created = store.create(approved_request())

        stored = store.try_store(_with_note(created, "x").model_copy(update={"revision": 41}), 0)

        assert stored is not None
        assert stored.revision == 1
        assert store.get(created.request_id).revision == 1

    def test_successive_writes_each_bump_the_revision_by_one(self, store: RequestStore) -> None:
        current = store.create(approved_request())

        for expected in range(1, 6):
            current = store.try_store(_with_note(current, str(expected)), current.revision)
            assert current is not None
            assert current.revision == expected

        assert store.get(current.request_id) == current

    def test_try_store_at_a_stale_revision_answers_none_and_changes_nothing(
            self, store: RequestStore) -> None:
        created = store.create(approved_request())
        first = store.try_store(_with_note(created, "winner"), 0)

        stale = store.try_store(_with_note(created, "loser"), 0)

        assert stale is None
        assert store.get(created.request_id) == first
        assert store.get(created.request_id).revision == 1
        assert store.get(created.request_id).metadata["Note"] == "winner"

    def test_try_store_at_a_future_revision_answers_none_and_changes_nothing(
            self, store: RequestStore) -> None:
        created = store.create(approved_request())

        assert store.try_store(_with_note(created, "ahead"), 3) is None
        assert store.get(created.request_id) == created

    def test_try_store_of_an_unknown_id_answers_none_and_stores_nothing(
            self, store: RequestStore) -> None:
        existing = store.create(approved_request())

        assert store.try_store(approved_request(request_id="never-created"), 0) is None
        assert store.get("never-created") is None
        assert len(store) == 1
        assert store.get(existing.request_id) == existing

    def test_try_store_of_none_is_refused_as_a_missing_argument(self, store: RequestStore) -> None:
        with pytest.raises(MissingArgumentError):
            store.try_store(None, 0)  # type: ignore[arg-type]

    # -- require / store_next -----------------------------------------------------------------

    def test_require_returns_the_stored_snapshot(self, store: RequestStore) -> None:
        created = store.create(approved_request())

        assert store.require(created.request_id) == created

    @pytest.mark.parametrize("blank", ["", "   ", None])
    def test_require_refuses_a_blank_id(self, store: RequestStore, blank: str | None) -> None:
        with pytest.raises(InvalidArgumentError) as raised:
            store.require(blank)  # type: ignore[arg-type]

        assert isinstance(raised.value, ValueError)

    def test_require_of_an_unknown_id_raises_not_found_naming_it(
            self, store: RequestStore) -> None:
        with pytest.raises(RequestNotFoundError) as raised:
            store.require("req-missing")

        assert isinstance(raised.value, LookupError)
        assert raised.value.request_id == "req-missing"
        assert "req-missing" in str(raised.value)

    def test_store_next_at_a_stale_revision_raises_concurrency_with_the_expected_revision(
            self, store: RequestStore) -> None:
        created = store.create(approved_request(request_id="req-stale"))
        winner = store.store_next(_with_note(created, "winner"), 0)

        with pytest.raises(RequestConcurrencyError) as raised:
            store.store_next(_with_note(created, "loser"), 0)

        assert raised.value.request_id == "req-stale"
        assert raised.value.expected_revision == 0
        assert "req-stale" in str(raised.value)
        assert store.get("req-stale") == winner

    def test_store_next_of_an_unknown_id_raises_not_found(self, store: RequestStore) -> None:
        with pytest.raises(RequestNotFoundError) as raised:
            store.store_next(approved_request(request_id="req-ghost"), 0)

        assert raised.value.request_id == "req-ghost"
        assert store.get("req-ghost") is None

    # -- ordering and indexes -----------------------------------------------------------------

    def test_all_orders_requests_by_creation_time_then_id(self, store: RequestStore) -> None:
        t0, t1 = BASE_TIME, BASE_TIME + timedelta(minutes=1)
        specs = [("req-b", t1), ("req-c", t0), ("req-a", t1), ("req-d", t0)]
        shuffled = specs[:]
        random.Random(7).shuffle(shuffled)
        for request_id, created_at in shuffled:
            store.create(approved_request(request_id=request_id, now=created_at))

        assert [r.request_id for r in store.all()] == ["req-c", "req-d", "req-a", "req-b"]

    def test_get_by_state_id_returns_only_that_state_in_creation_order(
            self, store: RequestStore) -> None:
        store.create(approved_request(request_id="req-2", now=BASE_TIME + timedelta(seconds=2)))
        store.create(approved_request(request_id="other", state_id="other-state", now=BASE_TIME))
        store.create(pending_request(request_id="req-1", now=BASE_TIME + timedelta(seconds=1)))

        assert [r.request_id for r in store.get_by_state_id(STATE_ID)] == ["req-1", "req-2"]
        assert [r.request_id for r in store.get_by_state_id("other-state")] == ["other"]
        assert store.get_by_state_id("nobody") == []

    def test_get_pending_returns_pending_requests_filtered_by_reason_in_order(
            self, store: RequestStore) -> None:
        store.create(pending_request(PendingReason.QUOTA, request_id="quota",
                                     now=BASE_TIME + timedelta(seconds=3)))
        store.create(pending_request(PendingReason.SCHEDULE, request_id="schedule",
                                     now=BASE_TIME + timedelta(seconds=1)))
        store.create(pending_request(PendingReason.QUOTA, request_id="quota-early",
                                     state_id="other-state", now=BASE_TIME))
        store.create(approved_request(request_id="approved", now=BASE_TIME))

        assert [r.request_id for r in store.get_pending()] == ["quota-early", "schedule", "quota"]
        assert [r.request_id for r in store.get_pending(PendingReason.QUOTA)] == [
            "quota-early", "quota"]
        assert store.get_pending(PendingReason.APPROVAL) == []

    def test_get_pending_by_state_id_combines_state_status_and_reason(
            self, store: RequestStore) -> None:
        store.create(pending_request(PendingReason.QUOTA, request_id="mine-quota"))
        store.create(pending_request(PendingReason.SCHEDULE, request_id="mine-schedule"))
        store.create(pending_request(PendingReason.QUOTA, request_id="theirs",
                                     state_id="other-state"))
        store.create(approved_request(request_id="mine-approved"))

        assert {r.request_id for r in store.get_pending_by_state_id(STATE_ID)} == {
            "mine-quota", "mine-schedule"}
        assert [r.request_id for r in store.get_pending_by_state_id(
            STATE_ID, PendingReason.QUOTA)] == ["mine-quota"]
        assert store.get_pending_by_state_id("nobody") == []

    def test_pending_queries_follow_a_write_that_changes_the_status(
            self, store: RequestStore) -> None:
        pending = store.create(pending_request(PendingReason.QUOTA, request_id="req-p"))
        approved = store.create(approved_request(request_id="req-a"))

        store.try_store(_with_status(pending, RequestStatus.APPROVED), 0)
        store.try_store(_with_status(approved, RequestStatus.PENDING, PendingReason.SCHEDULE), 0)

        assert [r.request_id for r in store.get_pending()] == ["req-a"]
        assert store.get_pending(PendingReason.QUOTA) == []
        assert [r.request_id for r in store.get_pending(PendingReason.SCHEDULE)] == ["req-a"]
        assert [r.request_id for r in store.get_pending_by_state_id(STATE_ID)] == ["req-a"]

    def test_state_id_index_follows_a_write_that_moves_the_request(
            self, store: RequestStore) -> None:
        created = store.create(approved_request(request_id="req-move"))
        moved = created.model_copy(update={"scope": RequestScope(
            state_id="new-state", state_type="VersionedState",
            mutation_type="IncrementMutation")})

        store.try_store(moved, 0)

        assert store.get_by_state_id(STATE_ID) == []
        assert [r.request_id for r in store.get_by_state_id("new-state")] == ["req-move"]
        assert store.get_by_state_id("new-state")[0].revision == 1

    def test_queries_return_the_latest_snapshots(self, store: RequestStore) -> None:
        created = store.create(pending_request(request_id="req-latest"))
        latest = store.try_store(_with_note(created, "v2"), 0)

        assert store.get_by_state_id(STATE_ID) == [latest]
        assert store.get_pending() == [latest]
        assert store.all() == [latest]

    def test_a_stale_write_does_not_change_any_index(self, store: RequestStore) -> None:
        created = store.create(pending_request(request_id="req-idx"))
        store.try_store(_with_note(created, "fresh"), 0)

        assert store.try_store(_with_status(created, RequestStatus.APPROVED), 0) is None

        assert [r.request_id for r in store.get_pending()] == ["req-idx"]
        assert store.get_pending()[0].revision == 1

    # -- concurrency --------------------------------------------------------------------------

    def test_writers_racing_from_one_revision_produce_exactly_one_winner(
            self, store: RequestStore) -> None:
        current = store.create(approved_request(request_id="req-race"))
        for round_no in range(RACE_ROUNDS):
            barrier = threading.Barrier(RACE_THREADS)
            results: list[MutationRequest | None] = [None] * RACE_THREADS
            base = current

            def write(slot: int, base: MutationRequest = base,
                      barrier: threading.Barrier = barrier,
                      results: list[MutationRequest | None] = results) -> None:
                candidate = _with_note(base, f"writer-{slot}")
                barrier.wait()
                results[slot] = store.try_store(candidate, base.revision)

            threads = [threading.Thread(target=write, args=(i,)) for i in range(RACE_THREADS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

            winners = [r for r in results if r is not None]
            assert len(winners) == 1, f"round {round_no}: {len(winners)} winners"
            current = store.get("req-race")
            assert current == winners[0]
            assert current.revision == round_no + 1

    def test_creators_racing_on_one_id_produce_exactly_one_request(
            self, store: RequestStore) -> None:
        for round_no in range(RACE_ROUNDS):
            request_id = f"req-create-{round_no}"
            barrier = threading.Barrier(RACE_THREADS)
            outcomes: list[object] = [None] * RACE_THREADS

            def create(slot: int, request_id: str = request_id,
                       barrier: threading.Barrier = barrier,
                       outcomes: list[object] = outcomes) -> None:
                candidate = _with_note(approved_request(request_id=request_id), f"c-{slot}")
                barrier.wait()
                try:
                    outcomes[slot] = store.create(candidate)
                except RequestAlreadyExistsError as error:
                    outcomes[slot] = error

            threads = [threading.Thread(target=create, args=(i,)) for i in range(RACE_THREADS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

            created = [o for o in outcomes if isinstance(o, MutationRequest)]
            refused = [o for o in outcomes if isinstance(o, RequestAlreadyExistsError)]
            assert len(created) == 1
            assert len(refused) == RACE_THREADS - 1
            assert store.get(request_id) == created[0]
        assert len(store) == RACE_ROUNDS

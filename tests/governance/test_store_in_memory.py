"""The request-store and query-store contracts run against ``InMemoryRequestStore``."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from governance import (
    InMemoryRequestStore,
    MutationRequest,
    RequestConcurrencyError,
    RequestNotFoundError,
    RequestStore,
)
from governance._models import evolve
from governance.testing import (
    BASE_TIME,
    RequestQueryStoreContract,
    RequestStoreContract,
    approved_request,
)


class TestInMemoryRequestStore(RequestStoreContract, RequestQueryStoreContract):
    """The in-memory store keeps the whole ``RequestStore`` and ``RequestQueryStore``
    contracts."""

    def make_store(self) -> RequestStore:
        return InMemoryRequestStore()

    def test_iterating_the_store_yields_every_request_in_creation_order(self) -> None:
        store = InMemoryRequestStore()

        store.create(approved_request(request_id="b", now=BASE_TIME))
        store.create(approved_request(request_id="a", now=BASE_TIME))

        assert [r.request_id for r in store] == ["a", "b"]


def _completes(call: Callable[[], object]) -> bool:
    """Whether ``call`` returns (or raises) within five seconds on another thread: a lock left
    held by an earlier failure would block it for good."""
    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(5)
    return not worker.is_alive()


def test_a_write_that_fails_inside_the_store_leaves_it_as_it_was_and_writable() -> None:
    store = InMemoryRequestStore()
    stored = store.create(approved_request(request_id="r-1", now=BASE_TIME))
    # A snapshot whose scope is not a RequestScope fails while the store reads it for its
    # indexes, with the store's lock held.
    broken = evolve(stored, scope=object(), revision=1)

    with pytest.raises(AttributeError):
        store.try_store(broken, 0)

    assert store.require("r-1") is stored
    written: list[object] = []
    assert _completes(lambda: written.append(store.store_next(evolve(stored, revision=1), 0)))
    assert store.require("r-1").revision == 1 and written == [store.require("r-1")]


def test_an_append_that_fails_inside_the_decision_log_leaves_it_appendable() -> None:
    log = approved_request(request_id="r-1", now=BASE_TIME).decisions
    decision = log[0]

    with pytest.raises(TypeError):
        log.extended(None)  # type: ignore[arg-type]

    appended: list[object] = []
    assert _completes(lambda: appended.append(log.appended(decision)))
    assert len(log) == 2 and list(appended[0]) == [*log, decision]  # type: ignore[call-overload]


def test_a_refused_compare_and_set_leaves_the_store_as_it_was_and_writable() -> None:
    store = InMemoryRequestStore()
    stored = store.create(approved_request(request_id="r-cas", now=BASE_TIME))

    with pytest.raises(RequestConcurrencyError, match="r-cas"):
        store.store_next(evolve(stored, revision=6), 5)
    assert store.try_store(evolve(stored, revision=6), 5) is None
    with pytest.raises(RequestNotFoundError, match="r-missing"):
        store.store_next(evolve(stored, request_id="r-missing", revision=1), 0)
    assert store.try_store(evolve(stored, request_id="r-missing", revision=1), 0) is None

    assert store.require("r-cas") is stored and len(store) == 1
    assert _completes(lambda: store.store_next(evolve(stored, revision=1), 0))
    assert store.require("r-cas").revision == 1


def test_a_subclass_that_writes_through_its_own_try_store_gets_a_store_next_that_calls_it() -> None:
    class CountingStore(InMemoryRequestStore):
        def __init__(self) -> None:
            super().__init__()
            self.writes = 0

        def try_store(self, request: MutationRequest, expected_revision: int
                      ) -> MutationRequest | None:
            self.writes += 1
            return super().try_store(request, expected_revision)

    store = CountingStore()
    stored = store.create(approved_request(request_id="r-sub", now=BASE_TIME))

    written = store.store_next(evolve(stored, revision=1), 0)
    with pytest.raises(RequestConcurrencyError):
        store.store_next(evolve(stored, revision=1), 0)

    assert store.writes == 2 and store.require("r-sub") is written
    assert InMemoryRequestStore.store_next is not RequestStore.store_next


def test_get_answers_from_the_dict_unless_a_subclass_has_its_own_get() -> None:
    class AuditedStore(InMemoryRequestStore):
        def __init__(self) -> None:
            super().__init__()
            self.asked: list[str] = []

        def get(self, request_id: str) -> MutationRequest | None:
            self.asked.append(request_id)
            return super().get(request_id)

    plain, audited = InMemoryRequestStore(), AuditedStore()
    for store in (plain, audited):
        stored = store.create(approved_request(request_id="r-get", now=BASE_TIME))
        assert store.get("r-get") is stored and store.get("r-none") is None
        assert store.require("r-get") is stored
        with pytest.raises(RequestNotFoundError, match="r-none"):
            store.require("r-none")

    assert audited.asked[:2] == ["r-get", "r-none"]

"""The request-store and query-store contracts run against ``InMemoryRequestStore``."""

from __future__ import annotations

from governance import InMemoryRequestStore, RequestStore
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

"""The store contracts of ``governance.testing`` serve a store written outside the package.

``DictRequestStore`` is such a store: a plain dict behind one lock, using nothing but the public
API, as a store in another repository would. One subclass providing ``make_store`` runs both
contracts on it, under pytest and under unittest; and the contract fails a store that breaks it.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import unittest

import pytest

from governance import (
    ApprovalQuery,
    ApprovalView,
    DecisionQuery,
    DecisionView,
    InvalidArgumentError,
    MissingArgumentError,
    MutationRequest,
    MutationRequestQuery,
    PendingReason,
    RequestAlreadyExistsError,
    RequestQueryStore,
    RequestStatus,
    RequestStore,
    select_pending_approvals,
    select_recent_approvals,
    select_recent_decisions,
    select_requests,
)
from governance.testing import RequestQueryStoreContract, RequestStoreContract


class DictRequestStore(RequestStore, RequestQueryStore):
    """The least a store can be: every lookup scans and sorts the whole dict."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[str, MutationRequest] = {}

    def create(self, request: MutationRequest) -> MutationRequest:
        if request is None:
            raise MissingArgumentError("cannot create a None request")
        stored = request.model_copy(update={"revision": 0})
        with self._lock:
            if request.request_id in self._requests:
                raise RequestAlreadyExistsError(request.request_id)
            self._requests[request.request_id] = stored
        return stored

    def try_store(self, request: MutationRequest, expected_revision: int) -> MutationRequest | None:
        if request is None:
            raise MissingArgumentError("cannot store a None request")
        if type(expected_revision) is not int:
            raise InvalidArgumentError(f"request '{request.request_id}' needs an int revision")
        with self._lock:
            current = self._requests.get(request.request_id)
            if current is None or current.revision != expected_revision:
                return None
            stored = request.model_copy(update={"revision": expected_revision + 1})
            self._requests[request.request_id] = stored
        return stored

    def get(self, request_id: str) -> MutationRequest | None:
        with self._lock:
            return self._requests.get(request_id)

    def all(self) -> list[MutationRequest]:
        with self._lock:
            found = list(self._requests.values())
        return sorted(found, key=lambda r: (r.lifecycle.created_at, r.request_id))

    def get_by_state_id(self, state_id: str) -> list[MutationRequest]:
        return [r for r in self.all() if r.state_id == state_id]

    def get_pending(self, reason: PendingReason | None = None) -> list[MutationRequest]:
        return [r for r in self.all() if r.status == RequestStatus.PENDING
                and (reason is None or r.pending_reason == reason)]

    def get_pending_by_state_id(
        self, state_id: str, reason: PendingReason | None = None
    ) -> list[MutationRequest]:
        return [r for r in self.get_pending(reason) if r.state_id == state_id]

    def __len__(self) -> int:
        with self._lock:
            return len(self._requests)

    def query(self, query: MutationRequestQuery) -> list[MutationRequest]:
        return select_requests(self.all(), query)

    def get_pending_requests(
        self, query: MutationRequestQuery | None = None
    ) -> list[MutationRequest]:
        return select_requests(self.get_pending(), query)

    def get_pending_approval_queue(
        self, query: MutationRequestQuery | None = None
    ) -> list[MutationRequest]:
        return select_requests(self.get_pending(PendingReason.APPROVAL), query)

    def get_recent_approvals(
        self, query: MutationRequestQuery | None = None, take: int | None = None
    ) -> list[MutationRequest]:
        return select_recent_approvals(self.all(), query, take)

    def get_pending_approvals(self, query: ApprovalQuery | None = None) -> list[ApprovalView]:
        return select_pending_approvals(
            self.all(), ApprovalQuery.pending() if query is None else query)

    def get_recent_decisions(
        self, query: DecisionQuery | None = None, take: int | None = None
    ) -> list[DecisionView]:
        return select_recent_decisions(self.all(), query, take)


class TestDictRequestStore(RequestStoreContract, RequestQueryStoreContract):
    """The whole contract, from one method."""

    def make_store(self) -> DictRequestStore:
        return DictRequestStore()


def test_the_contract_runs_every_test_on_the_outside_store() -> None:
    names = [n for n in dir(TestDictRequestStore) if n.startswith("test_")]

    assert len(names) >= 40
    assert {n for n in dir(RequestStoreContract) if n.startswith("test_")} <= set(names)
    assert {n for n in dir(RequestQueryStoreContract) if n.startswith("test_")} <= set(names)


class LastWriterWinsStore(DictRequestStore):
    """A store that forgets the compare in compare-and-set."""

    def try_store(self, request: MutationRequest, expected_revision: int) -> MutationRequest | None:
        current = self.get(request.request_id)
        if current is None:
            return None
        return super().try_store(request, current.revision)


class UnorderedStore(DictRequestStore):
    """A store that lists requests in insertion order instead of creation time then id."""

    def all(self) -> list[MutationRequest]:
        with self._lock:
            return list(self._requests.values())


class UnfilteredQueueStore(DictRequestStore):
    """A store whose approval queue holds every pending request, whatever it waits for."""

    def get_pending_approval_queue(
        self, query: MutationRequestQuery | None = None
    ) -> list[MutationRequest]:
        return select_requests(self.get_pending(), query)


@pytest.mark.parametrize(
    ("store_class", "contract_test"),
    [
        (LastWriterWinsStore,
         "test_try_store_at_a_stale_revision_answers_none_and_changes_nothing"),
        (LastWriterWinsStore,
         "test_writers_racing_from_one_revision_produce_exactly_one_winner"),
        (UnorderedStore, "test_all_orders_requests_by_creation_time_then_id"),
        (UnfilteredQueueStore,
         "test_the_approval_queue_holds_requests_pending_for_approval_in_creation_order"),
    ],
)
def test_the_contract_fails_a_store_that_breaks_it(
    store_class: type[DictRequestStore], contract_test: str
) -> None:
    class Broken(RequestStoreContract, RequestQueryStoreContract):
        def make_store(self) -> DictRequestStore:
            return store_class()

    with pytest.raises(AssertionError):
        getattr(Broken(), contract_test)()
    getattr(TestDictRequestStore(), contract_test)()  # the same check passes a sound store


def test_the_contract_runs_under_unittest_too() -> None:
    class DictStoreCase(RequestStoreContract, unittest.TestCase):
        def make_store(self) -> DictRequestStore:
            return DictRequestStore()

    suite = unittest.defaultTestLoader.loadTestsFromTestCase(DictStoreCase)
    result = unittest.TestResult()
    suite.run(result)

    assert result.testsRun == len([n for n in dir(RequestStoreContract) if n.startswith("test_")])
    assert result.wasSuccessful(), result.failures + result.errors


def test_importing_the_testing_helpers_imports_no_test_framework() -> None:
    code = ("import sys, governance.testing; "
            "print(sorted(m for m in ('pytest', '_pytest', 'unittest') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)

    assert done.stdout.strip() == "[]"

"""Helpers for testing code built on ``governance``, and the store contract suites.

Two parts, both public and importable from here:

- **Fixtures and doubles** (``governance.testing.doubles``): a versioned state
  (``VersionedState``) and ``next_version``, an increment mutation that counts its applications
  (``IncrementMutation`` with ``ApplyCounter``) and its failing variants, policies that deny or
  raise, a controllable clock (``FixedClock``), builders of approved, pending and
  approval-pending requests, and ``RacingStore``, a store where another writer wins the next
  compare-and-set.
- **Store contracts** (``governance.testing.contracts``): ``RequestStoreContract`` (writes,
  optimistic concurrency, lookups and their orderings) and ``RequestQueryStoreContract`` (the
  query store: which requests, approvals and decisions each query returns, in which order). A
  store outside this package gets the whole contract with one subclass that provides
  ``make_store``::

      from governance.testing import RequestQueryStoreContract, RequestStoreContract

      class TestMyRequestStore(RequestStoreContract, RequestQueryStoreContract):
          def make_store(self) -> MyRequestStore:
              return MyRequestStore(...)

  pytest collects the subclass (the contract classes have no ``Test`` prefix, so they are
  never collected on their own); mixed with ``unittest.TestCase`` it runs under ``unittest``
  too. Each ``test_*`` method builds its store with ``make_store`` and checks it with plain
  ``assert`` statements. Under pytest, call ``pytest.register_assert_rewrite("governance.testing")``
  in a ``conftest.py`` (before anything imports this module) for detailed assertion messages.

This package does not import pytest or any other test framework: the contracts raise
``AssertionError`` like any test and need nothing else, so the helpers are usable from scripts,
doctests or any runner.
"""

from governance.testing.contracts import RequestQueryStoreContract, RequestStoreContract
from governance.testing.doubles import (
    BASE_TIME,
    STATE_ID,
    ApplyCounter,
    DenyPolicy,
    FailingMutation,
    FixedClock,
    IncrementMutation,
    RacingStore,
    RaisingPolicy,
    UnsuccessfulMutation,
    VersionedState,
    approval_request,
    approved_request,
    approver,
    governance_context,
    increment_intent,
    mutation_context,
    next_version,
    pending_request,
    request_in_status,
    requester_context,
)

__all__ = [
    "BASE_TIME",
    "STATE_ID",
    "ApplyCounter",
    "DenyPolicy",
    "FailingMutation",
    "FixedClock",
    "IncrementMutation",
    "RacingStore",
    "RaisingPolicy",
    "RequestQueryStoreContract",
    "RequestStoreContract",
    "UnsuccessfulMutation",
    "VersionedState",
    "approval_request",
    "approved_request",
    "approver",
    "governance_context",
    "increment_intent",
    "mutation_context",
    "next_version",
    "pending_request",
    "request_in_status",
    "requester_context",
]

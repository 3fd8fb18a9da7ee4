"""The helpers of ``governance.testing`` do what their docstrings say."""

from __future__ import annotations

import pytest

from governance import (
    EngineOptions,
    GovernanceError,
    InvalidArgumentError,
    MutationEngine,
    PolicyEvaluationError,
)
from governance.testing import (
    IncrementMutation,
    RacingStore,
    RaisingPolicy,
    VersionedState,
    approved_request,
    next_version,
)


@pytest.mark.parametrize(("version", "after"),
                         [("10", "11"), ("v10", "v11"), ("v9", "v10"), ("release-0", "release-1")])
def test_next_version_bumps_the_trailing_number_and_keeps_the_prefix(
        version: str, after: str) -> None:
    assert next_version(version) == after


@pytest.mark.parametrize("version", ["", "v", "10a", None])
def test_next_version_refuses_a_version_without_a_trailing_number(version: str) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        next_version(version)

    assert isinstance(raised.value, GovernanceError)
    assert repr(version) in str(raised.value)


def test_a_raising_policy_fails_the_engine_with_its_name_and_error() -> None:
    error = LookupError("rule table gone")
    engine = MutationEngine(EngineOptions.strict())
    engine.register_policy(RaisingPolicy("fragile", error, priority=0))

    with pytest.raises(PolicyEvaluationError) as raised:
        engine.execute(IncrementMutation(), VersionedState(1, "10"))

    assert raised.value.policy_name == "fragile"
    assert raised.value.__cause__ is error


def test_the_default_raising_policy_raises_a_key_error() -> None:
    policy = RaisingPolicy()

    assert (policy.name, policy.priority) == ("broken-policy", 5)
    with pytest.raises(KeyError):
        policy.evaluate(None, None)


def test_a_racing_store_lets_another_writer_win_once() -> None:
    store = RacingStore()
    created = store.create(approved_request(request_id="req-race"))
    store.interfere_once("req-race")

    assert store.try_store(created, 0) is None
    assert store.get("req-race").metadata["TouchedBy"] == "another writer"
    assert store.try_store(created, 1) is not None

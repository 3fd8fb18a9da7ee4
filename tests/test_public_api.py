"""The curated public API: ``governance.__all__`` is sorted, complete and documented."""

from __future__ import annotations

import inspect

import pytest

import governance

PUBLIC = list(governance.__all__)


def test_all_is_sorted_case_insensitively() -> None:
    assert PUBLIC == sorted(PUBLIC, key=str.lower)


def test_all_has_no_duplicates() -> None:
    assert len(PUBLIC) == len(set(PUBLIC))


@pytest.mark.parametrize("name", PUBLIC)
def test_every_exported_name_resolves(name: str) -> None:
    assert hasattr(governance, name), f"governance.{name} is listed in __all__ but missing"


@pytest.mark.parametrize("name", [n for n in PUBLIC
                                  if inspect.isclass(getattr(governance, n, None))
                                  or inspect.isfunction(getattr(governance, n, None))])
def test_every_exported_class_and_function_has_a_docstring(name: str) -> None:
    obj = getattr(governance, name)

    assert inspect.getdoc(obj), f"governance.{name} has no docstring"
    # A class must document itself, not only inherit a docstring from a base class.
    assert obj.__doc__ and obj.__doc__.strip(), f"governance.{name} has no docstring of its own"


def test_the_documented_entry_points_are_exported() -> None:
    for name in ("MutationEngine", "EngineOptions", "MutationContext", "MutationRequest",
                 "InMemoryRequestStore", "LifecycleManager", "VersionResolver",
                 "VersionResolutionManager", "GovernanceExecutionManager",
                 "GovernedExecutionResult", "ResolutionStrategy", "ResolutionOutcome",
                 "RequestStatus", "PendingReason", "DecisionCategory", "GovernanceError"):
        assert name in PUBLIC, name


def test_the_package_has_a_version() -> None:
    assert isinstance(governance.__version__, str) and governance.__version__

"""pytest fixtures of the governance tests: a fresh store, the managers over it, a strict engine
and an apply counter. The builders and test doubles they use live in ``governance.testing``."""

from __future__ import annotations

import pytest

from governance import (
    EngineOptions,
    GovernanceExecutionManager,
    InMemoryRequestStore,
    LifecycleManager,
    MutationEngine,
    VersionResolutionManager,
)
from governance.testing import ApplyCounter


@pytest.fixture
def store() -> InMemoryRequestStore:
    return InMemoryRequestStore()


@pytest.fixture
def lifecycle(store: InMemoryRequestStore) -> LifecycleManager:
    return LifecycleManager(store)


@pytest.fixture
def resolution(store: InMemoryRequestStore) -> VersionResolutionManager:
    return VersionResolutionManager(store)


@pytest.fixture
def engine() -> MutationEngine:
    return MutationEngine(EngineOptions.strict())


@pytest.fixture
def executor(store: InMemoryRequestStore, resolution: VersionResolutionManager,
             engine: MutationEngine) -> GovernanceExecutionManager:
    return GovernanceExecutionManager(store, resolution, engine)


@pytest.fixture
def counter() -> ApplyCounter:
    return ApplyCounter()

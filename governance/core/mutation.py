"""The ``Mutation`` protocol and a convenient base class."""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

from governance.core.changes import ChangeSet, StateChange
from governance.core.context import (
    BlastRadius,
    MutationContext,
    MutationIntent,
    MutationMode,
    RiskLevel,
)
from governance.core.effects import SideEffect
from governance.core.results import MutationResult, ValidationResult
from governance.errors import MissingArgumentError

TState = TypeVar("TState")


@runtime_checkable
class Mutation(Protocol[TState]):
    """A change to a state of type ``TState``: what it is, who asks, and how it applies."""

    @property
    def intent(self) -> MutationIntent:
        """What the mutation does."""
        ...

    @property
    def context(self) -> MutationContext:
        """Who asks for it, when and why."""
        ...

    def apply(self, state: TState) -> MutationResult[TState]:
        """Compute the new state; must not change ``state`` in place."""
        ...

    def validate(self, state: TState) -> ValidationResult:
        """Check that the mutation may apply to ``state``."""
        ...

    def simulate(self, state: TState) -> MutationResult[TState]:
        """Compute what ``apply`` would do, without side effects."""
        ...


class DeferredMutation(Mutation[TState], Protocol[TState]):
    """A mutation whose ``intent`` and ``context`` are built when first read (such as
    ``GovernedMutation``), and which tells the engine, without building them, what a run needs
    of its context (``MutationEngine.execute_deferred``)."""

    def execution_facts(self) -> tuple[str | None, MutationMode, str | None]:
        """The context's ``state_id``, ``mode`` and ``correlation_id``."""
        ...


class MutationBase(Generic[TState]):
    """Base class for mutations: holds intent and context; ``validate`` passes and ``simulate``
    calls ``apply`` unless overridden."""

    def __init__(self, intent: MutationIntent, context: MutationContext) -> None:
        if intent is None:
            raise MissingArgumentError("a mutation needs an intent")
        if context is None:
            raise MissingArgumentError("a mutation needs a context")
        self._intent = intent
        self._context = context

    if TYPE_CHECKING:
        @property
        def intent(self) -> MutationIntent:
            """What the mutation does."""
            ...

        @property
        def context(self) -> MutationContext:
            """Who asks for it, when and why."""
            ...
    else:
        # Read on every execution: properties whose getter is C (``attrgetter``) read the
        # attribute without a Python frame.
        intent = property(attrgetter("_intent"), doc="What the mutation does.")
        context = property(attrgetter("_context"), doc="Who asks for it, when and why.")

    def apply(self, state: TState) -> MutationResult[TState]:
        """Compute the new state. Subclasses must override."""
        raise NotImplementedError

    def validate(self, state: TState) -> ValidationResult:
        """Valid unless overridden."""
        return ValidationResult.success()

    def simulate(self, state: TState) -> MutationResult[TState]:
        """``apply`` unless overridden."""
        return self.apply(state)

    @staticmethod
    def success(
        new_state: TState,
        change: ChangeSet | StateChange | None = None,
        side_effects: list[SideEffect] | None = None,
    ) -> MutationResult[TState]:
        """Shortcut for ``MutationResult.success``."""
        return MutationResult.success(new_state, change, side_effects)

    @staticmethod
    def create_intent(
        operation_name: str,
        category: str,
        description: str | None = None,
        risk_level: RiskLevel = RiskLevel.LOW,
        is_reversible: bool = True,
        estimated_blast_radius: BlastRadius | None = None,
        tags: frozenset[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> MutationIntent:
        """Build an intent with the usual defaults."""
        return MutationIntent(
            operation_name=operation_name,
            category=category,
            description=description,
            risk_level=risk_level,
            is_reversible=is_reversible,
            estimated_blast_radius=estimated_blast_radius,
            tags=tags or frozenset(),
            metadata=metadata or {},
        )

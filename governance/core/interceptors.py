"""Interceptors: code that observes every mutation the engine runs, at four fixed points.

An interceptor sees a mutation before it runs, after it completed, when it raised and when a
policy blocked it. Interceptors observe; they must not change what a mutation does.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol, runtime_checkable

from governance.core.changes import ChangeSet
from governance.core.context import MutationContext, MutationIntent
from governance.core.policies import PolicyDecision
from governance.errors import MissingArgumentError


@runtime_checkable
class Interceptor(Protocol):
    """Hooks the engine calls around each execution (synchronously, in ascending ``order``)."""

    @property
    def name(self) -> str:
        """The name ``InterceptorPipeline.unregister`` removes it by."""
        ...

    @property
    def order(self) -> int:
        """Position in the pipeline: lower runs first."""
        ...

    def should_run(self, intent: MutationIntent, context: MutationContext) -> bool:
        """Whether the hooks run for this mutation; asked before every hook."""
        ...

    def on_before_mutation(
        self, intent: MutationIntent, context: MutationContext, state: Any, execution_id: str
    ) -> None:
        """Called before policies are evaluated."""
        ...

    def on_after_mutation(
        self,
        intent: MutationIntent,
        context: MutationContext,
        old_state: Any,
        new_state: Any,
        changes: ChangeSet,
        execution_id: str,
    ) -> None:
        """Called once the mutation ran (in any mode) and before it is audited."""
        ...

    def on_mutation_failed(
        self,
        intent: MutationIntent,
        context: MutationContext,
        state: Any,
        exception: BaseException,
        execution_id: str,
    ) -> None:
        """Called when the execution raised; ``exception`` is the original error."""
        ...

    def on_policy_blocked(
        self,
        intent: MutationIntent,
        context: MutationContext,
        state: Any,
        decision: PolicyDecision,
        execution_id: str,
    ) -> None:
        """Called when a policy did not allow the mutation."""
        ...


class InterceptorBase:
    """An interceptor that does nothing: override the hooks you need.

    ``name`` is the class name and ``order`` is 0; a subclass may override either with a class
    attribute or a property.
    """

    order: int = 0

    @property
    def name(self) -> str:
        """The class name."""
        return type(self).__name__

    def should_run(self, intent: MutationIntent, context: MutationContext) -> bool:
        """Always True."""
        return True

    def on_before_mutation(
        self, intent: MutationIntent, context: MutationContext, state: Any, execution_id: str
    ) -> None:
        """Does nothing."""

    def on_after_mutation(
        self,
        intent: MutationIntent,
        context: MutationContext,
        old_state: Any,
        new_state: Any,
        changes: ChangeSet,
        execution_id: str,
    ) -> None:
        """Does nothing."""

    def on_mutation_failed(
        self,
        intent: MutationIntent,
        context: MutationContext,
        state: Any,
        exception: BaseException,
        execution_id: str,
    ) -> None:
        """Does nothing."""

    def on_policy_blocked(
        self,
        intent: MutationIntent,
        context: MutationContext,
        state: Any,
        decision: PolicyDecision,
        execution_id: str,
    ) -> None:
        """Does nothing."""


class InterceptorPipeline:
    """A thread-safe, ordered set of interceptors whose hooks run one after the other.

    Registration keeps the pipeline sorted by ascending ``order``; interceptors with the same
    order keep their registration order. Each change publishes a new immutable ``snapshot``, so
    running the hooks never copies or locks anything.
    """

    __slots__ = ("_lock", "snapshot")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.snapshot: tuple[Interceptor, ...] = ()
        """The registered interceptors in run order; replaced (never mutated) on each change."""

    def register(self, interceptor: Interceptor) -> None:
        """Add ``interceptor`` after every registered one whose order is lower or equal.

        Raises:
            MissingArgumentError: ``interceptor`` is None.
        """
        if interceptor is None:
            raise MissingArgumentError("cannot register a None interceptor")
        order = interceptor.order
        with self._lock:
            current = self.snapshot
            position = len(current)
            for index, registered in enumerate(current):
                if registered.order > order:
                    position = index
                    break
            self.snapshot = (*current[:position], interceptor, *current[position:])

    def unregister(self, name: str) -> bool:
        """Remove every interceptor called ``name``; return whether one was removed."""
        with self._lock:
            current = self.snapshot
            kept = tuple(i for i in current if i.name != name)
            self.snapshot = kept
            return len(kept) != len(current)

    def __len__(self) -> int:
        return len(self.snapshot)

    def run_before(
        self, intent: MutationIntent, context: MutationContext, state: Any, execution_id: str
    ) -> None:
        """Run ``on_before_mutation`` of every interceptor whose ``should_run`` is True."""
        for interceptor in self.snapshot:
            if interceptor.should_run(intent, context):
                interceptor.on_before_mutation(intent, context, state, execution_id)

    def run_after(
        self,
        intent: MutationIntent,
        context: MutationContext,
        old_state: Any,
        new_state: Any,
        changes: ChangeSet,
        execution_id: str,
    ) -> None:
        """Run ``on_after_mutation`` of every interceptor whose ``should_run`` is True."""
        for interceptor in self.snapshot:
            if interceptor.should_run(intent, context):
                interceptor.on_after_mutation(
                    intent, context, old_state, new_state, changes, execution_id
                )

    def run_failed(
        self,
        intent: MutationIntent,
        context: MutationContext,
        state: Any,
        exception: BaseException,
        execution_id: str,
    ) -> None:
        """Run ``on_mutation_failed`` of every interceptor whose ``should_run`` is True."""
        for interceptor in self.snapshot:
            if interceptor.should_run(intent, context):
                interceptor.on_mutation_failed(intent, context, state, exception, execution_id)

    def run_policy_blocked(
        self,
        intent: MutationIntent,
        context: MutationContext,
        state: Any,
        decision: PolicyDecision,
        execution_id: str,
    ) -> None:
        """Run ``on_policy_blocked`` of every interceptor whose ``should_run`` is True."""
        for interceptor in self.snapshot:
            if interceptor.should_run(intent, context):
                interceptor.on_policy_blocked(intent, context, state, decision, execution_id)


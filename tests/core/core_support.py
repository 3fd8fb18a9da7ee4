"""Test doubles for the core tests: a counter state, a configurable mutation, policies and a
recording interceptor. The doubles shared with other tests (``RaisingPolicy`` among them) live
in ``governance.testing``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from governance.core import (
    ChangeSet,
    InterceptorBase,
    MutationBase,
    MutationContext,
    MutationIntent,
    MutationMode,
    MutationResult,
    PolicyDecision,
    SideEffect,
    StateChange,
    ValidationResult,
)


@dataclass(frozen=True)
class Counter:
    """A tiny immutable state."""

    value: int


def context(
    state_id: str | None = "counter-1",
    mode: MutationMode = MutationMode.COMMIT,
    **fields: Any,
) -> MutationContext:
    """A user context for alice targeting ``state_id`` in ``mode``."""
    return MutationContext.user("alice", reason="testing", state_id=state_id, mode=mode, **fields)


class Increment(MutationBase[Counter]):
    """Adds ``by`` to the counter; every knob makes one engine path reachable.

    ``calls`` records which of validate / apply / simulate ran, in order.
    """

    def __init__(
        self,
        ctx: MutationContext | None = None,
        by: int = 1,
        *,
        category: str = "Counter",
        invalid_reason: str | None = None,
        failure_reason: str | None = None,
        raises: BaseException | None = None,
        during_apply: Callable[[Counter], None] | None = None,
        side_effects: list[SideEffect] | None = None,
        returns_none: bool = False,
    ) -> None:
        super().__init__(
            MutationIntent.create("IncrementCounter", category),
            ctx if ctx is not None else context(),
        )
        self.by = by
        self.invalid_reason = invalid_reason
        self.failure_reason = failure_reason
        self.raises = raises
        self.during_apply = during_apply
        self.side_effects = side_effects
        self.returns_none = returns_none
        self.calls: list[str] = []

    def validate(self, state: Counter) -> ValidationResult:
        self.calls.append("validate")
        if self.invalid_reason is not None:
            return ValidationResult.with_error("Value", self.invalid_reason, "invalid")
        return ValidationResult.success()

    def _result(self, state: Counter) -> MutationResult[Counter]:
        new = Counter(state.value + self.by)
        return MutationResult.success(
            new, StateChange.modified("Value", state.value, new.value), self.side_effects
        )

    def apply(self, state: Counter) -> MutationResult[Counter]:
        self.calls.append("apply")
        if self.raises is not None:
            raise self.raises
        if self.during_apply is not None:
            self.during_apply(state)
        if self.returns_none:
            return None  # type: ignore[return-value]
        if self.failure_reason is not None:
            return MutationResult.failure(ValidationResult.with_error("Value", self.failure_reason))
        return self._result(state)

    def simulate(self, state: Counter) -> MutationResult[Counter]:
        self.calls.append("simulate")
        return self._result(state)


class StaticPolicy:
    """A policy that returns a fixed decision and logs its name when evaluated."""

    def __init__(
        self,
        name: str,
        priority: int = 0,
        decision: PolicyDecision | None = None,
        log: list[str] | None = None,
    ) -> None:
        self.name = name
        self.priority = priority
        self.decision = decision if decision is not None else PolicyDecision.allow(name)
        self.log = log if log is not None else []

    def evaluate(self, mutation: Any, state: Any) -> PolicyDecision:
        self.log.append(self.name)
        return self.decision


class OtherStaticPolicy(StaticPolicy):
    """The same policy under another class name (for the class-name tie break)."""


class SleepingPolicy:
    """A policy that sleeps before allowing."""

    priority = 0

    def __init__(self, name: str, seconds: float) -> None:
        self.name = name
        self.seconds = seconds

    def evaluate(self, mutation: Any, state: Any) -> PolicyDecision:
        time.sleep(self.seconds)
        return PolicyDecision.allow(self.name)


class NoDecisionPolicy:
    """A broken policy that returns None."""

    name = "silent"
    priority = 0

    def evaluate(self, mutation: Any, state: Any) -> PolicyDecision:
        return None  # type: ignore[return-value]


@dataclass
class HookCall:
    """One hook call seen by a ``RecordingInterceptor``."""

    interceptor: str
    hook: str
    execution_id: str
    args: dict[str, Any] = field(default_factory=dict)


class RecordingInterceptor(InterceptorBase):
    """Appends every hook call to a shared list."""

    def __init__(
        self,
        label: str = "recorder",
        order: int = 0,
        calls: list[HookCall] | None = None,
        run: bool = True,
        fail_before: Exception | None = None,
    ) -> None:
        self.label = label
        self.order = order
        self.calls = calls if calls is not None else []
        self.run = run
        self.fail_before = fail_before
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.label

    def should_run(self, intent: MutationIntent, context: MutationContext) -> bool:
        return self.run

    def _record(self, hook: str, execution_id: str, **args: Any) -> None:
        with self._lock:
            self.calls.append(HookCall(self.label, hook, execution_id, args))

    def on_before_mutation(
        self, intent: MutationIntent, context: MutationContext, state: Any, execution_id: str
    ) -> None:
        self._record("before", execution_id, intent=intent, context=context, state=state)
        if self.fail_before is not None:
            raise self.fail_before

    def on_after_mutation(
        self,
        intent: MutationIntent,
        context: MutationContext,
        old_state: Any,
        new_state: Any,
        changes: ChangeSet,
        execution_id: str,
    ) -> None:
        self._record(
            "after", execution_id, old_state=old_state, new_state=new_state, changes=changes
        )

    def on_mutation_failed(
        self,
        intent: MutationIntent,
        context: MutationContext,
        state: Any,
        exception: BaseException,
        execution_id: str,
    ) -> None:
        self._record("failed", execution_id, exception=exception)

    def on_policy_blocked(
        self,
        intent: MutationIntent,
        context: MutationContext,
        state: Any,
        decision: PolicyDecision,
        execution_id: str,
    ) -> None:
        self._record("blocked", execution_id, decision=decision)

    def hooks(self) -> list[str]:
        """The hook names seen so far, in order."""
        return [call.hook for call in self.calls]

"""Results of validating and executing mutations, and the metrics recorded for them."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from governance._clock import utc_now
from governance._models import BuiltWhenRead, record_builder
from governance.core.changes import ChangeSet, StateChange
from governance.core.effects import SideEffect
from governance.core.policies import PolicyDecision
from governance.errors import (
    MissingArgumentError,
    MutationError,
    MutationValidationError,
    PolicyViolationError,
)

TState = TypeVar("TState")


def _require_text(value: str | None, what: str) -> str:
    if value is None:
        raise MissingArgumentError(f"a validation entry needs a {what}")
    return value


@dataclass(frozen=True, slots=True)
class ValidationError:
    """A validation failure at ``path``."""

    path: str
    message: str
    code: str | None = None
    attempted_value: Any = None

    def __post_init__(self) -> None:
        _require_text(self.path, "path")
        _require_text(self.message, "message")


@dataclass(frozen=True, slots=True)
class ValidationWarning:
    """A validation warning at ``path``; does not make the result invalid."""

    path: str
    message: str
    code: str | None = None

    def __post_init__(self) -> None:
        _require_text(self.path, "path")
        _require_text(self.message, "message")


@dataclass(frozen=True, slots=True)
class ValidationInfo:
    """An informational validation note at ``path``."""

    path: str
    message: str

    def __post_init__(self) -> None:
        _require_text(self.path, "path")
        _require_text(self.message, "message")


@dataclass(slots=True)
class ValidationResult:
    """Errors, warnings and infos of one validation; valid when there is no error."""

    errors: list[ValidationError] = field(default_factory=list)
    warnings: list[ValidationWarning] = field(default_factory=list)
    info: list[ValidationInfo] = field(default_factory=list)

    @property
    def is_valid(self) -> bool:
        """True when no error was recorded."""
        return not self.errors

    def add_error(self, path: str, message: str, code: str | None = None,
                  attempted_value: Any = None) -> ValidationResult:
        """Record an error and return self."""
        self.errors.append(ValidationError(path, message, code, attempted_value))
        return self

    def add_warning(self, path: str, message: str, code: str | None = None) -> ValidationResult:
        """Record a warning and return self."""
        self.warnings.append(ValidationWarning(path, message, code))
        return self

    def add_info(self, path: str, message: str) -> ValidationResult:
        """Record an info note and return self."""
        self.info.append(ValidationInfo(path, message))
        return self

    @classmethod
    def success(cls) -> ValidationResult:
        """A valid result with nothing recorded."""
        if cls is not ValidationResult:
            return cls()
        # Built without the dataclass's __init__ and its three default factories: a
        # mutation's validate builds one on every execution.
        result = _new_validation(cls)
        result.errors = []
        result.warnings = []
        result.info = []
        return result

    @classmethod
    def with_error(cls, path: str, message: str, code: str | None = None) -> ValidationResult:
        """An invalid result holding one error."""
        return cls(errors=[ValidationError(path, message, code)])

    @classmethod
    def with_errors(cls, *errors: ValidationError) -> ValidationResult:
        """An invalid result holding ``errors``."""
        return cls(errors=list(errors))


_new_validation = object.__new__


# MutationMetrics and MutationResult are not slotted: the engine copies them on every execution
# (``evolve_record``), which needs an instance ``__dict__``.
@dataclass
class MutationMetrics:
    """Timings and counters recorded for one execution."""

    recorded_at: datetime = field(default_factory=utc_now)
    execution_time: timedelta = timedelta(0)
    validation_time: timedelta = timedelta(0)
    policy_evaluation_time: timedelta = timedelta(0)
    validated_rules: int = 0
    evaluated_policies: int = 0
    changes_count: int = 0
    state_size: int | None = None
    memory_used: int | None = None
    used_cache: bool = False
    additional_metrics: dict[str, Any] = field(default_factory=dict)


build_metrics = record_builder(MutationMetrics)
"""Builds a ``MutationMetrics`` from every one of its fields, by keyword."""


_ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class MutationStatistics:
    """Aggregated execution times over a window."""

    total_executed: int
    average_execution_time: timedelta
    median_execution_time: timedelta
    p95_execution_time: timedelta
    last_updated_at: datetime


@dataclass(frozen=True)
class MutationResult(Generic[TState]):
    """The outcome of one mutation: success with a new state, or failure with the reasons.

    A successful result leaves ``validation_result``, ``policy_decisions``, ``side_effects``
    and ``metrics`` out of its ``__dict__`` until they are read (most results are read for
    their state and changes only); the first read makes the value and keeps it. Equality,
    ``repr``, ``dataclasses.asdict`` and ``replace`` read every field, so they see the same
    record.
    """

    is_success: bool
    new_state: TState | None = None
    changes: ChangeSet = field(default_factory=ChangeSet)
    validation_result: ValidationResult = field(default_factory=ValidationResult)
    policy_decisions: list[PolicyDecision] = field(default_factory=list)
    side_effects: list[SideEffect] = field(default_factory=list)
    metrics: MutationMetrics = field(default_factory=MutationMetrics)
    exception: BaseException | None = None
    completed_at: datetime = field(default_factory=utc_now)

    @classmethod
    def success(
        cls,
        new_state: TState,
        changes: ChangeSet | StateChange | None = None,
        side_effects: list[SideEffect] | None = None,
    ) -> MutationResult[TState]:
        """A successful result; ``changes`` may be a change set or a single change."""
        now = utc_now()
        if isinstance(changes, StateChange):
            changes = ChangeSet._of([changes], now)
        elif changes is None:
            changes = ChangeSet._of([], now)
        result: MutationResult[TState] = _new_instance(cls)
        values = {"is_success": True, "new_state": new_state, "changes": changes,
                  "exception": None, "completed_at": now}
        if side_effects:
            values["side_effects"] = list(side_effects)
        _set_result_dict(result, values)
        return result

    def raise_for_failure(self) -> None:
        """Raise the error a failed result stands for; do nothing for a successful one.

        For callers that want an exception where the engine reports a result.

        Raises:
            PolicyViolationError: a policy refused the mutation (the refusing decision).
            MutationValidationError: the mutation's validation failed.
            MutationError: it failed otherwise (its ``exception`` is the cause, when it has
                one).
        """
        if self.is_success:
            return
        for decision in self.policy_decisions:
            if not decision.is_allowed:
                raise PolicyViolationError(decision)
        if not self.validation_result.is_valid:
            raise MutationValidationError(self.validation_result)
        reason = str(self.exception) if self.exception is not None else "no reason given"
        raise MutationError(f"the mutation failed: {reason}", self.exception)

    @classmethod
    def failure(cls, validation: ValidationResult) -> MutationResult[TState]:
        """A failed result carrying the validation that refused it."""
        return cls(is_success=False, validation_result=validation)

    @classmethod
    def policy_blocked(cls, decision: PolicyDecision) -> MutationResult[TState]:
        """A failed result for a policy that did not allow the mutation."""
        return cls(
            is_success=False,
            policy_decisions=[decision],
            validation_result=ValidationResult.with_error(
                "Policy", decision.reason or "Blocked by policy"
            ),
        )


class KeptMetrics:
    """The values an in-memory collector kept for one execution (``keep``), shared with the
    execution's result: the recording instant (a datetime, or a ``time.time()`` reading),
    execution, validation and policy seconds, validations, policies and changes counted, and
    the state size. ``record`` builds the ``MutationMetrics`` on the first call and keeps it.
    One object, so an execution leaves one block behind for its metrics."""

    __slots__ = ("_record", "changes_count", "evaluated_policies", "execution_seconds",
                 "policy_seconds", "recorded_at", "state_size", "validated_rules",
                 "validation_seconds")

    recorded_at: datetime | float
    execution_seconds: float
    validation_seconds: float
    policy_seconds: float
    validated_rules: int
    evaluated_policies: int
    changes_count: int
    state_size: int | None
    _record: MutationMetrics | None

    def record(self) -> MutationMetrics:
        """The record (built on the first call, under a lock, then always the same)."""
        built = self._record
        if built is not None:
            return built
        with _BUILD_LOCK:
            if self._record is None:
                recorded_at = self.recorded_at
                if type(recorded_at) is float:
                    recorded_at = datetime.fromtimestamp(recorded_at, UTC)
                self._record = build_metrics(
                    recorded_at=recorded_at, execution_time=timedelta(0, self.execution_seconds),
                    validation_time=timedelta(0, self.validation_seconds),
                    policy_evaluation_time=timedelta(0, self.policy_seconds),
                    validated_rules=self.validated_rules,
                    evaluated_policies=self.evaluated_policies,
                    changes_count=self.changes_count, state_size=self.state_size,
                    memory_used=None, used_cache=False, additional_metrics={})
            return self._record


# Readers of one execution's kept metrics on several threads get one record: it is built under
# this lock, which only a first read takes.
_BUILD_LOCK = threading.Lock()


def _metrics_of(result: MutationResult[Any]) -> MutationMetrics:
    # What the engine left: the metrics the collector keeps, or the duration alone.
    held = result.__dict__.get("_metrics")
    if type(held) is KeptMetrics:
        return held.record()
    return build_metrics(
        recorded_at=result.completed_at,
        execution_time=_ZERO if held is None else timedelta(0, held),
        validation_time=_ZERO, policy_evaluation_time=_ZERO, validated_rules=0,
        evaluated_policies=0, changes_count=0, state_size=None, memory_used=None,
        used_cache=False, additional_metrics={})


# Installed after the dataclass is made, which has recorded each field's default factory and
# left no class attribute for them: ``__init__`` still sets every field in the instance.
MutationResult.metrics = BuiltWhenRead("metrics", _metrics_of)  # type: ignore[assignment]
MutationResult.validation_result = BuiltWhenRead(  # type: ignore[assignment]
    "validation_result", lambda result: ValidationResult())
MutationResult.policy_decisions = BuiltWhenRead(  # type: ignore[assignment]
    "policy_decisions", lambda result: [])
MutationResult.side_effects = BuiltWhenRead(  # type: ignore[assignment]
    "side_effects", lambda result: [])

_new_instance = object.__new__
# The instance dict's own descriptor: it bypasses the frozen ``__setattr__`` with one C call
# (``object.__setattr__`` would look the name up on the class first). It sets the dict of
# instances of subclasses too.
_set_result_dict = MutationResult.__dict__["__dict__"].__set__


def with_metrics(result: MutationResult[TState], metrics: Any) -> MutationResult[TState]:
    """A copy of ``result`` whose ``metrics`` are built when read: ``metrics`` is a float, the
    execution's duration in seconds (the default metrics, with that duration), or what an
    in-memory collector kept (``KeptMetrics``)."""
    copy: MutationResult[TState] = _new_instance(result.__class__)
    values = {**result.__dict__, "_metrics": metrics}
    values.pop("metrics", None)
    _set_result_dict(copy, values)
    return copy


def result_side_effects(result: MutationResult[Any]) -> list[SideEffect]:
    """``result.side_effects`` without making an empty list for a result that has none."""
    effects = result.__dict__.get("side_effects")
    return NO_SIDE_EFFECTS if effects is None else effects


NO_SIDE_EFFECTS: list[SideEffect] = []
"""The side effects of a result that has none: one shared empty list, never changed."""


@dataclass(frozen=True, slots=True)
class BatchMutationResult(Generic[TState]):
    """The outcome of a batch: per-item results and the changes of the successful ones."""

    is_success: bool
    final_state: TState | None
    results: list[MutationResult[TState]]
    aggregated_changes: ChangeSet
    total_execution_time: timedelta

    @property
    def success_count(self) -> int:
        """How many items succeeded."""
        return sum(1 for r in self.results if r.is_success)

    @property
    def failure_count(self) -> int:
        """How many items failed."""
        return sum(1 for r in self.results if not r.is_success)

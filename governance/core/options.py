"""Options of the mutation engine, with the three usual presets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """How a ``MutationEngine`` runs mutations.

    Attributes:
        always_validate: validate before committing; when False, COMMIT skips validation
            (SIMULATE and VALIDATE always validate).
        execution_timeout: when set, a COMMIT whose execution already took longer than this
            before ``apply`` raises ``ExecutionTimeoutError`` instead of applying.
        policy_evaluation_timeout: when set, a policy whose ``evaluate`` took longer raises
            ``PolicyEvaluationTimeoutError`` (measured after it returns: a synchronous policy
            cannot be interrupted).
        stop_batch_on_first_failure: ``execute_batch`` stops at the first failed result.
        enable_detailed_metrics: open a metrics scope per execution and record it.
        max_concurrent_mutations: executions allowed to run at once; the engine refuses a value
            below 1 when it is built.
    """

    always_validate: bool = True
    execution_timeout: timedelta | None = None
    policy_evaluation_timeout: timedelta | None = None
    stop_batch_on_first_failure: bool = True
    enable_detailed_metrics: bool = False
    max_concurrent_mutations: int = 10

    @classmethod
    def default(cls) -> EngineOptions:
        """Every option at its default."""
        return cls()

    @classmethod
    def strict(cls) -> EngineOptions:
        """Always validate, stop batches on the first failure, record detailed metrics."""
        return cls(always_validate=True, stop_batch_on_first_failure=True,
                   enable_detailed_metrics=True)

    @classmethod
    def performance(cls) -> EngineOptions:
        """Skip validation on COMMIT and record no detailed metrics."""
        return cls(always_validate=False, enable_detailed_metrics=False)

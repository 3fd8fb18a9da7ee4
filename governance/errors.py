"""Every exception the package raises, in one hierarchy.

This module imports nothing else from the package, so any module can import it without cycles.

The tree::

    GovernanceError
    ├── InvalidArgumentError (ValueError)      blank ids, versions, out-of-range options
    ├── MissingArgumentError (TypeError)       a required collaborator or value is None
    ├── InvalidOperationError (RuntimeError)   an action that the current state refuses
    │   ├── RequestNotExecutableError          execute_approved on a request that is not APPROVED
    │   ├── RequestClaimedError                a write to a request another execution claimed
    │   ├── InvalidApprovalActionError         decided twice, wrong actor, wrong step
    │   ├── InvalidApprovalWorkflowStateError  approval action on a request not pending approval
    │   ├── ApprovalRequirementExpiredError    decision on an expired approval requirement
    │   └── InvalidApprovalConfigurationError  no target, bad quorum (also ValueError)
    ├── ApprovalRequirementNotFoundError (LookupError)
    ├── RequestNotFoundError (LookupError)     unknown request id
    └── MutationError                          failures of a mutation or of a request write
        ├── ConcurrencyError                   a conflict with another writer or execution
        │   └── RequestConcurrencyError        stale revision on a request write
        ├── ExecutionTimeoutError
        ├── InvalidMutationError               a mutation that returned no result
        ├── MutationValidationError            MutationResult.raise_for_failure: invalid
        ├── PolicyViolationError               MutationResult.raise_for_failure: refused
        ├── StateNotFoundError (LookupError)   raised by a mutation whose state is missing
        ├── PolicyEvaluationError
        │   └── PolicyEvaluationTimeoutError
        ├── InvalidTransitionError             lifecycle transition not in the table
        └── RequestAlreadyExistsError          duplicate create

Errors carry their facts as attributes (``request_id``, ``expected_revision`` ...) as well as in
the message, which always names the request or execution concerned.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any


class GovernanceError(Exception):
    """Root of every exception raised by the package."""


class InvalidArgumentError(GovernanceError, ValueError):
    """An argument has an invalid value (blank id, blank version, unknown strategy...)."""


class MissingArgumentError(GovernanceError, TypeError):
    """A required argument was ``None``."""


class InvalidOperationError(GovernanceError, RuntimeError):
    """The action is refused in the current state of the object it targets."""


class RequestNotExecutableError(InvalidOperationError):
    """``execute_approved`` was called on a request that is not APPROVED, or is already claimed."""

    def __init__(self, request_id: str, status: str, detail: str | None = None) -> None:
        self.request_id = request_id
        self.status = status
        message = (
            f"request '{request_id}' cannot be executed: its status is {status}, "
            "only an APPROVED request is executed"
        )
        if detail:
            message = f"request '{request_id}' cannot be executed: {detail}"
        super().__init__(message)


class RequestClaimedError(InvalidOperationError):
    """A change to a request that a governed execution has claimed and not yet finished.

    Until that execution records its outcome, it is the only writer of the request: any other
    change (a resolution, a lifecycle transition, an approval action, a link) is refused, and
    the stored request is left exactly as it was.
    """

    def __init__(self, request_id: str, claim_id: str, action: str | None = None) -> None:
        doing = f" {action}" if action else " changed"
        super().__init__(
            f"request '{request_id}' cannot be{doing}: execution '{claim_id}' has claimed it "
            "and is the only writer until it records its outcome")
        self.request_id = request_id
        self.claim_id = claim_id


class InvalidApprovalActionError(InvalidOperationError):
    """An approval action the requirement refuses (already decided, wrong actor, wrong step)."""

    def __init__(self, request_id: str, approval_id: str, detail: str) -> None:
        super().__init__(f"request '{request_id}', approval '{approval_id}': {detail}")
        self.request_id = request_id
        self.approval_id = approval_id


class InvalidApprovalWorkflowStateError(InvalidOperationError):
    """An approval action on a request that is not pending approval."""

    def __init__(self, request_id: str, detail: str) -> None:
        super().__init__(f"request '{request_id}' is not open for approval actions: {detail}")
        self.request_id = request_id


class ApprovalRequirementExpiredError(InvalidOperationError):
    """A decision on an approval requirement whose deadline has passed."""

    def __init__(self, request_id: str, approval_id: str, expires_at: datetime) -> None:
        super().__init__(
            f"request '{request_id}', approval '{approval_id}' expired at {expires_at.isoformat()}"
        )
        self.request_id = request_id
        self.approval_id = approval_id
        self.expires_at = expires_at


class InvalidApprovalConfigurationError(InvalidOperationError, ValueError):
    """An approval requirement that cannot work: no target, an impossible quorum, a value of
    the wrong type. An argument error, so also a ``ValueError``."""

    def __init__(self, message: str, request_id: str | None = None) -> None:
        super().__init__(f"request '{request_id}': {message}" if request_id else message)
        self.request_id = request_id


class ApprovalRequirementNotFoundError(GovernanceError, LookupError):
    """The approval id is not one of the request's approval requirements."""

    def __init__(self, request_id: str, approval_id: str) -> None:
        super().__init__(f"request '{request_id}' has no approval requirement '{approval_id}'")
        self.request_id = request_id
        self.approval_id = approval_id


class RequestNotFoundError(GovernanceError, LookupError):
    """No request with this id is stored: a failed lookup, not a failed mutation."""

    def __init__(self, request_id: str) -> None:
        super().__init__(f"request '{request_id}' was not found")
        self.request_id = request_id


class MutationError(GovernanceError):
    """Base of failures raised while executing a mutation or writing a request.

    Attributes:
        execution_id: the engine execution this error belongs to, when there is one.
    """

    def __init__(
        self,
        message: str,
        inner: BaseException | None = None,
        execution_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.inner = inner
        self.execution_id = execution_id
        if inner is not None:
            self.__cause__ = inner


class ConcurrencyError(MutationError):
    """A write conflicted with another writer or execution (``RequestConcurrencyError`` for a
    request's stale revision)."""

    def __init__(self, message: str, conflicting_execution_id: str | None = None) -> None:
        super().__init__(message)
        self.conflicting_execution_id = conflicting_execution_id


class ExecutionTimeoutError(MutationError):
    """An execution went past the engine's ``execution_timeout``."""

    def __init__(self, timeout: timedelta, elapsed: timedelta) -> None:
        super().__init__(
            f"mutation execution exceeded its timeout of {timeout.total_seconds():.3f}s "
            f"(elapsed {elapsed.total_seconds():.3f}s)"
        )
        self.timeout = timeout
        self.elapsed = elapsed


class InvalidMutationError(MutationError):
    """A mutation object is malformed."""


class MutationValidationError(MutationError):
    """A mutation failed validation; the message lists ``path: message`` for every error.

    The engine reports a failed validation as a result; ``MutationResult.raise_for_failure``
    turns that result into this error for callers who want one."""

    def __init__(self, validation_result: Any) -> None:
        errors = getattr(validation_result, "errors", [])
        details = "; ".join(f"{e.path}: {e.message}" for e in errors)
        super().__init__(f"mutation validation failed: {details}" if details else
                         "mutation validation failed")
        self.validation_result = validation_result


class PolicyViolationError(MutationError):
    """A policy refused a mutation.

    The engine reports a refusal as a result; ``MutationResult.raise_for_failure`` turns that
    result into this error for callers who want one."""

    def __init__(self, decision: Any) -> None:
        reason = getattr(decision, "reason", None) or "blocked by policy"
        name = getattr(decision, "policy_name", None) or "unnamed policy"
        super().__init__(f"policy '{name}' refused the mutation: {reason}")
        self.decision = decision


class StateNotFoundError(MutationError, LookupError):
    """The state a mutation targets does not exist.

    The runtime holds no states of its own: a mutation (or whatever loads its state) raises this,
    and the engine passes it on as it is, after the failure hooks and a failed audit entry."""

    def __init__(self, state_id: str) -> None:
        super().__init__(f"state '{state_id}' was not found")
        self.state_id = state_id


class PolicyEvaluationError(MutationError):
    """A policy raised while it was evaluated."""

    def __init__(
        self,
        policy_name: str,
        message: str,
        inner: BaseException | None = None,
        execution_id: str | None = None,
    ) -> None:
        super().__init__(message, inner, execution_id)
        self.policy_name = policy_name


class PolicyEvaluationTimeoutError(PolicyEvaluationError):
    """A policy took longer than the engine's ``policy_evaluation_timeout``."""

    def __init__(self, policy_name: str, timeout: timedelta, execution_id: str | None = None):
        super().__init__(
            policy_name,
            f"policy '{policy_name}' did not decide within {timeout.total_seconds():.3f}s",
            execution_id=execution_id,
        )
        self.timeout = timeout


class InvalidTransitionError(MutationError):
    """A lifecycle transition that the transition table does not allow."""

    def __init__(self, request_id: str, current_status: Any, target_status: Any) -> None:
        current = getattr(current_status, "name", current_status)
        target = getattr(target_status, "name", target_status)
        super().__init__(
            f"request '{request_id}' cannot move from {current} to {target}"
        )
        self.request_id = request_id
        self.current_status = current_status
        self.target_status = target_status


class RequestAlreadyExistsError(MutationError):
    """A request with the same id is already stored."""

    def __init__(self, request_id: str) -> None:
        super().__init__(f"request '{request_id}' already exists in the store")
        self.request_id = request_id


class RequestConcurrencyError(ConcurrencyError):
    """A request write lost the optimistic-concurrency check: the stored revision moved on."""

    def __init__(self, request_id: str, expected_revision: int) -> None:
        super().__init__(
            f"request '{request_id}' was changed by another writer: expected revision "
            f"{expected_revision}, the store holds a newer one; nothing was written"
        )
        self.request_id = request_id
        self.expected_revision = expected_revision


__all__ = [
    "ApprovalRequirementExpiredError",
    "ApprovalRequirementNotFoundError",
    "ConcurrencyError",
    "ExecutionTimeoutError",
    "GovernanceError",
    "InvalidApprovalActionError",
    "InvalidApprovalConfigurationError",
    "InvalidApprovalWorkflowStateError",
    "InvalidArgumentError",
    "InvalidMutationError",
    "InvalidOperationError",
    "InvalidTransitionError",
    "MissingArgumentError",
    "MutationError",
    "MutationValidationError",
    "PolicyEvaluationError",
    "PolicyEvaluationTimeoutError",
    "PolicyViolationError",
    "RequestAlreadyExistsError",
    "RequestClaimedError",
    "RequestConcurrencyError",
    "RequestNotExecutableError",
    "RequestNotFoundError",
    "StateNotFoundError",
]

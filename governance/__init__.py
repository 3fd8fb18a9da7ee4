"""Governed mutations: requests, lifecycle, approval, version resolution and a mutation engine.

Everything a user needs is importable from ``governance``; submodules hold the implementation.
"""

from governance.approval import map_approval_requirements
from governance.core import *  # noqa: F403
from governance.core import __all__ as _core_all
from governance.errors import *  # noqa: F403
from governance.errors import __all__ as _errors_all
from governance.execution import (
    GovernanceExecutionManager,
    GovernedExecutionResult,
    GovernedMutation,
    OutcomeRecorder,
    compensation_metadata,
)
from governance.lifecycle import ALLOWED_TRANSITIONS, LifecycleManager, can_transition
from governance.requests import (
    ApprovalDecision,
    ApprovalRejectionReason,
    ApprovalRequirement,
    ApprovalRequirementStatus,
    CompensationKind,
    CompensationPlan,
    CompensationTrigger,
    DecisionCategory,
    DecisionType,
    ExecutionClaim,
    ExecutionLink,
    ExecutionLinkType,
    GovernedExecutionDetails,
    GovernedExecutionKind,
    LifecycleDecision,
    MutationRequest,
    PendingReason,
    RequestDecision,
    RequestLifecycle,
    RequestPayload,
    RequestScope,
    RequestStatus,
    RequestVersioning,
    VersionResolutionDecision,
)
from governance.resolution import (
    ResolutionOutcome,
    ResolutionStrategy,
    VersionResolution,
    VersionResolutionManager,
    VersionResolver,
)
from governance.store import InMemoryRequestStore, RequestStore

__version__ = "0.1.0"

__all__ = sorted(
    [
        *_core_all,
        *_errors_all,
        "ALLOWED_TRANSITIONS",
        "ApprovalDecision",
        "ApprovalRejectionReason",
        "ApprovalRequirement",
        "ApprovalRequirementStatus",
        "CompensationKind",
        "CompensationPlan",
        "CompensationTrigger",
        "DecisionCategory",
        "DecisionType",
        "ExecutionClaim",
        "ExecutionLink",
        "ExecutionLinkType",
        "GovernanceExecutionManager",
        "GovernedExecutionDetails",
        "GovernedExecutionKind",
        "GovernedExecutionResult",
        "GovernedMutation",
        "InMemoryRequestStore",
        "OutcomeRecorder",
        "LifecycleDecision",
        "LifecycleManager",
        "MutationRequest",
        "PendingReason",
        "RequestDecision",
        "RequestLifecycle",
        "RequestPayload",
        "RequestScope",
        "RequestStatus",
        "RequestStore",
        "RequestVersioning",
        "ResolutionOutcome",
        "ResolutionStrategy",
        "VersionResolution",
        "VersionResolutionDecision",
        "VersionResolutionManager",
        "VersionResolver",
        "can_transition",
        "compensation_metadata",
        "map_approval_requirements",
    ],
    key=str.lower,
)

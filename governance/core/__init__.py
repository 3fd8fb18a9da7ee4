"""The core mutation runtime: values, policies, interceptors, audit, history, metrics and the
engine.

Everything public in ``governance.core.*`` is importable from here.
"""

from __future__ import annotations

from governance.core.audit import (
    Auditor,
    InMemoryAuditor,
    MutationAuditEntry,
    NullAuditor,
)
from governance.core.changes import (
    ChangeSet,
    ChangeType,
    StateChange,
)
from governance.core.context import (
    ActorType,
    BlastRadius,
    BlastRadiusScope,
    MutationContext,
    MutationIntent,
    MutationMode,
    RiskLevel,
)
from governance.core.effects import (
    SideEffect,
    SideEffectSeverity,
    contract_for,
    side_effect_contract,
)
from governance.core.engine import MutationEngine
from governance.core.history import (
    HistoryStatistics,
    HistoryStore,
    InMemoryHistoryStore,
    MutationHistory,
    MutationHistoryEntry,
    NullHistoryStore,
    TimelineItem,
)
from governance.core.interceptors import (
    Interceptor,
    InterceptorBase,
    InterceptorPipeline,
)
from governance.core.metrics import (
    AggregatedMetrics,
    InMemoryMetricsCollector,
    MetricsCollector,
    MetricsScope,
)
from governance.core.mutation import (
    Mutation,
    MutationBase,
)
from governance.core.options import (
    EngineOptions,
)
from governance.core.policies import (
    Policy,
    PolicyDecision,
    PolicyDecisionSeverity,
    PolicyRegistry,
    PolicyRequirement,
    policy_order_key,
)
from governance.core.results import (
    BatchMutationResult,
    MutationMetrics,
    MutationResult,
    MutationStatistics,
    ValidationError,
    ValidationInfo,
    ValidationResult,
    ValidationWarning,
)

__all__ = [
    "ActorType",
    "AggregatedMetrics",
    "Auditor",
    "BatchMutationResult",
    "BlastRadius",
    "BlastRadiusScope",
    "ChangeSet",
    "ChangeType",
    "EngineOptions",
    "HistoryStatistics",
    "HistoryStore",
    "InMemoryAuditor",
    "InMemoryHistoryStore",
    "InMemoryMetricsCollector",
    "Interceptor",
    "InterceptorBase",
    "InterceptorPipeline",
    "MetricsCollector",
    "MetricsScope",
    "Mutation",
    "MutationAuditEntry",
    "MutationBase",
    "MutationContext",
    "MutationEngine",
    "MutationHistory",
    "MutationHistoryEntry",
    "MutationIntent",
    "MutationMetrics",
    "MutationMode",
    "MutationResult",
    "MutationStatistics",
    "NullAuditor",
    "NullHistoryStore",
    "Policy",
    "PolicyDecision",
    "PolicyDecisionSeverity",
    "PolicyRegistry",
    "PolicyRequirement",
    "RiskLevel",
    "SideEffect",
    "SideEffectSeverity",
    "StateChange",
    "TimelineItem",
    "ValidationError",
    "ValidationInfo",
    "ValidationResult",
    "ValidationWarning",
    "contract_for",
    "policy_order_key",
    "side_effect_contract",
]

"""Detailed execution metrics: a scope per execution, a collector that aggregates them."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from governance._clock import Clock, utc_now
from governance.core.results import KeptMetrics, MutationMetrics, build_metrics
from governance.errors import InvalidArgumentError

_ZERO = timedelta(0)
_new_kept = object.__new__



class MetricsScope:
    """Collects the metrics of one execution; its stopwatch starts when it is created.

    Times recorded more than once add up (the engine validates twice in VALIDATE mode). Not
    thread-safe: one execution, one thread. Times are kept as seconds and become ``timedelta``
    values in ``build``. The engine opens one for a collector other than
    ``InMemoryMetricsCollector``, which takes the measured values directly (``keep``).
    """

    __slots__ = (
        "_changes_count",
        "_clock",
        "_custom",
        "_evaluated_policies",
        "_memory_used",
        "_policy_seconds",
        "_started",
        "_state_size",
        "_validated_rules",
        "_validation_seconds",
        "execution_id",
    )

    def __init__(self, execution_id: str, clock: Clock = utc_now) -> None:
        self.execution_id = execution_id
        self._clock = clock
        self._started = time.perf_counter()
        self._validation_seconds = 0.0
        self._policy_seconds = 0.0
        self._validated_rules = 0
        self._evaluated_policies = 0
        self._changes_count = 0
        self._state_size: int | None = None
        self._memory_used: int | None = None
        self._custom: dict[str, Any] | None = None

    def record_validation_time(self, elapsed: timedelta, validated_rules: int = 0) -> None:
        """Add ``elapsed`` to the validation time and ``validated_rules`` to the rule count."""
        self._validation_seconds += elapsed.total_seconds()
        self._validated_rules += validated_rules

    def record_policy_time(self, elapsed: timedelta, evaluated_policies: int = 0) -> None:
        """Add ``elapsed`` to the policy time and ``evaluated_policies`` to the policy count."""
        self._policy_seconds += elapsed.total_seconds()
        self._evaluated_policies += evaluated_policies

    def add_validation_seconds(self, seconds: float, validated_rules: int) -> None:
        """``record_validation_time`` in seconds, as the engine measures it."""
        self._validation_seconds += seconds
        self._validated_rules += validated_rules

    def add_policy_seconds(self, seconds: float, evaluated_policies: int) -> None:
        """``record_policy_time`` in seconds, as the engine measures it."""
        self._policy_seconds += seconds
        self._evaluated_policies += evaluated_policies

    def record_changes(self, count: int) -> None:
        """Set how many changes the execution produced."""
        self._changes_count = count

    def record_state_size(self, size: int) -> None:
        """Set the estimated size of the state, in bytes."""
        self._state_size = size

    def record_memory(self, memory_used: int) -> None:
        """Set the memory the execution used, in bytes."""
        self._memory_used = memory_used

    def record_custom(self, name: str, value: Any) -> None:
        """Set a custom metric (kept in ``additional_metrics``)."""
        if self._custom is None:
            self._custom = {}
        self._custom[name] = value

    @property
    def elapsed(self) -> timedelta:
        """Time since the scope was opened."""
        return timedelta(seconds=time.perf_counter() - self._started)

    def build(self) -> MutationMetrics:
        """The metrics so far; ``execution_time`` is the scope's stopwatch reading."""
        return build_metrics(
            recorded_at=self._clock(),
            execution_time=self.elapsed,
            validation_time=timedelta(0, self._validation_seconds),
            policy_evaluation_time=timedelta(0, self._policy_seconds),
            validated_rules=self._validated_rules,
            evaluated_policies=self._evaluated_policies,
            changes_count=self._changes_count,
            state_size=self._state_size,
            memory_used=self._memory_used,
            used_cache=False,
            additional_metrics=dict(self._custom or ()),
        )


@dataclass(frozen=True, slots=True)
class AggregatedMetrics:
    """Execution-time statistics over a time window (all zero when nothing was recorded)."""

    count: int
    average_execution_time: timedelta
    min_execution_time: timedelta
    max_execution_time: timedelta
    p50_execution_time: timedelta
    p95_execution_time: timedelta
    p99_execution_time: timedelta
    throughput_per_second: float

    @classmethod
    def empty(cls) -> AggregatedMetrics:
        """Statistics of nothing."""
        return cls(0, _ZERO, _ZERO, _ZERO, _ZERO, _ZERO, _ZERO, 0.0)

    @classmethod
    def of(
        cls, execution_times: list[timedelta], window: timedelta
    ) -> AggregatedMetrics:
        """Statistics of ``execution_times`` recorded during ``window``.

        Percentiles pick ``sorted[int(n * q)]`` (``sorted[n // 2]`` for the median), and
        throughput is ``n / window`` in seconds (0.0 for an empty window).
        """
        n = len(execution_times)
        if n == 0:
            return cls.empty()
        ordered = sorted(execution_times)
        seconds = window.total_seconds()
        return cls(
            count=n,
            average_execution_time=sum(ordered, _ZERO) / n,
            min_execution_time=ordered[0],
            max_execution_time=ordered[-1],
            p50_execution_time=ordered[n // 2],
            p95_execution_time=ordered[min(int(n * 0.95), n - 1)],
            p99_execution_time=ordered[min(int(n * 0.99), n - 1)],
            throughput_per_second=n / seconds if seconds > 0 else 0.0,
        )


@runtime_checkable
class MetricsCollector(Protocol):
    """Where the engine sends detailed metrics (only when ``enable_detailed_metrics`` is on)."""

    def begin_scope(self, execution_id: str) -> MetricsScope:
        """Open the scope of one execution."""
        ...

    def record(self, execution_id: str, metrics: MutationMetrics) -> None:
        """Keep the metrics of one execution."""
        ...

    def get_aggregated(self, start: datetime, end: datetime) -> AggregatedMetrics:
        """Statistics over metrics with ``start <= recorded_at <= end``."""
        ...


class InMemoryMetricsCollector:
    """Keeps metrics by execution id in a dict (it grows without bound). Each read and write
    is one dict operation; the engine's ``keep`` writes without taking the lock."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or utc_now
        self._lock = threading.Lock()
        # A record, or the values the engine kept (``keep``), built into one when read.
        self._metrics: dict[str, MutationMetrics | KeptMetrics] = {}

    def begin_scope(self, execution_id: str) -> MetricsScope:
        """A new scope whose ``recorded_at`` comes from this collector's clock."""
        return MetricsScope(execution_id, self._clock)

    def record(self, execution_id: str, metrics: MutationMetrics) -> None:
        """Keep ``metrics``, replacing earlier metrics of the same execution."""
        with self._lock:
            self._metrics[execution_id] = metrics

    def keep(self, execution_id: str, execution_seconds: float, validation_seconds: float,
             policy_seconds: float, validated_rules: int, evaluated_policies: int,
             changes_count: int, state_size: int | None) -> KeptMetrics:
        """Keep what the engine measured for one execution, taking the recording instant now;
        the record is built when first read (by ``get``, ``get_aggregated`` or the result
        that shares the returned ``KeptMetrics``)."""
        clock = self._clock
        kept = _new_kept(KeptMetrics)
        kept.recorded_at = time.time() if clock is utc_now else clock()
        kept.execution_seconds = execution_seconds
        kept.validation_seconds = validation_seconds
        kept.policy_seconds = policy_seconds
        kept.validated_rules = validated_rules
        kept.evaluated_policies = evaluated_policies
        kept.changes_count = changes_count
        kept.state_size = state_size
        kept._record = None
        # One dict write with a string key, atomic on its own: every read takes the values
        # in one step too (see docs/conventions.md).
        self._metrics[execution_id] = kept
        return kept

    def get(self, execution_id: str) -> MutationMetrics | None:
        """The metrics recorded for ``execution_id``, if any."""
        with self._lock:
            metrics = self._metrics.get(execution_id)
        return metrics.record() if isinstance(metrics, KeptMetrics) else metrics

    @property
    def count(self) -> int:
        """How many executions have metrics."""
        with self._lock:
            return len(self._metrics)

    def get_aggregated(self, start: datetime, end: datetime) -> AggregatedMetrics:
        """Statistics over metrics with ``start <= recorded_at <= end``.

        Raises:
            InvalidArgumentError: ``start`` is after ``end``.
        """
        if start > end:
            raise InvalidArgumentError(f"metrics window starts ({start}) after it ends ({end})")
        with self._lock:
            kept = list(self._metrics.values())
        records = [m.record() if isinstance(m, KeptMetrics) else m for m in kept]
        times = [m.execution_time for m in records if start <= m.recorded_at <= end]
        return AggregatedMetrics.of(times, end - start)

    def clear(self) -> None:
        """Forget every recorded metric."""
        with self._lock:
            self._metrics.clear()

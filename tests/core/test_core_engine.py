"""MutationEngine.execute and execute_batch, step by step (DOMAIN.md 1.7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from governance.core import (
    ChangeSet,
    EngineOptions,
    InMemoryAuditor,
    InMemoryHistoryStore,
    InMemoryMetricsCollector,
    MutationContext,
    MutationEngine,
    MutationMode,
    MutationResult,
    NullAuditor,
    NullHistoryStore,
    PolicyDecision,
    PolicyRequirement,
    SideEffect,
    StateChange,
)
from governance.errors import (
    ExecutionTimeoutError,
    GovernanceError,
    InvalidArgumentError,
    InvalidMutationError,
    MissingArgumentError,
    MutationError,
    PolicyEvaluationError,
    PolicyEvaluationTimeoutError,
    RequestNotFoundError,
)
from governance.testing import RaisingPolicy
from tests.core.core_support import (
    Counter,
    HookCall,
    Increment,
    NoDecisionPolicy,
    RecordingInterceptor,
    SleepingPolicy,
    StaticPolicy,
    context,
)


class Harness:
    """An engine wired to in-memory collaborators the test can inspect."""

    def __init__(self, options: EngineOptions | None = None) -> None:
        self.auditor = InMemoryAuditor()
        self.history = InMemoryHistoryStore()
        self.metrics = InMemoryMetricsCollector()
        self.engine = MutationEngine(
            options, auditor=self.auditor, history=self.history, metrics=self.metrics
        )
        self.calls: list[HookCall] = []
        self.recorder = RecordingInterceptor("recorder", calls=self.calls)
        self.engine.register_interceptor(self.recorder)
        self.policy_log: list[str] = []

    def policy(self, name: str, priority: int = 0, decision: PolicyDecision | None = None) -> None:
        self.engine.register_policy(StaticPolicy(name, priority, decision, self.policy_log))

    def hooks(self) -> list[str]:
        return [call.hook for call in self.calls]

    def execution_id(self) -> str:
        return self.calls[0].execution_id


@pytest.fixture
def strict() -> Harness:
    return Harness(EngineOptions.strict())


@pytest.fixture
def performance() -> Harness:
    return Harness(EngineOptions.performance())


# -- construction ----------------------------------------------------------------------------------


def test_engine_defaults_to_strict_options_and_in_memory_collaborators() -> None:
    engine = MutationEngine()

    assert engine.options == EngineOptions.strict()
    assert isinstance(engine.auditor, InMemoryAuditor)
    assert isinstance(engine.history, InMemoryHistoryStore)
    assert isinstance(engine.metrics, InMemoryMetricsCollector)


@pytest.mark.parametrize("limit", [0, -1])
def test_engine_refuses_fewer_than_one_concurrent_mutation(limit: int) -> None:
    with pytest.raises(InvalidArgumentError, match="max_concurrent_mutations"):
        MutationEngine(EngineOptions(max_concurrent_mutations=limit))


def test_engine_refuses_none_mutation_policy_and_interceptor() -> None:
    engine = MutationEngine()

    with pytest.raises(MissingArgumentError):
        engine.execute(None, Counter(0))  # type: ignore[arg-type]
    with pytest.raises(MissingArgumentError):
        engine.register_policy(None)  # type: ignore[arg-type]
    with pytest.raises(MissingArgumentError):
        engine.register_interceptor(None)  # type: ignore[arg-type]
    with pytest.raises(MissingArgumentError):
        engine.execute_batch(None, Counter(0))  # type: ignore[arg-type]


# -- the happy path --------------------------------------------------------------------------------


def test_commit_applies_the_mutation_and_returns_the_new_state_and_its_changes(
    strict: Harness,
) -> None:
    mutation = Increment(by=2)

    result = strict.engine.execute(mutation, Counter(40))

    assert result.is_success
    assert result.new_state == Counter(42)
    assert [(c.path, c.old_value, c.new_value) for c in result.changes] == [("Value", 40, 42)]
    assert mutation.calls == ["validate", "apply"]
    assert strict.hooks() == ["before", "after"]
    assert isinstance(result.metrics.execution_time, timedelta)
    assert result.policy_decisions == []


def test_hooks_receive_the_intent_context_states_and_one_execution_id(strict: Harness) -> None:
    mutation = Increment()

    result = strict.engine.execute(mutation, Counter(1))

    before, after = strict.calls
    assert before.args["intent"] is mutation.intent
    assert before.args["context"] is mutation.context
    assert before.args["state"] == Counter(1)
    assert (after.args["old_state"], after.args["new_state"]) == (Counter(1), Counter(2))
    assert after.args["changes"] is result.changes
    assert before.execution_id == after.execution_id
    assert strict.auditor.entries[0].execution_id == before.execution_id


def test_each_execution_gets_a_new_execution_id(strict: Harness) -> None:
    for _ in range(50):
        strict.engine.execute(Increment(), Counter(0))
    other = Harness()
    other.engine.execute(Increment(), Counter(0))

    ids = {c.execution_id for c in strict.calls} | {c.execution_id for c in other.calls}
    assert len(ids) == 51


# -- policies --------------------------------------------------------------------------------------


def test_policies_run_by_priority_then_name_and_all_run_when_all_allow(strict: Harness) -> None:
    strict.policy("b", 1)
    strict.policy("low", -1)
    strict.policy("a", 1)
    strict.policy("high", 100)

    result = strict.engine.execute(Increment(), Counter(0))

    assert result.is_success
    assert strict.policy_log == ["high", "a", "b", "low"]


def test_first_refusing_policy_decides_and_later_policies_are_not_asked(strict: Harness) -> None:
    strict.policy("allow-first", 10)
    strict.policy("deny", 5, PolicyDecision.deny("frozen", "deny"))
    strict.policy("never-asked", 1, PolicyDecision.deny("other", "never-asked"))
    mutation = Increment()

    result = strict.engine.execute(mutation, Counter(0))

    assert not result.is_success
    assert strict.policy_log == ["allow-first", "deny"]
    assert result.policy_decisions[0].reason == "frozen"
    assert mutation.calls == []


def test_first_policy_with_modifications_decides_and_later_policies_are_not_asked(
    strict: Harness,
) -> None:
    strict.policy("modify", 10, PolicyDecision.modify({"State": Counter(100)}, "modify"))
    strict.policy("deny", 5, PolicyDecision.deny("never reached", "deny"))

    result = strict.engine.execute(Increment(), Counter(0))

    assert result.is_success
    assert result.new_state == Counter(100)
    assert strict.policy_log == ["modify"]


def test_side_effect_modifications_are_appended_to_the_mutations_own(strict: Harness) -> None:
    own = SideEffect.create("Own", "from the mutation")
    one = SideEffect.create("One", "single")
    many = [SideEffect.create("Many", "a"), SideEffect.create("Many", "b")]
    strict.policy("m", 0, PolicyDecision.modify({"SideEffect": one, "SideEffects": many}))

    result = strict.engine.execute(Increment(side_effects=[own]), Counter(0))

    assert result.side_effects == [own, one, *many]
    assert result.new_state == Counter(1)
    assert strict.auditor.entries[0].side_effects == [own, one, *many]


def test_state_modification_of_another_type_is_ignored(strict: Harness) -> None:
    strict.policy("m", 0, PolicyDecision.modify({"State": "not a counter", "Other": 1}))

    result = strict.engine.execute(Increment(), Counter(0))

    assert result.new_state == Counter(1)


def test_modifications_are_not_applied_to_a_failed_result(strict: Harness) -> None:
    strict.policy("m", 0, PolicyDecision.modify({"State": Counter(100), "SideEffect":
                                                 SideEffect.create("x", "y")}))

    result = strict.engine.execute(Increment(failure_reason="apply refused"), Counter(0))

    assert not result.is_success
    assert result.new_state is None and result.side_effects == []


def test_policy_that_raises_becomes_a_policy_evaluation_error_naming_it(strict: Harness) -> None:
    original = KeyError("missing rule")
    strict.engine.register_policy(RaisingPolicy("fragile", original))
    mutation = Increment()

    with pytest.raises(PolicyEvaluationError, match="fragile") as caught:
        strict.engine.execute(mutation, Counter(0))

    assert caught.value.policy_name == "fragile"
    assert caught.value.__cause__ is original
    assert caught.value.execution_id == strict.execution_id()
    assert mutation.calls == []
    assert strict.hooks() == ["before", "failed"]
    entry = strict.auditor.entries[0]
    assert not entry.is_success and "fragile" in (entry.error_message or "")


def test_policy_returning_no_decision_is_a_policy_evaluation_error(strict: Harness) -> None:
    strict.engine.register_policy(NoDecisionPolicy())

    with pytest.raises(PolicyEvaluationError, match="silent"):
        strict.engine.execute(Increment(), Counter(0))


def test_policy_slower_than_its_timeout_raises_a_timeout_error() -> None:
    harness = Harness(EngineOptions(policy_evaluation_timeout=timedelta(milliseconds=1)))
    harness.engine.register_policy(SleepingPolicy("slow", 0.05))
    mutation = Increment()

    with pytest.raises(PolicyEvaluationTimeoutError) as caught:
        harness.engine.execute(mutation, Counter(0))

    assert caught.value.policy_name == "slow"
    assert caught.value.timeout == timedelta(milliseconds=1)
    assert isinstance(caught.value, PolicyEvaluationError)
    assert mutation.calls == []
    assert harness.hooks() == ["before", "failed"]


def test_unregistered_policies_and_interceptors_no_longer_run(strict: Harness) -> None:
    strict.policy("deny", 0, PolicyDecision.deny("no"))

    assert strict.engine.unregister_policy("deny") is True
    assert strict.engine.unregister_interceptor("recorder") is True
    assert strict.engine.unregister_policy("deny") is False
    result = strict.engine.execute(Increment(), Counter(0))

    assert result.is_success
    assert strict.policy_log == [] and strict.calls == []


# -- blocked ---------------------------------------------------------------------------------------


def test_blocked_mutation_is_a_failed_result_with_the_decision_and_is_not_run(
    strict: Harness,
) -> None:
    decision = PolicyDecision.deny("change freeze", "freeze")
    strict.policy("freeze", 0, decision)
    mutation = Increment()

    result = strict.engine.execute(mutation, Counter(0))

    assert not result.is_success
    assert result.new_state is None
    assert result.policy_decisions == [decision]
    assert [(e.path, e.message) for e in result.validation_result.errors] == [
        ("Policy", "change freeze")
    ]
    assert mutation.calls == []
    assert isinstance(result.metrics.execution_time, timedelta)


def test_blocked_mutation_runs_the_blocked_hooks_and_no_after_hook(strict: Harness) -> None:
    decision = PolicyDecision.deny_critical("never", "guard")
    strict.policy("guard", 0, decision)

    strict.engine.execute(Increment(), Counter(0))

    assert strict.hooks() == ["before", "blocked"]
    assert strict.calls[1].args["decision"] is decision


def test_blocked_mutation_is_audited_as_a_failure_and_leaves_no_history(strict: Harness) -> None:
    decision = PolicyDecision.deny("change freeze", "freeze")
    strict.policy("freeze", 0, decision)

    strict.engine.execute(Increment(), Counter(0))

    (entry,) = strict.auditor.entries
    assert not entry.is_success
    assert entry.error_message == "change freeze"
    assert list(entry.policy_decisions) == [decision]
    assert strict.history.get_history("counter-1") == []


def test_a_required_approval_blocks_the_mutation(strict: Harness) -> None:
    requirement = PolicyRequirement.approval("security-lead", "prod change")
    strict.policy("approvals", 0, PolicyDecision.require_approval(requirement, "approvals"))

    result = strict.engine.execute(Increment(), Counter(0))

    assert not result.is_success
    assert result.policy_decisions[0].requirements == [requirement]


# -- validation ------------------------------------------------------------------------------------


def test_strict_commit_validates_and_an_invalid_mutation_is_not_applied(strict: Harness) -> None:
    mutation = Increment(invalid_reason="must stay even")

    result = strict.engine.execute(mutation, Counter(0))

    assert not result.is_success
    assert result.validation_result.errors[0].message == "must stay even"
    assert mutation.calls == ["validate"]


def test_invalid_mutation_is_audited_as_failure_and_fires_no_hook_after_before(
    strict: Harness,
) -> None:
    mutation = Increment(invalid_reason="must stay even")

    strict.engine.execute(mutation, Counter(0))

    assert strict.hooks() == ["before"]
    (entry,) = strict.auditor.entries
    assert not entry.is_success
    assert entry.error_message == "must stay even"
    assert strict.history.get_history("counter-1") == []


def test_validation_errors_are_joined_in_the_audit_message(strict: Harness) -> None:
    class TwoErrors(Increment):
        def validate(self, state: Counter):  # type: ignore[no-untyped-def]
            from governance.core import ValidationResult

            return ValidationResult().add_error("A", "first").add_error("B", "second")

    strict.engine.execute(TwoErrors(), Counter(0))

    assert strict.auditor.entries[0].error_message == "first; second"


def test_performance_commit_skips_validation(performance: Harness) -> None:
    mutation = Increment(invalid_reason="would refuse")

    result = performance.engine.execute(mutation, Counter(0))

    assert result.is_success
    assert mutation.calls == ["apply"]


def test_commit_validates_whenever_always_validate_is_on() -> None:
    harness = Harness(EngineOptions.default())
    mutation = Increment(invalid_reason="refused")

    assert not harness.engine.execute(mutation, Counter(0)).is_success
    assert mutation.calls == ["validate"]


@pytest.mark.parametrize("mode", [MutationMode.SIMULATE, MutationMode.VALIDATE])
def test_simulate_and_validate_modes_validate_even_without_always_validate(
    performance: Harness, mode: MutationMode
) -> None:
    mutation = Increment(context(mode=mode), invalid_reason="refused")

    result = performance.engine.execute(mutation, Counter(0))

    assert not result.is_success
    assert mutation.calls == ["validate"]


# -- modes -----------------------------------------------------------------------------------------


def test_simulate_mode_simulates_instead_of_applying_and_stores_no_history(
    strict: Harness,
) -> None:
    mutation = Increment(context(mode=MutationMode.SIMULATE))

    result = strict.engine.execute(mutation, Counter(5))

    assert result.is_success and result.new_state == Counter(6)
    assert mutation.calls == ["validate", "simulate"]
    assert strict.hooks() == ["before", "after"]
    assert strict.auditor.entries[0].is_success
    assert strict.history.get_history("counter-1") == []


def test_validate_mode_validates_twice_and_returns_the_unchanged_state(strict: Harness) -> None:
    mutation = Increment(context(mode=MutationMode.VALIDATE))
    state = Counter(5)

    result = strict.engine.execute(mutation, state)

    assert result.is_success
    assert result.new_state is state
    assert result.changes.count == 0
    assert mutation.calls == ["validate", "validate"]
    assert strict.history.get_history("counter-1") == []


def test_validate_mode_reports_a_failure_of_the_second_validation(performance: Harness) -> None:
    class FlakyValidation(Increment):
        def validate(self, state: Counter):  # type: ignore[no-untyped-def]
            from governance.core import ValidationResult

            self.calls.append("validate")
            if len(self.calls) > 1:
                return ValidationResult.with_error("Value", "changed its mind")
            return ValidationResult.success()

    mutation = FlakyValidation(context(mode=MutationMode.VALIDATE))

    result = performance.engine.execute(mutation, Counter(0))

    assert not result.is_success
    assert result.validation_result.errors[0].message == "changed its mind"
    assert performance.hooks() == ["before", "after"]
    assert not performance.auditor.entries[0].is_success


def test_commit_past_the_execution_timeout_raises_before_apply() -> None:
    harness = Harness(EngineOptions(execution_timeout=timedelta(milliseconds=1)))
    harness.engine.register_policy(SleepingPolicy("slow", 0.02))
    mutation = Increment()

    with pytest.raises(ExecutionTimeoutError) as caught:
        harness.engine.execute(mutation, Counter(0))

    assert mutation.calls == ["validate"]
    assert caught.value.execution_id == harness.execution_id()
    assert caught.value.timeout == timedelta(milliseconds=1)


# -- audit -----------------------------------------------------------------------------------------


def test_audit_entry_describes_a_successful_commit(strict: Harness) -> None:
    ctx = context(
        source_ip_address="10.0.0.7", user_agent="cli/1.0", metadata={"Ticket": "OPS-1"}
    )
    mutation = Increment(ctx)

    result = strict.engine.execute(mutation, Counter(0))

    (entry,) = strict.auditor.entries
    assert entry.is_success and entry.error_message is None
    assert entry.execution_id == strict.execution_id()
    assert entry.state_id == "counter-1"
    assert entry.state_type == "Counter"
    assert entry.mutation_intent is mutation.intent
    assert entry.context is ctx
    assert entry.changes is result.changes
    assert entry.timestamp == ctx.timestamp
    assert (entry.source_ip_address, entry.user_agent) == ("10.0.0.7", "cli/1.0")
    assert entry.metadata == {"Ticket": "OPS-1"}
    assert isinstance(entry.duration, timedelta)
    (decision,) = entry.policy_decisions
    assert decision.is_allowed


def test_audit_entry_carries_the_mutations_own_context_object(strict: Harness) -> None:
    class Wrapper(Increment):
        """A wrapper that enriches the context it reports, as governed execution does."""

        @property
        def context(self) -> MutationContext:
            return self._context.model_copy(update={"metadata": {"RequestId": "req-9"}})

    wrapper = Wrapper()

    strict.engine.execute(wrapper, Counter(0))

    assert strict.auditor.entries[0].context.metadata == {"RequestId": "req-9"}


def test_audit_entry_lists_the_deciding_modification(strict: Harness) -> None:
    decision = PolicyDecision.modify({"Note": "x"}, "annotator")
    strict.policy("annotator", 0, decision)

    strict.engine.execute(Increment(), Counter(0))

    assert list(strict.auditor.entries[0].policy_decisions) == [decision]


def test_audit_entry_of_a_failed_apply_says_failure_and_no_history_is_stored(
    strict: Harness,
) -> None:
    result = strict.engine.execute(Increment(failure_reason="counter locked"), Counter(0))

    assert not result.is_success
    (entry,) = strict.auditor.entries
    assert entry.is_success is result.is_success is False
    assert entry.error_message == "counter locked"
    assert strict.hooks() == ["before", "after"]
    assert strict.history.get_history("counter-1") == []


def test_a_disabled_auditor_and_history_store_receive_nothing() -> None:
    engine = MutationEngine(
        EngineOptions.strict(), auditor=NullAuditor(), history=NullHistoryStore()
    )

    result = engine.execute(Increment(), Counter(0))

    assert result.is_success
    assert engine.get_history("counter-1") == []
    assert engine.auditor.get_audit_log("counter-1") == []


# -- history ---------------------------------------------------------------------------------------


def test_successful_commit_is_stored_in_history_under_the_state_id(strict: Harness) -> None:
    effect = SideEffect.create("Mail", "sent")
    mutation = Increment(side_effects=[effect])

    result = strict.engine.execute(mutation, Counter(0))

    (entry,) = strict.engine.get_history("counter-1")
    assert entry.execution_id == strict.execution_id()
    assert entry.state_id == "counter-1"
    assert entry.intent is mutation.intent and entry.context is mutation.context
    assert entry.changes is result.changes
    assert list(entry.side_effects) == [effect]
    assert entry.timestamp == mutation.context.timestamp
    assert isinstance(entry.execution_time, timedelta)


def test_history_falls_back_to_the_correlation_id(strict: Harness) -> None:
    mutation = Increment(context(state_id=None, correlation_id="corr-1"))

    strict.engine.execute(mutation, Counter(0))

    assert [e.state_id for e in strict.engine.get_history("corr-1")] == ["corr-1"]
    assert strict.auditor.entries[0].state_id is None


def test_nothing_is_stored_in_history_without_state_or_correlation_id(strict: Harness) -> None:
    mutation = Increment(context(state_id=None))

    result = strict.engine.execute(mutation, Counter(0))

    assert result.is_success
    assert strict.history.get_history("") == []
    assert len(strict.auditor.entries) == 1


# -- exceptions ------------------------------------------------------------------------------------


def test_unexpected_exception_is_wrapped_with_the_execution_id(strict: Harness) -> None:
    original = ZeroDivisionError("division by zero")

    with pytest.raises(MutationError) as caught:
        strict.engine.execute(Increment(raises=original), Counter(0))

    error = caught.value
    execution_id = strict.execution_id()
    assert type(error) is MutationError
    assert error.execution_id == execution_id
    assert error.__cause__ is original and error.inner is original
    assert "mutation execution failed" in str(error)
    assert execution_id in str(error) and "division by zero" in str(error)


def test_exception_runs_the_failed_hooks_with_the_original_and_is_audited(
    strict: Harness,
) -> None:
    original = ValueError("bad input")

    with pytest.raises(MutationError):
        strict.engine.execute(Increment(raises=original), Counter(0))

    assert strict.hooks() == ["before", "failed"]
    assert strict.calls[1].args["exception"] is original
    (entry,) = strict.auditor.entries
    assert not entry.is_success
    assert entry.error_message == "bad input"
    assert entry.execution_id == strict.execution_id()
    assert strict.history.get_history("counter-1") == []


def test_governance_error_is_reraised_unchanged(strict: Harness) -> None:
    original = RequestNotFoundError("req-1")

    with pytest.raises(RequestNotFoundError) as caught:
        strict.engine.execute(Increment(raises=original), Counter(0))

    assert caught.value is original
    assert strict.hooks() == ["before", "failed"]
    assert not strict.auditor.entries[0].is_success


def test_an_exception_is_audited_even_by_a_disabled_auditor() -> None:
    class CountingDisabledAuditor(NullAuditor):
        def __init__(self) -> None:
            self.received = 0

        def audit(self, entry: object) -> None:
            self.received += 1

    auditor = CountingDisabledAuditor()
    engine = MutationEngine(auditor=auditor)

    engine.execute(Increment(), Counter(0))
    with pytest.raises(MutationError):
        engine.execute(Increment(raises=ValueError("x")), Counter(0))

    assert auditor.received == 1


def test_a_failing_before_hook_is_handled_like_a_failing_mutation() -> None:
    harness = Harness()
    harness.engine.register_interceptor(
        RecordingInterceptor("broken", order=5, calls=harness.calls, fail_before=OSError("disk"))
    )
    mutation = Increment()

    with pytest.raises(MutationError, match="disk"):
        harness.engine.execute(mutation, Counter(0))

    assert mutation.calls == []
    assert [(c.interceptor, c.hook) for c in harness.calls] == [
        ("recorder", "before"), ("broken", "before"), ("recorder", "failed"), ("broken", "failed"),
    ]


def test_a_mutation_returning_no_result_is_an_invalid_mutation_error(strict: Harness) -> None:
    with pytest.raises(InvalidMutationError) as caught:
        strict.engine.execute(Increment(returns_none=True), Counter(0))

    assert caught.value.execution_id == strict.execution_id()


def test_cancellation_style_base_exceptions_pass_through_untouched(strict: Harness) -> None:
    class Cancelled(BaseException):
        pass

    original = Cancelled()

    with pytest.raises(Cancelled) as caught:
        strict.engine.execute(Increment(raises=original), Counter(0))

    assert caught.value is original
    assert strict.hooks() == ["before"]
    assert strict.auditor.entries == ()


def test_gates_are_released_after_an_exception() -> None:
    harness = Harness(EngineOptions(max_concurrent_mutations=1))

    with pytest.raises(MutationError):
        harness.engine.execute(Increment(raises=ValueError("x")), Counter(0))

    assert harness.engine.execute(Increment(), Counter(0)).is_success


def test_errors_raised_by_the_engine_are_governance_errors(strict: Harness) -> None:
    with pytest.raises(GovernanceError):
        strict.engine.execute(Increment(raises=ValueError("x")), Counter(0))


# -- metrics ---------------------------------------------------------------------------------------


def test_detailed_metrics_are_recorded_for_every_execution(strict: Harness) -> None:
    strict.policy("a")
    strict.policy("b")

    strict.engine.execute(Increment(), Counter(0))

    metrics = strict.metrics.get(strict.execution_id())
    assert metrics is not None
    assert metrics.evaluated_policies == 2
    assert metrics.validated_rules == 1
    assert metrics.changes_count == 1
    assert metrics.state_size is not None and metrics.state_size > 0
    assert strict.metrics.count == 1


def test_one_duration_is_recorded_in_every_record_of_an_execution(strict: Harness) -> None:
    strict.policy("a")

    result = strict.engine.execute(Increment(), Counter(0))

    (audited,) = strict.auditor.entries
    (history,) = strict.history.get_history(audited.state_id or "")
    recorded = strict.metrics.get(strict.execution_id())
    assert result.metrics is recorded  # the result carries the collector's record
    assert result.metrics.execution_time > timedelta(0)
    assert audited.duration == history.execution_time == result.metrics.execution_time
    assert result.metrics.evaluated_policies == 1 and result.metrics.changes_count == 1


def test_without_detailed_metrics_the_result_keeps_its_own_metrics(performance: Harness
                                                                    ) -> None:
    returned = MutationResult.success(Counter(1))
    mutation = Increment()
    mutation.apply = lambda state: returned  # type: ignore[method-assign]

    result = performance.engine.execute(mutation, Counter(0))

    assert result is not returned and result.metrics is not returned.metrics
    assert returned.metrics.execution_time == timedelta(0)  # what the mutation built is kept
    assert result.metrics.recorded_at == returned.metrics.recorded_at
    assert result.metrics.execution_time == performance.auditor.entries[0].duration
    assert performance.metrics.count == 0


def test_blocked_and_invalid_executions_are_measured_too(strict: Harness) -> None:
    strict.engine.execute(Increment(invalid_reason="no"), Counter(0))
    strict.policy("deny", 0, PolicyDecision.deny("no"))
    strict.engine.execute(Increment(), Counter(0))

    assert strict.metrics.count == 2


def test_no_metrics_are_recorded_without_detailed_metrics(performance: Harness) -> None:
    performance.engine.execute(Increment(), Counter(0))

    assert performance.metrics.count == 0
    assert performance.engine.get_statistics().total_executed == 0


def test_statistics_summarise_the_last_thirty_days_of_metrics() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    engine = MutationEngine(clock=lambda: now)
    for _ in range(3):
        engine.execute(Increment(), Counter(0))

    statistics = engine.get_statistics()

    assert statistics.total_executed == 3
    assert statistics.last_updated_at == now
    assert statistics.median_execution_time <= statistics.p95_execution_time
    assert isinstance(statistics.average_execution_time, timedelta)


def test_statistics_ignore_metrics_older_than_thirty_days() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    collector = InMemoryMetricsCollector(clock=lambda: now - timedelta(days=31))
    engine = MutationEngine(metrics=collector, clock=lambda: now)

    engine.execute(Increment(), Counter(0))

    assert collector.count == 1
    assert engine.get_statistics().total_executed == 0


# -- batch -----------------------------------------------------------------------------------------


def test_batch_runs_each_mutation_on_the_previous_state(strict: Harness) -> None:
    batch = strict.engine.execute_batch([Increment(by=1), Increment(by=10), Increment(by=100)],
                                        Counter(0))

    assert batch.is_success
    assert batch.final_state == Counter(111)
    assert [r.new_state for r in batch.results] == [Counter(1), Counter(11), Counter(111)]
    assert [(c.old_value, c.new_value) for c in batch.aggregated_changes] == [
        (0, 1), (1, 11), (11, 111),
    ]
    assert (batch.success_count, batch.failure_count) == (3, 0)
    assert isinstance(batch.total_execution_time, timedelta)
    assert len(strict.engine.get_history("counter-1")) == 3


def test_batch_stops_at_the_first_failure_by_default(strict: Harness) -> None:
    never_run = Increment(by=100)

    batch = strict.engine.execute_batch(
        [Increment(by=1), Increment(invalid_reason="no"), never_run], Counter(0)
    )

    assert not batch.is_success
    assert batch.final_state is None
    assert len(batch.results) == 2
    assert never_run.calls == []
    assert [c.new_value for c in batch.aggregated_changes] == [1]


def test_batch_goes_on_after_a_failure_when_told_to() -> None:
    harness = Harness(EngineOptions(stop_batch_on_first_failure=False))

    batch = harness.engine.execute_batch(
        [Increment(by=1), Increment(invalid_reason="no"), Increment(by=100)], Counter(0)
    )

    assert not batch.is_success
    assert batch.final_state is None
    assert [r.is_success for r in batch.results] == [True, False, True]
    assert batch.results[2].new_state == Counter(101)
    assert [c.new_value for c in batch.aggregated_changes] == [1, 101]
    assert (batch.success_count, batch.failure_count) == (2, 1)


def test_an_empty_batch_is_not_a_success(strict: Harness) -> None:
    batch = strict.engine.execute_batch([], Counter(0))

    assert not batch.is_success
    assert batch.final_state is None and batch.results == []
    assert batch.aggregated_changes == ChangeSet()


def test_an_exception_aborts_the_batch(strict: Harness) -> None:
    never_run = Increment()

    with pytest.raises(MutationError):
        strict.engine.execute_batch(
            [Increment(), Increment(raises=RuntimeError("x")), never_run], Counter(0)
        )

    assert never_run.calls == []


def test_batch_accepts_any_iterable_of_mutations(strict: Harness) -> None:
    batch = strict.engine.execute_batch((Increment(by=i) for i in range(1, 4)), Counter(0))

    assert batch.final_state == Counter(6)


def test_state_change_values_pass_through_untouched(strict: Harness) -> None:
    change = StateChange.replaced("Value", 0, 1)

    class Replace(Increment):
        def apply(self, state: Counter):  # type: ignore[no-untyped-def]
            from governance.core import MutationResult

            return MutationResult.success(Counter(1), change)

    result = strict.engine.execute(Replace(), Counter(0))

    assert list(result.changes) == [change]

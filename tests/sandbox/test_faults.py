"""The fault plan: scripted faults first and exactly as many as asked, rates reproducible by seed."""

from __future__ import annotations

from sandbox.faults import FaultPlan, FaultSettings, ScriptedFault


def test_scripted_faults_fire_count_times_on_matching_requests_only() -> None:
    plan = FaultPlan()
    plan.add_script([ScriptedFault(kind="rate_limit", path=r"/v2/orders$", method="GET", count=2)])
    assert plan.take(["rate_limit"], "GET", "/stores/x/v3/customers") is None
    assert plan.take(["rate_limit"], "POST", "/stores/x/v2/orders") is None
    assert plan.take(["throttle"], "GET", "/stores/x/v2/orders") is None
    assert plan.take(["rate_limit"], "GET", "/stores/x/v2/orders") == "rate_limit"
    assert plan.take(["rate_limit"], "GET", "/stores/x/v2/orders") == "rate_limit"
    assert plan.take(["rate_limit"], "GET", "/stores/x/v2/orders") is None
    assert plan.snapshot()["fired"] == {"rate_limit": 2}


def test_rates_are_reproducible_for_a_seed_and_roughly_the_rate() -> None:
    def draws(seed: int) -> list[str | None]:
        plan = FaultPlan(FaultSettings(seed=seed, rates={"server_error": 0.2}))
        return [plan.take(["server_error"]) for _ in range(2000)]

    first = draws(7)
    assert first == draws(7)
    assert first != draws(8)
    assert 300 < first.count("server_error") < 500


def test_reconfigure_replaces_rates_and_keeps_fired_counts() -> None:
    plan = FaultPlan(FaultSettings(rates={"unavailable": 1.0}))
    assert plan.take(["unavailable"]) == "unavailable"
    plan.configure(FaultSettings())
    assert plan.take(["unavailable"]) is None
    assert plan.snapshot()["fired"] == {"unavailable": 1}

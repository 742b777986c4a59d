"""Scoring: rules fire as written, behaviour points decay on a fixed clock, bands, plugins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.lifecycle.config import ScoringSection
from hub.lifecycle.scoring import Fact, Scorer

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def scorer(rules: list[dict[str, Any]], **section: Any) -> Scorer:
    return Scorer(ScoringSection.model_validate({"rules": rules, **section}))


def test_each_condition_fires_as_written_and_the_explanation_lists_it() -> None:
    s = scorer([
        {"field": "job_title", "matches": "(?i)head|chief|geschäftsführer", "points": 20},
        {"field": "country", "in": ["DE", "AT"], "points": 5},
        {"field": "company_size", "min": 50, "max": 500, "points": 10, "name": "mid-size"},
        {"field": "signup_source", "equals": "webinar", "points": 7},
        {"field": "tags", "equals": "vip", "points": 3},
        {"field": "industry", "equals": "retail", "points": 100},
    ])
    facts = {"job_title": Fact("Geschäftsführer"), "country": Fact("de"),
             "company_size": Fact("120"), "signup_source": Fact("Webinar"),
             "tags": Fact(["new", "VIP"]), "industry": Fact("logistics")}
    result = s.score(facts, NOW)
    assert result.total == 45
    assert [(h.rule, h.earned) for h in result.hits] == [
        ("job_title matches '(?i)head|chief|geschäftsführer'", 20.0),
        ("country in ['DE', 'AT']", 5.0), ("mid-size", 10.0),
        ("signup_source = 'webinar'", 7.0), ("tags = 'vip'", 3.0)]


def test_behaviour_points_halve_every_half_life_on_a_fixed_clock() -> None:
    s = scorer([{"field": "member_rating", "min": 4, "points": 40, "behaviour": True},
                {"field": "job_title", "matches": "Head", "points": 10}], half_life_days=30)
    seen = NOW - timedelta(days=60)
    result = s.score({"member_rating": Fact(5, seen), "job_title": Fact("Head of IT")}, NOW)
    assert [h.earned for h in result.hits] == [10.0, 10.0]  # 40 → 20 → 10; profile stays
    assert result.hits[0].age_days == 60
    assert result.total == 20


def test_per_period_decay_and_dated_by_use_the_behaviour_date() -> None:
    s = scorer([{"field": "orders_count", "min": 1, "points": 50, "behaviour": True,
                 "dated_by": "last_order_at"}], decay_period_days=30, decay_percent=20)
    facts = {"orders_count": Fact(3, NOW), "last_order_at": Fact("2026-04-01T00:00:00Z")}
    # 61 days: two full periods → 50 × 0.8²
    assert s.score(facts, NOW).hits[0].earned == pytest.approx(32.0)


def test_bands_and_plugin_signals() -> None:
    s = Scorer(ScoringSection.model_validate({
        "rules": [{"field": "webinars", "min": 2, "points": 65}],
        "bands": {"cold": 0, "warm": 30, "hot": 60}}),
        {"webinars": lambda facts: len(facts.get("events", []))})
    assert s.score({"events": Fact(["a", "b"])}, NOW).band == "hot"
    assert s.score({"events": Fact(["a"])}, NOW).band == "cold"
    assert s.band(45) == "warm"


def test_a_failing_plugin_signal_counts_as_absent() -> None:
    def broken(facts: Any) -> float:
        raise RuntimeError("boom")
    s = Scorer(ScoringSection.model_validate(
        {"rules": [{"field": "x", "min": 0, "points": 5}]}), {"x": broken})
    assert s.score({}, NOW).total == 0


@pytest.mark.parametrize(("rule", "message"), [
    ({"field": "a", "points": 1}, "exactly one condition"),
    ({"field": "a", "points": 1, "equals": "x", "min": 1}, "exactly one condition"),
    ({"field": "a", "points": 1, "matches": "("}, "not a regular expression"),
    ({"field": "a", "points": 1, "min": 5, "max": 1}, "above max"),
])
def test_bad_rules_are_config_errors(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ScoringSection.model_validate({"rules": [rule]})


@given(st.floats(min_value=0, max_value=3650), st.floats(min_value=0, max_value=3650),
       st.floats(min_value=1, max_value=365))
def test_decay_never_grows_with_age(a: float, b: float, half: float) -> None:
    s = scorer([], half_life_days=half)
    young, old = sorted((a, b))
    assert 0 <= s.decay(old) <= s.decay(young) <= 1

"""Golden fields ↔ HubSpot properties."""

from __future__ import annotations

from datetime import date

import pytest

from hub_hubspot.mapping import PropertyMap, UnmappedField


def test_reading_maps_profile_fields_and_keeps_sales_decisions_as_signals() -> None:
    props = {"email": "a@b.com", "firstname": "Ada", "lastname": "", "jobtitle": "CTO",
             "address": "Main St 1", "state": "Bavaria", "hs_language": "de",
             "date_of_birth": "1990-01-02", "lifecyclestage": "lead", "hs_lead_status": None,
             "lastmodifieddate": "2024-01-01T00:00:00Z"}
    mapping = PropertyMap()
    assert mapping.fields(props) == {
        "email": "a@b.com", "first_name": "Ada", "job_title": "CTO", "street": "Main St 1",
        "region": "Bavaria", "language": "de", "birthday": "1990-01-02"}
    assert mapping.signals(props) == {"lifecyclestage": "lead"}


def test_writing_passes_signals_through_and_stringifies() -> None:
    mapping = PropertyMap({"phone": "mobilephone"})
    assert mapping.properties({"phone": "+4930123", "birthday": date(1990, 1, 2),
                               "lifecyclestage": "customer", "hs_lead_status": "OPEN",
                               "company": None}) == {
        "mobilephone": "+4930123", "date_of_birth": "1990-01-02",
        "lifecyclestage": "customer", "hs_lead_status": "OPEN", "company": ""}


def test_an_unmapped_field_is_named_with_the_fix() -> None:
    with pytest.raises(UnmappedField, match="field 'tags' has no HubSpot property: map it"):
        PropertyMap().properties({"tags": ["vip"]})
    assert PropertyMap({"language": ""}).unmapped(["language", "email"]) == ["language"]


def test_read_properties_include_the_cursor_field_and_signals() -> None:
    names = PropertyMap({"custom.industry": "industry"}).read_properties()
    assert {"email", "industry", "lifecyclestage", "hs_lead_status",
            "lastmodifieddate"} <= set(names)


@pytest.mark.parametrize(("stage", "expected"), [
    ("subscriber", "subscriber"), ("lead", "lead"), ("mql", "marketingqualifiedlead"),
    ("sql", "salesqualifiedlead"), ("opportunity", "opportunity"), ("customer", "customer"),
    ("evangelist", "evangelist"), ("other", "other")])
def test_hub_stages_become_hubspot_lifecycle_stages(stage: str, expected: str) -> None:
    assert PropertyMap().properties({"lead.stage": stage}) == {"lifecyclestage": expected}


def test_lead_keys_go_to_owner_status_and_configured_properties() -> None:
    written = PropertyMap().properties({
        "email": "a@b.com", "lead.stage": "sal", "lead.status": "NEW", "lead.owner": "77",
        "lead.score": 64, "lead.band": "hot", "lead.tags": ["hub:sal"],
        "lead.properties": {"hub_score": 64, "hub_premium": True}})
    # SAL has no HubSpot stage (sales mark it by lead status); score/band/tags only as mapped
    assert written == {"email": "a@b.com", "hs_lead_status": "NEW",
                       "hubspot_owner_id": "77", "hub_score": "64", "hub_premium": "true"}


def test_a_mapped_stage_is_written_and_read_in_the_accounts_words() -> None:
    mapping = PropertyMap(stages={"mql": "1234567", "evangelist": ""})
    assert mapping.properties({"lead.stage": "mql"}) == {"lifecyclestage": "1234567"}
    assert mapping.properties({"lead.stage": "evangelist"}) == {}
    assert mapping.properties({"lead.stage": "customer"}) == {"lifecyclestage": "customer"}
    assert mapping.signals({"lifecyclestage": "1234567"}) == {
        "lifecyclestage": "marketingqualifiedlead"}

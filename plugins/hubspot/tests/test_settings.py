"""Settings validation: the errors ops see for a wrong ``[connectors.crm]`` table."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hub_hubspot.settings import HubSpotSettings

BASE = {"plugin": "hubspot", "token": {"secret": "hubspot-token"}}


def test_defaults_are_the_documented_ones() -> None:
    settings = HubSpotSettings.model_validate(BASE)
    assert settings.base_url == "https://api.hubapi.com"
    assert settings.rate_per_10s == 100
    assert settings.search_rate_per_s == 5.0
    assert settings.read_subscriptions is True
    assert settings.subscription_id is None


def test_an_unknown_golden_field_says_did_you_mean() -> None:
    with pytest.raises(ValidationError) as info:
        HubSpotSettings.model_validate({**BASE, "properties": {"frist_name": "firstname"}})
    assert "'frist_name' is not a golden field; did you mean 'first_name'?" in str(info.value)


def test_a_hubspot_name_used_as_key_points_to_the_golden_one() -> None:
    with pytest.raises(ValidationError) as info:
        HubSpotSettings.model_validate({**BASE, "properties": {"jobtitle": "jobtitle"}})
    assert "did you mean 'job_title'?" in str(info.value)


def test_overrides_must_be_property_names_and_not_collide() -> None:
    with pytest.raises(ValidationError, match="internal property name"):
        HubSpotSettings.model_validate({**BASE, "properties": {"phone": "Mobile Phone"}})
    with pytest.raises(ValidationError, match="both map to HubSpot property 'phone'"):
        HubSpotSettings.model_validate({**BASE, "properties": {"company": "phone"}})
    with pytest.raises(ValidationError, match="cannot be remapped"):
        HubSpotSettings.model_validate({**BASE, "properties": {"lifecyclestage": "x"}})
    with pytest.raises(ValidationError, match="e-mail cannot be unmapped"):
        HubSpotSettings.model_validate({**BASE, "properties": {"email": ""}})


def test_custom_fields_and_unmapping_are_allowed() -> None:
    settings = HubSpotSettings.model_validate(
        {**BASE, "properties": {"custom.industry": "industry", "language": ""}})
    assert settings.properties == {"custom.industry": "industry", "language": ""}


def test_write_fields_must_be_mapped() -> None:
    with pytest.raises(ValidationError, match=r"write_fields \['tags'\] have no HubSpot property"):
        HubSpotSettings.model_validate({**BASE, "write_fields": ["email", "tags"]})
    HubSpotSettings.model_validate({**BASE, "write_fields": ["email", "lifecyclestage"]})


@pytest.mark.parametrize(("key", "value", "word"), [
    ("rate_per_10s", 0, "rate_per_10s"),
    ("rate_per_10s", 400, "rate_per_10s"),
    ("search_rate_per_s", 6, "search_rate_per_s"),
    ("base_url", "api.hubapi.com", "https://"),
    ("token", "pat-na1-plain-text", "token"),
])
def test_bad_values_name_their_key(key: str, value: object, word: str) -> None:
    with pytest.raises(ValidationError) as info:
        HubSpotSettings.model_validate({**BASE, key: value})
    assert word in str(info.value)


def test_lifecycle_stages_name_hub_stages_and_internal_values() -> None:
    settings = HubSpotSettings.model_validate({**BASE, "lifecycle_stages": {
        "MQL": "1234567", "evangelist": ""}})
    assert settings.lifecycle_stages == {"mql": "1234567", "evangelist": ""}
    with pytest.raises(ValidationError) as unknown:
        HubSpotSettings.model_validate({**BASE, "lifecycle_stages": {"hot": "lead"}})
    assert "'hot' is not a lifecycle stage" in str(unknown.value)
    with pytest.raises(ValidationError) as sal:
        HubSpotSettings.model_validate({**BASE, "lifecycle_stages": {"sal": "x"}})
    assert "hs_lead_status" in str(sal.value)
    with pytest.raises(ValidationError):
        HubSpotSettings.model_validate({**BASE, "lifecycle_stages": {"mql": "Marketing QL"}})

"""Secrets resolve from the environment or the keyring and never show their value."""

from __future__ import annotations

import pytest

from hub.errors import SecretError
from hub.secrets import MemoryBackend, SecretRef, Secrets, env_var_name


def test_env_var_name() -> None:
    assert env_var_name("hubspot-token") == "HUB_SECRET_HUBSPOT_TOKEN"
    assert env_var_name("shop.api.key") == "HUB_SECRET_SHOP_API_KEY"


def test_environment_overrides_the_keyring() -> None:
    backend = MemoryBackend()
    backend.set("crm-token", "from-keyring")
    secrets = Secrets(backend, environ={"HUB_SECRET_CRM_TOKEN": "from-env"})
    assert secrets.resolve(SecretRef(secret="crm-token"), where="x").get_secret_value() == "from-env"
    assert Secrets(backend, environ={}).resolve(
        SecretRef(secret="crm-token"), where="x").get_secret_value() == "from-keyring"


def test_missing_secret_names_both_ways_to_set_it() -> None:
    with pytest.raises(SecretError) as info:
        Secrets(MemoryBackend(), environ={}).resolve(SecretRef(secret="shopify-token"),
                                                    where="connector 'shop'")
    text = str(info.value)
    assert "connector 'shop'" in text and "hub secrets set shopify-token" in text
    assert "HUB_SECRET_SHOPIFY_TOKEN" in text


def test_values_never_appear_in_reprs() -> None:
    value = Secrets(MemoryBackend(), environ={"HUB_SECRET_K": "s3cr3t-value"}).resolve(
        SecretRef(secret="k"), where="x")
    assert "s3cr3t-value" not in repr(value) and "s3cr3t-value" not in str(value)


class Forgetful(MemoryBackend):
    def set(self, name: str, value: str) -> None:
        """Accepts and forgets, like the null keyring."""


def test_set_proves_the_secret_was_kept_and_delete_is_honest() -> None:
    secrets = Secrets(MemoryBackend(), environ={})
    secrets.set("crm-token", "v4lue-123")
    assert secrets.lookup("crm-token") is not None
    assert secrets.delete("crm-token") and not secrets.delete("crm-token")
    with pytest.raises(SecretError, match="HUB_SECRET_CRM_TOKEN") as info:
        Secrets(Forgetful(), environ={}).set("crm-token", "v4lue-123")
    assert "v4lue-123" not in str(info.value)

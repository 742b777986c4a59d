"""Secrets are referenced from config by name and resolved at run time, never stored.

A setting written ``token = { secret = "hubspot-token" }`` becomes a `SecretRef`. Resolution
looks at the environment variable ``HUB_SECRET_HUBSPOT_TOKEN`` first (what a scheduler or a
container sets), then the system keyring under service ``hub`` (what `hub secrets set` writes).
Resolved values are `pydantic.SecretStr`, so a repr, a log line or an exception shows
``**********`` instead of the value.
"""

from __future__ import annotations

import os
import re
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from hub.errors import SecretError

KEYRING_SERVICE = "hub"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class SecretRef(BaseModel):
    """A reference to a secret by name, as written in config.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    secret: str = Field(pattern=_NAME.pattern, description="name of the secret")

    def __repr__(self) -> str:
        return f"SecretRef({self.secret!r})"


def env_var_name(name: str) -> str:
    """The variable overriding secret `name`: hubspot-token → HUB_SECRET_HUBSPOT_TOKEN."""
    return "HUB_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


class SecretBackend(Protocol):
    """Where secrets live; the keyring in production, a dict in tests."""

    def get(self, name: str) -> str | None: ...
    def set(self, name: str, value: str) -> None: ...
    def delete(self, name: str) -> bool: ...


class MemoryBackend:
    """Secrets held in a dict: for tests, benchmarks and scripts that must not touch a keyring."""

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values = dict(values or {})

    def get(self, name: str) -> str | None:
        """The value, or None."""
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        """Store a value."""
        self.values[name] = value

    def delete(self, name: str) -> bool:
        """Remove a value; False when it was not there."""
        return self.values.pop(name, None) is not None


class KeyringBackend:
    """The system keyring (service ``hub``); a missing or broken keyring reads as 'not set'."""

    def get(self, name: str) -> str | None:
        try:
            import keyring

            return keyring.get_password(KEYRING_SERVICE, name)
        except Exception:  # no usable keyring backend on this machine: same as unset
            return None

    def set(self, name: str, value: str) -> None:
        import keyring
        from keyring.errors import KeyringError

        try:
            keyring.set_password(KEYRING_SERVICE, name, value)
        except KeyringError as exc:
            raise SecretError(
                f"cannot store secret {name!r} in the system keyring ({type(exc).__name__})",
                hint=f"set the environment variable {env_var_name(name)} instead",
            ) from None

    def delete(self, name: str) -> bool:
        import keyring
        from keyring.errors import KeyringError, PasswordDeleteError

        try:
            keyring.delete_password(KEYRING_SERVICE, name)
        except PasswordDeleteError:
            return False
        except KeyringError:
            return False
        return True


class Secrets:
    """Resolves `SecretRef`s: environment first, then the backend."""

    def __init__(self, backend: SecretBackend | None = None,
                 environ: dict[str, str] | None = None) -> None:
        self._backend = backend or KeyringBackend()
        self._environ = environ if environ is not None else os.environ

    def lookup(self, name: str) -> SecretStr | None:
        """The secret's value, or None when neither the environment nor the keyring has it."""
        value = self._environ.get(env_var_name(name))
        if value is None:
            value = self._backend.get(name)
        return SecretStr(value) if value else None

    def resolve(self, ref: SecretRef, *, where: str) -> SecretStr:
        """The secret's value; `where` (e.g. "connector 'shop'") goes into the error text."""
        value = self.lookup(ref.secret)
        if value is None:
            raise SecretError(
                f"{where}: secret {ref.secret!r} is not set",
                hint=f"run `hub secrets set {ref.secret}` or set {env_var_name(ref.secret)}",
            )
        return value

    def set(self, name: str, value: str) -> None:
        """Store a secret in the backend (the keyring) and prove it was kept."""
        self._backend.set(name, value)
        if self._backend.get(name) != value:
            # some keyring backends (null, headless fail) accept and forget
            raise SecretError(
                f"the keyring on this machine did not keep secret {name!r}",
                hint=f"set the environment variable {env_var_name(name)} instead, or install "
                     "a keyring backend (see docs/config.md)")

    def delete(self, name: str) -> bool:
        """Remove a secret from the backend; False when it was not there."""
        if self._backend.get(name) is None:
            return False
        return self._backend.delete(name)

"""The error hierarchy: every message says what happened, where, and what to do next.

The CLI maps each class to an exit code (docs/operations.md): usage and config problems exit 2,
an unreachable system exits 3. Record-level problems are never exceptions that stop a run;
they become dead letters (see `hub.connector.Rejection`).
"""

from __future__ import annotations


class HubError(Exception):
    """Base of every error hub raises on purpose; its text is shown to the user as is."""

    exit_code = 2


class ConfigError(HubError):
    """The configuration is wrong: the message names the file, the key and the fix."""

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None,
                 line: int | None = None, hint: str | None = None) -> None:
        self.path = path
        self.key = key
        self.line = line
        self.hint = hint
        where = ""
        if path:
            where = path + (f":{line}" if line else "")
        if key:
            where = f"{where}: {key}" if where else key
        text = f"{where}: {message}" if where else message
        if hint:
            text = f"{text} — {hint}"
        super().__init__(text)


class SecretError(ConfigError):
    """A secret that a setting refers to is not set; never carries the secret's value."""


class PluginError(ConfigError):
    """A plugin is missing, broken, or does not meet the contract in `hub.hookspecs`."""


class StoreError(HubError):
    """The store cannot be opened or migrated."""


class ConnectorError(HubError):
    """A connector failed as a whole (not one record): a bad response, a protocol surprise."""

    exit_code = 1


class UnreachableError(ConnectorError):
    """A system could not be reached (network, DNS, TLS, authentication, retries exhausted)."""

    exit_code = 3


class RetryableError(ConnectorError):
    """A transient failure (429, 5xx, timeout) that the HTTP layer retries with backoff."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class Interrupted(HubError):
    """hub was asked to stop (SIGTERM, Ctrl-C): the run ended at a checkpoint, nothing is lost."""

    exit_code = 0


class StoreBusy(HubError):
    """Another run writes to the store (`hub sync --wait` waits for it instead)."""

    exit_code = 4

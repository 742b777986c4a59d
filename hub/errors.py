"""The error hierarchy: every message says what happened, where, and what to do next.

The CLI maps each class to an exit code (the table in README.md and docs/operations.md):
usage and config problems exit 2 (a refused credential is one: retrying will not fix it), an
unreachable system exits 3, and an exception hub did not raise on purpose exits `EXIT_CRASH`.
Record-level problems are never exceptions that stop a run; they become dead letters (see
`hub.connector.Rejection`).
"""

from __future__ import annotations

#: Exit codes, in one place so the CLI, the engine and the docs cannot drift apart.
EXIT_OK = 0
EXIT_NEEDS_A_LOOK = 1
EXIT_CONFIG = 2
EXIT_UNREACHABLE = 3
#: `hub sync` found another run holding the store's writer lease and did not wait.
EXIT_STORE_BUSY = 4
#: An exception hub did not raise on purpose (a bug, a full disk): sysexits' EX_SOFTWARE, so a
#: service manager tells it apart from the codes a run reports by design.
EXIT_CRASH = 70
#: Ctrl-C or SIGINT before a checkpoint (128 + SIGINT, the shell's convention).
EXIT_INTERRUPTED = 130


class HubError(Exception):
    """Base of every error hub raises on purpose; its text is shown to the user as is."""

    exit_code = EXIT_CONFIG


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

    exit_code = EXIT_NEEDS_A_LOOK


class UnreachableError(ConnectorError):
    """A system could not be reached (network, DNS, TLS, retries exhausted)."""

    exit_code = EXIT_UNREACHABLE


class AuthenticationError(UnreachableError):
    """A system refused hub's credentials or their scopes (401, 403): a config problem.

    Retrying or waiting cannot fix it, so it exits 2 like any other configuration error,
    while a run still treats the system as unusable and finishes the others.
    """

    exit_code = EXIT_CONFIG


class RetryableError(ConnectorError):
    """A transient failure (429, 5xx, timeout) that the HTTP layer retries with backoff."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class Interrupted(HubError):
    """hub was asked to stop (SIGTERM, Ctrl-C): the run ended at a checkpoint, nothing is lost."""

    exit_code = EXIT_OK


class StoreBusy(HubError):
    """Another run writes to the store (`hub sync --wait` waits for it instead)."""

    exit_code = EXIT_STORE_BUSY

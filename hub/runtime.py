"""Everything one hub process works with, wired once: config, plugins, secrets, store, clock.

Commands and the scheduler build a `Runtime` and hand it to the engine; tests build one with
a dict-backed secrets store, a fixed clock and a chosen plugin set instead of patching globals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path

import httpx

from hub.clock import utcnow
from hub.config import LoadedConfig, load_config
from hub.connector import Connector, ConnectorContext
from hub.http import RetryPolicy, Timeouts
from hub.registry import Plugins, load_plugins
from hub.secrets import Secrets
from hub.store import Store


@dataclass
class Runtime:
    """A loaded configuration plus the services the engine needs."""

    config: LoadedConfig
    plugins: Plugins
    secrets: Secrets = field(default_factory=Secrets)
    clock: Callable[[], datetime] = utcnow
    #: Where connectors' HTTP goes; None is the network, tests pass a transport or leave it.
    transport: httpx.BaseTransport | None = None
    #: Overrides connectors' retry policies (`hub check` must answer in seconds, not minutes).
    retry: RetryPolicy | None = None

    @classmethod
    def load(cls, config_path: Path | str, *, plugins: Plugins | None = None,
             secrets: Secrets | None = None,
             clock: Callable[[], datetime] | None = None) -> Runtime:
        """Load plugins and config; raise `ConfigError` with file/key/line on any problem."""
        plugins = plugins or load_plugins()
        loaded = load_config(config_path, plugins)
        return cls(config=loaded, plugins=plugins, secrets=secrets or Secrets(),
                   clock=clock or utcnow)

    @cached_property
    def store(self) -> Store:
        """The store named by ``[hub] store``, migrated to the newest schema."""
        return Store.open(self.config.config.hub.store, base_dir=self.config.base_dir)

    @property
    def retry_policy(self) -> RetryPolicy:
        """Backoff for transient failures, from ``[hub] retry_*``."""
        hub = self.config.config.hub
        return RetryPolicy(attempts=hub.retry_attempts, base=hub.retry_base_seconds,
                           cap=hub.retry_max_seconds, unreachable_attempts=hub.unreachable_attempts)

    def timeouts(self, name: str) -> Timeouts:
        """Connect and read timeouts of connector `name`: its own, else ``[hub]``'s."""
        hub = self.config.config.hub
        settings = self.config.connectors[name]
        return Timeouts(connect=settings.connect_timeout_seconds or hub.connect_timeout_seconds,
                        read=settings.read_timeout_seconds or hub.read_timeout_seconds)

    @property
    def connector_names(self) -> list[str]:
        """Enabled connector instances in config order."""
        return [name for name, s in self.config.connectors.items() if s.enabled]

    def connector(self, name: str) -> Connector:
        """A fresh connector instance for `name`; resolves its secrets (may raise SecretError)."""
        settings = self.config.connectors[name]
        cls = self.plugins.connector_types[settings.plugin]
        context = ConnectorContext(
            name=name,
            secrets=self.secrets,
            base_dir=self.config.base_dir,
            clock=self.clock,
            logger=logging.getLogger(f"hub.connector.{name}"),
            transport=self.transport,
            retry=self.retry or self.retry_policy,
            timeouts=self.timeouts(name),
        )
        return cls(settings, context)

"""Loads plugins from the ``hub`` entry-point group and collects what they register.

Set ``HUB_PLUGINS=csv,hubspot`` (entry-point names) to load only those: tests use it to pin
the plugin set; an empty value loads none.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pluggy

from hub import hookspecs
from hub.connector import Connector
from hub.errors import PluginError

ENTRY_POINT_GROUP = "hub"

log = logging.getLogger("hub.plugins")

#: Distributions that ship the built-in connector types, for "install this" hints.
KNOWN_DISTRIBUTIONS = {
    "csv": ("hub-csv", "plugins/csv"),
    "hubspot": ("hub-hubspot", "plugins/hubspot"),
    "shopify": ("hub-shopify", "plugins/shopify"),
    "mailchimp": ("hub-mailchimp", "plugins/mailchimp"),
}


@dataclass(frozen=True)
class PluginInfo:
    """One loaded plugin, as `hub plugins` lists it."""

    name: str
    distribution: str | None
    version: str | None
    connector_types: tuple[str, ...]


class Plugins:
    """The plugin manager plus the registries the registration hooks fill."""

    def __init__(self, manager: pluggy.PluginManager,
                 distributions: Mapping[str, tuple[str, str]] | None = None) -> None:
        self.manager = manager
        self._distributions = dict(distributions or {})

    @property
    def hook(self) -> Any:
        """The pluggy hook relay (``plugins.hook.veto_push(...)``)."""
        return self.manager.hook

    @cached_property
    def connector_types(self) -> dict[str, type[Connector]]:
        """Connector classes by type name; duplicate names are an error naming both plugins."""
        found: dict[str, type[Connector]] = {}
        owner: dict[str, str] = {}
        for impl in self.manager.hook.register_connectors.get_hookimpls():
            registered: list[type[Connector]] = []
            impl.function(register=registered.append)
            plugin_name = self.manager.get_name(impl.plugin) or repr(impl.plugin)
            for cls in registered:
                _check_connector_class(cls, plugin_name)
                if cls.plugin in found:
                    raise PluginError(
                        f"connector type {cls.plugin!r} is registered twice, by plugins "
                        f"{owner[cls.plugin]!r} and {plugin_name!r}",
                        hint="uninstall one of the two distributions",
                    )
                found[cls.plugin] = cls
                owner[cls.plugin] = plugin_name
        return found

    @cached_property
    def signals(self) -> dict[str, Callable[[Mapping[str, Any]], float]]:
        """Scoring signal functions registered by plugins, by name."""
        found: dict[str, Callable[[Mapping[str, Any]], float]] = {}

        def register(name: str, fn: Callable[[Mapping[str, Any]], float]) -> None:
            found[name] = fn

        self.manager.hook.register_signals(register=register)
        return found

    def register_commands(self, cli: Any) -> None:
        """Give each plugin the CLI to add commands to; a failing plugin is skipped, logged."""
        for impl in self.manager.hook.register_commands.get_hookimpls():
            try:
                impl.function(cli=cli)
            except Exception:
                log.exception("plugin %r could not add its commands",
                              self.manager.get_name(impl.plugin))

    def missing_plugin_message(self, type_name: str) -> str:
        """What to say when a config names a connector type no installed plugin registers."""
        return f"plugin {type_name!r} is not installed"

    def missing_plugin_hint(self, type_name: str) -> str:
        """Which distribution to install for `type_name`, or which types are installed."""
        if type_name in KNOWN_DISTRIBUTIONS:
            dist, folder = KNOWN_DISTRIBUTIONS[type_name]
            return (f"install the distribution {dist!r} "
                    f"(pip install -e {folder} in the hub source tree)")
        installed = ", ".join(sorted(self.connector_types)) or "none"
        return f"install the distribution that provides it; installed connector types: {installed}"

    def infos(self) -> list[PluginInfo]:
        """Every loaded plugin with the distribution it came from and its connector types."""
        types_of: dict[str, list[str]] = {}
        for impl in self.manager.hook.register_connectors.get_hookimpls():
            registered: list[type[Connector]] = []
            impl.function(register=registered.append)
            name = self.manager.get_name(impl.plugin) or ""
            types_of.setdefault(name, []).extend(cls.plugin for cls in registered)
        result = []
        for name, _plugin in self.manager.list_name_plugin():
            dist, version = self._distributions.get(name, (None, None))
            result.append(PluginInfo(
                name=name,
                distribution=dist,
                version=version,
                connector_types=tuple(types_of.get(name, ())),
            ))
        return sorted(result, key=lambda info: info.name)


def _check_connector_class(cls: Any, plugin_name: str) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise PluginError(f"plugin {plugin_name!r} registered {cls!r}, which is not a "
                          "hub.connector.Connector subclass")
    if not getattr(cls, "plugin", None):
        raise PluginError(f"plugin {plugin_name!r}: connector class {cls.__name__} does not "
                          "set `plugin` (its type name)")


def load_plugins(names: list[str] | None = None, *, extra: tuple[object, ...] = ()) -> Plugins:
    """Build the manager and load the entry points (all, or `names`, or ``HUB_PLUGINS``).

    `extra` registers plugin objects directly, as tests do for a plugin under test.
    """
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(hookspecs)
    if names is None and "HUB_PLUGINS" in os.environ:
        names = [n.strip() for n in os.environ["HUB_PLUGINS"].split(",") if n.strip()]
    distributions: dict[str, tuple[str, str]] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if (names is not None and ep.name not in names) or manager.get_plugin(ep.name) is not None:
            continue
        try:
            plugin = ep.load()
        except Exception as exc:
            dist = ep.dist.name if ep.dist else "its distribution"
            raise PluginError(
                f"plugin {ep.name!r} failed to load: {type(exc).__name__}: {exc}",
                hint=f"reinstall or uninstall {dist}",
            ) from exc
        manager.register(plugin, name=ep.name)
        if ep.dist is not None:
            distributions[ep.name] = (ep.dist.name, ep.dist.version)
    for plugin in extra:
        manager.register(plugin)
    manager.check_pending()
    return Plugins(manager, distributions)

"""Loads plugins from the ``hub`` entry-point group and calls their hooks, one plugin at a time.

pluggy's own hook call stops at the first implementation that raises, so one broken plugin
would silence every other one (and, wrapped by the caller, drop the remaining alerts). hub
therefore never calls ``manager.hook.X(...)``: `Plugins` has a method per hook that calls each
implementation on its own, logs a failure with the plugin's name and goes on with the others.
Implementations are called in plugin registration order (entry points, then ``extra``).

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
from typing import TYPE_CHECKING, Any

import pluggy

from hub import hookspecs
from hub.connector import Connector, OutboundRecord
from hub.errors import PluginError

if TYPE_CHECKING:
    from pluggy import HookImpl

ENTRY_POINT_GROUP = "hub"

log = logging.getLogger("hub.plugins")

#: Distributions that ship the built-in connector types, for "install this" hints.
KNOWN_DISTRIBUTIONS = {
    "csv": ("hub-csv", "plugins/csv"),
    "hubspot": ("hub-hubspot", "plugins/hubspot"),
    "shopify": ("hub-shopify", "plugins/shopify"),
    "mailchimp": ("hub-mailchimp", "plugins/mailchimp"),
}


class HookFailed(Exception):
    """A plugin raised in a hook whose answer hub needs (`veto_push`, `transform_push`).

    `reason` names the plugin, the hook and the exception's type only: the exception's
    message may quote the record it choked on, and the reason is stored and shown to ops.
    """

    def __init__(self, plugin: str, hook: str, error: str) -> None:
        self.plugin = plugin
        self.hook = hook
        self.error = error
        super().__init__(self.reason)

    @property
    def reason(self) -> str:
        """``plugin 'X' failed in veto_push: KeyError``: what a dead letter says."""
        return f"plugin {self.plugin!r} failed in {self.hook}: {self.error}"


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

    # -- calling implementations one by one ------------------------------------------------
    def implementations(self, hook: str) -> list[HookImpl]:
        """The implementations of `hook` in plugin registration order.

        pluggy lists them in registration order (tryfirst/trylast moved to the ends) and calls
        them last-registered first; hub calls them in the listed order, so "registration order"
        means what it says. Wrappers are skipped: they only make sense inside pluggy's call.
        """
        found = []
        for impl in getattr(self.manager.hook, hook).get_hookimpls():
            if impl.hookwrapper or impl.wrapper:
                log.warning("plugin %r: hub does not call wrapper implementations of %s",
                            self.plugin_name(impl), hook)
                continue
            found.append(impl)
        return found

    def plugin_name(self, impl: HookImpl) -> str:
        """The name the plugin was registered under (its entry point), for log lines."""
        return self.manager.get_name(impl.plugin) or repr(impl.plugin)

    @staticmethod
    def _call(impl: HookImpl, kwargs: Mapping[str, Any]) -> Any:
        """Call one implementation with the arguments it declares (it may declare fewer)."""
        return impl.function(*[kwargs[name] for name in impl.argnames])

    def _failed(self, impl: HookImpl, hook: str, exc: Exception) -> str:
        """Log a plugin's failure by name and exception type; the traceback at DEBUG only.

        The message of an exception raised over a record may quote it (an address, a name),
        so the lines that reach a shipped journal say which plugin and which type, no more.
        """
        name = self.plugin_name(impl)
        log.error("plugin %r failed in %s: %s", name, hook, type(exc).__name__,
                  extra={"plugin": name, "hook": hook})
        log.debug("plugin %r failed in %s", name, hook, exc_info=exc)
        return name

    def _notify(self, hook: str, **kwargs: Any) -> None:
        """Tell every implementation; one that raises is logged and the others still hear."""
        for impl in self.implementations(hook):
            try:
                self._call(impl, kwargs)
            except Exception as exc:
                self._failed(impl, hook, exc)

    # -- the hooks ---------------------------------------------------------------------------
    @cached_property
    def connector_types(self) -> dict[str, type[Connector]]:
        """Connector classes by type name; duplicate names are an error naming both plugins.

        A plugin whose registration raises is a start-up error naming it, not a skipped
        plugin: the config names its types, and "not installed" would send ops the wrong way.
        """
        found: dict[str, type[Connector]] = {}
        owner: dict[str, str] = {}
        for plugin_name, registered in self._registered_connectors:
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
    def _registered_connectors(self) -> list[tuple[str, list[type[Connector]]]]:
        """(plugin, classes) per plugin, asked once: `connector_types` and `infos` share it."""
        result = []
        for impl in self.implementations("register_connectors"):
            registered: list[type[Connector]] = []
            try:
                self._call(impl, {"register": registered.append})
            except Exception as exc:
                name = self._failed(impl, "register_connectors", exc)
                raise PluginError(
                    f"plugin {name!r} failed in register_connectors: {type(exc).__name__}",
                    hint="run with --debug for the traceback; upgrade or uninstall the plugin",
                ) from exc
            result.append((self.plugin_name(impl), registered))
        return result

    @cached_property
    def signals(self) -> dict[str, Callable[[Mapping[str, Any]], float]]:
        """Scoring signal functions registered by plugins, by name.

        A plugin whose registration raises contributes no signal (not half of them); rules
        that refer to its signals see them absent, as when a signal function raises.
        """
        found: dict[str, Callable[[Mapping[str, Any]], float]] = {}
        for impl in self.implementations("register_signals"):
            mine: dict[str, Callable[[Mapping[str, Any]], float]] = {}

            def register(name: str, fn: Callable[[Mapping[str, Any]], float],
                         mine: dict[str, Callable[[Mapping[str, Any]], float]] = mine) -> None:
                mine[name] = fn

            try:
                self._call(impl, {"register": register})
            except Exception as exc:
                self._failed(impl, "register_signals", exc)
                continue
            found.update(mine)
        return found

    def register_commands(self, cli: Any) -> None:
        """Give each plugin the CLI to add commands to; a failing plugin loses all of its own.

        Commands a plugin added before raising are taken back, so a half-registered group
        never shows up; every other plugin's commands, and hub's, keep working.
        """
        for impl in self.implementations("register_commands"):
            before = {attr: len(getattr(cli, attr, ()))
                      for attr in ("registered_commands", "registered_groups")}
            try:
                self._call(impl, {"cli": cli})
            except Exception as exc:
                self._failed(impl, "register_commands", exc)
                for attr, count in before.items():
                    del getattr(cli, attr, [])[count:]

    def veto_push(self, connector: str, record: OutboundRecord) -> list[str]:
        """Every plugin's reason to hold `record` back from `connector`, in registration order.

        Raises `HookFailed` for the first plugin that raises: a record no plugin could vet
        must not be written, and the caller sets it aside; the other plugins' opinions would
        not change that.
        """
        reasons = []
        for impl in self.implementations("veto_push"):
            try:
                reason = self._call(impl, {"connector": connector, "record": record})
            except Exception as exc:
                raise HookFailed(self._failed(impl, "veto_push", exc), "veto_push",
                                 type(exc).__name__) from exc
            if reason:
                reasons.append(str(reason))
        return reasons

    def transform_push(self, connector: str, record: OutboundRecord) -> dict[str, Any]:
        """The plugins' field overrides for `record`, merged in registration order (later wins).

        Raises `HookFailed` when a plugin raises or answers something other than a mapping:
        writing the record without that plugin's change could send what it exists to prevent.
        """
        merged: dict[str, Any] = {}
        for impl in self.implementations("transform_push"):
            try:
                override = self._call(impl, {"connector": connector, "record": record})
                if override is not None and not isinstance(override, Mapping):
                    raise TypeError(f"transform_push returned {type(override).__name__}")
            except Exception as exc:
                raise HookFailed(self._failed(impl, "transform_push", exc), "transform_push",
                                 type(exc).__name__) from exc
            if override:
                merged.update(override)
        return merged

    def run_finished(self, summary: Mapping[str, Any]) -> None:
        """Tell every plugin a run ended; a failing observer never fails the run or the others."""
        self._notify("run_finished", summary=summary)

    def send_alert(self, alert: Mapping[str, Any]) -> None:
        """Hand `alert` to every channel; one that fails does not keep it from the others."""
        self._notify("send_alert", alert=alert)

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
        for name, registered in self._registered_connectors:
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


def _readable_name(manager: pluggy.PluginManager, plugin: object) -> str:
    """A name log lines can show for a plugin registered as an object (pluggy uses its id)."""
    base = getattr(plugin, "__name__", None) or type(plugin).__name__
    name, n = base, 1
    while manager.get_plugin(name) is not None or manager.is_blocked(name):
        n += 1
        name = f"{base}#{n}"
    return name


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
        manager.register(plugin, name=_readable_name(manager, plugin))
    manager.check_pending()
    return Plugins(manager, distributions)

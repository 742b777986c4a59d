"""The whole plugin contract: every hook a plugin may implement, each documented here.

A plugin is a module registered under the ``hub`` entry-point group::

    [project.entry-points.hub]
    pipedrive = "hub_pipedrive.plugin"

and implements any of the hooks below with ``@hookimpl`` from `hub.plugin`. The built-in
connectors (`plugins/csv`, `plugins/hubspot`, `plugins/shopify`, `plugins/mailchimp`) are
plugins exactly like that and are the templates to copy. `hub.testing` checks a connector
against the contract. docs/plugins.md has a section per hook; a test keeps it complete.

hub calls each implementation on its own (`hub.registry.Plugins`), in plugin registration
order, with only the arguments it declares: one plugin that raises is logged with its name
and never keeps the others from being called. What a raise means differs per hook and is
said below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import typer

    from hub.connector import Connector, OutboundRecord

hookspec = pluggy.HookspecMarker("hub")
hookimpl = pluggy.HookimplMarker("hub")


@hookspec
def register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """Register connector types: call ``register(MyConnector)`` once per class.

    The class's `plugin` attribute is the type name ops write as ``plugin = "..."``; its
    `Settings` model validates the ``[connectors.NAME]`` table. Two plugins registering the same
    type name is a start-up error naming both distributions; so is a plugin whose
    registration raises (the config names its types, so skipping it would only move the error).
    """


@hookspec
def register_signals(register: Callable[[str, Callable[[Mapping[str, Any]], float]], None]) -> None:
    """Register scoring signals: ``register("webinar_attended", fn)``.

    `fn` gets the contact's facts as a read-only mapping (golden fields, the signals connectors
    reported such as ``member_rating`` or ``orders_count``, and customer value such as
    ``revenue``) and returns a number that ``[scoring]`` rules can refer to by the signal's
    name. An exception in `fn` counts as "signal absent" and is logged; it never stops a run.
    A plugin whose registration raises registers none of its signals (logged with its name).
    """


@hookspec
def veto_push(connector: str, record: OutboundRecord) -> str | None:
    """Return a reason to stop `record` from being written to connector instance `connector`.

    Any plugin's reason vetoes the write; the record is set aside as a dead letter with that
    reason (so ops can see it) instead of being written. Return None to let it pass.

    If an implementation raises, the record is not written unvetted: it becomes a dead letter
    (stage ``plugin``) with the reason ``plugin 'NAME' failed in veto_push: ExceptionType``,
    kept for ``hub dead-letters --retry`` once the plugin is fixed; the rest of the batch goes
    on. The reason never carries the exception's message (it may quote the record).
    """


@hookspec
def transform_push(connector: str, record: OutboundRecord) -> Mapping[str, Any] | None:
    """Return field overrides for `record` before it is written to `connector`, or None.

    Overrides are merged over `record.fields` in plugin registration order, so a later
    registered plugin's value wins. A transform cannot change consent: the consent state is
    decided by hub's policy, not by plugins. Only records no plugin vetoed are transformed.

    Raising (or returning something other than a mapping) sets the record aside exactly as a
    raising `veto_push` does: a dead letter ``plugin 'NAME' failed in transform_push: Type``,
    retried with ``hub dead-letters --retry``; the record is never written untransformed.
    """


@hookspec
def run_finished(summary: Mapping[str, Any]) -> None:
    """Observe the end of every sync run: alerts, metrics, notifications.

    Called once for every run that got a run row. `summary` is the same object
    `hub sync --json` prints (run_id, status, counts per connector, exit code, rejected
    records, errors, plus ``pipeline``, ``trigger`` and ``node`` under `hub run`). ``status``:

    - ``ok``; ``failed`` (records refused); ``error`` (a system failed);
    - ``interrupted`` (stopped at a checkpoint; the next run resumes);
    - ``error`` with no counts for a run an unexpected exception ended (a bug): reported before
      the exception propagates, ``errors`` naming only the exception's type (``interrupted``
      when that exception is Ctrl-C or SystemExit);
    - ``crashed`` for a run whose process died mid-run (kill -9, a crash, a node that
      vanished), reported by the next run or `hub run` node that finds it (no counts;
      ``stopped_in`` and ``stopped_at`` say where and when it was last seen alive).

    Exceptions raised here are logged with the plugin's name and never fail the run nor keep
    other plugins from hearing of it. To alert people, prefer `send_alert`: hub decides once
    per incident.
    """


@hookspec
def send_alert(alert: Mapping[str, Any]) -> None:
    """Deliver an alert from `hub run`: a pipeline started failing, recovered, or adds dead letters.

    `alert` is a JSON-ready mapping: ``kind`` ("failing", "recovered", "dead_letters"),
    ``pipeline``, ``run_id``, ``message`` (one line for people), ``consecutive_failures``,
    ``errors``, ``started_at``/``finished_at`` and ``node``. It carries counts and ids, never
    personal data or secrets. hub calls it once per incident; the built-in implementation
    (webhook and e-mail from ``[alerts]``) is one more plugin. An implementation that raises
    is logged with its name; every other channel still gets this alert and the ones after it.
    """


@hookspec
def register_commands(cli: typer.Typer) -> None:
    """Add commands to the `hub` command line: ``cli.command()(my_command)`` or ``cli.add_typer``.

    Called once when `hub` starts. The sandbox distribution adds `hub demo` and
    `hub sandbox` this way. A plugin whose registration raises loses all of its commands,
    including those it added before raising (the error is logged with its name); every other
    command keeps working.
    """

"""Setting hub up: a starter config, a check of every connection, the installed plugins."""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from hub.cli.app import ConfigOption, JsonOption, app, fail, load_runtime, print_json
from hub.cli.screen import out
from hub.config import DEFAULT_PATH
from hub.errors import EXIT_CONFIG, ConfigError, HubError, UnreachableError


@app.command()
def init(config: ConfigOption = DEFAULT_PATH,
         force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")]
         = False) -> None:
    """Write a commented starter config.toml."""
    if config.exists() and not force:
        fail(HubError(f"{config} exists — edit it, or pass --force to replace it"))
    template = resources.files("hub").joinpath("templates/config.toml").read_text("utf-8")
    config.write_text(template, encoding="utf-8")
    out.print(f"wrote {config}; next: edit it, then `hub check`", markup=False, highlight=False)


@app.command()
def check(config: ConfigOption = DEFAULT_PATH, as_json: JsonOption = False) -> None:
    """Validate config and secrets, then test each connector's connection."""
    from hub.http import RetryPolicy

    runtime = load_runtime(config)
    runtime.retry = RetryPolicy(attempts=2, base=0.5, cap=2.0)
    results: dict[str, dict[str, Any]] = {}
    code = 0
    for name in runtime.connector_names:
        plugin = runtime.config.connectors[name].plugin
        try:
            connector = runtime.connector(name)
            try:
                findings = list(connector.check() or ())
            finally:
                connector.close()
        except HubError as exc:
            results[name] = {"status": "problem", "message": str(exc), "plugin": plugin,
                             "findings": []}
            code = max(code, _check_code(exc))
            continue
        worst = "problem" if any(f.severity == "problem" for f in findings) else \
            "warning" if findings else "ok"
        if worst == "problem":
            code = max(code, ConfigError.exit_code)
        results[name] = {"status": worst, "plugin": plugin, "findings": [
            {"severity": f.severity, "subject": f.subject, "message": f.message}
            for f in findings]}
    if as_json:
        print_json({"config": str(config), "connectors": results, "exit_code": code})
    else:
        table = Table("connector", "plugin", "status", title=f"hub check — {config}")
        for name, result in results.items():
            table.add_row(name, result["plugin"], _status_cell(result))
        out.print(table)
    raise typer.Exit(code)


def _check_code(exc: HubError) -> int:
    """A problem `hub check` finds is one for the config (2), unless a system is unreachable.

    A connector failing as a whole exits 1 in a run (something needs a look there); before any
    run, a missing file, a refused token or an unknown header is what the config must fix.
    """
    if isinstance(exc, UnreachableError):
        return exc.exit_code  # 3, or 2 for a refused credential
    return EXIT_CONFIG


def _status_cell(result: dict[str, Any]) -> Text:
    """One cell per connector; findings one per line, as plain text so brackets survive."""
    if result["status"] == "ok":
        return Text("ok", style="green")
    if "message" in result:
        return Text(result["message"], style="red")
    cell = Text()
    for i, finding in enumerate(result["findings"]):
        style = "red" if finding["severity"] == "problem" else "yellow"
        cell.append(("\n" if i else "") + f"{finding['severity']}: {finding['subject']} — ",
                    style=style)
        cell.append(finding["message"])
    return cell


@app.command()
def plugins(as_json: JsonOption = False) -> None:
    """List installed plugins, their distributions and connector types."""
    from hub.registry import load_plugins

    try:
        infos = load_plugins().infos()
    except HubError as exc:
        fail(exc)
    if as_json:
        print_json([{"name": i.name, "distribution": i.distribution, "version": i.version,
                      "connector_types": list(i.connector_types)} for i in infos])
        return
    table = Table("plugin", "distribution", "version", "connector types")
    for i in infos:
        table.add_row(i.name, i.distribution or "-", i.version or "-",
                      ", ".join(i.connector_types))
    out.print(table)

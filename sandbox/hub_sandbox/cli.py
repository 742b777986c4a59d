"""`hub sandbox serve`: the simulators in the foreground until SIGTERM or Ctrl-C."""

from __future__ import annotations

import json
import signal
import socket
import sys
from types import FrameType
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True, help="Local simulators of the SaaS APIs hub talks to.")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on (keep it loopback).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the generated people.")] = 1,
    contacts: Annotated[int, typer.Option(help="How many people to generate (0: empty).")]
    = 3000,
    latency_ms: Annotated[float, typer.Option(help="Added to every API request.")] = 0.0,
    faults: Annotated[str, typer.Option(help="e.g. '500:0.05,429storm:3,shopify.timeout:0.01'")]
    = "",
    rate_scale: Annotated[float, typer.Option(help="Multiply the documented rate limits.")]
    = 1.0,
    no_rate_limits: Annotated[bool, typer.Option("--no-rate-limits",
                                                 help="Switch rate limiting off.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line with base URLs "
                                                         "and credentials, then serve.")] = False,
    hubspot_scopes: Annotated[str | None, typer.Option(
        help="Comma-separated scopes of the HubSpot token (default: all).")] = None,
    shopify_scopes: Annotated[str | None, typer.Option(
        help="The Shopify token's access scopes, comma-separated (default: all).")] = None,
) -> None:
    """Serve the simulators; Ctrl-C or SIGTERM stops them."""
    from hub_sandbox.app import Sandbox

    try:
        sandbox = Sandbox(seed=seed, contacts=contacts, latency_ms=latency_ms, faults=faults,
                          rate_limit=not no_rate_limits, rate_scale=rate_scale,
                          hubspot_scopes=_listed(hubspot_scopes),
                          shopify_scopes=_listed(shopify_scopes))
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    base_url = f"http://{host}:{sock.getsockname()[1]}"
    credentials = sandbox.credentials(base_url)
    early: list[int] = []  # a stop requested before uvicorn took over the signals
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, _frame: early.append(number))
    if as_json:
        sys.stdout.write(json.dumps(credentials) + "\n")
        sys.stdout.flush()
    else:
        table = Table("system", "base URL", "credentials", title=f"hub sandbox on {base_url}")
        for system, creds in credentials.items():
            rest = ", ".join(f"{k}={v}" for k, v in creds.items() if k != "base_url")
            table.add_row(system, creds["base_url"], rest)
        console = Console()
        console.print(table)
        console.print(f"counters: {base_url}/_sandbox/stats — Ctrl-C to stop")
    config = uvicorn.Config(sandbox.app, log_level="warning", access_log=False, lifespan="off")
    server = _Server(config, early)
    server.run(sockets=[sock])


def _listed(option: str | None) -> list[str] | None:
    """A comma-separated option as its non-empty items (None: the option was not given)."""
    if option is None:
        return None
    return [item.strip() for item in option.split(",") if item.strip()]


class _Server(uvicorn.Server):
    """A stop on request is a clean exit (uvicorn would re-raise SIGTERM after shutdown)."""

    def __init__(self, config: uvicorn.Config, early: list[int]) -> None:
        super().__init__(config)
        self._early = early

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()

    async def on_tick(self, counter: int) -> bool:
        if self._early:
            return True
        return await super().on_tick(counter)


if __name__ == "__main__":
    app()

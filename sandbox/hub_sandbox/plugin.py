"""The sandbox as a hub plugin: it adds `hub demo` and `hub sandbox serve` to the CLI.

hub itself never imports the simulators; installing this distribution (``bin/setup`` does)
is what makes the two commands appear.
"""

from __future__ import annotations

import typer

from hub.plugin import hookimpl


@hookimpl
def register_commands(cli: typer.Typer) -> None:
    """`hub demo` and the `hub sandbox` group."""
    from hub_sandbox.cli import app as sandbox_app
    from hub_sandbox.demo import demo

    cli.command()(demo)
    cli.add_typer(sandbox_app, name="sandbox",
                  help="Local simulators of HubSpot, Shopify and Mailchimp.")

"""The web console (`hub web`, `hub run --http`): watch and repair hub in a browser.

Server-rendered pages (Starlette + Jinja2) over the same functions the CLI calls, so a page
and a command never disagree. Every asset is served by hub itself and no script runs in the
browser, which keeps the Content-Security-Policy strict and the console usable offline.
"""

from __future__ import annotations

from hub.web.app import console_app

__all__ = ["console_app"]

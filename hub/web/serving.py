"""Running the console: who can sign in, and serving it in the foreground or a thread."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from hub.config import WebSection
from hub.errors import ConfigError

if TYPE_CHECKING:
    from hub.runtime import Runtime


def enabled(section: WebSection) -> bool:
    """True when someone can sign in: users with passwords, or a reverse proxy."""
    return bool(section.users) or section.proxy_header is not None


def require_users(runtime: Runtime) -> None:
    """A console nobody can sign in to is a mistake: say how to add a user."""
    if not enabled(runtime.config.config.web):
        raise ConfigError("[web] has no users, so nobody could sign in to the console — run "
                          "`hub web hash-password` and add [web.users.NAME] with its "
                          'password_hash and role = "operator" or "viewer" (docs/web.md)',
                          path=str(runtime.config.path))


def serve_forever(runtime: Runtime, host: str, port: int,
                  on_ready: Callable[[str], None]) -> None:
    """Serve the console until Ctrl-C or SIGTERM (uvicorn handles both), then return."""
    import socket

    import uvicorn

    from hub.web.app import console_app

    require_users(runtime)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    trusted = ",".join(runtime.config.config.web.trusted_proxies)
    config = uvicorn.Config(console_app(runtime), log_level="warning", access_log=False,
                            lifespan="off", proxy_headers=True, forwarded_allow_ips=trusted)

    class _Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            on_ready(f"http://{shown}:{bound}")

    # uvicorn re-raises Ctrl-C after its clean shutdown: for the console that is a normal end
    with contextlib.suppress(KeyboardInterrupt):
        _Server(config).run(sockets=[sock])

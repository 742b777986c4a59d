"""Serve an ASGI app on a real loopback port from a background thread.

Tests, benchmarks and `hub demo` need the simulators over real HTTP (the vendors' official
clients use requests/urllib3, so an in-process transport is not enough). Binding the socket
ourselves before uvicorn starts gives a free port with no race and no sleep.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from typing import Any

import uvicorn


@dataclass
class ServedApp:
    """A running server: its base URL and how to stop it."""

    host: str
    port: int
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` with no trailing slash."""
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Ask uvicorn to shut down and wait for the thread (bounded)."""
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> ServedApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0,
                    *, limit_concurrency: int | None = None) -> ServedApp:
    """Start `app` on host:port (0: a free port) and return once it accepts connections."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(512)
    actual_port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            limit_concurrency=limit_concurrency, timeout_keep_alive=30)
    started = threading.Event()

    class _Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            started.set()

    server = _Server(config)

    def run() -> None:
        try:
            server.run(sockets=[sock])
        finally:
            started.set()  # a failed start must not leave the caller waiting

    thread = threading.Thread(target=run, name=f"sandbox-{actual_port}", daemon=True)
    thread.start()
    started.wait(timeout=10)
    if not server.started:
        raise RuntimeError(f"sandbox server on {host}:{actual_port} did not start")
    return ServedApp(host=host, port=actual_port, server=server, thread=thread)

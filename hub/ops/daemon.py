"""The `hub run` process in the foreground: signals, the health endpoint, a bounded stop.

First SIGTERM/SIGINT: no new runs; the running ones end at their next checkpoint; exit 0
within ``[scheduler] stop_timeout``, also when a run is stuck (in a long wait for a system):
the process then leaves without it, and the next run records it as crashed. A second signal
exits at once, which the checkpoints make safe too (the next start resumes, and takes over its
own dead run).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

from hub.config import parse_duration
from hub.ops.scheduler import Scheduler

log = logging.getLogger("hub.scheduler")


class Signals:
    """First SIGTERM/SIGINT: stop cleanly. Second: exit at once."""

    def __init__(self, on_stop: Callable[[], None]) -> None:
        self._on_stop = on_stop
        self.received = threading.Event()

    def install(self) -> None:
        """Handle SIGTERM and SIGINT in the main thread."""
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, number: int, _frame: FrameType | None) -> None:
        if self.received.is_set():
            log.warning("second stop signal: exiting now; the next start resumes from the "
                        "last checkpoint")
            os._exit(1)
        log.info("stop requested (%s): finishing the current page", signal.Signals(number).name)
        self.received.set()
        self._on_stop()


def run_once(scheduler: Scheduler) -> int:
    """`hub run --once` in the foreground: a stop signal ends the run at its checkpoint,
    or the process within ``stop_timeout`` when the run cannot get there."""
    timeout = parse_duration(scheduler.settings.stop_timeout).total_seconds()

    def stop() -> None:
        scheduler.stop(wait=False)
        deadline = threading.Timer(timeout, _leave)
        deadline.daemon = True  # a run that stops in time must not wait for the timer
        deadline.start()
    Signals(stop).install()
    return scheduler.run_all_once()


def _leave() -> None:
    log.warning("the current run did not reach a checkpoint within [scheduler] stop_timeout; "
                "exiting anyway (the next run marks it crashed and resumes from its last "
                "checkpoint)")
    # the run's thread cannot be stopped from outside, and the interpreter would wait for it
    # at exit: leave now, as the setting promises (the checkpoints make it safe)
    logging.shutdown()
    os._exit(0)


def serve(scheduler: Scheduler, *, http: tuple[str, int] | None,
          on_ready: Callable[[str | None], None]) -> int:
    """Run the daemon in the foreground until a stop signal; the exit code."""
    from hub.ops.health import health_app
    from hub.ops.serving import serve_in_thread

    stop_requested = threading.Event()
    signals = Signals(stop_requested.set)
    signals.install()
    scheduler.start()
    served = None
    if http is not None:
        app = health_app(scheduler.store, scheduler.metrics, list(scheduler.specs),
                         running=lambda: scheduler.running,
                         unhealthy_after=scheduler.settings.unhealthy_after)
        from hub.web.serving import enabled

        if enabled(scheduler.runtime.config.config.web):  # the console, behind its sign-in
            from hub.web import console_app

            app.mount("/", console_app(scheduler.runtime))
        served = serve_in_thread(app, http[0], http[1])
    on_ready(served.base_url if served else None)
    while not stop_requested.wait(1.0):  # a timeout keeps the main thread ready for signals
        pass
    timeout = parse_duration(scheduler.settings.stop_timeout).total_seconds()
    stopper = threading.Thread(target=scheduler.stop, name="stopping", daemon=True)
    stopper.start()
    stopper.join(timeout)
    if served is not None:
        served.stop()
    if stopper.is_alive():
        _leave()
    return 0

"""Fault campaign: every trial must end in the state of a clean run, with no run left running.

    python benchmarks/faults.py [--seed 7] [--trials 16] [--people 300]

Each trial starts the seeded HubSpot, Shopify and Mailchimp simulators afresh, runs the real
`hub sync` executable against them with one kind of fault, then lets `hub sync` recover
(faults off) until a run writes nothing more. It then compares what every system holds, and
the number of hub's contacts, with a clean run of the same seed, and checks the run history:
no run may be left `running`, and every killed run must be recorded as `crashed`.

Faults (drawn from the seed, so a campaign is repeatable):

- ``kill``: kill -9 while a request to one system is in flight (the simulator holds it open),
  or after a random number of requests, wherever the run then is (reading, merging, writing);
- ``truncate``: answers cut short (a lost acknowledgement when the request was a write);
- ``lost``: answers lost on the way (the connection resets);
- ``overlap``: two `hub sync --wait` started together (one waits for the other);
- ``outage``: one system answers 503 to everything for a whole run (exit 3, the others go on).

Prints a table of trials and outcomes, and exits 1 if any trial did not end clean.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select

from hub.store.schema import contacts, runs
from hub_sandbox.app import RunningSandbox, Sandbox

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python benchmarks/faults.py`
from tests.e2e.conftest import sandbox_config
from tests.e2e.daemon import environment

HUB = Path(sys.executable).parent / "hub"
SYSTEMS = ("hubspot", "shopify", "mailchimp")
CONNECTOR = {"hubspot": "crm", "shopify": "shop", "mailchimp": "newsletter"}
KINDS = ("kill", "truncate", "lost", "overlap", "outage")


@dataclass(frozen=True)
class Trial:
    """One fault: its kind, the system it aims at (if any) and its strength."""

    kind: str
    system: str | None = None
    #: kill: the request count to kill at (0: while a request to `system` is held open);
    #: truncate/lost: the probability per answer.
    amount: float = 0.0

    def describe(self) -> str:
        """What the table prints in its "fault" column."""
        if self.kind == "kill":
            return (f"kill -9 mid-request to {self.system}" if not self.amount
                    else f"kill -9 after {int(self.amount)} requests")
        if self.kind in ("truncate", "lost"):
            return f"{self.kind} {self.amount:.0%} of answers"
        if self.kind == "outage":
            return f"{self.system} down for a run"
        return "two syncs at once"


@dataclass
class Outcome:
    """How a trial ended."""

    trial: Trial
    exit_codes: list[int] = field(default_factory=list)
    recovery_runs: int = 0
    converged: bool = False
    left_running: int = 0
    crashed: int = 0
    seconds: float = 0.0
    problem: str = ""

    @property
    def clean(self) -> bool:
        """The state of a clean run, nothing left running, and nothing else wrong."""
        return self.converged and self.left_running == 0 and not self.problem


def trials(seed: int, count: int) -> list[Trial]:
    """`count` trials drawn from `seed`: every kind in turn, targets and strengths at random."""
    rng = random.Random(seed)
    chosen = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        system = rng.choice(SYSTEMS)
        if kind == "kill":
            # a first sync of 60 people makes 11 requests since reads and writes are
            # batched to the APIs' limits; a later kill point would find the run done
            amount = 0.0 if rng.random() < 0.5 else float(rng.randrange(3, 11))
        elif kind in ("truncate", "lost"):
            amount = rng.choice((0.05, 0.1, 0.2))
        else:
            amount = 0.0
        chosen.append(Trial(kind, system, amount))
    return chosen


# -- the systems and the hub executable ----------------------------------------------------
def start_sandbox(people: int, seed: int) -> RunningSandbox:
    """The three simulators, seeded, with rate limits scaled out of the way."""
    running = Sandbox(contacts=people, seed=seed, rate_scale=100).start()
    # a request held open this long: the trial kills hub well before the simulator answers
    running.sandbox.controls.timeout_s = 2.0
    return running


def configure(folder: Path, running: RunningSandbox) -> dict[str, str]:
    """config.toml for the three systems; the environment with their secrets."""
    return sandbox_config(folder, running, crm="rate_per_10s = 250",
                          extra='[consent]\nnewsletter = "newsletter"')


def start_sync(folder: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """`hub sync --json ARGS` in the background."""
    return subprocess.Popen([str(HUB), "sync", "--json", *args], cwd=folder,
                            env=environment(env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def sync(folder: Path, env: dict[str, str]) -> tuple[int, dict[str, Any] | None]:
    """One `hub sync --json`: its exit code and summary (None if it printed none)."""
    process = start_sync(folder, env)
    out, _ = process.communicate(timeout=300)
    try:
        return process.returncode, json.loads(out)
    except ValueError:
        return process.returncode, None


def wait_for(condition: Callable[[], object], *, timeout: float = 60.0) -> bool:
    """Poll `condition` until it holds or `timeout` passes (False then)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.02)
    return True


def systems_state(running: RunningSandbox) -> dict[str, Any]:
    """What each system holds, without ids and timestamps that differ between sandboxes."""
    sim = running.sandbox
    hubspot = sorted((c["properties"].get("email") or "", c["properties"].get("firstname") or "",
                      c["properties"].get("lastname") or "", c["properties"].get("phone") or "")
                     for c in sim.hubspot.contacts.values() if not c["archived"])
    shop = sorted((c.id, c.email or "", c.first_name or "", c.last_name or "", c.phone or "",
                   c.consent.state) for c in sim.shopify.shop.customers.values())
    mailchimp = sorted((m["email_address"], m["status"]) for m in sim.mailchimp.members.values())
    return {"hubspot": hubspot, "shopify": shop, "mailchimp": mailchimp}


def store_facts(folder: Path) -> tuple[int, dict[str, int]]:
    """Active contacts, and runs per status, in the trial's store."""
    engine = create_engine(f"sqlite:///{folder / 'hub.db'}")
    try:
        with engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(contacts).where(
                contacts.c.status == "active")).scalar_one()
            statuses = dict(conn.execute(select(runs.c.status, func.count())
                                         .group_by(runs.c.status)).all())
    finally:
        engine.dispose()
    return int(total), {str(k): int(v) for k, v in statuses.items()}


def quiet(summary: dict[str, Any] | None) -> bool:
    """A run that wrote nothing and failed nowhere: hub and the systems agree."""
    if summary is None or summary.get("errors"):
        return False
    return all(c["created"] == 0 and c["updated"] == 0
               for c in summary["connectors"].values())


# -- the campaign --------------------------------------------------------------------------
@dataclass
class Reference:
    """The clean run's end state that every trial must reach."""

    systems: dict[str, Any]
    contacts: int


class Campaign:
    """Trials against fresh simulators of one seed, compared with a clean run of it."""

    def __init__(self, root: Path, *, people: int, seed: int) -> None:
        self.root = root
        self.people = people
        self.seed = seed
        self.reference: Reference | None = None

    def clean_run(self) -> Reference:
        """Sync until quiet without faults: the state every trial must end in."""
        with start_sandbox(self.people, self.seed) as running:
            folder = self.root / "clean"
            env = configure(folder, running)
            self._recover(folder, env)
            contacts_total, _ = store_facts(folder)
            self.reference = Reference(systems_state(running), contacts_total)
        return self.reference

    def run(self, number: int, trial: Trial) -> Outcome:
        """One trial: the fault, the recovery, the comparison."""
        reference = self.reference or self.clean_run()
        outcome = Outcome(trial)
        began = time.monotonic()
        with start_sandbox(self.people, self.seed) as running:
            folder = self.root / f"trial-{number}"
            env = configure(folder, running)
            try:
                getattr(self, f"_{trial.kind}")(trial, folder, env, running, outcome)
            finally:
                running.sandbox.controls.set_faults("")
            try:
                outcome.recovery_runs = self._recover(folder, env)
            except RuntimeError as exc:
                outcome.problem = str(exc)
            contacts_total, statuses = store_facts(folder)
            outcome.left_running = statuses.get("running", 0)
            outcome.crashed = statuses.get("crashed", 0)
            outcome.converged = (systems_state(running) == reference.systems
                                 and contacts_total == reference.contacts)
            if trial.kind == "kill" and outcome.exit_codes == [-signal.SIGKILL] \
                    and outcome.crashed != 1:
                outcome.problem = "the killed run is not recorded as crashed"
        outcome.seconds = time.monotonic() - began
        return outcome

    def _recover(self, folder: Path, env: dict[str, str], most: int = 5) -> int:
        """Sync until a run writes nothing and fails nowhere; how many runs that took."""
        for done in range(1, most + 1):
            _, summary = sync(folder, env)
            if quiet(summary):
                return done
        raise RuntimeError(f"{folder.name}: still not quiet after {most} runs")

    # -- the faults ------------------------------------------------------------------------
    def _kill(self, trial: Trial, folder: Path, env: dict[str, str],
              running: RunningSandbox, outcome: Outcome) -> None:
        controls = running.sandbox.controls
        if not trial.amount:
            controls.set_faults(f"{trial.system}.timeout:1")
            point: Callable[[], object] = lambda: controls.injected  # noqa: E731
        else:
            def point() -> object:
                return sum(sum(c.values()) for c in controls.requests.values()) >= trial.amount
        process = start_sync(folder, env)
        if wait_for(lambda: point() or process.poll() is not None) and process.poll() is None:
            process.kill()
        controls.set_faults("")
        process.communicate(timeout=60)
        outcome.exit_codes.append(process.returncode)

    def _truncate(self, trial: Trial, folder: Path, env: dict[str, str],
                  running: RunningSandbox, outcome: Outcome) -> None:
        running.sandbox.controls.set_faults(f"truncate:{trial.amount}")
        outcome.exit_codes.append(sync(folder, env)[0])

    def _lost(self, trial: Trial, folder: Path, env: dict[str, str],
              running: RunningSandbox, outcome: Outcome) -> None:
        running.sandbox.controls.set_faults(f"reset:{trial.amount}")
        outcome.exit_codes.append(sync(folder, env)[0])

    def _overlap(self, trial: Trial, folder: Path, env: dict[str, str],
                 running: RunningSandbox, outcome: Outcome) -> None:
        subprocess.run([str(HUB), "status"], cwd=folder, env=environment(env), check=True,
                       capture_output=True)  # the store exists: both syncs start importing
        both = [start_sync(folder, env, "--wait") for _ in range(2)]
        for process in both:
            process.communicate(timeout=300)
            outcome.exit_codes.append(process.returncode)
        if any(code not in (0, 1) for code in outcome.exit_codes):
            outcome.problem = "an overlapping sync failed"

    def _outage(self, trial: Trial, folder: Path, env: dict[str, str],
                running: RunningSandbox, outcome: Outcome) -> None:
        running.sandbox.controls.set_faults(f"{trial.system}.503:1")
        code, summary = sync(folder, env)
        outcome.exit_codes.append(code)
        down = CONNECTOR[str(trial.system)]
        failed = {e["connector"] for e in (summary or {}).get("errors", [])}
        if code != 3 or summary is None or failed != {down}:
            outcome.problem = f"the outage of {trial.system} was not contained (exit {code})"


def table(outcomes: list[Outcome]) -> str:
    """The printed table: one line per trial, then the tally."""
    lines = [f"{'#':>3}  {'fault':<34} {'exit codes':<12} {'recovery':>8} {'crashed':>7} "
             f"{'running':>7} {'s':>6}  outcome"]
    for i, o in enumerate(outcomes, 1):
        verdict = "clean" if o.clean else (o.problem or "DIVERGED")
        lines.append(f"{i:>3}  {o.trial.describe():<34} "
                     f"{','.join(map(str, o.exit_codes)):<12} {o.recovery_runs:>8} "
                     f"{o.crashed:>7} {o.left_running:>7} {o.seconds:>6.1f}  {verdict}")
    clean = sum(o.clean for o in outcomes)
    lines.append(f"{clean}/{len(outcomes)} trials ended in the state of a clean run")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--people", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hub-faults-") as work:
        campaign = Campaign(Path(work), people=args.people, seed=args.seed)
        campaign.clean_run()
        outcomes = []
        for number, trial in enumerate(trials(args.seed, args.trials), 1):
            outcomes.append(campaign.run(number, trial))
            print(f"trial {number}: {trial.describe()} → "
                  f"{'clean' if outcomes[-1].clean else 'NOT clean'}", file=sys.stderr)
        print(table(outcomes))
    sys.exit(0 if all(o.clean for o in outcomes) else 1)


if __name__ == "__main__":
    main()

"""Several `hub run` nodes on one PostgreSQL store: one pipeline never runs twice at once, and
a node killed with -9 mid-read has its run taken over, ending with exactly the records a clean
sync gets (nothing lost, nothing duplicated)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub_sandbox.app import Sandbox
from tests.e2e.conftest import run_hub
from tests.e2e.daemon import Daemon, StoreView, newsletter_config, overlapping, start, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


@pytest.mark.parametrize("nodes", [2, 3])
def test_nodes_share_one_pipeline_never_concurrently_and_take_over_a_killed_node(
        tmp_path: Path, postgres_url: str, nodes: int) -> None:
    with Sandbox(contacts=4000, seed=6, latency_ms=250).start() as running:
        creds = running.credentials()["mailchimp"]
        env = {"HUB_SECRET_MAILCHIMP_KEY": creds["api_key"]}
        members = len(running.sandbox.mailchimp.members)
        view = StoreView(postgres_url)
        daemons: list[Daemon] = []
        for i in range(nodes):
            folder = tmp_path / f"node{i}"  # one machine each: own folder, shared store
            newsletter_config(folder, creds, store=postgres_url)
            daemons.append(start(folder, env, name=f"node{i}"))
        by_node = {d.node: d for d in daemons}
        try:
            first = wait_for(lambda: view.running() and view.cursor_saved("newsletter")
                             and view.running()[0], what="the first run past a checkpoint")
            victim = by_node[first.node]
            victim.kill()
            taken = wait_for(lambda: [r for r in view.finished("ok") if r.id > first.id],
                             timeout=60, what="another node finishing the pipeline")[0]
            assert taken.node != victim.node
            dead = next(r for r in view.runs() if r.id == first.id)
            assert dead.status == "crashed" and victim.node in dead.summary["message"]
            # the taker resumed from the dead node's checkpoint instead of starting over
            assert taken.summary["connectors"]["newsletter"]["read"] < members
            assert view.records("newsletter").keys() and len(view.records("newsletter")) == \
                members

            wait_for(lambda: len(view.finished("ok")) >= 4, what="four finished runs")
        finally:
            for d in daemons:
                if d.process.poll() is None:
                    assert d.terminate() == 0, d.log.read_text()
        rows = view.runs()
        assert overlapping(rows) == [], "a pipeline ran on two nodes at once"
        assert all(r.status in ("ok", "interrupted", "crashed") for r in rows)
        assert len({r.node for r in rows}) >= 2

        running.sandbox.controls.set_faults("", latency_ms=0)
        newsletter_config(tmp_path / "clean", creds, store="sqlite:///hub.db")
        assert run_hub("sync", "--json", cwd=tmp_path / "clean", env=env).code == 0
        reference = StoreView(f"sqlite:///{tmp_path / 'clean' / 'hub.db'}")
        assert view.records("newsletter") == reference.records("newsletter")
        assert len(running.sandbox.mailchimp.members) == members
        reference.close()
        view.close()

"""Progress without a terminal: plain lines at stage changes and every few seconds."""

from __future__ import annotations

from hub.pipeline.progress import Lines


def test_lines_say_start_progress_and_end_of_each_stage() -> None:
    said: list[str] = []
    now = [0.0]
    lines = Lines(said.append, every=10.0, clock=lambda: now[0])
    lines.stage("read crm", None)
    lines.advance(100)
    now[0] = 4.0
    lines.advance(100)  # too soon for a line
    now[0] = 10.5
    lines.advance(50)
    now[0] = 12.0
    lines.done()
    lines.done()  # said once
    lines.stage("push crm", 30)
    assert said == ["read crm …", "read crm: 250 so far", "read crm: done, 250 in 12.0 s",
                    "push crm … (30 to do)"]

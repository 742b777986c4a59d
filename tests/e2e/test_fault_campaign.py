"""The fault campaign of benchmarks/faults.py, small and fixed, so CI runs it on every change.

One trial of each kind (a kill -9 while a system holds a request, a kill -9 at a request
count, cut-short and lost answers, two syncs at once, a system down for a run); each must
end in the state of a clean run of the same seed, with no run left running and each killed
run recorded as crashed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.faults import Campaign, Trial, table

pytestmark = pytest.mark.e2e

TRIALS = [
    Trial("kill", "shopify"),
    # the first sync of this sandbox makes 11 requests (batched reads and writes): the kill
    # must come before its end
    Trial("kill", None, 6),
    Trial("truncate", None, 0.1),
    Trial("lost", None, 0.1),
    Trial("overlap"),
    Trial("outage", "hubspot"),
]


def test_every_fault_ends_in_the_state_of_a_clean_run(tmp_path: Path) -> None:
    campaign = Campaign(tmp_path, people=60, seed=3)
    campaign.clean_run()
    outcomes = [campaign.run(number, trial) for number, trial in enumerate(TRIALS, 1)]
    report = table(outcomes)
    assert all(o.clean for o in outcomes), report
    assert all(o.left_running == 0 for o in outcomes), report
    killed = [o for o in outcomes if o.trial.kind == "kill"]
    assert all(o.exit_codes == [-9] and o.crashed == 1 for o in killed), report
    outage = outcomes[-1]
    assert outage.exit_codes == [3], report

"""Unattended operation: the `hub run` scheduler and what lets people trust it.

`scheduler` runs the ``[schedule.NAME]`` pipelines, `lease` keeps each on one node,
`history` answers what ran and how, `health`/`metrics`/`serving` expose that over HTTP,
`alerts` tells people once per incident, `dead_letters` gives refused writes another try.
"""

"""Test settings shared by every test tree (hub, plugins, sandbox).

Under CI (CI=true) hypothesis draws the same examples on every run: whether a change lands
must not depend on which examples one run happened to draw. Locally the examples stay random,
so each run can still find a new failure; a failure found that way is kept as an `@example`
on the property, and CI tries it from then on.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

"""What a viewer may see: e-mail addresses masked everywhere they appear.

A viewer watches syncs; they do not need to know who is in them. Masking happens at the
edge (templates and payloads), so the domain functions stay the same for both roles.
"""

from __future__ import annotations

import re
from typing import Any

_EMAIL = re.compile(r"([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*@([A-Za-z0-9.\-]+)")


def mask_email(text: Any) -> Any:
    """``jane.doe@example.com`` → ``j…@example.com``, inside any string; other values as-is."""
    if not isinstance(text, str):
        return text
    return _EMAIL.sub(lambda m: f"{m.group(1)}…@{m.group(2)}", text)


def mask_deep(value: Any) -> Any:
    """`mask_email` applied to every string in nested dicts and lists (payloads, evidence)."""
    if isinstance(value, dict):
        return {k: mask_deep(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_deep(v) for v in value]
    return mask_email(value)

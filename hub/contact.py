"""The golden contact: the field names every connector maps to and from.

Connectors translate their system's shape into these names when reading (`SourceRecord.fields`)
and back when writing (`OutboundRecord.fields`). Anything else a system holds that ops want to
carry goes into custom attributes, named ``custom.<name>``.
"""

from __future__ import annotations

from typing import Final

#: Golden fields with a single value each, in display order.
SCALAR_FIELDS: Final = (
    "email",
    "first_name",
    "last_name",
    "phone",
    "company",
    "job_title",
    "street",
    "city",
    "zip",
    "region",
    "country",
    "birthday",
    "language",
)

#: Golden fields that hold lists; they are merged by union, not by survivorship.
LIST_FIELDS: Final = ("emails", "tags")

GOLDEN_FIELDS: Final = SCALAR_FIELDS + LIST_FIELDS

CUSTOM_PREFIX: Final = "custom."


def is_golden_field(name: str) -> bool:
    """True for a golden field or a custom attribute (``custom.<name>``)."""
    return name in GOLDEN_FIELDS or (name.startswith(CUSTOM_PREFIX) and len(name) > 7)

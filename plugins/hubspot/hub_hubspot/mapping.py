"""Golden fields ↔ HubSpot contact properties, in both directions.

HubSpot holds every property value as a string. Reading keeps the raw strings (the engine
normalises); writing turns values back into strings. `lifecyclestage` and `hs_lead_status` are
sales decisions, not profile data: on read they travel as `signals` so scoring and the
lifecycle rules can respect them, and on write they pass through under their own names.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, Final

from hub.plugin import CUSTOM_PREFIX, GOLDEN_FIELDS, HUBSPOT_STAGES, Stage, is_golden_field

#: The mapping ops get unless ``properties`` overrides an entry.
DEFAULT_PROPERTIES: Final[Mapping[str, str]] = {
    "email": "email",
    "first_name": "firstname",
    "last_name": "lastname",
    "phone": "phone",
    "company": "company",
    "job_title": "jobtitle",
    "street": "address",
    "city": "city",
    "zip": "zip",
    "region": "state",
    "country": "country",
    "language": "hs_language",
    "birthday": "date_of_birth",
}

#: Properties read into `SourceRecord.signals` and written through under the same name.
SIGNAL_PROPERTIES: Final = ("lifecyclestage", "hs_lead_status")

#: hub's lifecycle keys (`OutboundRecord.fields`) and what HubSpot makes of them; `lead.score`,
#: `lead.band` and `lead.tags` reach HubSpot only through `lead.properties`.
LEAD_KEYS: Final = ("lead.stage", "lead.status", "lead.owner", "lead.properties",
                    "lead.score", "lead.band", "lead.tags", "lead.reset")

#: Always read: the incremental cursor is built on it.
MODIFIED: Final = "lastmodifieddate"

_PROPERTY_NAME = re.compile(r"^[a-z0-9_]+$")
_STAGE_VALUE = re.compile(r"^[a-z0-9_]+$")


def check_overrides(overrides: Mapping[str, str]) -> dict[str, str]:
    """Validated ``properties`` overrides; raises ValueError with a did-you-mean hint.

    A key must be a golden field or ``custom.<name>``; a value must be a HubSpot internal
    property name (lower case), or "" to stop mapping that golden field at all.
    """
    for field, prop in overrides.items():
        if field in SIGNAL_PROPERTIES:
            raise ValueError(f"properties: {field!r} is a HubSpot property that hub reads and "
                             "writes under its own name; it cannot be remapped")
        if not is_golden_field(field):
            raise ValueError(f"properties: {field!r} is not a golden field{_suggest(field)}")
        if prop and not _PROPERTY_NAME.match(prop):
            raise ValueError(
                f"properties.{field}: {prop!r} is not a HubSpot internal property name "
                "(lower-case letters, digits and underscores, as in Settings → Properties)")
        if prop in SIGNAL_PROPERTIES or prop == MODIFIED:
            raise ValueError(f"properties.{field}: {prop!r} is managed by hub itself and cannot "
                             "hold a golden field")
    merged = {**DEFAULT_PROPERTIES, **overrides}
    owners: dict[str, str] = {}
    for field, prop in merged.items():
        if not prop:
            continue
        if prop in owners:
            raise ValueError(f"properties: golden fields {owners[prop]!r} and {field!r} both map "
                             f"to HubSpot property {prop!r}; map one of them elsewhere or to \"\"")
        owners[prop] = field
    if not merged.get("email"):
        raise ValueError("properties.email: the e-mail cannot be unmapped; HubSpot finds "
                         "contacts by it")
    return dict(overrides)


def check_stages(overrides: Mapping[str, str]) -> dict[str, str]:
    """Validated ``lifecycle_stages``: keys are hub's stages, values internal stage values."""
    clean: dict[str, str] = {}
    for name, value in overrides.items():
        stage = Stage.parse(name)  # raises ValueError listing the stages
        if stage is Stage.SAL:
            raise ValueError("lifecycle_stages: sal has no HubSpot stage (sales accept a lead "
                             "through hs_lead_status); leave it out")
        if value and not _STAGE_VALUE.match(value):
            raise ValueError(f"lifecycle_stages.{name}: {value!r} is not a lifecycle stage's "
                             "internal value (as in Settings → Objects → Contacts → Lifecycle "
                             "stage: lower-case letters, digits, underscores)")
        clean[stage.value] = value
    return clean


def stage_values(overrides: Mapping[str, str] | None = None) -> dict[Stage, str]:
    """hub stage → this account's internal value, for every stage hub may write."""
    merged = {**HUBSPOT_STAGES, **{Stage(k): v for k, v in (overrides or {}).items()}}
    return {stage: value for stage, value in merged.items() if value}


def _suggest(name: str) -> str:
    choices = list(GOLDEN_FIELDS)
    # people often type HubSpot's name where the golden one belongs ("firstname")
    by_property = {prop: field for field, prop in DEFAULT_PROPERTIES.items()}
    if name in by_property:
        return f"; did you mean {by_property[name]!r}?"
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f" (golden fields: {', '.join(GOLDEN_FIELDS)}, or custom.<name>)"


class UnmappedField(ValueError):
    """A field the engine asked to write has no HubSpot property."""


class PropertyMap:
    """The effective mapping of one connector instance (defaults plus overrides)."""

    def __init__(self, overrides: Mapping[str, str] | None = None,
                 stages: Mapping[str, str] | None = None) -> None:
        merged = {**DEFAULT_PROPERTIES, **(overrides or {})}
        self.to_property: dict[str, str] = {f: p for f, p in merged.items() if p}
        self.to_field: dict[str, str] = {p: f for f, p in self.to_property.items()}
        #: hub stage → the account's value; the account's value → HubSpot's standard name,
        #: so hub reads a renamed stage as the stage it stands for
        self.stages = stage_values(stages)
        self._standard = {self.stages[s]: HUBSPOT_STAGES[s] for s in self.stages}

    @property
    def email_property(self) -> str:
        """The property holding the e-mail (``email`` unless overridden)."""
        return self.to_property["email"]

    def read_properties(self) -> list[str]:
        """What to ask HubSpot for: mapped properties, the signals and the cursor field."""
        return [*self.to_property.values(), *SIGNAL_PROPERTIES, MODIFIED]

    def writable(self, name: str) -> bool:
        """True when `name` (a golden field or a signal property) can be written."""
        return name in self.to_property or name in SIGNAL_PROPERTIES or name in LEAD_KEYS

    def fields(self, properties: Mapping[str, Any]) -> dict[str, str]:
        """Golden fields from HubSpot properties; empty values are left out (raw otherwise)."""
        found: dict[str, str] = {}
        for prop, field in self.to_field.items():
            value = properties.get(prop)
            if value not in (None, ""):
                found[field] = str(value)
        return found

    def signals(self, properties: Mapping[str, Any]) -> dict[str, str]:
        """The sales-owned properties (lifecycle stage, lead status) that are set; a mapped
        stage arrives under HubSpot's standard name."""
        found = {p: str(properties[p]) for p in SIGNAL_PROPERTIES
                 if properties.get(p) not in (None, "")}
        if "lifecyclestage" in found:
            found["lifecyclestage"] = self._standard.get(found["lifecyclestage"],
                                                         found["lifecyclestage"])
        return found

    def properties(self, fields: Mapping[str, Any]) -> dict[str, str]:
        """HubSpot properties for golden `fields`; raises `UnmappedField` for the first gap."""
        out: dict[str, str] = {}
        for name, value in fields.items():
            if name in LEAD_KEYS:
                out.update(lead_properties(name, value, self.stages))
                continue
            if name in SIGNAL_PROPERTIES:
                prop = name
            elif name in self.to_property:
                prop = self.to_property[name]
            else:
                hint = (f"map it with properties = {{ {name!r} = \"<hubspot property>\" }}"
                        if is_golden_field(name) or name.startswith(CUSTOM_PREFIX)
                        else "it is neither a golden field nor a HubSpot signal property")
                raise UnmappedField(f"field {name!r} has no HubSpot property: {hint}")
            out[prop] = property_value(value)
        return out

    def unmapped(self, names: Iterable[str]) -> list[str]:
        """The names among `names` this mapping cannot write."""
        return [n for n in names if not self.writable(n)]


def property_value(value: Any) -> str:
    """HubSpot's string form of a value; None clears the property (HubSpot reads "" so)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        # multi-select properties separate their options with semicolons
        return ";".join(str(v) for v in value)
    return str(value)


def lead_properties(name: str, value: Any,
                    stages: Mapping[Stage, str] | None = None) -> dict[str, str]:
    """HubSpot properties for one of hub's ``lead.*`` keys.

    The stage becomes `lifecyclestage` in the account's words (`stages`, default HubSpot's
    standard values; SAL has none: sales mark it with the lead status, and a stage mapped to
    "" is not written either); HubSpot itself ignores a backward move. The
    owner goes to `hubspot_owner_id`, the lead status to `hs_lead_status`, and
    `lead.properties` (score, value, ... as configured) to the properties it names.
    """
    if name == "lead.stage":
        stage = Stage(str(value))
        written = (stage_values() if stages is None else stages).get(stage)
        return {"lifecyclestage": written} if written and stage is not Stage.SAL else {}
    if name == "lead.status":
        return {"hs_lead_status": str(value)}
    if name == "lead.owner":
        return {"hubspot_owner_id": str(value)}
    if name == "lead.properties" and isinstance(value, Mapping):
        return {str(prop): property_value(v) for prop, v in value.items()}
    return {}

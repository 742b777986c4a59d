"""The run summary: typed while hub works with it, plain JSON where it leaves hub.

`hub sync --json`, the `runs.summary` column, `hub runs` and the `run_finished` hook all see
`RunSummary.as_dict()`, whose keys, shapes and order are documented and read by scripts, so
they must not drift when a field is added here. A run that could not start or that crashed
never got as far as counting contacts, planning or timing stages: its summary leaves those
keys out (they are None here) rather than reporting zeros nobody measured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from hub.lifecycle.evaluation import Report
from hub.pipeline.outbox import Planned


@dataclass
class ConnectorCounts:
    """What happened to one connector's records in the run."""

    read: int = 0
    created: int = 0
    updated: int = 0
    merged: int = 0
    rejected: int = 0
    api_calls: int = 0
    skipped_unchanged: int = 0
    deleted: int = 0
    suppressed: int = 0
    throttled: int = 0


@dataclass
class ContactCounts:
    """Golden contacts after the run."""

    created: int = 0
    updated: int = 0
    merged: int = 0
    held_for_review: int = 0
    #: None when the run stopped before resolving (the key is then absent, as it always was).
    consent_events: int | None = None
    total: int = 0

    def as_dict(self) -> dict[str, int]:
        """Without consent_events when it was never counted."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Rejected:
    """One record a system could not use or refused (the first few of a run are listed)."""

    connector: str
    stage: str
    record_id: str | None
    origin: str | None
    reason: str


@dataclass
class RunError:
    """A connector or system that failed as a whole ("-": the run itself)."""

    connector: str
    message: str


@dataclass
class Drift:
    """Counts that do not add up between hub and a system."""

    connector: str
    kind: str
    count: int
    message: str


@dataclass
class ConsentCounts:
    """Consent effects of the run that are not per connector."""

    suppressed_reimports: int = 0


@dataclass
class RunSummary:
    """One run's outcome. None means "not reported" and is left out of `as_dict`."""

    run_id: int | None
    status: str
    exit_code: int
    plan: bool = False
    full: bool | None = None
    pipeline: str | None = None
    trigger: str | None = None
    #: The `hub run` node; reported even when None (a manual `hub sync`).
    node: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None
    stages_s: dict[str, float] | None = None
    connectors: dict[str, ConnectorCounts] | None = None
    contacts: ContactCounts | None = None
    rejected_total: int = 0
    rejected: list[Rejected] | None = None
    errors: list[RunError] = field(default_factory=list)
    drift: list[Drift] | None = None
    planned: dict[str, Planned] | None = None
    consent: ConsentCounts | None = None
    lifecycle: Report | None = None

    def as_dict(self) -> dict[str, Any]:
        """The documented JSON form (key order included: scripts diff it)."""
        nested: dict[str, Any] = {
            "stages_s": None if self.stages_s is None else dict(self.stages_s),
            "connectors": None if self.connectors is None
            else {name: asdict(c) for name, c in self.connectors.items()},
            "contacts": None if self.contacts is None else self.contacts.as_dict(),
            "rejected": None if self.rejected is None else [asdict(r) for r in self.rejected],
            "errors": [asdict(e) for e in self.errors],
            "drift": None if self.drift is None else [asdict(d) for d in self.drift],
            "planned": None if self.planned is None
            else {name: p.as_dict() for name, p in self.planned.items()},
            "consent": None if self.consent is None else asdict(self.consent),
            "lifecycle": None if self.lifecycle is None else self.lifecycle.as_dict(),
        }
        result: dict[str, Any] = {}
        for f in fields(self):
            value = nested[f.name] if f.name in nested else getattr(self, f.name)
            if value is not None or f.name == "node":
                result[f.name] = value
        return result

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSummary:
        """A summary as stored or printed (absent keys stay None), e.g. from `runs.summary`."""
        def opt(key: str, build: Any) -> Any:
            return None if data.get(key) is None else build(data[key])

        return cls(
            run_id=opt("run_id", int),
            status=str(data["status"]),
            exit_code=int(data["exit_code"]),
            plan=bool(data.get("plan", False)),
            full=opt("full", bool),
            pipeline=opt("pipeline", str),
            trigger=opt("trigger", str),
            node=opt("node", str),
            started_at=opt("started_at", str),
            finished_at=opt("finished_at", str),
            duration_s=opt("duration_s", float),
            stages_s=opt("stages_s", lambda v: {k: float(s) for k, s in v.items()}),
            connectors=opt("connectors", lambda v: {
                name: ConnectorCounts(**c) for name, c in v.items()}),
            contacts=opt("contacts", lambda v: ContactCounts(**v)),
            rejected_total=int(data.get("rejected_total", 0)),
            rejected=opt("rejected", lambda v: [Rejected(**r) for r in v]),
            errors=[RunError(**e) for e in data.get("errors") or []],
            drift=opt("drift", lambda v: [Drift(**d) for d in v]),
            planned=opt("planned", lambda v: {
                name: Planned(**p) for name, p in v.items()}),
            consent=opt("consent", lambda v: ConsentCounts(**v)),
            lifecycle=opt("lifecycle", Report.from_dict),
        )

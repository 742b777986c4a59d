"""The export formats hub understands: column names as the products really write them.

Each format maps headers to golden fields, names the id and update-time columns, and turns
consent columns into observations (docs/consent.md): only a Mailchimp row with a CONFIRM_TIME is a
confirmed double opt-in; an opt-in time alone, or Shopify's "Accepts Email Marketing = yes", is
a single opt-in at most.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.plugin import ConsentObservation

Row = Sequence[str]
ConsentReader = Callable[[Row, dict[str, int]], tuple[ConsentObservation, ...]]
SignalReader = Callable[[Row, dict[str, int]], dict[str, Any]]


@dataclass(frozen=True)
class ExportFormat:
    """How one product's export is laid out."""

    name: str
    #: header → golden field; several headers may feed one field (first non-empty wins).
    fields: dict[str, str]
    id_columns: tuple[str, ...] = ()
    updated_columns: tuple[str, ...] = ()
    #: headers whose presence identifies the format in `auto` mode
    signature: frozenset[str] = frozenset()
    consent: ConsentReader | None = None
    signals: SignalReader | None = None
    list_fields: frozenset[str] = field(default_factory=lambda: frozenset({"tags", "emails"}))


def parse_time(text: str) -> datetime | None:
    """The products' export timestamps ("2024-01-15 10:22:33", ISO, "…Z") as aware UTC."""
    text = text.strip()
    if not text:
        return None
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        for pattern in ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%m/%d/%Y %H:%M",
                        "%m/%d/%Y"):
            try:
                moment = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
        else:
            return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _cell(row: Row, index: dict[str, int], header: str) -> str:
    i = index.get(header)
    return row[i].strip() if i is not None and i < len(row) else ""


def _mailchimp_consent(row: Row, index: dict[str, int]) -> tuple[ConsentObservation, ...]:
    evidence = {key.lower(): _cell(row, index, key)
                for key in ("OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP", "LEID")
                if _cell(row, index, key)}
    observations = []
    confirm = parse_time(_cell(row, index, "CONFIRM_TIME"))
    optin = parse_time(_cell(row, index, "OPTIN_TIME"))
    if confirm is not None:
        observations.append(ConsentObservation("doi_confirmed", confirm, evidence=evidence))
    elif optin is not None:
        observations.append(ConsentObservation("single_opt_in", optin, evidence=evidence))
    unsub = parse_time(_cell(row, index, "UNSUB_TIME"))
    if unsub is not None:
        reason = _cell(row, index, "UNSUB_REASON")
        observations.append(ConsentObservation(
            "opt_out", unsub, evidence={"unsub_reason": reason} if reason else {}))
    cleaned = parse_time(_cell(row, index, "CLEAN_TIME"))
    if cleaned is not None:
        observations.append(ConsentObservation("bounce", cleaned))
    return tuple(observations)


def _mailchimp_signals(row: Row, index: dict[str, int]) -> dict[str, Any]:
    rating = _cell(row, index, "MEMBER_RATING")
    return {"member_rating": int(rating)} if rating.isdigit() else {}


def _shopify_consent(row: Row, index: dict[str, int]) -> tuple[ConsentObservation, ...]:
    accepts = _cell(row, index, "Accepts Email Marketing").lower()
    if accepts in ("yes", "true", "ja"):
        # a ticked box at checkout: a single opt-in, never proof of a double opt-in
        return (ConsentObservation("single_opt_in", None,
                                   evidence={"source": "shopify export: Accepts Email Marketing"}),)
    return ()


def _shopify_signals(row: Row, index: dict[str, int]) -> dict[str, Any]:
    signals: dict[str, Any] = {}
    spent = _cell(row, index, "Total Spent").replace(",", ".")
    orders = _cell(row, index, "Total Orders")
    try:
        if spent:
            signals["order_total"] = float(spent)
    except ValueError:
        pass
    if orders.isdigit():
        signals["order_count"] = int(orders)
    return signals


def _hubspot_signals(row: Row, index: dict[str, int]) -> dict[str, Any]:
    signals = {}
    stage = _cell(row, index, "Lifecycle Stage")
    status = _cell(row, index, "Lead Status")
    if stage:
        signals["lifecyclestage"] = stage
    if status:
        signals["hs_lead_status"] = status
    return signals


MAILCHIMP = ExportFormat(
    name="mailchimp",
    fields={"Email Address": "email", "First Name": "first_name", "Last Name": "last_name",
            "Phone Number": "phone", "Birthday": "birthday", "Company": "company",
            "CC": "country", "REGION": "region", "TAGS": "tags"},
    id_columns=("LEID", "Email Address"),
    updated_columns=("LAST_CHANGED",),
    signature=frozenset({"Email Address", "LAST_CHANGED"}),
    consent=_mailchimp_consent,
    signals=_mailchimp_signals,
)

SHOPIFY = ExportFormat(
    name="shopify",
    fields={"Email": "email", "First Name": "first_name", "Last Name": "last_name",
            "Phone": "phone", "Default Address Phone": "phone",
            "Default Address Company": "company", "Company": "company",
            "Default Address Address1": "street", "Address1": "street",
            "Default Address City": "city", "City": "city",
            "Default Address Province Code": "region", "Province Code": "region",
            "Default Address Country Code": "country", "Country Code": "country",
            "Default Address Zip": "zip", "Zip": "zip", "Tags": "tags"},
    id_columns=("Customer ID", "Email"),
    signature=frozenset({"Customer ID", "Accepts Email Marketing"}),
    consent=_shopify_consent,
    signals=_shopify_signals,
)

HUBSPOT = ExportFormat(
    name="hubspot",
    fields={"Email": "email", "First Name": "first_name", "Last Name": "last_name",
            "Phone Number": "phone", "Company Name": "company", "Job Title": "job_title",
            "Street Address": "street", "City": "city", "Postal Code": "zip",
            "State/Region": "region", "Country/Region": "country",
            "Preferred language": "language"},
    id_columns=("Record ID", "Email"),
    updated_columns=("Last Modified Date",),
    signature=frozenset({"Record ID", "Email"}),
    signals=_hubspot_signals,
)

KNOWN = {f.name: f for f in (MAILCHIMP, SHOPIFY, HUBSPOT)}


def detect(header: Sequence[str]) -> ExportFormat | None:
    """The product whose export has this header, or None (then the file is `generic`)."""
    present = {h.strip() for h in header}
    for candidate in (MAILCHIMP, SHOPIFY, HUBSPOT):
        if candidate.signature <= present:
            return candidate
    return None


def generic(columns: dict[str, str], id_column: str | None,
            updated_column: str | None) -> ExportFormat:
    """A format made of the config's `columns` mapping."""
    return ExportFormat(
        name="generic",
        fields={header: golden for golden, header in columns.items()},
        id_columns=(id_column,) if id_column else tuple(
            columns[f] for f in ("email",) if f in columns),
        updated_columns=(updated_column,) if updated_column else (),
    )

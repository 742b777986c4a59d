"""Deterministic seeded people, spread over the three simulated systems.

The same person appears in HubSpot, Shopify and Mailchimp with the differences real data has:
e-mail case and stray whitespace, phone formats, a changed last name, missing fields, every
consent state. Each simulator builds its in-memory state from the per-system view.
The generator is deterministic per (seed, count): same input, same people, same order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True, slots=True)
class Order:
    """A shop order of one customer (for customer value)."""

    id: int
    created_at: datetime
    updated_at: datetime
    total: str  # decimal string, e.g. "129.90"
    currency: str  # "EUR"
    financial_status: str  # PAID, PENDING, REFUNDED, PARTIALLY_REFUNDED, AUTHORIZED
    cancelled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class HubSpotView:
    """The person as HubSpot holds them (property values as HubSpot would)."""

    email: str
    firstname: str | None
    lastname: str | None
    phone: str | None
    company: str | None
    jobtitle: str | None
    city: str | None
    zip: str | None
    country: str | None
    lifecyclestage: str | None  # subscriber, lead, marketingqualifiedlead, ...
    hs_lead_status: str | None  # NEW, OPEN, ..., UNQUALIFIED
    created_at: datetime
    updated_at: datetime
    subscription_status: str | None  # SUBSCRIBED, NOT_SUBSCRIBED, or None (no status)
    legal_basis: str | None  # CONSENT_WITH_NOTICE, LEGITIMATE_INTEREST_OTHER, ...
    doi_confirmed_at: datetime | None  # DOI evidence when HubSpot ran the double opt-in


@dataclass(frozen=True, slots=True)
class ShopifyView:
    """The person as a Shopify customer."""

    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None  # Shopify keeps E.164
    tags: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    marketing_state: str  # SUBSCRIBED, NOT_SUBSCRIBED, PENDING, UNSUBSCRIBED, ...
    opt_in_level: str | None  # SINGLE_OPT_IN, CONFIRMED_OPT_IN, UNKNOWN
    consent_updated_at: datetime | None
    city: str | None
    zip: str | None
    country_code: str | None
    orders: tuple[Order, ...] = ()


@dataclass(frozen=True, slots=True)
class MailchimpView:
    """The person as a Mailchimp audience member."""

    email: str
    status: str  # subscribed, unsubscribed, cleaned, pending, transactional
    fname: str | None
    lname: str | None
    phone: str | None
    language: str | None
    ip_signup: str | None
    timestamp_signup: datetime | None
    ip_opt: str | None
    timestamp_opt: datetime | None  # the DOI confirmation for subscribed members
    last_changed: datetime
    member_rating: int  # 1..5
    avg_open_rate: float
    avg_click_rate: float
    tags: tuple[str, ...] = ()
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Person:
    """One real-world person and how each system sees them (None: not in that system)."""

    key: int
    email: str  # canonical: trimmed, lower-case
    first_name: str
    last_name: str
    phone: str | None  # canonical E.164
    company: str | None
    job_title: str | None
    city: str | None
    zip: str | None
    country: str | None  # ISO 3166-1 alpha-2
    language: str | None
    hubspot: HubSpotView | None = None
    shopify: ShopifyView | None = None
    mailchimp: MailchimpView | None = None
    notes: tuple[str, ...] = field(default=())  # what is deliberately odd about this person


# -- the generator -------------------------------------------------------------------------

_FIRST = ("Anna", "Jonas", "Lena", "Lukas", "Mia", "Felix", "Emma", "Paul", "Sophie", "Leon",
          "Marie", "Elias", "Hannah", "Noah", "Lea", "Ben", "Clara", "Finn", "Johanna", "Max",
          "Greta", "Jakob", "Ida", "Moritz", "Frieda", "Anton", "Luise", "Oskar", "Jürgen",
          "Björn", "Sören", "Käthe", "Özlem", "Zoë", "Heinz", "Ute", "Dörte", "Tobias", "Ayşe",
          "Mehmet", "Katarzyna", "Luca", "Chiara", "Lars", "Ingrid", "Pierre", "Élodie")
_LAST = ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
         "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf",
         "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann",
         "Hartmann", "Lange", "Werner", "Krause", "Lehmann", "König", "Huber", "Yılmaz",
         "Nowak", "Rossi", "Dubois", "Jensen", "van der Berg", "O'Brien", "Gruber", "Steiner")
_COMPANIES = ("Bäckerei Sonnenschein GmbH", "Müller & Söhne KG", "Nordlicht Design",
              "Grünwerk AG", "Stadtwerke Süd", "Café Kränzchen", "Alpenblick Hotel GmbH",
              "Rheinland Logistik", "Fahrradwerk Leipzig", "Weinhaus Mosel", None, None)
_TITLES = ("Geschäftsführerin", "Geschäftsführer", "Head of Marketing", "Einkaufsleiter",
           "Chief Operating Officer", "Teamleiterin Vertrieb", "Sachbearbeiterin",
           "Inhaber", "Marketing Manager", "Werkstudent", None, None)
_PLACES = (("DE", "Berlin", "10115", "30"), ("DE", "Hamburg", "20095", "40"),
           ("DE", "München", "80331", "89"), ("DE", "Köln", "50667", "221"),
           ("DE", "Frankfurt am Main", "60311", "69"), ("DE", "Leipzig", "04109", "341"),
           ("DE", "Stuttgart", "70173", "711"), ("AT", "Wien", "1010", "1"),
           ("AT", "Graz", "8010", "316"), ("CH", "Zürich", "8001", "44"),
           ("CH", "Basel", "4051", "61"), ("NL", "Amsterdam", "1012", "20"))
_CODES = {"DE": "49", "AT": "43", "CH": "41", "NL": "31"}
# Invented, but not reserved: a real Mailchimp audience refuses addresses on example.com and
# other reserved names as "fake or invalid" (the simulator does too, see
# hub_sandbox.mailchimp.RESERVED_DOMAINS), so the seeded people would never reach it.
# The sandbox sends no mail: the domains only have to look like real people's.
_DOMAINS = ("sonnenpost.de", "netzbrief.de", "bergmail.at", "seepost.ch", "mail.kontorpost.eu")
_ROLE = ("info", "office", "kontakt", "noreply")
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _ascii(text: str) -> str:
    table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "ë": "e",
                           "ø": "o", "ı": "i", "ş": "s", "'": "", " ": ""})
    return text.lower().translate(table)


def _moment(rnd: random.Random, days_back: int) -> datetime:
    return _EPOCH - timedelta(days=rnd.randrange(days_back), seconds=rnd.randrange(86400))


def _past(moment: datetime, floor: datetime) -> datetime:
    """Seeded history ends at the epoch: edits made while the sandbox runs are always newer.

    A time past the epoch is folded into the month before it (so times stay spread, not
    piled on one second), and never before `floor` (nothing changes before it was created).
    """
    if moment < _EPOCH:
        return moment
    folded = _EPOCH - timedelta(days=30) + (moment - _EPOCH) % timedelta(days=30)
    return max(folded, min(floor, _EPOCH - timedelta(seconds=1)))


def _spelled(rnd: random.Random, email: str) -> str:
    """The same address as another system might hold it: case and stray spaces."""
    choice = rnd.random()
    if choice < 0.15:
        return email.upper() if rnd.random() < 0.3 else email.title()
    if choice < 0.22:
        return f" {email} "
    return email


def _phone_as(rnd: random.Random, country: str, area: str, number: str) -> str:
    code = _CODES[country]
    style = rnd.randrange(5)
    if style == 0:
        return f"+{code} {area} {number}"
    if style == 1:
        return f"0{area}/{number}"
    if style == 2:
        return f"00{code} {area} {number}"
    if style == 3:
        return f"(0{area}) {number[:3]} {number[3:]}"
    return f"+{code}{area}{number}"


def generate(seed: int = 1, count: int = 3000) -> list[Person]:
    """`count` people for `seed`: the same input gives the same people, in the same order.

    Roughly 60 % are in HubSpot, 45 % in Shopify and 55 % in Mailchimp, everyone in at least
    one system; spellings, phone formats and consent states vary as they do in real data.
    """
    rnd = random.Random(seed)
    people: list[Person] = []
    for key in range(count):
        first, last = rnd.choice(_FIRST), rnd.choice(_LAST)
        country, city, zip_, area = rnd.choice(_PLACES)
        notes: list[str] = []
        local = f"{_ascii(first)}.{_ascii(last)}{key}"
        if rnd.random() < 0.02:
            local = f"{rnd.choice(_ROLE)}{key}" if rnd.random() < 0.5 else rnd.choice(_ROLE)
            notes.append("role address")
        email = f"{local}@{rnd.choice(_DOMAINS)}"
        number = str(1_000_000 + rnd.randrange(8_999_999))
        phone = f"+{_CODES[country]}{area}{number}" if rnd.random() < 0.8 else None
        if phone and rnd.random() < 0.01:
            notes.append("household phone shared with the next person")
        company, title = rnd.choice(_COMPANIES), rnd.choice(_TITLES)
        language = {"DE": "de", "AT": "de", "CH": rnd.choice(("de", "fr")), "NL": "nl"}[country]
        created = _moment(rnd, 1000)
        in_hubspot, in_shopify, in_mailchimp = (rnd.random() < 0.5, rnd.random() < 0.45,
                                                rnd.random() < 0.55)
        if not (in_hubspot or in_shopify or in_mailchimp):
            in_hubspot = True
        renamed = last if rnd.random() > 0.03 else f"{last}-{rnd.choice(_LAST)}"
        if renamed != last:
            notes.append("last name changed in one system")

        hubspot = None
        if in_hubspot:
            status = rnd.choices((None, "SUBSCRIBED", "NOT_SUBSCRIBED"), (0.5, 0.35, 0.15))[0]
            basis = None
            confirmed = None
            if status == "SUBSCRIBED":
                basis = rnd.choice(("CONSENT_WITH_NOTICE", "CONSENT_WITH_NOTICE",
                                    "LEGITIMATE_INTEREST_OTHER", "PERFORMANCE_OF_CONTRACT"))
                if basis == "CONSENT_WITH_NOTICE" and rnd.random() < 0.7:
                    confirmed = _past(created + timedelta(minutes=rnd.randrange(5, 600)), created)
            hubspot = HubSpotView(
                email=_spelled(rnd, email), firstname=first,
                lastname=last if rnd.random() > 0.05 else None,
                phone=_phone_as(rnd, country, area, number) if phone else None,
                company=company, jobtitle=title, city=city, zip=zip_, country=country,
                lifecyclestage=rnd.choices(
                    ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
                     "opportunity", "customer", None), (20, 30, 10, 6, 4, 15, 15))[0],
                hs_lead_status=rnd.choices(
                    ("NEW", "OPEN", "IN_PROGRESS", "UNQUALIFIED", "CONNECTED", None),
                    (15, 10, 8, 5, 5, 57))[0],
                created_at=created,
                updated_at=_past(created + timedelta(days=rnd.randrange(200)), created),
                subscription_status=status, legal_basis=basis, doi_confirmed_at=confirmed)

        shopify = None
        if in_shopify:
            state, level = rnd.choices(
                (("SUBSCRIBED", "CONFIRMED_OPT_IN"), ("SUBSCRIBED", "SINGLE_OPT_IN"),
                 ("SUBSCRIBED", "UNKNOWN"), ("NOT_SUBSCRIBED", "SINGLE_OPT_IN"),
                 ("PENDING", "CONFIRMED_OPT_IN"), ("UNSUBSCRIBED", "SINGLE_OPT_IN")),
                (15, 30, 5, 35, 5, 10))[0]
            orders = []
            for n in range(rnd.choices((0, 1, 2, 3, 5, 9), (20, 35, 20, 12, 9, 4))[0]):
                placed = _moment(rnd, 900)
                orders.append(Order(
                    id=key * 100 + n + 1, created_at=placed,
                    updated_at=_past(placed + timedelta(hours=rnd.randrange(72)), placed),
                    total=f"{rnd.randrange(900, 40000) / 100:.2f}", currency="EUR",
                    financial_status=rnd.choices(("PAID", "PENDING", "REFUNDED",
                                                  "PARTIALLY_REFUNDED"), (85, 5, 6, 4))[0],
                    cancelled_at=placed + timedelta(days=1) if rnd.random() < 0.03 else None))
            shopify = ShopifyView(
                email=_spelled(rnd, email).strip() if rnd.random() > 0.01 else None,
                first_name=first, last_name=renamed, phone=phone,
                tags=tuple(t for t in ("vip", "wholesale", "newsletter")
                           if rnd.random() < 0.15),
                created_at=created,
                updated_at=_past(created + timedelta(days=rnd.randrange(300)), created),
                marketing_state=state, opt_in_level=level,
                consent_updated_at=_past(created + timedelta(days=rnd.randrange(30)), created),
                city=city, zip=zip_, country_code=country, orders=tuple(orders))

        mailchimp = None
        if in_mailchimp:
            status = rnd.choices(("subscribed", "pending", "unsubscribed", "cleaned",
                                  "transactional"), (60, 10, 18, 7, 5))[0]
            signup = created - timedelta(days=rnd.randrange(60))
            opted = _past(signup + timedelta(minutes=rnd.randrange(2, 2000)), signup)
            confirmed_opt = status in ("subscribed", "unsubscribed", "cleaned")
            if status == "subscribed" and rnd.random() < 0.05:
                confirmed_opt = False
                notes.append("subscribed in Mailchimp without an opt-in timestamp (imported)")
            mailchimp = MailchimpView(
                email=_spelled(rnd, email).strip(), status=status, fname=first,
                lname=last, phone=_phone_as(rnd, country, area, number) if phone else None,
                language=language, ip_signup=f"203.0.113.{rnd.randrange(1, 255)}",
                timestamp_signup=signup,
                ip_opt=f"198.51.100.{rnd.randrange(1, 255)}" if confirmed_opt else None,
                timestamp_opt=opted if confirmed_opt else None,
                last_changed=_past(opted + timedelta(days=rnd.randrange(400)), opted),
                member_rating=rnd.choices((1, 2, 3, 4, 5), (10, 35, 30, 15, 10))[0],
                avg_open_rate=round(rnd.betavariate(2, 4), 2),
                avg_click_rate=round(rnd.betavariate(1, 9), 2),
                tags=tuple(t for t in ("Newsletter", "Webinar", "VIP") if rnd.random() < 0.25),
                source=rnd.choice(("Hosted Signup Form", "API - Generic", "Import")))
        people.append(Person(key=key, email=email, first_name=first, last_name=last,
                             phone=phone, company=company, job_title=title, city=city,
                             zip=zip_, country=country, language=language, hubspot=hubspot,
                             shopify=shopify, mailchimp=mailchimp, notes=tuple(notes)))
    return people

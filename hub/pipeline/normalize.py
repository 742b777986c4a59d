"""Normalisation: raw values from any system → the comparable form golden fields hold.

This runs on every source record (a million in a large import), so the expensive parts are
cached by raw value and the common cases take a fast path:

- e-mail: a precompiled pattern accepts the plain ASCII dot-atom addresses that make up nearly
  all real data (it accepts nothing email-validator would refuse); everything else, IDN domains
  and quoted local parts included, goes through email-validator;
- phone: phonenumbers parses to E.164, cached by the raw string and region.

Nothing is silently dropped: a value that cannot be normalised is left out of the golden
fields and reported in `problems` with the raw value, and the engine keeps it on the record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from hub.contact import CUSTOM_PREFIX
from hub.matching.folding import canonical_email

_TEXT_FIELDS = ("first_name", "last_name", "company", "job_title", "street", "city", "zip",
                "region")
_SPACE = re.compile(r"\s+")
# RFC 5321/5322 dot-atom with the usual limits; stricter than email-validator, never looser.
# A domain label with hyphens in its 3rd and 4th places ("xn--", "ab--c") is IDNA's business
# (reserved or punycode), so such addresses go to email-validator.
_PLAIN = re.compile(
    r"^(?=.{3,254}$)(?=[^@]{1,64}@)"
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:(?![a-z0-9-]{2}--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
)
_SEPARATORS = re.compile(r"[,;]")

_COUNTRIES = {
    "germany": "DE", "deutschland": "DE", "deu": "DE", "ger": "DE", "brd": "DE",
    "austria": "AT", "österreich": "AT", "oesterreich": "AT", "aut": "AT",
    "switzerland": "CH", "schweiz": "CH", "suisse": "CH", "svizzera": "CH", "che": "CH",
    "united states": "US", "united states of america": "US", "usa": "US", "u.s.a.": "US",
    "vereinigte staaten": "US",
    "united kingdom": "GB", "uk": "GB", "great britain": "GB", "england": "GB",
    "großbritannien": "GB", "grossbritannien": "GB", "vereinigtes königreich": "GB",
    "france": "FR", "frankreich": "FR", "fra": "FR",
    "netherlands": "NL", "the netherlands": "NL", "niederlande": "NL", "holland": "NL",
    "nld": "NL",
    "italy": "IT", "italien": "IT", "italia": "IT", "ita": "IT",
    "spain": "ES", "spanien": "ES", "españa": "ES", "esp": "ES",
    "belgium": "BE", "belgien": "BE", "belgique": "BE", "bel": "BE",
    "luxembourg": "LU", "luxemburg": "LU", "lux": "LU",
    "poland": "PL", "polen": "PL", "polska": "PL", "pol": "PL",
    "denmark": "DK", "dänemark": "DK", "danmark": "DK", "dnk": "DK",
    "sweden": "SE", "schweden": "SE", "sverige": "SE", "swe": "SE",
    "norway": "NO", "norwegen": "NO", "norge": "NO", "nor": "NO",
    "czech republic": "CZ", "czechia": "CZ", "tschechien": "CZ", "cze": "CZ",
    "portugal": "PT", "prt": "PT", "ireland": "IE", "irland": "IE", "irl": "IE",
    "liechtenstein": "LI", "lie": "LI", "canada": "CA", "kanada": "CA", "can": "CA",
}
#: The two-letter codes hub knows: a country phonenumbers can read numbers of (GB included;
#: "UK" is folded to GB before the lookup).
_ISO2 = frozenset(phonenumbers.SUPPORTED_REGIONS)


class InvalidEmail(ValueError):
    """A primary e-mail that is not an address; the message says what is wrong with it."""


def _frozen(*items: str) -> frozenset[str]:
    return frozenset(items)


@dataclass(frozen=True)
class IdentitySettings:
    """Which addresses identify nobody in particular and so must never join records."""

    placeholder_emails: frozenset[str] = field(default_factory=lambda: _frozen(
        "test@test.com", "test@test.de", "test@example.com", "example@example.com",
        "n/a", "na", "none", "null", "-", "keine", "no@email.com", "noemail@noemail.com"))
    placeholder_local_parts: frozenset[str] = field(default_factory=lambda: _frozen(
        "noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "do_not_reply",
        "mailer-daemon", "postmaster", "bounce", "bounces", "test", "dummy", "nomail",
        "noemail", "keine"))
    role_local_parts: frozenset[str] = field(default_factory=lambda: _frozen(
        "info", "office", "kontakt", "contact", "sales", "vertrieb", "support", "admin",
        "hello", "hallo", "mail", "email", "team", "service", "kundenservice", "buchhaltung",
        "billing", "accounting", "invoice", "rechnung", "marketing", "hr", "jobs", "karriere",
        "webmaster", "post", "zentrale", "empfang", "orders", "bestellung", "shop"))


@dataclass(slots=True)
class NormalizedFields:
    """One record's fields in golden form, with what could not be used and why."""

    email: str | None
    emails: tuple[str, ...]
    merge_keys: tuple[str, ...]
    problems: tuple[tuple[str, str], ...]
    invalid_email: str | None
    fields: dict[str, Any]

    def values(self) -> dict[str, Any]:
        """Golden field → normalised value, non-empty ones only (with email and emails)."""
        result = dict(self.fields)
        if self.email is not None:
            result["email"] = self.email
        if self.emails:
            result["emails"] = list(self.emails)
        return result


class _Cache(dict[Any, Any]):
    """A dict that forgets everything when full: cheap, bounded, good enough for repeats."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: Any, value: Any) -> Any:
        if len(self) >= self.size:
            self.clear()
        self[key] = value
        return value


_MISSING = object()


#: Bumped whenever normalisation itself changes what it makes of a value: records read
#: again then count as changed and are normalised anew (`Normalizer.fingerprint`).
VERSION = 1


class Normalizer:
    """Normalises records; holds the caches, so build one per run and reuse it.

    Each cache forgets everything at `cache_size` entries: three of 200,000 cost about
    60 MB more at the peak of reading a million rows than three of 50,000, and repeats
    (a shared office phone, the same person in two exports read one after the other)
    mostly fall within 50,000.
    """

    def __init__(self, *, default_region: str = "DE",
                 identity: IdentitySettings | None = None, cache_size: int = 50_000) -> None:
        self.default_region = default_region
        self.identity = identity or IdentitySettings()
        #: What decides the normalised form besides the record: part of every record's
        #: content hash, so a changed region or placeholder list re-normalises what is read.
        self.fingerprint = "|".join((
            str(VERSION), default_region,
            *(",".join(sorted(values)) for values in (
                self.identity.placeholder_emails, self.identity.placeholder_local_parts,
                self.identity.role_local_parts))))
        self._emails = _Cache(cache_size)
        self._phones = _Cache(cache_size)
        self._keys = _Cache(cache_size)

    # -- single values -------------------------------------------------------------------
    def email(self, raw: str) -> str:
        """The normalised address, or `InvalidEmail` saying why it is not one."""
        cached = self._emails.get(raw, _MISSING)
        if cached is _MISSING:
            try:
                cached = self._emails.put(raw, self._email(raw))
            except InvalidEmail as exc:
                self._emails.put(raw, exc)
                raise
        if isinstance(cached, InvalidEmail):
            raise cached
        result: str = cached
        return result

    def _email(self, raw: str) -> str:
        text = raw.strip()
        if "<" in text and text.endswith(">"):  # "Anna Müller <anna@example.de>"
            text = text[text.rindex("<") + 1:-1]
        text = text.strip().strip("<>").strip()
        if text.lower().startswith("mailto:"):
            text = text[7:].split("?", 1)[0]  # "mailto:anna@example.de?subject=Hallo"
        if not text:
            raise InvalidEmail("the e-mail address is empty")
        folded = text.casefold()
        if _PLAIN.match(folded):
            return folded
        try:
            checked = validate_email(text, check_deliverability=False)
        except EmailNotValidError as exc:
            # the address itself is personal data: the record's origin (file and line, or id)
            # says which one it was, the validator's reason says what is wrong with it
            raise InvalidEmail(f"not a valid e-mail address: {exc}") from None
        domain = checked.ascii_domain or checked.domain
        return f"{checked.local_part.casefold()}@{domain.casefold()}"

    def is_merge_key(self, email: str) -> bool:
        """False for addresses that identify no single person (placeholders, role accounts)."""
        cached = self._keys.get(email)
        if cached is None:
            local = email.split("@", 1)[0]
            base = local.split("+", 1)[0]
            ident = self.identity
            cached = self._keys.put(email, not (
                email in ident.placeholder_emails or base in ident.placeholder_local_parts
                or base in ident.role_local_parts))
        return bool(cached)

    def phone(self, raw: str, region: str | None = None) -> str | None:
        """E.164 (+4930123456), or None when the text is not a valid number.

        A number without a country code is read in `region` (the contact's own country)
        when given, else in ``[hub] default_region``: 020 1234 5678 is London for a British
        contact and Oberhausen for a German one.
        """
        region = region or self.default_region
        cached = self._phones.get((raw, region), _MISSING)
        if cached is not _MISSING:
            result: str | None = cached
            return result
        compact = _PUNCTUATION.sub("", raw)
        if compact != raw:  # "030/123", "(030) 123" and "030 123" share one parse
            return self._remember_phone(raw, region, self.phone(compact, region))
        fast = _dach_fast_path(compact, region)
        if fast is not None:
            return self._remember_phone(raw, region, fast or None)
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            return self._remember_phone(raw, region, None)
        if not phonenumbers.is_valid_number(number):
            return self._remember_phone(raw, region, None)
        return self._remember_phone(
            raw, region, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))

    def _remember_phone(self, raw: str, region: str, value: str | None) -> str | None:
        self._phones.put((raw, region), value)
        return value

    # -- whole records -------------------------------------------------------------------
    def record(self, fields: Mapping[str, Any]) -> NormalizedFields:
        """All fields of one record; see the module docstring for what is kept and dropped."""
        out: dict[str, Any] = {}
        problems: list[tuple[str, str]] = []
        primary: str | None = None
        invalid: str | None = None
        raw_email = fields.get("email")
        if isinstance(raw_email, str) and raw_email.strip():
            try:
                primary = self.email(raw_email)
            except InvalidEmail as exc:
                invalid = str(exc)
        emails: list[str] = [primary] if primary else []
        for extra in _items(fields.get("emails")):
            try:
                address = self.email(extra)
            except InvalidEmail as exc:
                problems.append(("emails", str(exc)))
                continue
            if address not in emails:
                emails.append(address)
        if primary is None and emails and invalid is None:
            primary = emails[0]
        for name in _TEXT_FIELDS:
            value = fields.get(name)
            if isinstance(value, str):
                text = _SPACE.sub(" ", value).strip()
                if text:
                    out[name] = text
            elif value is not None:
                text = _SPACE.sub(" ", str(value)).strip()
                if text:
                    out[name] = text
        country = fields.get("country")
        code: str | None = None
        if isinstance(country, str) and country.strip():
            code = country_code(country)
            if code is None:
                out["country"] = country.strip()
                problems.append(("country", f"{country.strip()!r} is not a known country"))
            else:
                out["country"] = code
        raw_phone = fields.get("phone")
        if raw_phone not in (None, ""):
            text = str(raw_phone).strip()
            if text:
                phone = self.phone(text, code if code in _ISO2 else None)
                if phone is None:
                    problems.append(("phone", f"{text!r} is not a valid phone number"))
                else:
                    out["phone"] = phone
        birthday = fields.get("birthday")
        if birthday not in (None, ""):
            iso = birthday_iso(birthday)
            if iso is None:
                problems.append(("birthday", f"{birthday!r} is not a date (use YYYY-MM-DD)"))
            else:
                out["birthday"] = iso
        language = fields.get("language")
        if isinstance(language, str) and language.strip():
            out["language"] = language.strip().replace("_", "-").lower()
        tags = _dedupe(_items(fields.get("tags")))
        if tags:
            out["tags"] = tags
        for name, value in fields.items():
            if name.startswith(CUSTOM_PREFIX) and value is not None:
                text = str(value).strip()
                if text:
                    out[name] = text
        # matching only: the canonical mailbox joins records, the addresses stay as given
        keys = tuple(dict.fromkeys(canonical_email(e) for e in emails if self.is_merge_key(e)))
        return NormalizedFields(email=primary, emails=tuple(emails), merge_keys=keys,
                                problems=tuple(problems), invalid_email=invalid, fields=out)


_PUNCTUATION = re.compile(r"[\s()./-]")
_FAST_REGIONS = {"DE": 49, "AT": 43, "CH": 41}
_FAST_CODES = {str(code): code for code in _FAST_REGIONS.values()}


def _dach_fast_path(compact: str, region: str) -> str | None:
    """E.164 for plain German/Austrian/Swiss numbers without phonenumbers' slow parse.

    Returns "" for an invalid number, None when the fast path does not apply (anything but
    digits with an optional +, 00 or national 0 prefix). Tests check it against
    `phonenumbers.parse` on generated numbers: it must give the same answer or None.
    """
    if compact.startswith("+"):
        digits = compact[1:]
    elif compact.startswith("00"):
        digits = compact[2:]
    elif compact.startswith("0") and region in _FAST_REGIONS:
        digits = str(_FAST_REGIONS[region]) + compact[1:]
    else:
        return None
    if not digits.isdigit():
        return None
    code = _FAST_CODES.get(digits[:2])
    national = digits[2:]
    if code is None or not national or national[0] == "0" or len(national) > 13:
        return None
    number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
    return f"+{digits}" if phonenumbers.is_valid_number(number) else ""


def country_code(text: str) -> str | None:
    """ISO 3166-1 alpha-2 for a code or a common English/German name, else None."""
    stripped = text.strip()
    if len(stripped) == 2 and stripped.isalpha():
        code = stripped.upper()
        code = "GB" if code == "UK" else code
        return code if code in _ISO2 else None
    return _COUNTRIES.get(stripped.casefold())


def birthday_iso(value: Any) -> str | None:
    """YYYY-MM-DD from a date, ISO text or German DD.MM.YYYY; None for anything ambiguous."""
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text[:10]) and len(text) in (10, 19, 20, 25):
            return date.fromisoformat(text[:10]).isoformat()
        match = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", text)
        if match:
            return date(int(match.group(3)), int(match.group(2)), int(match.group(1))).isoformat()
    except ValueError:
        return None
    return None


def _items(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [p.strip() for p in _SEPARATORS.split(value) if p.strip()]
    if isinstance(value, Iterable):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    return [str(value).strip()]


def _dedupe(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        key = item.casefold()
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out

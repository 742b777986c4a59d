"""Normalisation rules, and proof that the fast paths agree with the libraries."""

from __future__ import annotations

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hub.pipeline.normalize import (
    InvalidEmail,
    Normalizer,
    _dach_fast_path,
    birthday_iso,
    country_code,
)

N = Normalizer()


def test_email_is_trimmed_casefolded_and_idn_encoded() -> None:
    assert N.email("  Anna.Mueller@Example.DE ") == "anna.mueller@example.de"
    assert N.email("anna@bücher.de") == "anna@xn--bcher-kva.de"
    assert N.email("<mailto:Ben@X.de>") == "ben@x.de"


@pytest.mark.parametrize("raw", ["anna@@x.de", "anna", "anna@", "@x.de", "a b@x.de", " "])
def test_invalid_emails_say_why_without_quoting_the_address(raw: str) -> None:
    with pytest.raises(InvalidEmail) as info:
        N.email(raw)
    assert "valid e-mail" in str(info.value) or "empty" in str(info.value)
    if raw.strip():  # the reason goes into run rows and dead letters: no personal data
        assert raw.strip() not in str(info.value)


def test_placeholders_and_role_addresses_are_not_merge_keys() -> None:
    assert N.is_merge_key("anna@x.de")
    for address in ("info@x.de", "noreply@x.de", "test@test.com", "office+de@x.de"):
        assert not N.is_merge_key(address)


def test_record_normalises_every_field_and_reports_problems() -> None:
    result = N.record({
        "email": " Anna@X.de", "emails": "anna.private@y.com; broken@@", "first_name": " Anna  Lena ",
        "phone": "030 / 123 4567", "country": "Deutschland", "birthday": "03.04.1985",
        "language": "de_AT", "tags": "VIP, vip; Newsletter", "custom.kundennr": " 4711 ",
        "zip": " 10115 ", "city": ""})
    values = result.values()
    assert values["email"] == "anna@x.de"
    assert values["emails"] == ["anna@x.de", "anna.private@y.com"]
    assert values["first_name"] == "Anna Lena" and values["phone"] == "+49301234567"
    assert values["country"] == "DE" and values["birthday"] == "1985-04-03"
    assert values["language"] == "de-at" and values["tags"] == ["VIP", "Newsletter"]
    assert values["custom.kundennr"] == "4711" and values["zip"] == "10115"
    assert "city" not in values
    assert [field for field, _ in result.problems] == ["emails"]
    assert result.merge_keys == ("anna@x.de", "anna.private@y.com")


def test_invalid_primary_email_is_reported_not_raised() -> None:
    result = N.record({"email": "anna@@x.de", "first_name": "Anna"})
    assert result.invalid_email and "anna@@x.de" not in result.invalid_email
    assert result.email is None


def test_bad_phone_country_and_birthday_are_problems_not_losses() -> None:
    result = N.record({"email": "a@x.de", "phone": "12", "country": "Atlantis",
                       "birthday": "04/03/1985"})
    fields = dict(result.problems)
    assert "'12'" in fields["phone"] and "Atlantis" in fields["country"]
    assert "04/03/1985" in fields["birthday"]
    assert result.values()["country"] == "Atlantis"


def test_countries_and_birthdays() -> None:
    assert country_code("Österreich") == "AT" and country_code("uk") == "GB"
    assert country_code("ch") == "CH" and country_code("XX") is None
    assert birthday_iso("1990-12-31") == "1990-12-31" and birthday_iso("31.02.1990") is None


_local = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ0123456789._+-!#'", min_size=1,
                 max_size=70)
_domain = st.from_regex(r"[a-zA-Z0-9-]{1,20}(\.[a-zA-Z0-9-]{1,20}){0,2}\.[a-zA-Z]{2,6}",
                        fullmatch=True)


@settings(max_examples=400, deadline=None)
@given(_local, _domain, st.sampled_from(["", " ", "  \t"]))
@example("0", "00--0.AA", "")  # hyphens in a label's 3rd and 4th places: IDNA refuses it
def test_email_fast_path_agrees_with_email_validator(local: str, domain: str, pad: str) -> None:
    raw = f"{pad}{local}@{domain}{pad}"
    try:
        expected: str | None = validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        expected = None
    try:
        ours: str | None = Normalizer().email(raw)
    except InvalidEmail:
        ours = None
    if expected is None:
        assert ours is None, f"accepted {raw!r}, which email-validator refuses"
    else:
        assert ours == expected.casefold()
        assert Normalizer().email(ours) == ours  # idempotent
        assert Normalizer().email(raw.upper()) == ours  # case-insensitive


_prefixes = st.sampled_from(["+49", "0049", "0", "+43", "0043", "+41", "0041", "+49 (0)", "+1"])


@settings(max_examples=600, deadline=None)
@given(_prefixes, st.text(alphabet="0123456789", min_size=1, max_size=13),
       st.sampled_from(["DE", "AT", "CH"]))
def test_phone_fast_path_agrees_with_phonenumbers(prefix: str, digits: str, region: str) -> None:
    raw = prefix + digits
    try:
        parsed = phonenumbers.parse(raw, region)
        expected = (phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
                    if phonenumbers.is_valid_number(parsed) else None)
    except phonenumbers.NumberParseException:
        expected = None
    compact = raw.replace(" ", "").replace("(", "").replace(")", "")
    fast = _dach_fast_path(compact, region)
    if fast is not None:
        assert (fast or None) == expected
    assert Normalizer(default_region=region).phone(raw) == expected


def test_display_name_and_mailto_forms_are_addresses() -> None:
    from hub.pipeline.normalize import Normalizer

    n = Normalizer()
    assert n.email("Anna Müller <Anna.Mueller@Example.de>") == "anna.mueller@example.de"
    assert n.email("mailto:anna@example.de?subject=Hallo") == "anna@example.de"
    assert n.email("<anna@example.de>") == "anna@example.de"


def test_gmail_joins_on_its_mailbox_but_keeps_the_address() -> None:
    from hub.pipeline.normalize import Normalizer

    record = Normalizer().record({"email": "J.Doe+Shop@googlemail.com"})
    assert record.email == "j.doe+shop@googlemail.com"
    assert record.merge_keys == ("jdoe@gmail.com",)


def test_a_phone_is_read_in_the_contacts_own_country_first() -> None:
    from hub.pipeline.normalize import Normalizer

    n = Normalizer(default_region="DE")
    assert n.record({"phone": "06 12345678", "country": "Niederlande"}).fields["phone"] == \
        "+31612345678"
    assert n.record({"phone": "020 7946 0958", "country": "UK"}).fields["phone"] == \
        "+442079460958"
    assert n.record({"phone": "089/1234567"}).fields["phone"] == "+49891234567"
    assert n.record({"phone": "+49 89 1234567", "country": "NL"}).fields["phone"] == \
        "+49891234567"

"""The scorer: evidence for and against, term frequencies, vetoes, blocking."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hub.matching.model import Frequencies, Model, candidate_pairs, profile


def score(a: dict[str, Any], b: dict[str, Any], *others: dict[str, Any]) -> Any:
    profiles = [profile(i, i, f) for i, f in enumerate((a, b, *others))]
    return Model(Frequencies.of(profiles)).score(profiles[0], profiles[1])


JUERGEN = {"first_name": "Jürgen", "last_name": "Müller", "phone": "+49891234567",
           "street": "Königstraße 20", "zip": "80331", "city": "München",
           "email": "juergen.mueller@firma.de"}


def test_work_and_private_address_of_one_person_match() -> None:
    other = {**JUERGEN, "first_name": "Juergen", "last_name": "Mueller",
             "street": "Koenigstr. 20", "email": "j.mueller@gmail.com"}
    result = score(JUERGEN, other)
    assert result.probability > 0.999 and result.veto is None
    assert result.evidence["first_name"]["verdict"] == "exact"
    assert result.evidence["email"]["verdict"] == "different"
    assert result.evidence["email"]["weight"] < 0


def test_spouses_on_one_address_are_vetoed() -> None:
    petra = {"first_name": "Petra", "last_name": "Schmitt", "email": "familie.schmitt@web.de",
             "street": "Gartenweg 3", "zip": "50667", "city": "Köln"}
    result = score(petra, {**petra, "first_name": "Klaus"})
    assert result.veto == "different first names on one email"
    assert result.evidence["email"]["weight"] == 0


def test_different_birth_dates_veto_unless_an_identifier_agrees() -> None:
    father = {**JUERGEN, "birthday": "1961-05-01", "email": ""}
    son = {**father, "birthday": "1994-03-02"}
    assert score(father, son).veto == "different birth dates"
    typo = {**father, "birthday": "1961-05-10"}
    assert score(father, typo).veto is None
    assert score(father, typo).evidence["birthday"]["verdict"] == "close"
    profiles = [profile(0, 0, {**father, "custom.kdnr": "K1"}, id_fields=("custom.kdnr",)),
                profile(1, 1, {**son, "custom.kdnr": "K1"}, id_fields=("custom.kdnr",))]
    assert Model(Frequencies.of(profiles)).score(*profiles).veto is None


def test_a_common_surname_weighs_less_than_a_rare_one() -> None:
    base = {"first_name": "Anna", "zip": "10115"}
    crowd = [{"first_name": f"X{i}", "last_name": "Müller"} for i in range(300)]
    common = score({**base, "last_name": "Müller"}, {**base, "last_name": "Müller"}, *crowd)
    rare = score({**base, "last_name": "Przybylski"}, {**base, "last_name": "Przybylski"},
                 *crowd)
    assert rare.evidence["last_name"]["weight"] > common.evidence["last_name"]["weight"] + 3


def test_swapped_names_and_nicknames_still_match() -> None:
    a = {"first_name": "Müller", "last_name": "Johannes", "zip": "80331", "city": "München"}
    b = {"first_name": "Hans", "last_name": "Müller", "zip": "80331", "city": "München"}
    assert score(b, {**b, "first_name": "Johannes"}).evidence["first_name"]["verdict"] == "exact"
    assert score(a, {**b, "first_name": "Johannes"}).evidence["last_name"]["verdict"] == \
        "swapped"


def test_blocking_finds_the_phonetic_twin_and_skips_oversized_blocks() -> None:
    records = [{"first_name": "Anna", "last_name": "Meier", "zip": "10115"},
               {"first_name": "Anna", "last_name": "Mayer", "zip": "10115"},
               {"first_name": "Ben", "last_name": "Wolf", "zip": "20095"}]
    profiles = [profile(i, i, f) for i, f in enumerate(records)]
    assert candidate_pairs(profiles) == {(0, 1)}
    crowd = [profile(i, i, {"birthday": "1970-01-01"}) for i in range(100)]
    assert candidate_pairs(crowd, max_block=60) == set()


@given(st.text(min_size=1, max_size=40))
def test_a_stored_key_is_stable_and_its_sign_says_block_or_term(text: str) -> None:
    from hub.matching.model import BLOCK_PREFIXES, stored_key

    for prefix in ("em:", "nm:", "fn:", "ct:"):
        key = prefix + text
        value = stored_key(key)
        assert value == stored_key(key) and -2**63 <= value < 2**63
        assert (value >= 0) == (prefix in BLOCK_PREFIXES)

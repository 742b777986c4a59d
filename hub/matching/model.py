"""Scoring a pair of records: Fellegi–Sunter weights with term frequencies and vetoes.

Each field compares into a level (exact, close, different, or missing); a level carries
m (how often a true match shows it) and u (how often two different people do). The match
weight is the sum of log2(m/u) over the fields plus the prior log-odds of a random pair
being one person; the probability is the logistic of that sum. That is the model Splink
fits; hub fixes m from the values below (measured on FEBRL4 and German test data, see
docs/identity.md) and takes u for exact agreement from the data itself: two "Müller"s
agreeing is weaker evidence than two "Przybylski"s (term-frequency adjustment).

Evidence against a match is part of the sum (different birth dates weigh about −5 bits),
and some evidence vetoes an automatic merge however high the score: different birth dates
(father and son of one name at one address), and different first names on one e-mail
address or phone number (spouses, families, a son ordering with his father's address, a
team mailbox). A vetoed pair can only be suggested for review.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from hashlib import blake2b
from typing import Any

from rapidfuzz.distance import OSA, JaroWinkler

from hub.matching.folding import canonical_email, cologne, family_name, fold, given_name, street

#: Blocks (records sharing one blocking key) larger than this are skipped: such a key is too
#: common to say anything (a default birth date, a shared office phone).
MAX_BLOCK = 60
#: Term frequencies count as if this many more records had the typical frequency (below).
SMOOTHING = 1000
#: The prior never says more than "one in this many pairs is a match", however small the base.
MIN_POPULATION = 10_000


@dataclass(frozen=True, slots=True)
class Profile:
    """One record's comparable values (folded, canonical) and its contact."""

    record_id: int
    contact_id: int | None
    first: str = ""
    last: str = ""
    first_code: str = ""
    last_code: str = ""
    birthday: str = ""
    phone: str = ""
    #: Kept out of the repr (and so out of logs and tracebacks), like `shown`.
    email: str = field(default="", repr=False)
    street: str = ""
    house: str = ""
    zip: str = ""
    city: str = ""
    #: Identifiers compared exactly (a customer number, a tax id): (name, value) pairs.
    ids: tuple[tuple[str, str], ...] = ()
    #: Raw values for the evidence shown to a reviewer, by field.
    shown: Mapping[str, str] = field(default_factory=dict, repr=False)


def profile(record_id: int, contact_id: int | None, fields: Mapping[str, Any], *,
            id_fields: Sequence[str] = (), shared_email: bool = False) -> Profile:
    """The comparable form of a record's normalised fields.

    `shared_email` leaves the e-mail out (a role or shared mailbox identifies nobody).
    """
    def text(name: str) -> str:
        value = fields.get(name)
        return str(value).strip() if value not in (None, "") else ""

    first, last = given_name(text("first_name")), family_name(text("last_name"))
    street_name, house = street(text("street"))
    email = "" if shared_email or not text("email") else canonical_email(text("email"))
    ids = tuple((name, fold(text(name)).replace(" ", "")) for name in id_fields if text(name))
    shown = {name: text(name) for name in ("first_name", "last_name", "birthday", "phone",
                                           "email", "street", "zip", "city", *id_fields)
             if text(name)}
    return Profile(record_id=record_id, contact_id=contact_id, first=first, last=last,
                   first_code=cologne(first), last_code=cologne(last),
                   birthday=text("birthday"), phone=text("phone"), email=email,
                   street=street_name, house=house, zip=fold(text("zip")).replace(" ", ""),
                   city=fold(text("city")), ids=ids, shown=shown)


def term_keys(p: Profile) -> list[str]:
    """Keys whose counts give the term frequencies (and, some of them, the blocks)."""
    keys = [f"fn:{p.first}" if p.first else "", f"ln:{p.last}" if p.last else "",
            f"bd:{p.birthday}" if p.birthday else "", f"ph:{p.phone}" if p.phone else "",
            f"em:{p.email}" if p.email else "", f"zp:{p.zip}" if p.zip else "",
            f"ct:{p.city}" if p.city else "", f"st:{p.street}" if p.street else ""]
    keys.extend(f"id:{name}:{value}" for name, value in p.ids)
    return [k for k in keys if k]


def block_keys(p: Profile) -> list[str]:
    """Blocking keys: only records sharing one of these are ever compared."""
    keys = [f"em:{p.email}" if p.email else "", f"ph:{p.phone}" if p.phone else "",
            f"bd:{p.birthday}" if p.birthday else ""]
    if p.zip and p.last_code:
        keys.append(f"zl:{p.zip}|{p.last_code}")
    if p.zip and p.first_code:
        keys.append(f"zf:{p.zip}|{p.first_code}")
    if p.first_code and p.last_code:
        keys.append(f"nm:{min(p.first_code, p.last_code)}|{max(p.first_code, p.last_code)}")
    if p.street and p.house and (p.zip or p.city):
        keys.append(f"sh:{p.zip or p.city}|{p.street}|{p.house}")
    if p.city and p.last_code:
        keys.append(f"cl:{p.city}|{p.last_code}")
    if p.city and p.first_code:
        keys.append(f"cf:{p.city}|{p.first_code}")
    keys.extend(f"id:{name}:{value}" for name, value in p.ids)
    return [k for k in keys if k]


def all_keys(p: Profile) -> list[str]:
    """Every key a record stores (terms and blocks, once each)."""
    return list(dict.fromkeys([*term_keys(p), *block_keys(p)]))


#: Prefixes of the keys `block_keys` makes: only these pair records up.
BLOCK_PREFIXES = frozenset({"em:", "ph:", "bd:", "zl:", "zf:", "nm:", "sh:", "cl:", "cf:", "id:"})


@lru_cache(maxsize=1 << 16)  # names, postcodes and towns recur: a hash is 1.7 µs, a hit 0.16
def stored_key(key: str) -> int:
    """The 64-bit integer a key is stored as: a blocking key ≥ 0, a term-only key < 0.

    A million records hold about eleven million keys. As text (thirty bytes, a foreign key
    check each) they were the largest write of an import; as integers the index is a third
    of the size and no slower to join. The sign tells blocks from terms without the text.
    Two keys sharing a hash (about one chance in a million in a base of ten million keys)
    cost a pair scored for nothing or a term counted a little high, never a wrong merge:
    every pair is scored on the records' values.
    """
    digest = int.from_bytes(blake2b(key.encode(), digest_size=8).digest(), "big") >> 1
    return digest if key[:3] in BLOCK_PREFIXES else -digest - 1


class Frequencies:
    """How many records hold each term key, out of how many records."""

    def __init__(self, counts: Mapping[str, int], total: int) -> None:
        self.counts = counts
        self.total = max(total, 1)

    @classmethod
    def of(cls, profiles: Iterable[Profile]) -> Frequencies:
        """Count the term keys of `profiles` (the whole data set, in memory)."""
        counts: Counter[str] = Counter()
        total = 0
        for p in profiles:
            total += 1
            counts.update(term_keys(p))
        return cls(counts, total)

    def u(self, key: str, typical: float) -> float:
        """The chance that two random records agree on this exact value.

        Blended with the `typical` chance as if `SMOOTHING` records had shown it, so a
        small store (ten records, each name once) does not take every name for rare.
        """
        count = max(self.counts.get(key, 1), 1)
        return (count + SMOOTHING * typical) / (self.total + SMOOTHING)


@dataclass(frozen=True, slots=True)
class Score:
    """A pair's probability, its weight in bits, the evidence and any veto."""

    probability: float
    weight: float
    #: Holds the compared values, e-mail addresses among them: not in the repr.
    evidence: dict[str, dict[str, Any]] = field(repr=False)
    veto: str | None


# (m, u) per level; u = None means "from the term frequency".
_DIFFERENT = {"first_name": (0.04, 0.99), "last_name": (0.04, 0.99),
              "birthday": (0.04, 0.999), "phone": (0.3, 0.999), "email": (0.45, 0.999),
              "zip": (0.08, 0.98), "city": (0.15, 0.97), "street": (0.12, 0.99),
              "id": (0.05, 0.9999)}
_EXACT_M = {"first_name": 0.86, "last_name": 0.86, "birthday": 0.9, "phone": 0.7,
            "email": 0.55, "zip": 0.85, "city": 0.8, "street": 0.72, "id": 0.9}
#: How often two different people share a value, before the data says otherwise.
_TYPICAL_U = {"first_name": 0.005, "last_name": 0.002, "birthday": 1 / 25_000,
              "phone": 1e-6, "email": 1e-6, "zip": 0.0005, "city": 0.003, "street": 0.0005,
              "id": 1e-6}
_CLOSE = {"first_name": (0.1, 0.01), "last_name": (0.1, 0.004), "birthday": (0.06, 0.002),
          "zip": (0.07, 0.02), "city": (0.05, 0.005), "street": (0.12, 0.0005),
          "id": (0.05, 0.0001), "email": (0.05, 0.0002)}


class Model:
    """Scores pairs; `prior` is the log2-odds that two random records are one person."""

    def __init__(self, frequencies: Frequencies, *, prior: float | None = None) -> None:
        self.freq = frequencies
        self.prior = prior if prior is not None else \
            math.log2(1.0 / max(frequencies.total, MIN_POPULATION))

    def _exact(self, name: str, key: str) -> float:
        return math.log2(_EXACT_M[name] / self.freq.u(key, _TYPICAL_U[name]))

    def score(self, a: Profile, b: Profile) -> Score:
        """The match probability of `a` and `b`, with per-field evidence."""
        evidence: dict[str, dict[str, Any]] = {}
        total = self.prior

        def note(name: str, verdict: str, weight: float, shown: str | None = None) -> None:
            nonlocal total
            total += weight
            key = shown or name
            evidence[key] = {"left": a.shown.get(key), "right": b.shown.get(key),
                             "verdict": verdict, "weight": round(weight, 2)}

        def level(name: str, verdict: str) -> float:
            if verdict == "different":
                m, u = _DIFFERENT[name]
            else:
                m, u = _CLOSE[name]
            return math.log2(m / u)

        swapped = bool(a.first and a.last and b.first and b.last and a.first != b.first
                       and JaroWinkler.similarity(a.first, b.last) >= 0.9
                       and JaroWinkler.similarity(a.last, b.first) >= 0.9)
        first_verdict = name_verdict(a.first, b.first, a.first_code, b.first_code)
        for name, mine, theirs, prefix in (("first_name", a.first, b.first, "fn:"),
                                           ("last_name", a.last, b.last, "ln:")):
            if not mine or not theirs:
                continue
            if swapped:
                note(name, "swapped", level(name, "close"))
                continue
            verdict = first_verdict if name == "first_name" else \
                name_verdict(mine, theirs, a.last_code, b.last_code)
            note(name, verdict, self._exact(name, prefix + mine) if verdict == "exact"
                 else level(name, verdict))
        different_names = first_verdict == "different" and not swapped
        veto = None
        birth_veto = False
        if a.birthday and b.birthday:
            if a.birthday == b.birthday:
                note("birthday", "exact", self._exact("birthday", f"bd:{a.birthday}"))
            elif _near_date(a.birthday, b.birthday):
                note("birthday", "close", level("birthday", "close"))
            else:
                note("birthday", "different", level("birthday", "different"))
                birth_veto = True
        for name, mine, theirs, prefix in (("phone", a.phone, b.phone, "ph:"),
                                           ("email", a.email, b.email, "em:")):
            if not mine or not theirs:
                continue
            if mine == theirs:
                if different_names:  # one mailbox or line, two people: no evidence either way
                    note(name, "shared by different first names", 0.0)
                    veto = f"different first names on one {name}"
                else:
                    note(name, "exact", self._exact(name, prefix + mine))
            elif name == "email" and mine.split("@")[0] == theirs.split("@")[0] \
                    and len(mine.split("@")[0]) > 4:
                note(name, "same local part", level(name, "close"))
            else:
                note(name, "different", level(name, "different"))
        if a.zip and b.zip:
            if a.zip == b.zip:
                note("zip", "exact", self._exact("zip", f"zp:{a.zip}"))
            elif len(a.zip) == len(b.zip) and OSA.distance(a.zip, b.zip) == 1:
                note("zip", "close", level("zip", "close"))
            else:
                note("zip", "different", level("zip", "different"))
        if a.city and b.city:
            if a.city == b.city:
                note("city", "exact", self._exact("city", f"ct:{a.city}"))
            elif JaroWinkler.similarity(a.city, b.city) >= 0.9:
                note("city", "close", level("city", "close"))
            else:
                note("city", "different", level("city", "different"))
        if a.street and b.street:
            same_house = bool(a.house) and a.house == b.house
            if a.street == b.street and same_house:
                # the same street is common, the same house on it is not
                u = self.freq.u(f"st:{a.street}", _TYPICAL_U["street"]) * 0.05
                note("street", "exact", math.log2(_EXACT_M["street"] / u), "street")
            elif same_house and JaroWinkler.similarity(a.street, b.street) >= 0.88:
                note("street", "close", level("street", "close"), "street")
            elif a.street == b.street:  # same street, another house (or a typo in it)
                u = self.freq.u(f"st:{a.street}", _TYPICAL_U["street"])
                note("street", "same street", math.log2(0.08 / u) - 3.0, "street")
            else:
                note("street", "different", level("street", "different"), "street")
        mine_ids = dict(a.ids)
        for name, value in b.ids:
            if name in mine_ids:
                other = mine_ids[name]
                if other == value:
                    note(name, "exact", self._exact("id", f"id:{name}:{value}"), name)
                elif OSA.distance(other, value) <= 1:
                    note(name, "close", level("id", "close"), name)
                else:
                    note(name, "different", level("id", "different"), name)
        if birth_veto and veto is None and not any(
                e["verdict"] == "exact" for k, e in evidence.items()
                if k == "email" or k in dict(a.ids)):
            # different birth dates and no shared identifier: father and son, say
            veto = "different birth dates"
        probability = 1.0 / (1.0 + 2.0 ** -total) if total > -60 else 0.0
        return Score(probability=probability, weight=round(total, 2), evidence=evidence,
                     veto=veto)


def name_verdict(mine: str, theirs: str, code_a: str, code_b: str) -> str:
    """exact | close (a typo, a phonetic twin, a nickname) | different."""
    if mine == theirs:
        return "exact"
    if any(ch.isdigit() for ch in mine + theirs):  # "Vor1", "Vor2": placeholders, not names
        return "different"
    if (code_a and code_a == code_b) or JaroWinkler.similarity(mine, theirs) >= 0.9:
        return "close"
    return "different"


def _near_date(a: str, b: str) -> bool:
    """A typo: one of year, month and day wrong, or day and month swapped."""
    if len(a) != 10 or len(b) != 10:
        return False
    year, month, day = a[:4] == b[:4], a[5:7] == b[5:7], a[8:10] == b[8:10]
    if year + month + day >= 2 or OSA.distance(a, b) == 1:
        return True
    return year and a[5:7] == b[8:10] and a[8:10] == b[5:7]


def candidate_pairs(profiles: Sequence[Profile], *,
                    max_block: int = MAX_BLOCK) -> set[tuple[int, int]]:
    """Index pairs (i < j) of profiles sharing a blocking key, skipping oversized blocks."""
    blocks: dict[str, list[int]] = {}
    for i, p in enumerate(profiles):
        for key in block_keys(p):
            blocks.setdefault(key, []).append(i)
    pairs: set[tuple[int, int]] = set()
    for members in blocks.values():
        if len(members) < 2 or len(members) > max_block:
            continue
        for x, i in enumerate(members):
            for j in members[x + 1:]:
                pairs.add((i, j))
    return pairs

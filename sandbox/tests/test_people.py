"""The seeded people: deterministic, spread over the systems, with real-data noise."""

from __future__ import annotations

from collections import Counter

from hub_sandbox.people import generate


def test_same_seed_same_people_other_seed_other_people() -> None:
    assert generate(7, 300) == generate(7, 300)
    assert generate(7, 300) != generate(8, 300)
    assert generate(7, 300)[:100] == generate(7, 100)


def test_spread_overlap_and_noise() -> None:
    people = generate(1, 5000)
    share = Counter()
    for p in people:
        share["hubspot"] += p.hubspot is not None
        share["shopify"] += p.shopify is not None
        share["mailchimp"] += p.mailchimp is not None
        assert p.hubspot or p.shopify or p.mailchimp
    assert 0.55 < share["hubspot"] / 5000 < 0.7
    assert 0.4 < share["shopify"] / 5000 < 0.5 and 0.5 < share["mailchimp"] / 5000 < 0.6
    in_all = sum(1 for p in people if p.hubspot and p.shopify and p.mailchimp)
    assert in_all > 500
    spelled = [p.hubspot.email for p in people if p.hubspot]
    assert any(e != e.strip() for e in spelled) and any(e != e.lower() for e in spelled)
    phones = [p.mailchimp.phone for p in people if p.mailchimp and p.mailchimp.phone]
    assert any(ph.startswith("0") for ph in phones) and any(ph.startswith("+") for ph in phones)
    assert len({p.email for p in people}) > 4900


def test_every_consent_state_occurs() -> None:
    people = generate(1, 3000)
    mc = {p.mailchimp.status for p in people if p.mailchimp}
    assert mc == {"subscribed", "pending", "unsubscribed", "cleaned", "transactional"}
    shop = {(p.shopify.marketing_state, p.shopify.opt_in_level) for p in people if p.shopify}
    assert ("SUBSCRIBED", "CONFIRMED_OPT_IN") in shop and ("SUBSCRIBED", "SINGLE_OPT_IN") in shop
    assert any(p.hubspot and p.hubspot.doi_confirmed_at for p in people)
    assert any(p.mailchimp and p.mailchimp.status == "subscribed" and not p.mailchimp.timestamp_opt
               for p in people)
    assert any(p.shopify and p.shopify.orders for p in people)


def test_seeded_history_ends_before_the_epoch() -> None:
    from hub_sandbox.people import _EPOCH
    for p in generate(2, 2000):
        stamps = []
        if p.mailchimp:
            stamps += [p.mailchimp.last_changed, p.mailchimp.timestamp_opt]
        if p.hubspot:
            stamps += [p.hubspot.updated_at, p.hubspot.doi_confirmed_at]
        if p.shopify:
            stamps += [p.shopify.updated_at] + [o.updated_at for o in p.shopify.orders]
        assert all(s is None or s < _EPOCH for s in stamps)


def test_nothing_changes_before_it_was_created() -> None:
    for p in generate(3, 2000):
        if p.hubspot:
            assert p.hubspot.updated_at >= p.hubspot.created_at
        if p.shopify:
            assert p.shopify.updated_at >= p.shopify.created_at
        if p.mailchimp and p.mailchimp.timestamp_opt:
            assert p.mailchimp.last_changed >= p.mailchimp.timestamp_opt

"""One sync run, stage by stage: pull → normalize → identity → golden (merge) → outbox → push.

`engine` orders the stages and nothing more; each other module is one stage, readable top to
bottom. Consent and lifecycle decisions are taken by `hub.consent` and `hub.lifecycle`, which
the outbox asks before anything is written to a system.
"""

"""Consent: who may receive e-mail advertising, the proof of it, and erasure.

`policy` decides a contact's permission from every system's evidence; `ledger` keeps every
observation and decision in an append-only hash chain; `export` hands the proof to a
data-protection officer; `erasure` and `suppression` make "forget me" complete and sticky.
"""

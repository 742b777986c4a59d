"""The lead lifecycle: stages, scoring, customer value and what each system is told of them.

`config` holds the ``[scoring]`` and ``[lifecycle]`` models (the marketing/sales agreement),
`stage` the ordered stages, `scoring` and `customer_value` the numbers, `evaluation` the
per-run decision, `lead_fields` the ``lead.*`` payloads, `funnel` the counts people read.
"""

"""Matching: which golden contacts are probably the same person, and what people decide.

`folding` turns German names, streets, phones and e-mails into comparable keys, `model`
scores a pair of records (Fellegi–Sunter with term frequencies and evidence against),
`linking` runs it incrementally inside a sync, and `review` holds the decisions.
"""

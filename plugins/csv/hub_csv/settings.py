"""The ``[connectors.NAME]`` table of a CSV connector."""

from __future__ import annotations

import difflib
from typing import Literal

from pydantic import Field, field_validator, model_validator

from hub.plugin import GOLDEN_FIELDS, ConnectorSettings, is_golden_field

Format = Literal["auto", "generic", "mailchimp", "shopify", "hubspot"]


class CsvSettings(ConnectorSettings):
    """Where the files are, what they are, and whether hub reads or writes them."""

    #: A file or a glob (``exports/*.csv``), relative to config.toml's folder.
    path: str
    format: Format = "auto"
    #: None: detected from the header line (one of , ; tab |).
    delimiter: str | None = None
    #: None: UTF-8 (with or without BOM) if the whole file decodes, else cp1252.
    encoding: str | None = None
    #: Golden field (or custom.<name>) → column header; required for `generic`.
    columns: dict[str, str] = Field(default_factory=dict)
    #: The column holding a stable record id; default per format (e-mail for generic).
    id_column: str | None = None
    #: The column with the source's own update time; default per format (else file time).
    updated_column: str | None = None
    mode: Literal["read", "write"] = "read"
    #: A changed file with fewer rows than this share of its last read is reported as refused
    #: (exit 1): an export cut short must not pass quietly. 0 turns it off.
    shrink_warning: float = Field(default=0.5, ge=0, le=1)

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is not None and len(value.replace("\\t", "\t")) != 1:
            raise ValueError('delimiter is one character, e.g. ";" or "\\t"')
        return value.replace("\\t", "\t") if value else value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is not None:
            import codecs

            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"unknown encoding {value!r}; use utf-8, utf-8-sig or cp1252") \
                    from None
        return value

    @field_validator("columns")
    @classmethod
    def _golden_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not is_golden_field(name):
                close = difflib.get_close_matches(name, GOLDEN_FIELDS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(f"columns: {name!r} is not a golden field{hint}; use one of "
                                 + ", ".join(GOLDEN_FIELDS) + " or custom.<name>")
        return value

    @model_validator(mode="after")
    def _generic_needs_columns(self) -> CsvSettings:
        if self.format == "generic" and self.mode == "read" and "email" not in self.columns \
                and "emails" not in self.columns:
            raise ValueError('format "generic" needs columns, at least email = "<header>"')
        return self

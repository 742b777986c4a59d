"""Logs: JSON lines carry the run's fields; e-mail addresses never reach INFO, and reach
DEBUG only when configured."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.logs import Context, JsonLines, PersonalData, log_context, mask_emails


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO, PersonalData]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines())
    privacy = PersonalData()
    handler.addFilter(Context())
    handler.addFilter(privacy)
    logger = logging.getLogger("hub.connector.crm")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield logger, stream, privacy
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@given(local=st.from_regex(r"[a-z][a-z0-9._+-]{0,20}", fullmatch=True),
       domain=st.from_regex(r"[a-z0-9-]{1,12}\.(de|com|co\.uk)", fullmatch=True))
def test_every_address_is_masked(local: str, domain: str) -> None:
    address = f"{local}@{domain}"
    masked = mask_emails(f"cannot use {address} today")
    assert address not in masked and masked.startswith("cannot use ")
    assert "@" in masked  # the shape stays readable: a***@***


def test_info_lines_carry_run_fields_and_no_addresses(captured: tuple[
        logging.Logger, io.StringIO, PersonalData]) -> None:
    logger, stream, _ = captured
    token = log_context.set({"run_id": 7, "pipeline": "main"})
    try:
        logger.info("rejected %s", "anna.schmidt@example.de", extra={"record": "x@y.org"})
    finally:
        log_context.reset(token)
    (line,) = lines(stream)
    assert line["run_id"] == 7 and line["pipeline"] == "main" and line["connector"] == "crm"
    assert "example.de" not in json.dumps(line) and "y.org" not in json.dumps(line)


def test_debug_shows_addresses_only_when_configured(captured: tuple[
        logging.Logger, io.StringIO, PersonalData]) -> None:
    logger, stream, privacy = captured
    logger.debug("matched %s", "anna@example.de")
    privacy.reveal_at_debug = True
    logger.debug("matched %s", "anna@example.de")
    logger.info("matched %s", "anna@example.de")
    first, second, third = lines(stream)
    assert "anna@example.de" not in str(first["msg"])
    assert second["msg"] == "matched anna@example.de"
    assert "anna@example.de" not in str(third["msg"])


def test_a_traceback_keeps_its_frames_but_not_a_foreign_exceptions_message(captured: tuple[
        logging.Logger, io.StringIO, PersonalData]) -> None:
    from hub.errors import ConnectorError

    logger, stream, _ = captured
    person, phone, address = "Anna Müller", "+49 30 1234567", "anna@example.de"
    try:
        try:
            raise KeyError(f"no rule for {person}, {phone}")
        except KeyError as exc:
            raise ConnectorError(f"connector 'crm': {address} was refused") from exc
    except ConnectorError:
        logger.exception("the run failed unexpectedly")
    (entry,) = lines(stream)
    exc = str(entry["exc"])
    assert "Müller" not in exc and "1234567" not in exc and "anna@example.de" not in exc
    assert "KeyError (message withheld" in exc
    assert "hub.errors.ConnectorError: connector 'crm': a***@*** was refused" in exc
    assert exc.count("Traceback (most recent call last):") == 2
    assert "test_logs.py" in exc  # where it happened is kept


def test_a_failed_statement_never_quotes_its_parameters(tmp_path: object) -> None:
    from pathlib import Path

    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from hub.cli import crash_line
    from hub.store import Store
    from hub.store.schema import settings

    assert isinstance(tmp_path, Path)
    store = Store.open(f"sqlite:///{tmp_path / 'hub.db'}")
    row = {"name": "anna@example.de", "value": "Anna Müller"}
    with store.begin() as conn:
        conn.execute(insert(settings).values(**row))
    with pytest.raises(IntegrityError) as caught, store.begin() as conn:
        conn.execute(insert(settings).values(**row))
    store.engine.dispose()
    assert "anna@example.de" not in str(caught.value) and "Müller" not in str(caught.value)
    line = crash_line(caught.value)
    assert line.startswith("IntegrityError — hub stopped (exit 70)") and "anna" not in line

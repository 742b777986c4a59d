"""Alembic environment: hub passes its own connection in, so no alembic.ini is needed."""

from __future__ import annotations

from typing import Any

from alembic import context

from hub.store.schema import metadata
from hub.store.types import render_item

OPTIONS: dict[str, Any] = {"target_metadata": metadata, "render_as_batch": True,
                           "render_item": render_item}

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` run by hand: use the URL it was given
    from sqlalchemy import create_engine

    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.begin() as own:
        context.configure(connection=own, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()

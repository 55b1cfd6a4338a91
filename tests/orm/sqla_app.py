"""A Flask + Flask-SQLAlchemy app on spanner_pools.sqlalchemy, for the preload load tests.

Configured from ``ORM_SPANNER_*`` env vars. The engine is used at import time (what
``--preload`` apps do, e.g. to check the schema), so each worker inherits a pooled
connection from the master that it must drop.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from flask import Flask, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from flask_ext import Spanner
from spanner_pools.sqlalchemy import flask_config


class Base(DeclarativeBase):
    pass


spanner = Spanner()
db = SQLAlchemy(model_class=Base)


class Note(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "notes"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    body: Mapped[str | None] = mapped_column(String)


def create_app() -> Flask:
    app = Flask(__name__)
    for key in ("PROJECT", "INSTANCE", "DATABASE", "EMULATOR_HOST", "POOL", "POOL_SIZE"):
        value: Any = os.environ.get(f"ORM_SPANNER_{key}")
        if value is not None:
            app.config[f"SPANNER_{key}"] = int(value) if key == "POOL_SIZE" else value
    app.config["SPANNER_POOL_TIMEOUT"] = 30
    spanner.init_app(app)
    app.config.update(flask_config(spanner.get_manager(app)))
    db.init_app(app)
    reader = None

    @app.post("/notes")
    def add_note() -> tuple[dict[str, Any], int]:
        note = Note(id=uuid.uuid4().hex, body=(request.get_json(silent=True) or {}).get("body"))
        db.session.add(note)
        db.session.commit()
        return {"id": note.id}, 201

    @app.get("/notes")
    def count_notes() -> dict[str, Any]:
        nonlocal reader
        if reader is None:
            reader = db.engine.execution_options(read_only=True)
        with reader.connect() as conn:
            count = conn.execute(select(func.count()).select_from(Note)).scalar_one()
        return {"count": count}

    @app.get("/stats")
    def stats() -> dict[str, Any]:
        return spanner.stats()

    @app.get("/health")
    def health() -> str:
        return "ok"

    with app.app_context():  # the engine used in the master before fork
        db.session.execute(select(func.count()).select_from(Note)).scalar_one()
        db.session.rollback()
    return app


app = create_app()

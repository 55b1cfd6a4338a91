"""A tiny Flask app for the end-to-end tests, configured from environment variables.

Every ``TESTAPP_SPANNER_*`` variable becomes the ``SPANNER_*`` config key with its raw string
value (so the adapter's string conversion is exercised), e.g.
``TESTAPP_SPANNER_POOL_SIZE=2``. Run it with::

    gunicorn -c python:spanner_pools.gunicorn 'flask_testapp:create_app()'
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from flask import Flask, request
from google.cloud.spanner_v1 import param_types

from flask_ext import Spanner

ENV_PREFIX = "TESTAPP_"

spanner = Spanner()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The app factory: config from ``TESTAPP_SPANNER_*`` env vars, then ``config``."""
    app = Flask(__name__)
    app.config.from_mapping(
        {
            name[len(ENV_PREFIX) :]: value
            for name, value in os.environ.items()
            if name.startswith(ENV_PREFIX + "SPANNER_")
        }
    )
    app.config.from_mapping(config or {})
    spanner.init_app(app)

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Touches no Spanner session."""
        return {"pid": os.getpid()}

    @app.get("/read")
    def read() -> dict[str, Any]:
        rows = spanner.session.execute_sql("SELECT id, body FROM notes LIMIT 5")
        return {
            "pid": os.getpid(),
            "session": spanner.session.session.session_id,
            "rows": len(rows),
        }

    @app.post("/write")
    def write() -> dict[str, Any]:
        body = (request.get_json(silent=True) or {}).get("body", "")
        count = spanner.session.execute_update(
            "INSERT INTO notes (id, body) VALUES (@id, @body)",
            params={"id": uuid.uuid4().hex, "body": str(body)},
            param_types={"id": param_types.STRING, "body": param_types.STRING},
        )
        return {"pid": os.getpid(), "session": spanner.session.session.session_id, "rows": count}

    @app.get("/stats")
    def stats() -> dict[str, Any]:
        return spanner.stats()

    @app.get("/boom")
    def boom() -> dict[str, Any]:
        spanner.session.execute_sql("SELECT 1")
        raise RuntimeError("boom after using a session")

    return app

"""The notes site in Flask: ``gunicorn 'example_site.flask_site:create_app()'``.

Spanner settings come from ``SPANNER_*`` environment variables (see ``config.py``); the
``flask_ext.Spanner`` extension lends each request one pooled session (``spanner.handle``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify, redirect, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from flask_ext import Spanner

from . import notes, page
from .config import spanner_settings_from_env

__all__ = ["create_app", "spanner"]

spanner = Spanner()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; ``config`` (Flask keys such as ``SPANNER_POOL``) overrides the env."""
    app = Flask(__name__)
    app.config.update({f"SPANNER_{k}": v for k, v in spanner_settings_from_env().items()})
    app.config.update(config or {})
    spanner.init_app(app)

    @app.errorhandler(notes.BadRequest)
    def bad_request(exc: notes.BadRequest) -> tuple[Response, int]:
        return jsonify(error=str(exc)), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> BaseResponse:
        """Errors in JSON too (404, 405, and the extension's 503 with its Retry-After)."""
        response = exc.get_response()
        response.data = jsonify(error=exc.name, detail=exc.description).data
        response.content_type = "application/json"
        return response

    def index_page(error: str | None = None, status: int = 200) -> Response:
        listed = notes.list_notes(spanner.handle)
        html = page.render_index(listed["notes"], spanner.stats(), site="Flask", error=error)
        return Response(html, status=status, content_type="text/html; charset=utf-8")

    @app.get("/")
    def index() -> Response:
        """The page for people: notes, a form, live pool stats (the JSON endpoints stay)."""
        return index_page()

    @app.post("/")
    def add_from_form() -> BaseResponse:
        """The page's form: add the note, then redirect back (a reload does not post again)."""
        try:
            notes.create_note(spanner.handle, page.form_payload(request.form.get("body")))
        except notes.BadRequest as exc:
            return index_page(error=str(exc), status=400)
        return redirect("/", code=303)

    @app.get("/health")
    def health() -> Response:
        return jsonify({**notes.health(spanner.handle), "pid": os.getpid()})

    @app.get("/notes")
    def list_notes() -> Response:
        limit = notes.parse_limit(request.args.get("limit"))
        return jsonify(notes.list_notes(spanner.handle, limit))

    @app.post("/notes")
    def create_note() -> tuple[Response, int]:
        payload = request.get_json(silent=True)
        return jsonify(notes.create_note(spanner.handle, payload)), 201

    @app.post("/notes/bulk")
    def bulk_add() -> tuple[Response, int]:
        payload = request.get_json(silent=True)
        return jsonify(notes.bulk_add(spanner.handle, payload)), 201

    @app.get("/stats")
    def stats() -> Response:
        return jsonify(spanner.stats())

    return app

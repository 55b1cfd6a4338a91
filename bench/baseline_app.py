"""The throughput baseline: the example's notes endpoints written by hand on plain
google-cloud-spanner, the way an app does it without spanner-pools.

One ``PingingPool`` per worker, built in gunicorn's ``post_fork`` (``baseline_gunicorn_conf``)
and kept alive by a ping loop of its own; each request checks a session out with
``pool.get()``, runs the session API and returns it with ``pool.put()``. The views call the
same ``example_site.notes`` functions as ``example_site.flask_site`` (same SQL, same JSON)
and read the same ``SPANNER_*`` environment variables.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from flask import Flask, Response, jsonify, request
from google.auth.credentials import AnonymousCredentials
from google.cloud.spanner_v1 import Client
from google.cloud.spanner_v1.pool import PingingPool

from example_site import notes
from example_site.config import spanner_settings_from_env
from spanner_pools import SessionHandle

T = TypeVar("T")

_pool: PingingPool | None = None


def build_pool() -> PingingPool:
    """Client, pool and ping loop of this worker (call after fork)."""
    global _pool
    cfg = spanner_settings_from_env()
    emulator = cfg.get("EMULATOR_HOST")
    client = Client(
        project=cfg.get("PROJECT"),
        credentials=AnonymousCredentials() if emulator else None,
        client_options={"api_endpoint": emulator} if emulator else None,
        disable_builtin_metrics=bool(emulator),
    )
    interval = int(cfg.get("PING_INTERVAL", 300))
    pool = PingingPool(
        size=int(cfg.get("POOL_SIZE", 10)),
        default_timeout=float(cfg.get("POOL_TIMEOUT", 5)),
        ping_interval=interval,
    )
    client.instance(cfg["INSTANCE"]).database(cfg["DATABASE"], pool=pool)  # binds: sessions

    def ping_forever() -> None:
        while True:
            time.sleep(max(1.0, interval / 10))
            with contextlib.suppress(Exception):  # keep pinging whatever happens
                pool.ping()

    threading.Thread(target=ping_forever, name="baseline-pinger", daemon=True).start()
    _pool = pool
    return pool


def _with_session(work: Callable[[Any], T]) -> T:
    pool = _pool if _pool is not None else build_pool()
    session = pool.get()
    try:
        return work(session)
    finally:
        pool.put(session)


class RawSession:
    """The few lines of glue a hand-written app has: run the example's ``notes`` code on a
    raw pooled ``Session`` (no retries, no stats), so only session handling differs."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def execute_sql(
        self, sql: str, params: dict[str, Any] | None = None, param_types: Any = None
    ) -> list[list[Any]]:
        rows = self.session.snapshot().execute_sql(sql, params=params, param_types=param_types)
        return [list(row) for row in rows]

    def run_in_transaction(self, func: Callable[..., T], *args: Any, **kw: Any) -> T:
        result: T = self.session.run_in_transaction(func, *args, **kw)
        return result

    @contextmanager
    def batch(self) -> Iterator[Any]:
        with self.session.batch() as batch:
            yield batch


def _call(operation: Callable[[SessionHandle], T]) -> T:
    """Check a session out, run ``operation`` on it, put it back."""
    return _with_session(lambda session: operation(cast(SessionHandle, RawSession(session))))


def create_app() -> Flask:
    """Same routes, same code path (``example_site.notes``) as the Flask example."""
    app = Flask(__name__)

    @app.errorhandler(notes.BadRequest)
    def bad_request(exc: notes.BadRequest) -> tuple[Response, int]:
        return jsonify(error=str(exc)), 400

    @app.get("/health")
    def health() -> Response:
        return jsonify({**_call(notes.health), "pid": os.getpid()})

    @app.get("/notes")
    def list_notes() -> Response:
        limit = notes.parse_limit(request.args.get("limit"))
        return jsonify(_call(lambda handle: notes.list_notes(handle, limit)))

    @app.post("/notes")
    def create_note() -> tuple[Response, int]:
        payload = request.get_json(silent=True)
        return jsonify(_call(lambda handle: notes.create_note(handle, payload))), 201

    @app.post("/notes/bulk")
    def bulk_add() -> tuple[Response, int]:
        payload = request.get_json(silent=True)
        return jsonify(_call(lambda handle: notes.bulk_add(handle, payload))), 201

    return app

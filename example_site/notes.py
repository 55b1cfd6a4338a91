"""What the notes endpoints do, written once against a request's ``SessionHandle``.

The Flask and Django views only parse the request and render the JSON these functions
return; every Spanner call goes through the pooled session of the request.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping
from typing import Any

from google.cloud.spanner_v1 import COMMIT_TIMESTAMP, param_types

from spanner_pools import SessionHandle

__all__ = [
    "MAX_BULK",
    "MAX_LIMIT",
    "BadRequest",
    "bulk_add",
    "create_note",
    "health",
    "list_notes",
    "parse_limit",
]

#: Largest ``limit`` accepted by ``GET /notes``.
MAX_LIMIT = 100
#: Most notes accepted by one ``POST /notes/bulk``.
MAX_BULK = 500
#: Longest note body accepted.
MAX_BODY = 10_000

_INSERT = "INSERT INTO notes (id, body, created) VALUES (@id, @body, PENDING_COMMIT_TIMESTAMP())"
_SELECT = "SELECT id, body, created FROM notes ORDER BY created DESC, id LIMIT @limit"


class BadRequest(ValueError):
    """The request body or query string is invalid; the views answer 400 with the message."""


def _render(row: list[Any]) -> dict[str, Any]:
    note_id, body, created = row
    stamp = created.isoformat() if isinstance(created, datetime.datetime) else None
    return {"id": note_id, "body": body, "created": stamp}


def _body(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{field}: expected a string, got {type(value).__name__}")
    if len(value) > MAX_BODY:
        raise BadRequest(f"{field}: at most {MAX_BODY} characters, got {len(value)}")
    return value


def parse_limit(raw: str | None, default: int = 20) -> int:
    """The ``limit`` query parameter: an integer from 1 to :data:`MAX_LIMIT`."""
    if raw is None or raw == "":
        return default
    try:
        limit = int(raw)
    except ValueError:
        raise BadRequest(f"limit: expected an integer, got {raw!r}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit: expected 1 to {MAX_LIMIT}, got {limit}")
    return limit


def list_notes(handle: SessionHandle, limit: int = 20) -> dict[str, Any]:
    """The newest notes: one read-only query (a single-use snapshot)."""
    rows = handle.execute_sql(
        _SELECT, params={"limit": limit}, param_types={"limit": param_types.INT64}
    )
    return {"notes": [_render(row) for row in rows], "count": len(rows)}


def create_note(handle: SessionHandle, payload: Any) -> dict[str, Any]:
    """Insert one note with DML in a read-write transaction (``{"body": "..."}``)."""
    if not isinstance(payload, Mapping) or "body" not in payload:
        raise BadRequest('expected a JSON object like {"body": "text"}')
    body = _body(payload["body"], "body")
    note_id = uuid.uuid4().hex
    count = handle.run_in_transaction(
        lambda tx: tx.execute_update(
            _INSERT,
            params={"id": note_id, "body": body},
            param_types={"id": param_types.STRING, "body": param_types.STRING},
        )
    )
    return {"id": note_id, "body": body, "inserted": count}


def bulk_add(handle: SessionHandle, payload: Any) -> dict[str, Any]:
    """Insert many notes as mutations in one batch commit (``{"bodies": ["a", "b"]}``)."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("bodies"), list):
        raise BadRequest('expected a JSON object like {"bodies": ["text", ...]}')
    bodies = [_body(value, f"bodies[{i}]") for i, value in enumerate(payload["bodies"])]
    if not 1 <= len(bodies) <= MAX_BULK:
        raise BadRequest(f"bodies: expected 1 to {MAX_BULK} notes, got {len(bodies)}")
    ids = [uuid.uuid4().hex for _ in bodies]
    with handle.batch() as batch:
        batch.insert(
            table="notes",
            columns=("id", "body", "created"),
            values=[(i, b, COMMIT_TIMESTAMP) for i, b in zip(ids, bodies, strict=True)],
        )
    return {"ids": ids, "inserted": len(ids)}


def health(handle: SessionHandle) -> dict[str, Any]:
    """``SELECT 1`` on a pooled session: proves the pool and the database answer."""
    handle.execute_sql("SELECT 1")
    return {"status": "ok"}

"""The WSGI apps the reliability tests serve under real gunicorn.

* :func:`example_app`: the example site's Flask app (``example_site.flask_site``) unchanged,
  plus two response headers naming the worker and the Spanner session that served the
  request, so that a test can prove each worker used only its own sessions.
* :func:`probe_app`: a small Flask app with the views the example lacks: one that holds its
  session for ``?sleep=`` seconds (pool exhaustion), one that runs bad SQL, one whose
  transaction raises after its DML, one whose transaction is aborted past its retry
  deadline. Configured from ``PROBE_SPANNER_*`` environment
  variables (raw strings, as the extension reads env-var config).
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from flask import Flask, Response, request
from google.api_core.exceptions import Aborted
from google.cloud.spanner_v1 import param_types

from flask_ext import Spanner

__all__ = ["PID_HEADER", "SESSION_HEADER", "example_app", "probe_app"]

#: Response header: the PID of the gunicorn worker that answered.
PID_HEADER = "X-Worker-Pid"
#: Response header: the ID of the pooled session the request used (absent if none).
SESSION_HEADER = "X-Spanner-Session"


def _tag(spanner: Spanner, response: Response) -> Response:
    """Name the worker and the session this request used (runs before the session's return)."""
    response.headers[PID_HEADER] = str(os.getpid())
    handle = spanner.session
    if handle.checked_out:
        response.headers[SESSION_HEADER] = handle.session.session_id
    return response


def example_app() -> Flask:
    """The example site as ``create_app()`` builds it, with :data:`PID_HEADER` and
    :data:`SESSION_HEADER` on every response."""
    from example_site.flask_site import create_app, spanner

    app = create_app()
    app.after_request(lambda response: _tag(spanner, response))
    return app


probe_spanner = Spanner()

_INSERT = "INSERT INTO notes (id, body) VALUES (@id, @body)"
_TYPES = {"id": param_types.STRING, "body": param_types.STRING}


class DeliberateFailure(RuntimeError):
    """Raised inside a read-write transaction to make the client roll it back."""


def probe_app() -> Flask:
    """The probe app: config from ``PROBE_SPANNER_*`` env vars (``PROBE_SPANNER_POOL_SIZE``)."""
    app = Flask(__name__)
    app.config.from_mapping(
        {
            name[len("PROBE_") :]: value
            for name, value in os.environ.items()
            if name.startswith("PROBE_SPANNER_")
        }
    )
    probe_spanner.init_app(app)
    app.after_request(lambda response: _tag(probe_spanner, response))

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Touches no session."""
        return {"pid": os.getpid()}

    @app.get("/stats")
    def stats() -> dict[str, Any]:
        return probe_spanner.stats()

    @app.get("/slow")
    def slow() -> dict[str, Any]:
        """A read, then the session stays checked out for ``?sleep=`` seconds."""
        rows = probe_spanner.session.execute_sql("SELECT 1")
        time.sleep(float(request.args.get("sleep", "0.1")))
        return {"pid": os.getpid(), "rows": len(rows)}

    @app.post("/write")
    def write() -> dict[str, Any]:
        note_id = str(request.args.get("id") or uuid.uuid4().hex)
        probe_spanner.session.run_in_transaction(
            lambda tx: tx.execute_update(
                _INSERT, params={"id": note_id, "body": "w"}, param_types=_TYPES
            )
        )
        return {"pid": os.getpid(), "id": note_id}

    @app.get("/sqlerror")
    def sql_error() -> dict[str, Any]:
        """Bad SQL: the server answers INVALID_ARGUMENT, the view fails with a 500."""
        probe_spanner.session.execute_sql("SELECT no_such_column FROM no_such_table")
        return {"unreachable": True}

    @app.post("/txerror")
    def tx_error() -> dict[str, Any]:
        """DML in a read-write transaction, then an exception: rolled back, 500."""
        note_id = str(request.args.get("id") or uuid.uuid4().hex)

        def work(tx: Any) -> None:
            tx.execute_update(_INSERT, params={"id": note_id, "body": "never"}, param_types=_TYPES)
            raise DeliberateFailure(f"rolled back after inserting {note_id}")

        probe_spanner.session.run_in_transaction(work)
        return {"unreachable": True}

    @app.post("/txabort")
    def tx_abort() -> dict[str, Any]:
        """A transaction aborted past its retry deadline: ``Aborted`` escapes, 500.

        The emulator cannot abort on demand, so the transaction's code raises the client's
        ``Aborted`` before its first statement, with a zero retry deadline (no retry).
        """

        def work(tx: Any) -> None:
            raise Aborted("simulated abort", errors=[None])

        probe_spanner.session.run_in_transaction(work, timeout_secs=0)
        return {"unreachable": True}

    return app

"""The hand-written ``--preload`` pattern that spanner-pools replaces (a regression guard).

A plain google-cloud-spanner ``PingingPool`` is built and bound at import time, so under
``gunicorn --preload`` the master creates the sessions and every forked worker inherits the
same session IDs (and the master's gRPC channel). Every request borrows a session with
``pool.get()``, runs a read-write transaction on it and returns it with ``pool.put()``.
Configured by ``NAIVE_EMULATOR_HOST``, ``NAIVE_PROJECT``, ``NAIVE_INSTANCE``,
``NAIVE_DATABASE`` and ``NAIVE_POOL_SIZE``; it imports nothing from spanner-pools.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from flask import Flask
from google.auth.credentials import AnonymousCredentials
from google.cloud.spanner_v1 import Client, param_types
from google.cloud.spanner_v1.pool import PingingPool

from spanner_pools._compat import NO_BUILTIN_METRICS

client = Client(
    project=os.environ["NAIVE_PROJECT"],
    credentials=AnonymousCredentials(),
    client_options={"api_endpoint": os.environ["NAIVE_EMULATOR_HOST"]},
    **NO_BUILTIN_METRICS,
)
pool = PingingPool(size=int(os.environ.get("NAIVE_POOL_SIZE", "4")), default_timeout=10)
# Instance.database() binds the pool: BatchCreateSessions, in the gunicorn master with --preload.
database = client.instance(os.environ["NAIVE_INSTANCE"]).database(
    os.environ["NAIVE_DATABASE"], pool=pool
)

app = Flask(__name__)


@app.get("/health")
def health() -> dict[str, Any]:
    return {"pid": os.getpid()}


@app.post("/write")
def write() -> dict[str, Any]:
    session = pool.get()
    try:
        session.run_in_transaction(
            lambda tx: tx.execute_update(
                "INSERT INTO notes (id, body) VALUES (@id, 'naive')",
                params={"id": uuid.uuid4().hex},
                param_types={"id": param_types.STRING},
            )
        )
        return {"pid": os.getpid(), "session": session.session_id}
    finally:
        pool.put(session)

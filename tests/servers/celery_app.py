"""A Celery app for the real-worker tests: filesystem broker and results (no network service),
one pool from ``CELERY_SPANNER_*`` env vars, tasks that read and write in a transaction."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from celery import Celery

import spanner_pools.celery
from spanner_pools import PoolManager, SpannerSettings

FOLDER = os.environ["CELERY_TEST_FOLDER"]

app = Celery("spanner_pools_test")
app.conf.update(
    broker_url="filesystem://",
    broker_transport_options={
        "data_folder_in": os.path.join(FOLDER, "queue"),
        "data_folder_out": os.path.join(FOLDER, "queue"),
        "processed_folder": os.path.join(FOLDER, "processed"),
        "store_processed": False,
        "control_folder": os.path.join(
            FOLDER, "control"
        ),  # else ./control in the working directory
    },
    result_backend=f"file://{os.path.join(FOLDER, 'results')}",
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)

manager = PoolManager(SpannerSettings.from_mapping(json.loads(os.environ["CELERY_SPANNER"])))
spanner_pools.celery.install(open_at_start=os.environ.get("CELERY_OPEN_AT_START", "1") == "1")


@app.task
def write_note(body: str) -> dict[str, Any]:
    """A read-write transaction (DML), then a read: the pid and the notes counted."""
    with manager.handle() as spanner:
        spanner.run_in_transaction(
            lambda tx: tx.execute_update(
                "INSERT INTO notes (id, body, created) VALUES (@id, @body, PENDING_COMMIT_TIMESTAMP())",
                params={"id": uuid.uuid4().hex, "body": body},
                param_types={"id": _string(), "body": _string()},
            )
        )
        count = spanner.execute_sql("SELECT COUNT(*) FROM notes")[0][0]
    return {"pid": os.getpid(), "count": int(count)}


def _string() -> Any:
    from google.cloud.spanner_v1 import param_types

    return param_types.STRING

"""Django ORM scenarios run in a fresh process (Django is configured once per process):
``python -m tests.orm.djproject.scenarios`` prints one JSON report.

Requests go through ``django.test.Client``, so Django's ``request_started``/``request_finished``
handlers open and close connections as ``CONN_MAX_AGE`` says. ``ORM_EMULATOR_LOG`` is the
emulator's request log: the report gives log offsets around each measured step.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.orm.djproject.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import close_old_connections, connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402

from django_app import pools  # noqa: E402

from .notes.models import Note  # noqa: E402


def offset() -> int:
    return os.stat(os.environ["ORM_EMULATOR_LOG"]).st_size


def crud() -> dict[str, Any]:
    note = Note.objects.create(body="one")
    other = Note.objects.create(body="two")
    note.body = "uno"
    note.save()
    read = Note.objects.get(pk=note.pk).body
    Note.objects.filter(pk=other.pk).delete()
    remaining = list(Note.objects.values_list("body", flat=True))
    Note.objects.all().delete()
    return {"pks": [note.pk, other.pk], "read": read, "remaining": remaining}


def requests(client: Client, count: int) -> dict[str, Any]:
    """``count`` write+read request pairs; offsets around one steady-state write and read.

    The test client unhooks Django's ``close_old_connections`` from the request signals, so
    it runs here after each request, as ``request_finished`` does in a server."""
    statuses = []
    threads_before = threading.active_count()
    marks: dict[str, int] = {}
    for i in range(count):
        if i == count - 1:
            marks["write_start"] = offset()
        statuses.append(client.post("/notes/", {"body": f"n{i}"}, "application/json").status_code)
        close_old_connections()
        if i == count - 1:
            marks["write_end"] = marks["read_start"] = offset()
        statuses.append(client.get("/notes/").status_code)
        close_old_connections()
        if i == count - 1:
            marks["read_end"] = offset()
    count_now = client.get("/notes/").json()["count"]
    close_old_connections()
    return {
        "statuses": sorted(set(statuses)),
        "count": count_now,
        "threads": [threads_before, threading.active_count()],
        "connection_open_after_request": connection.connection is not None,
        **marks,
    }


def conflicting_atomic_blocks() -> dict[str, Any]:
    """Two threads' transactions at once: the emulator aborts the older one, which the
    DB-API replays at commit (it read the same row again, so the replay is accepted)."""
    first_row = Note.objects.create(body="0")
    second_row = Note.objects.create(body="0")
    first_wrote, second_done = threading.Event(), threading.Event()
    errors: list[str] = []

    def first() -> None:
        try:
            with transaction.atomic():
                note = Note.objects.get(pk=first_row.pk)
                note.body = "first"
                note.save()
                first_wrote.set()
                second_done.wait(60)
        except Exception as exc:  # noqa: BLE001 - reported
            errors.append(f"first: {exc!r}")
            first_wrote.set()
        finally:
            connection.close()

    def second() -> None:
        try:
            first_wrote.wait(60)
            with transaction.atomic():
                Note.objects.filter(pk=second_row.pk).update(body="second")
        except Exception as exc:  # noqa: BLE001 - reported
            errors.append(f"second: {exc!r}")
        finally:
            second_done.set()
            connection.close()

    start = offset()
    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    bodies = dict(Note.objects.values_list("pk", "body"))
    result = {
        "errors": errors,
        "bodies": [bodies[first_row.pk], bodies[second_row.pk]],
        "start": start,
        "end": offset(),
    }
    Note.objects.all().delete()
    return result


def main() -> None:
    call_command("migrate", verbosity=0)
    report: dict[str, Any] = {"crud": crud()}
    report["requests"] = requests(Client(), int(os.environ.get("ORM_REQUESTS", "30")))
    report["abort"] = conflicting_atomic_blocks()
    connection.close()
    report["stats"] = pools[settings.SPANNER_ALIAS].stats()
    print(json.dumps(report))


if __name__ == "__main__":
    main()

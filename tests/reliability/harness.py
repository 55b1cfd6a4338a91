"""Helpers of the reliability suite: admin calls, gunicorn servers of the example site and of
the probe app, and per-worker views of the responses.

Loopback only; every loop is bounded by a number of attempts.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from spanner_pools._compat import NO_BUILTIN_METRICS
from spanner_pools.emulator import provision
from tests.conftest import INSTANCE, PROJECT
from tests.e2e import ROOT, GunicornServer, Response, hammer

from .apps import PID_HEADER, SESSION_HEADER

EXAMPLE_CONFIG = str(ROOT / "example_site" / "gunicorn.conf.py")
EXAMPLE_APP = "tests.reliability.apps:example_app()"
PROBE_APP = "tests.reliability.apps:probe_app()"

#: Session RPCs: none of them may be paid by a request of a warm pool.
SESSION_RPCS = frozenset(
    {
        "Spanner.CreateSession",
        "Spanner.BatchCreateSessions",
        "Spanner.GetSession",
        "Spanner.DeleteSession",
    }
)


class Admin:
    """A plain google-cloud-spanner client for what the site must not do itself: create and
    drop databases, list sessions, and delete sessions behind the site's back."""

    def __init__(self, host: str) -> None:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud.spanner_v1 import Client

        self.host = host
        self.client = Client(
            project=PROJECT,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": host},
            **NO_BUILTIN_METRICS,
        )
        self._databases: dict[str, Any] = {}

    def create_database(self, ddl: Sequence[str], prefix: str = "rel") -> str:
        """A fresh database with ``ddl`` (the instance is created if missing)."""
        name = prefix + uuid.uuid4().hex[:10]
        provision(self.host, project=PROJECT, instance=INSTANCE, database=name, ddl=ddl)
        return name

    def _database(self, name: str) -> Any:
        if name not in self._databases:
            self._databases[name] = self.client.instance(INSTANCE).database(name)
        return self._databases[name]

    def session_names(self, database: str) -> list[str]:
        """ListSessions: the full names of every session the server holds for ``database``."""
        db = self._database(database)
        return [s.name for s in db.spanner_api.list_sessions(database=db.name)]

    def delete_all_sessions(self, database: str) -> int:
        """DeleteSession for every session of ``database``; returns how many."""
        db = self._database(database)
        names = self.session_names(database)
        for name in names:
            db.spanner_api.delete_session(name=name)
        return len(names)

    def burn_session_ids(self, count: int) -> None:
        """Make the emulator skip ``count`` session IDs (it numbers sessions 0, 1, 2... per
        process, across databases): create them in a scratch database, then drop it."""
        scratch = self.create_database([], prefix="burn")
        db = self._database(scratch)
        made = 0
        while made < count:
            response = db.spanner_api.batch_create_sessions(
                database=db.name, session_count=min(100, count - made)
            )
            made += len(response.session)
        self.drop(scratch)

    def count_rows(self, database: str, sql: str = "SELECT COUNT(*) FROM notes") -> int:
        """Run a ``COUNT(*)`` on a session of its own, deleted afterwards (so that session
        counts of the site's database stay exact)."""
        from google.cloud.spanner_v1.session import Session

        session = Session(self._database(database))  # not multiplexed: it can be deleted
        session.create()
        try:
            return int(next(iter(session.snapshot().execute_sql(sql)))[0])
        finally:
            session.delete()

    def drop(self, database: str) -> None:
        with contextlib.suppress(Exception):  # gone with a stopped emulator
            self._database(database).drop()

    def close(self) -> None:
        for db in self._databases.values():
            with contextlib.suppress(Exception):
                db.spanner_api.transport.close()
        with contextlib.suppress(Exception):
            self.client.database_admin_api.transport.close()
        with contextlib.suppress(Exception):
            self.client.instance_admin_api.transport.close()


def fair_args(threads: int = 1, worker_class: str = "sync") -> list[str]:
    """gunicorn options that cap how many connections one worker takes at a time, so that
    concurrent requests (and ``/stats`` rounds) reach every worker: by default one gthread
    or gevent worker may accept them all."""
    if worker_class == "gevent":
        return ["--worker-connections", "8"]
    if threads <= 1:
        return []
    return ["--worker-connections", str(threads), "--keep-alive", "0"]


def spanner_env(
    prefix: str, host: str, database: str, settings: Mapping[str, object] | None
) -> dict[str, str]:
    """The environment of an app that reads ``{prefix}EMULATOR_HOST``, ``{prefix}DATABASE``...:
    this suite's project and instance, ``database`` on ``host``, plus ``settings`` as strings."""
    core = {"EMULATOR_HOST": host, "PROJECT": PROJECT, "INSTANCE": INSTANCE, "DATABASE": database}
    return {f"{prefix}{key}": str(value) for key, value in {**core, **(settings or {})}.items()}


def _fair_server(app: str, environ: dict[str, str], **kwargs: Any) -> GunicornServer:
    """``GunicornServer`` of ``app``, with ``fair_args`` for its threads and worker class
    ahead of any ``extra_args``."""
    fair = fair_args(kwargs.get("threads", 1), kwargs.get("worker_class", "sync"))
    extra = [*fair, *kwargs.pop("extra_args", ())]
    return GunicornServer(app, env=environ, extra_args=extra, **kwargs)


def example_server(
    host: str,
    database: str,
    *,
    settings: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> GunicornServer:
    """The example site (Flask) under gunicorn with ``example_site/gunicorn.conf.py``.

    ``settings`` are core keys (``POOL_SIZE``) passed as ``SPANNER_*`` env-var strings, the
    way the example reads them.
    """
    environ = {**spanner_env("SPANNER_", host, database, settings), **(env or {})}
    return _fair_server(EXAMPLE_APP, environ, config=EXAMPLE_CONFIG, **kwargs)


def probe_server(
    host: str,
    database: str,
    *,
    settings: Mapping[str, object] | None = None,
    **kwargs: Any,
) -> GunicornServer:
    """The probe app under gunicorn with the core's hooks (``python:spanner_pools.gunicorn``)."""
    return _fair_server(
        PROBE_APP, spanner_env("PROBE_SPANNER_", host, database, settings), **kwargs
    )


def sessions_by_worker(responses: Iterable[Response]) -> dict[int, set[str]]:
    """Worker PID -> the IDs of the sessions its requests used (from the response headers)."""
    by_pid: dict[int, set[str]] = defaultdict(set)
    for response in responses:
        pid = response.headers.get(PID_HEADER.lower())
        session = response.headers.get(SESSION_HEADER.lower())
        if pid and session:
            by_pid[int(pid)].add(session)
    return dict(by_pid)


def shared_sessions(by_pid: Mapping[Any, set[str]]) -> set[str]:
    """Session IDs that more than one worker used."""
    seen: dict[str, int] = defaultdict(int)
    for ids in by_pid.values():
        for session in ids:
            seen[session] += 1
    return {session for session, workers in seen.items() if workers > 1}


def worker_stats(port: int, workers: int, rounds: int = 20) -> dict[int, dict[str, Any]]:
    """``GET /stats`` until ``workers`` distinct workers answered; PID -> latest stats.

    Requests go in concurrent rounds of 16 (one idle worker tends to accept every sequential
    connection); fewer than ``workers`` PIDs after ``rounds`` rounds raise ``AssertionError``.
    """
    found: dict[int, dict[str, Any]] = {}
    for _ in range(rounds):
        for response in hammer(port, [("GET", "/stats", None)] * 16, concurrency=8):
            assert response.status == 200, response.body[:500]
            stats = response.json()
            found[int(stats["pid"])] = stats
        if len(found) >= workers:
            return found
    raise AssertionError(f"only workers {sorted(found)} answered /stats in {rounds} rounds")


def failures(responses: Iterable[Response], ok: Iterable[int] = (200, 201)) -> list[str]:
    """A short description of every response whose status is not in ``ok``."""
    allowed = set(ok)
    return [f"{r.status}: {r.body[:200]!r}" for r in responses if r.status not in allowed]


def tail(server: GunicornServer, chars: int = 4000) -> str:
    """The end of a server's log, for assertion messages."""
    return server.log()[-chars:]

"""The setups ``bench/orm.py`` compares: each ORM at its upstream default and through the
library, the library's handle in each ``POOL`` mode, and the client's multiplexed default.

Each setup has its own database; ``read()`` and ``write()`` are one request each.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from spanner_pools import POOL_MODES, PoolManager, SpannerSettings
from spanner_pools.emulator import Emulator, provision

from ._common import INSTANCE, PROJECT, emulator_client, pool_settings, settings_mapping

SCHEMA = [
    "CREATE TABLE notes (id STRING(64) NOT NULL, body STRING(MAX)) PRIMARY KEY (id)",
    "CREATE TABLE dj_notes (id INT64 NOT NULL, body STRING(MAX) NOT NULL) PRIMARY KEY (id)",
]
READ = "SELECT id, body FROM notes LIMIT 10"
KINDS = ("read", "write")
POOL_SIZE = 4


class Setup:
    """One way of serving requests; ``read()``/``write()`` are one request each."""

    label = ""

    def __init__(self, host: str, database: str) -> None:
        self.host, self.database = host, database

    def start(self) -> None:
        """What a worker does before its first request (open a pool, build an engine)."""

    def read(self) -> None:
        raise NotImplementedError

    def write(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _settings(host: str, database: str, mode: str) -> SpannerSettings:
    return pool_settings(host, database, mode, POOL_SIZE=POOL_SIZE)


# -- the library's handle and the client without it ----------------------------------------


class Handle(Setup):
    def __init__(self, host: str, database: str, mode: str) -> None:
        super().__init__(host, database)
        self.label = f"spanner-pools handle, POOL={mode}"
        self.manager = PoolManager(_settings(host, database, mode), alias=f"bench-{mode}")

    def start(self) -> None:
        self.manager.open()

    def read(self) -> None:
        with self.manager.handle() as handle:
            handle.execute_sql(READ)

    def write(self) -> None:
        with self.manager.handle() as handle:
            handle.execute_update(
                "INSERT INTO notes (id, body) VALUES (@id, 'bench')",
                params={"id": uuid.uuid4().hex},
                param_types={"id": _string()},
            )

    def close(self) -> None:
        self.manager.close()


def _string() -> Any:
    from google.cloud.spanner_v1 import param_types

    return param_types.STRING


class ClientDefault(Setup):
    label = "client default (multiplexed), no library"

    def start(self) -> None:
        self.client = emulator_client(self.host)
        self.db = self.client.instance(INSTANCE).database(self.database)

    def read(self) -> None:
        with self.db.snapshot() as snapshot:
            list(snapshot.execute_sql(READ))

    def write(self) -> None:
        self.db.run_in_transaction(
            lambda tx: tx.execute_update(
                "INSERT INTO notes (id, body) VALUES (@id, 'bench')",
                params={"id": uuid.uuid4().hex},
                param_types={"id": _string()},
            )
        )


# -- SQLAlchemy -----------------------------------------------------------------------------


def _note_model() -> Any:
    from sqlalchemy import Column, String
    from sqlalchemy.orm import DeclarativeBase

    class Base(DeclarativeBase):
        pass

    class Note(Base):
        __tablename__ = "notes"
        id = Column(String(64), primary_key=True)
        body = Column(String)

    return Note


_SQLA_NOTE: list[Any] = []


class SqlAlchemy(Setup):
    def __init__(
        self, host: str, database: str, *, mode: str | None, pool: str = "", read_only: bool = False
    ) -> None:
        super().__init__(host, database)
        self.mode, self.pool, self.read_only = mode, pool, read_only
        if mode is None:
            self.label = f"SQLAlchemy default, {pool}"
        else:
            reads = "reads read_only" if read_only else "reads read-write"
            self.label = f"spanner_pools.sqlalchemy, POOL={mode}, {reads}"
        self.manager: PoolManager | None = None
        if not _SQLA_NOTE:
            _SQLA_NOTE.append(_note_model())
        self.Note = _SQLA_NOTE[0]

    def start(self) -> None:
        import sqlalchemy

        if self.mode is None:
            url = f"spanner+spanner:///projects/{PROJECT}/instances/{INSTANCE}/databases/{self.database}"
            kwargs: dict[str, Any] = {}
            if self.pool == "NullPool":
                kwargs["poolclass"] = sqlalchemy.pool.NullPool
            self.engine = sqlalchemy.create_engine(url, **kwargs)  # SPANNER_EMULATOR_HOST is set
        else:
            from spanner_pools.sqlalchemy import create_engine

            self.manager = PoolManager(
                _settings(self.host, self.database, self.mode), alias=f"sqla-{self.mode}"
            )
            self.manager.open()
            self.engine = create_engine(self.manager)
        self.reader = (
            self.engine.execution_options(read_only=True) if self.read_only else self.engine
        )

    def read(self) -> None:
        from sqlalchemy import select
        from sqlalchemy.orm import Session

        with Session(self.reader) as session:
            session.scalars(select(self.Note).limit(10)).all()

    def write(self) -> None:
        from sqlalchemy.orm import Session

        with Session(self.engine) as session, session.begin():
            session.add(self.Note(id=uuid.uuid4().hex, body="bench"))

    def close(self) -> None:
        self.engine.dispose()
        if self.manager is not None:
            self.manager.close()


# -- Django ---------------------------------------------------------------------------------

_DJANGO: dict[str, Any] = {}


def _configure_django(databases: dict[str, dict[str, Any]], spanner: dict[str, Any]) -> Any:
    """Configure Django once for every Django setup of the run; returns the model class."""
    import django
    from django.conf import settings

    settings.configure(
        INSTALLED_APPS=["django_app"],
        DATABASES=databases,
        SPANNER=spanner,
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()
    from django.db import models

    class Note(models.Model):  # type: ignore[misc]  # Django ships no type hints
        body = models.TextField()

        class Meta:
            app_label = "spanner_pools"
            db_table = "dj_notes"

    return Note


class Django(Setup):
    def __init__(self, host: str, database: str, *, alias: str, label: str) -> None:
        super().__init__(host, database)
        self.alias, self.label = alias, label

    def start(self) -> None:
        if self.alias.startswith("lib"):
            from django_app import managers

            managers[self.alias].open()  # what the gunicorn hook does in each worker

    def _request(self, work: Callable[[Any], object]) -> None:
        from django.db import close_old_connections

        try:
            work(_DJANGO["Note"].objects.using(self.alias))
        finally:
            close_old_connections()

    def read(self) -> None:
        self._request(lambda notes: list(notes.all()[:10]))

    def write(self) -> None:
        self._request(lambda notes: notes.create(body="bench"))

    def close(self) -> None:
        from django.db import connections

        connections[self.alias].close()
        if self.alias.startswith("lib"):
            from django_app import managers

            managers[self.alias].close()


DJANGO_SETUPS: list[tuple[str, str, int | None, str | None, str]] = [
    # alias, engine, CONN_MAX_AGE, POOL (library only), label
    (
        "default",
        "django_spanner",
        0,
        None,
        "Django default (django-google-spanner), CONN_MAX_AGE=0",
    ),
    ("persistent", "django_spanner", None, None, "django-google-spanner, CONN_MAX_AGE=None"),
    (
        "lib_pinging",
        "django_app.db",
        0,
        "pinging",
        'ENGINE "django_app.db", CONN_MAX_AGE=0, POOL=pinging',
    ),
    (
        "lib_multiplexed",
        "django_app.db",
        0,
        "multiplexed",
        'ENGINE "django_app.db", CONN_MAX_AGE=0, POOL=multiplexed',
    ),
]


def _new_database(emulator: Emulator, prefix: str) -> str:
    name = prefix + uuid.uuid4().hex[:10]
    provision(emulator.host, project=PROJECT, instance=INSTANCE, database=name, ddl=SCHEMA)
    return name


def build_setups(emulator: Emulator) -> list[Setup]:
    host = emulator.host
    setups: list[Setup] = []
    for pool in ("QueuePool", "NullPool"):
        setups.append(SqlAlchemy(host, _new_database(emulator, "sq"), mode=None, pool=pool))
    for sqla_mode, read_only in (("pinging", False), ("pinging", True), ("multiplexed", True)):
        database = _new_database(emulator, "sl")
        setups.append(SqlAlchemy(host, database, mode=sqla_mode, read_only=read_only))
    databases: dict[str, dict[str, Any]] = {}
    spanner: dict[str, Any] = {}
    django_setups = []
    for alias, engine, max_age, mode, label in DJANGO_SETUPS:
        database = _new_database(emulator, "dj")
        databases[alias] = {
            "ENGINE": engine,
            "CONN_MAX_AGE": max_age,
            "NAME": database,
            "INSTANCE": INSTANCE,
            "RANDOM_ID_GENERATION_ENABLED": "true",
        }
        if mode is not None:
            spanner[alias] = settings_mapping(host, database, mode, POOL_SIZE=POOL_SIZE)
        django_setups.append(Django(host, database, alias=alias, label=label))
    spanner["default"] = spanner["lib_pinging"]  # django_app wants a "default" alias
    _DJANGO["Note"] = _configure_django(databases, spanner)
    setups += django_setups
    for mode in POOL_MODES:
        setups.append(Handle(host, _new_database(emulator, "h"), mode))
    setups.append(ClientDefault(host, _new_database(emulator, "c")))
    return setups

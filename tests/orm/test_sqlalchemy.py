"""spanner_pools.sqlalchemy: SQLAlchemy and Flask-SQLAlchemy on the manager's sessions."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from spanner_pools import PoolManager, registry
from spanner_pools.emulator import Emulator
from spanner_pools.sqlalchemy import create_engine, engine_options, flask_config

from ..forking import run_in_child
from .test_dbapi import session_rpcs

Make = Callable[..., PoolManager]


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    body: Mapped[str | None] = mapped_column(String)


def test_model_crud_through_the_pool(
    make_manager: Make, emulator: Emulator, server_sessions: Callable[[], list[Any]]
) -> None:
    manager = make_manager(POOL_SIZE=2)
    engine = create_engine(manager)
    with Session(engine) as session, session.begin():
        session.add_all([Note(id="a", body="one"), Note(id="b", body="two")])
    since = emulator.log_offset()
    with Session(engine) as session, session.begin():
        note = session.get(Note, "a")
        assert note is not None and note.body == "one"
        note.body = "uno"
    assert session_rpcs(emulator.requests(since)) == {}
    with Session(engine) as session, session.begin():
        session.delete(session.get(Note, "b"))
    with Session(engine) as session:
        assert [(n.id, n.body) for n in session.scalars(select(Note))] == [("a", "uno")]
    stats = manager.stats()
    assert stats["in_use"] == 0
    assert stats["checkouts"] >= 4
    engine.dispose()  # closes the DB-API connections: the shared pool stays
    assert len(server_sessions()) == 2
    assert manager.stats()["available"] == 2


def test_read_only_reads_are_one_rpc(make_manager: Make, emulator: Emulator) -> None:
    manager = make_manager(POOL_SIZE=2)
    engine = create_engine(manager)
    with Session(engine) as session, session.begin():
        session.add(Note(id="r", body="read me"))
    reader = engine.execution_options(read_only=True)
    with Session(reader) as session:
        session.scalars(select(Note)).all()  # warm up: the first connect of this engine
    since = emulator.log_offset()
    with Session(reader) as session:
        assert session.get(Note, "r").body == "read me"  # type: ignore[union-attr]
    assert emulator.requests(since) == {"Spanner.ExecuteStreamingSql": 1}
    since = emulator.log_offset()
    with Session(engine) as session:  # the default: a read-write transaction, rolled back
        assert session.get(Note, "r") is not None
    assert emulator.requests(since) == {"Spanner.ExecuteStreamingSql": 1, "Spanner.Rollback": 1}
    assert manager.stats()["in_use"] == 0
    engine.dispose()


def test_conflicting_orm_transactions_abort_and_retry(
    make_manager: Make, emulator: Emulator
) -> None:
    manager = make_manager(POOL_SIZE=2)
    engine = create_engine(manager)
    with Session(engine) as session, session.begin():
        session.add_all([Note(id="c", body="0"), Note(id="d", body="0")])
    since = emulator.log_offset()
    first, second = Session(engine), Session(engine)
    first.get(Note, "c").body = "first"  # type: ignore[union-attr]
    first.flush()
    # Another row: the emulator aborts the older transaction anyway, and the replay of the
    # first one reads what it read before (the DB-API's checksum of the retry matches).
    second.get(Note, "d").body = "second"  # type: ignore[union-attr]
    second.flush()
    second.commit()
    first.commit()  # aborted by the emulator's one-transaction-at-a-time rule, then replayed
    first.close()
    second.close()
    assert emulator.requests(since)["Spanner.Commit"] >= 3
    with Session(engine) as session:
        rows = session.execute(select(Note.id, Note.body).order_by(Note.id)).all()
        assert [tuple(row) for row in rows] == [("c", "first"), ("d", "second")]
    assert manager.stats()["in_use"] == 0
    engine.dispose()


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_engine_used_before_fork_gives_the_child_new_connections(make_manager: Make) -> None:
    manager = make_manager(POOL_SIZE=1, PING_INTERVAL=0.5)
    engine = create_engine(manager, pool_size=1)
    with engine.connect() as conn:
        parent_dbapi = conn.connection.dbapi_connection
        conn.exec_driver_sql("SELECT 1").all()

    def child() -> dict[str, Any]:
        with Session(engine) as session, session.begin():
            session.add(Note(id="k", body=str(os.getpid())))
            dbapi = session.connection().connection.dbapi_connection
        report = {
            "inherited": dbapi is parent_dbapi,
            "owner": dbapi.owner_pid,  # type: ignore[union-attr]
            "pid": os.getpid(),
            "in_use": manager.stats()["in_use"],
        }
        engine.dispose()
        registry.close_all()
        return report

    report = run_in_child(child)
    assert not report["inherited"]
    assert report["owner"] == report["pid"]
    assert report["in_use"] == 0
    # The parent's pooled connection is untouched and still works.
    with engine.connect() as conn:
        assert conn.connection.dbapi_connection is parent_dbapi
        assert conn.exec_driver_sql("SELECT body FROM notes").all() == [(str(report["pid"]),)]
    engine.dispose()


def test_flask_sqlalchemy_from_the_spanner_config(spanner_config: dict[str, Any]) -> None:
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy

    from flask_ext import Spanner

    spanner, db = Spanner(), SQLAlchemy(model_class=Base)
    app = Flask(__name__)
    app.config.update({f"SPANNER_{key}": value for key, value in spanner_config.items()})
    spanner.init_app(app)
    app.config.update(flask_config(spanner.get_manager(app)))
    db.init_app(app)
    with app.app_context():
        db.session.add(Note(id="f", body="flask"))
        db.session.commit()
        assert db.session.get(Note, "f").body == "flask"  # type: ignore[union-attr]
        db.session.rollback()
        assert spanner.stats()["in_use"] == 0
        assert spanner.stats()["checkouts"] >= 2
        db.engine.dispose()
    spanner.get_manager(app).close()


def test_engine_options_refuse_a_creator(make_manager: Make) -> None:
    with pytest.raises(TypeError, match="creator"):
        engine_options(make_manager(), creator=lambda: None)

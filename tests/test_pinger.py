"""The pinger keeps idle sessions fresh, survives an outage and stops with close()."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from spanner_pools import PoolManager, PoolUnavailable
from spanner_pools._compat import NO_BUILTIN_METRICS
from spanner_pools.emulator import Emulator, provision
from spanner_pools.settings import _settings_for_tests

from .conftest import INSTANCE, PROJECT, SCHEMA
from .waiting import wait_for

Make = Callable[..., PoolManager]


def pinger_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if "pinger" in t.name]


def test_the_docs_recipe_pings_nothing(
    emulator: Emulator, database_id: str, spanner_config: dict[str, Any]
) -> None:
    """Regression guard for why the library exists: ``Thread(target=pool.ping)`` exits at once."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.spanner_v1 import Client
    from google.cloud.spanner_v1.pool import PingingPool

    client = Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": emulator.host},
        **NO_BUILTIN_METRICS,
    )
    pool = PingingPool(size=2, ping_interval=1)
    database = client.instance(INSTANCE).database(database_id, pool=pool)
    thread = threading.Thread(target=pool.ping, daemon=True)
    thread.start()
    thread.join(5)
    assert not thread.is_alive()  # one pass, nothing due yet: it is gone for good
    pool.clear()
    database.spanner_api.transport.close()


def test_pinger_pings_idle_sessions_again_and_again(make_manager: Make, emulator: Emulator) -> None:
    manager = make_manager(POOL_SIZE=2, PING_INTERVAL=0.3)
    manager.open()
    (thread,) = [t for t in pinger_threads() if manager.settings.database in t.name]
    assert thread.daemon
    assert "ping" in thread.name
    offset = emulator.log_offset()
    wait_for(lambda: manager.stats()["pings"] >= 8)  # every session pinged several times
    assert emulator.requests(offset)["Spanner.ExecuteSql"] >= 8
    stats = manager.stats()
    assert stats["ping_errors"] == 0
    assert stats["pinger_alive"] is True
    with manager.handle() as handle:
        assert handle.execute_sql("SELECT 1") == [[1]]


def test_a_session_in_use_is_not_pinged(make_manager: Make) -> None:
    manager = make_manager(POOL_SIZE=1, PING_INTERVAL=0.2)
    with manager.handle() as handle:
        handle.execute_sql("SELECT 1")
        before = manager.stats()["pings"]
        time.sleep(0.6)
        assert manager.stats()["pings"] == before
    wait_for(lambda: manager.stats()["pings"] > before)


def test_close_stops_the_pinger(make_manager: Make) -> None:
    manager = make_manager(PING_INTERVAL=0.2)
    manager.open()
    (thread,) = [t for t in pinger_threads() if manager.settings.database in t.name]
    manager.close()
    assert not thread.is_alive()  # close() joins it (for at most a second)
    assert manager.stats()["pinger_alive"] is False


@pytest.fixture
def own_emulator() -> Iterator[Emulator]:
    """An emulator this test may stop and restart (on the same port)."""
    emu = Emulator(log_requests=True).start()
    yield emu
    emu.stop()


def provision_own(emu: Emulator) -> None:
    provision(emu.host, project=PROJECT, instance=INSTANCE, database="outage", ddl=SCHEMA)


def outage_manager(emu: Emulator, **settings: Any) -> PoolManager:
    """A manager of two sessions on the ``outage`` database of ``emu``, pinging every 0.5 s
    (below the user minimum), with ``settings`` on top."""
    values = {
        "PROJECT": PROJECT,
        "INSTANCE": INSTANCE,
        "DATABASE": "outage",
        "EMULATOR_HOST": emu.host,
        "POOL_SIZE": 2,
        "PING_INTERVAL": 0.5,
        **settings,
    }
    return PoolManager(_settings_for_tests(values))


def test_pinger_survives_an_outage_and_recovers(
    own_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    provision_own(own_emulator)
    manager = outage_manager(own_emulator, POOL_TIMEOUT=1, RPC_TIMEOUT=2)
    try:
        manager.open()
        wait_for(lambda: manager.stats()["pings"] >= 2)

        caplog.set_level(logging.WARNING, logger="spanner_pools")
        own_emulator.stop()
        wait_for(lambda: manager.stats()["ping_errors"] >= 2)
        assert manager.stats()["pinger_alive"] is True
        assert any("pinger pass failed" in r.getMessage() for r in caplog.records)
        assert manager.stats()["sessions"] == 2  # a failed ping loses no session
        with pytest.raises(PoolUnavailable), manager.handle() as handle:
            handle.execute_sql("SELECT 1")
        assert manager.stats()["in_use"] == 0

        # The emulator comes back empty (it keeps data in memory): sessions are gone.
        own_emulator.start()
        provision_own(own_emulator)
        try:
            wait_for(lambda: manager.stats()["sessions_replaced"] >= 2)
        except AssertionError:
            raise AssertionError(str(manager.stats())) from None
        assert manager.stats()["pinger_alive"] is True
        with manager.handle() as handle:
            assert handle.execute_sql("SELECT 1") == [[1]]
    finally:
        manager.close(timeout=1)


def test_open_fails_cleanly_when_spanner_is_down_and_recovers_later(
    own_emulator: Emulator,
) -> None:
    own_emulator.stop()
    manager = outage_manager(own_emulator, RPC_TIMEOUT=1)
    try:
        with pytest.raises(PoolUnavailable, match="could not open"):
            manager.open()
        assert manager.opened  # the pinger keeps trying in the background
        with pytest.raises(PoolUnavailable, match="holds no session"):
            manager.handle().execute_sql("SELECT 1")
        own_emulator.start()
        provision_own(own_emulator)
        wait_for(lambda: manager.stats()["sessions"] == 2)
        with manager.handle() as handle:
            assert handle.execute_sql("SELECT 1") == [[1]]
    finally:
        manager.close(timeout=1)

"""Log records name their pool (alias, PID) and the fork warning comes once per process tree."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import pytest

from spanner_pools import PoolManager, PoolUnavailable, registry
from spanner_pools.emulator import free_port

from .forking import fork_children

Make = Callable[..., PoolManager]
FORK_WARNING = "opened in process"


class Collect(logging.Handler):
    """Keeps the records of the ``spanner_pools`` loggers (also in a forked child)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def collect() -> Any:
    handler = Collect()
    logger = logging.getLogger("spanner_pools")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_pool_opened_before_fork_warns_once_for_all_children(
    make_manager: Make, collect: Any
) -> None:
    manager = make_manager(POOL_SIZE=1)
    never_opened = make_manager(POOL_SIZE=1)
    manager.open()  # the mistake: a pool opened in the parent (a gunicorn master, --preload)

    def child() -> dict[str, Any]:
        collect.records.clear()
        with manager.handle() as handle:
            handle.execute_sql("SELECT 1")
        with never_opened.handle() as handle:  # first opened here: nothing to warn about
            handle.execute_sql("SELECT 1")
        warnings = [r for r in collect.records if FORK_WARNING in r.getMessage()]
        registry.close_all(timeout=0)
        return {
            "pid": os.getpid(),
            "warnings": [(r.getMessage(), r.alias, r.pid, r.name) for r in warnings],  # type: ignore[attr-defined]
        }

    first = fork_children(3, child)  # three siblings race for the one warning
    later = fork_children(1, child)  # a worker forked later (gunicorn replacing one)

    warned = [w for report in first + later for w in report["warnings"]]
    assert len(warned) == 1, warned
    [(text, alias, pid, name)] = warned
    assert name == "spanner_pools.manager" and alias == "default"
    assert pid in {report["pid"] for report in first}
    assert text.startswith(f"Spanner pool 'default' (pid {pid}): ")
    assert f"opened in process {os.getpid()} before fork" in text
    assert "worker hooks" in text
    assert not [r for r in collect.records if FORK_WARNING in r.getMessage()]  # not the parent


def test_manager_records_carry_alias_and_pid(
    make_manager: Make, spanner_config: dict[str, Any], collect: Any
) -> None:
    from spanner_pools import SpannerSettings

    down = PoolManager(
        SpannerSettings.from_mapping(
            {**spanner_config, "EMULATOR_HOST": f"127.0.0.1:{free_port()}", "RPC_TIMEOUT": 2}
        ),
        alias="down",
    )
    try:
        with pytest.raises(PoolUnavailable):
            down.open()
    finally:
        down.close(timeout=0)
    manager = make_manager()
    handle = manager.handle()
    handle.execute_sql("SELECT 1")
    manager.close(timeout=0)  # warns about the lent session, then "closed"

    ours = [r for r in collect.records if r.name == "spanner_pools.manager"]
    assert {r.levelno for r in ours} >= {logging.ERROR, logging.WARNING, logging.INFO}
    for record in ours:
        alias = record.alias  # type: ignore[attr-defined]
        assert record.pid == os.getpid()  # type: ignore[attr-defined]
        assert record.database == spanner_config["DATABASE"]  # type: ignore[attr-defined]
        assert record.getMessage().startswith(f"Spanner pool {alias!r} (pid {os.getpid()}): ")
        assert record.funcName != "log"  # the caller is the library function, not the adapter
    # The pinger's records (its own module) carry the same fields in ``extra``.
    for record in collect.records:
        if record.name == "spanner_pools.pinger":
            assert record.pid == os.getpid() and record.alias == "down"  # type: ignore[attr-defined]

"""Worker hooks (gunicorn, uWSGI, Celery) and the emulator finder."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from typing import Any

import pytest

from spanner_pools import PoolManager
from spanner_pools import celery as celery_hooks
from spanner_pools import gunicorn as gunicorn_hooks
from spanner_pools import uwsgi as uwsgi_hooks
from spanner_pools.emulator import EmulatorNotFound, find_emulator

Make = Callable[..., PoolManager]


def test_gunicorn_hooks_open_and_close_every_manager(
    make_manager: Make, server_sessions: Callable[[], list[Any]]
) -> None:
    first, second = make_manager(POOL_SIZE=1), make_manager(POOL_SIZE=2)
    gunicorn_hooks.post_fork(None, None)
    assert server_sessions() == []
    gunicorn_hooks.post_worker_init(None)
    assert first.opened and second.opened
    assert len(server_sessions()) == 3
    gunicorn_hooks.worker_exit(None, None)
    assert first.closed and second.closed
    assert server_sessions() == []


def test_post_worker_init_boots_even_when_spanner_is_down(make_manager: Make) -> None:
    from spanner_pools.emulator import free_port

    manager = make_manager(EMULATOR_HOST=f"127.0.0.1:{free_port()}", RPC_TIMEOUT=0.5)
    gunicorn_hooks.post_worker_init(None)  # logs, does not raise
    assert manager.opened
    assert manager.stats()["pinger_alive"] is True
    manager.close(timeout=0.1)


def test_celery_hooks_open_in_the_background(
    make_manager: Make, server_sessions: Callable[[], list[Any]]
) -> None:
    manager = make_manager(POOL_SIZE=2)
    celery_hooks.on_worker_process_init(sender=None)
    deadline = time.monotonic() + 30
    # The pool's own count: the server lists the sessions a moment before the pool has
    # registered them from the BatchCreateSessions answer.
    while manager.stats()["sessions"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert manager.stats()["sessions"] == 2
    assert len(server_sessions()) == 2
    celery_hooks.on_worker_process_shutdown(sender=None)
    assert server_sessions() == []


@pytest.mark.skipif(importlib.util.find_spec("celery") is not None, reason="celery installed")
def test_celery_install_without_celery_says_what_to_install() -> None:
    with pytest.raises(RuntimeError, match="pip install celery"):
        celery_hooks.install()


def test_uwsgi_install_outside_uwsgi_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="inside uWSGI"):
        uwsgi_hooks.install()


def test_emulator_finder_reports_a_bad_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPANNER_EMULATOR_BIN", "/nonexistent/emulator_main")
    with pytest.raises(EmulatorNotFound, match="SPANNER_EMULATOR_BIN"):
        find_emulator()


def test_emulator_finder_explains_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPANNER_EMULATOR_BIN", raising=False)
    monkeypatch.setattr("spanner_pools.emulator.INSTALLED_PATHS", ())
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(EmulatorNotFound, match="gcloud components install cloud-spanner-emulator"):
        find_emulator()

"""Under real gunicorn, the library's log lines follow gunicorn's error-log format, once each,
unless the app configured logging itself (then its format wins, also once each).

The line looked at is a real one: the worker opens its pool against an emulator address
where nothing listens (a closed loopback port), and the library logs "could not create its
sessions" at ERROR.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from spanner_pools.emulator import free_port

from .e2e import GunicornServer

pytestmark = pytest.mark.e2e

FLASK = "example_site.flask_site:create_app()"
DJANGO = "example_site.django_site.wsgi:application"
MESSAGE = "could not create its sessions"
GUNICORN_LINE = re.compile(
    r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[(\d+)\] \[ERROR\] "
    r"Spanner pool '[^']+' \(pid \1\): could not create its sessions"
)
USER_CONF = """
from spanner_pools.gunicorn import on_starting, post_fork, post_worker_init, worker_exit

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"mine": {"format": "MINE|%(levelname)s|%(name)s|%(message)s"}},
    "handlers": {"mine": {"class": "logging.StreamHandler", "formatter": "mine"}},
    "root": {"handlers": [], "level": "INFO"},
    "loggers": {"spanner_pools": {"handlers": ["mine"], "level": "INFO", "propagate": False}},
}
"""


def _serve_until_logged(
    app: str, config: str | None, *, preload: bool = False, attempts: int = 1200
) -> str:
    """Start gunicorn (1 worker) against nothing, wait for MESSAGE, stop it; its log."""
    env = {
        "SPANNER_EMULATOR_HOST": f"127.0.0.1:{free_port()}",  # nothing listens there
        "SPANNER_RPC_TIMEOUT": "1",
        "SPANNER_POOL_SIZE": "1",
        "DJANGO_SETTINGS_MODULE": "example_site.django_site.settings",
    }
    kwargs = {} if config is None else {"config": config}
    server = GunicornServer(app, workers=1, env=env, preload=preload, **kwargs)
    try:
        server.start(timeout=120)
        for _ in range(attempts):  # bounded: 1200 polls 0.1 s apart
            if MESSAGE in server.log():
                break
            time.sleep(0.1)
    finally:
        server.stop()
    log = server.log()
    assert MESSAGE in log, log[-3000:]
    return log


def _lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if MESSAGE in line]


@pytest.mark.parametrize("preload", [False, True], ids=["fork", "preload"])
def test_flask_site_logs_in_gunicorns_format_once(preload: bool) -> None:
    log = _serve_until_logged(FLASK, config="python:spanner_pools.gunicorn", preload=preload)
    lines = _lines(log)
    assert len(lines) == 1, lines  # not also printed bare by Python's last-resort handler
    assert GUNICORN_LINE.match(lines[0]), lines[0]
    assert not [line for line in log.splitlines() if line.startswith("Spanner pool")], log


def test_a_users_logging_config_is_kept(tmp_path: Path) -> None:
    conf = tmp_path / "gunicorn_conf.py"
    conf.write_text(USER_CONF)
    log = _serve_until_logged(FLASK, config=str(conf))
    lines = _lines(log)
    assert len(lines) == 1, lines
    assert lines[0].startswith("MINE|ERROR|spanner_pools."), lines[0]


def test_djangos_logging_setting_is_kept() -> None:
    """The Django example's LOGGING names the logger: its lines, once, not gunicorn's too."""
    log = _serve_until_logged(DJANGO, config="python:spanner_pools.gunicorn")
    lines = _lines(log)
    assert len(lines) == 1, lines
    assert "[ERROR] spanner_pools." in lines[0], lines[0]

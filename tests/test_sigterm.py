"""The SIGTERM handler for servers without a stop hook: installed only over the default action,
in the main thread, outside uWSGI; on SIGTERM it deletes the sessions and the process still
ends by SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

from tests.e2e import ROOT

BUILD = """
from spanner_pools import PoolManager, SpannerSettings
manager = PoolManager(SpannerSettings.from_mapping(
    {"PROJECT": "my-project", "INSTANCE": "inst", "DATABASE": "dbname", "EMULATOR_HOST": "127.0.0.1:1"}))
from spanner_pools import _sigterm
"""


def run(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def test_installed_over_the_default_action_only() -> None:
    result = run(
        BUILD
        + """
import signal
print(_sigterm.installed())
"""
    )
    assert result.stdout.split() == ["True"], result.stderr


def test_a_handler_already_there_is_kept() -> None:
    result = run(
        """
import signal
def mine(signum, frame): pass
signal.signal(signal.SIGTERM, mine)
"""
        + BUILD
        + """
print(_sigterm.installed(), signal.getsignal(signal.SIGTERM) is mine)
"""
    )
    assert result.stdout.split() == ["False", "True"], result.stderr


def test_not_installed_from_another_thread() -> None:
    result = run(
        """
import threading
def build():
"""
        + textwrap.indent(BUILD, "    ")
        + """
t = threading.Thread(target=build); t.start(); t.join()
from spanner_pools import _sigterm
print(_sigterm.installed())
"""
    )
    assert result.stdout.split() == ["False"], result.stderr


def test_sigterm_deletes_the_sessions_then_ends_the_process(
    spanner_config: dict[str, Any], server_sessions: Callable[[], list[Any]]
) -> None:
    config = json.dumps({**spanner_config, "POOL_SIZE": 2})
    result = run(
        f"""
import json, os, signal
from spanner_pools import PoolManager, SpannerSettings
manager = PoolManager(SpannerSettings.from_mapping(json.loads({config!r})))
manager.open()
print("open", flush=True)
os.kill(os.getpid(), signal.SIGTERM)
import time
time.sleep(30)
print("still alive")
"""
    )
    assert result.returncode == -signal.SIGTERM, result.stderr
    assert result.stdout.split() == ["open"], result.stderr
    assert server_sessions() == []


# -- gunicorn's quick shutdown (SIGQUIT to the workers) -------------------------------------------

WORKER = """
import resource, signal
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGQUIT's default action dumps core
class Cfg:
    graceful_timeout = 3  # a grace of 1 s for the lent session
class Worker:
    cfg = Cfg()
    def handle_exit(self, sig, frame):
        print("original", signal.Signals(sig).name, flush=True)
worker = Worker()
from spanner_pools import _gunicorn_quit, _sigterm, registry
"""


def test_quit_hook_only_where_sigquit_has_its_default_action() -> None:
    result = run(
        WORKER
        + """
def handle_quit(signum, frame): pass
signal.signal(signal.SIGQUIT, handle_quit)                    # gunicorn's own workers
print(_gunicorn_quit.install(worker, registry.close_all), "handle_exit" in vars(worker))
print(_gunicorn_quit.install(None, registry.close_all))       # no worker (called by hand)
signal.signal(signal.SIGQUIT, signal.SIG_DFL)                 # UvicornWorker.init_signals
print(_gunicorn_quit.install(worker, registry.close_all), _sigterm.installed(signal.SIGQUIT))
worker.handle_exit(signal.SIGUSR1, None)                      # other signals: only the original
"""
    )
    assert result.stdout.split() == [
        "False",
        "False",
        "False",
        "True",
        "True",
        "original",
        "SIGUSR1",
    ]


def quit_worker(config: str, trigger: str) -> subprocess.CompletedProcess[str]:
    return run(
        WORKER
        + f"""
import json, os, time
from spanner_pools import PoolManager, SpannerSettings
manager = PoolManager(SpannerSettings.from_mapping(json.loads({config!r})))
manager.open()
handle = manager.handle()
handle.execute_sql("SELECT 1")   # lent, never given back: deleted after the grace
signal.signal(signal.SIGQUIT, signal.SIG_DFL)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
_gunicorn_quit.install(worker, registry.close_all)
print("open", flush=True)
{trigger}
time.sleep(30)
print("still alive")
"""
    )


def test_sigquit_through_handle_exit_deletes_the_sessions_then_sends_sigterm(
    spanner_config: dict[str, Any], server_sessions: Callable[[], list[Any]]
) -> None:
    """UvicornWorker: its event loop hands SIGQUIT to ``worker.handle_exit``."""
    config = json.dumps({**spanner_config, "POOL_SIZE": 2})
    result = quit_worker(config, "worker.handle_exit(signal.SIGQUIT, None)")
    assert result.returncode == -signal.SIGTERM, result.stderr
    assert result.stdout.split() == ["open", "original", "SIGQUIT"], result.stderr
    assert server_sessions() == []


def test_sigquit_with_its_default_action_deletes_the_sessions_then_ends_the_process(
    spanner_config: dict[str, Any], server_sessions: Callable[[], list[Any]]
) -> None:
    config = json.dumps({**spanner_config, "POOL_SIZE": 2})
    result = quit_worker(config, "os.kill(os.getpid(), signal.SIGQUIT)")
    assert result.returncode == -signal.SIGQUIT, result.stderr
    assert result.stdout.split() == ["open"], result.stderr
    assert server_sessions() == []

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

"""Run test code in forked children, or in a fresh interpreter, and collect what it reports
(JSON over a pipe, or as the last line of its output)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

from tests.e2e import ROOT


def fork_children(count: int, work: Callable[[], dict[str, Any]]) -> list[dict[str, Any]]:
    """Fork ``count`` children at once, run ``work`` in each, return their JSON reports."""
    children = []
    for _ in range(count):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            os.close(read_end)
            try:
                result = work()
            except BaseException as exc:  # noqa: BLE001 - report everything to the parent
                result = {"error": repr(exc)}
            with os.fdopen(write_end, "w") as out:
                out.write(json.dumps(result))
            os._exit(0)
        os.close(write_end)
        children.append((pid, read_end))
    reports = []
    for pid, read_end in children:
        with os.fdopen(read_end) as pipe:
            text = pipe.read()
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        report: dict[str, Any] = json.loads(text)
        assert "error" not in report, report["error"]
        reports.append(report)
    return reports


def run_in_child(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Fork one child, run ``work`` in it, return its report."""
    return fork_children(1, work)[0]


def run_script(script: str, *args: str, timeout: float = 120.0) -> Any:
    """Run ``script`` (dedented) with ``python -c`` from the project root and ``args`` in its
    ``sys.argv``; it must succeed; return its last line of output, parsed as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])

"""Run test code in forked children and collect what they report (JSON over a pipe)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any


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

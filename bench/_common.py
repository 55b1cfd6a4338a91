"""Shared helpers of the benchmarks: clients and settings on the emulator, emulator log parsing,
tables, BENCHMARKS.md sections."""

from __future__ import annotations

import contextlib
import datetime
import importlib.metadata
import os
import platform
import re
import shlex
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spanner_pools.emulator import Emulator

if TYPE_CHECKING:
    from google.cloud.spanner_v1 import Client

    from spanner_pools import SpannerSettings

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "BENCHMARKS.md"

PROJECT = "bench-project"
INSTANCE = "bench-instance"

#: Session-management RPCs: what a pool is supposed to keep off the request path.
SESSION_METHODS = frozenset(
    {
        "Spanner.CreateSession",
        "Spanner.BatchCreateSessions",
        "Spanner.GetSession",
        "Spanner.DeleteSession",
    }
)
#: How a ping shows in the counts (``ExecuteSql`` of ``SELECT 1`` outside a transaction).
PING = "Spanner.ExecuteSql(ping)"


@contextmanager
def running_emulator(log_requests: bool = False) -> Iterator[Emulator]:
    """An emulator of our own for the block (never another process's on a reused port)."""
    from example_site.run import start_emulator

    emulator = start_emulator(log_requests=log_requests)
    try:
        yield emulator
    finally:
        emulator.stop()


def emulator_client(host: str) -> Client:
    """A plain google-cloud-spanner client on the emulator at ``host`` (no credentials, no
    built-in metrics), for admin work and the no-library baselines."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.spanner_v1 import Client

    from spanner_pools._compat import NO_BUILTIN_METRICS

    return Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": host},
        **NO_BUILTIN_METRICS,
    )


def settings_mapping(host: str, database: str, mode: str, **extra: Any) -> dict[str, Any]:
    """The settings of one benchmark database on the emulator at ``host`` in ``POOL`` mode
    ``mode`` (plus ``extra``, e.g. ``POOL_SIZE``), as a mapping (what Django's SPANNER takes)."""
    return {
        "PROJECT": PROJECT,
        "INSTANCE": INSTANCE,
        "DATABASE": database,
        "EMULATOR_HOST": host,
        "POOL": mode,
        **extra,
    }


def pool_settings(host: str, database: str, mode: str, **extra: Any) -> SpannerSettings:
    """``settings_mapping`` as ``SpannerSettings``, for a ``PoolManager`` of the benchmark."""
    from spanner_pools import SpannerSettings

    return SpannerSettings.from_mapping(settings_mapping(host, database, mode, **extra))


_ENTRY_RE = re.compile(
    r"Request\[([A-Za-z]+)\.([A-Za-z]+)\]\n(.*?)(?=\n\S[^\n]*handler\.h|\Z)", re.S
)


_DATABASE_RE = re.compile(r"/databases/([a-z][a-z0-9_\-]*)")


@dataclass(frozen=True)
class LoggedRpc:
    method: str  # "Spanner.ExecuteSql", or PING for a ping
    body: str

    @property
    def database(self) -> str | None:
        """The database the request names (through its session or ``database`` field)."""
        match = _DATABASE_RE.search(self.body)
        return match.group(1) if match else None


def read_rpcs(log_path: Path, since: int = 0) -> list[LoggedRpc]:
    """Every request the emulator logged (``--log_requests``) after byte ``since``.

    The request's text is kept, so a ping (``SELECT 1`` without a transaction) is told
    apart from the ``ExecuteSql`` of a DML statement.
    """
    with open(log_path, "rb") as log:
        log.seek(since)
        text = log.read().decode(errors="replace")
    rpcs = []
    for match in _ENTRY_RE.finditer(text):
        method = f"{match.group(1)}.{match.group(2)}"
        body = match.group(3)
        if (
            method == "Spanner.ExecuteSql"
            and 'sql: "SELECT 1"' in body
            and "transaction" not in body
        ):
            method = PING
        rpcs.append(LoggedRpc(method, body))
    return rpcs


def count_rpcs(log_path: Path, since: int = 0, database: str | None = None) -> Counter[str]:
    """Spanner data-plane RPCs by method (admin RPCs left out) since ``since``, optionally
    only those naming ``database``."""
    return Counter(
        r.method
        for r in read_rpcs(log_path, since)
        if r.method.startswith("Spanner.") and (database is None or r.database == database)
    )


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """The same table aligned for a terminal."""
    cells = [list(map(str, headers))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    out = []
    for n, row in enumerate(cells):
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def emulator_version() -> str:
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", "google-cloud-cli-spanner-emulator"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def git_state() -> str:
    """The commit measured, and whether the library's code had uncommitted changes."""

    def git(*args: str) -> str:
        try:
            out = subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
            )
        except OSError:
            return ""
        return out.stdout.strip()

    pinned = os.environ.get("BENCH_CODE")  # set when running from an exported snapshot
    if pinned:
        return pinned
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "spanner_pools", "flask_ext", "django_app")
    return f"commit {commit}" + (
        " plus uncommitted changes in spanner_pools/flask_ext/django_app" if dirty else ""
    )


def environment_lines() -> list[str]:
    """Library versions and machine, for the header of a results section."""
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.0f} GiB RAM"
                break
    libs = ", ".join(
        f"{name} {_version(name)}"
        for name in (
            "spanner-pools",
            "google-cloud-spanner",
            "grpcio",
            "flask",
            "django",
            "gunicorn",
        )
    )
    return [
        f"- Code: {git_state()}",
        f"- Libraries: {libs}; Python {platform.python_version()}; "
        f"Cloud Spanner emulator {emulator_version()}",
        f"- Machine: {os.cpu_count()} CPUs ({cpu}){memory}, {platform.system()} {platform.release()}",
    ]


def command_line() -> str:
    """How this benchmark was run, e.g. ``.venv/bin/python -m bench.idle_cost``."""
    module = sys.modules["__main__"].__spec__
    python = (
        os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(str(ROOT)) else "python"
    )
    target = f"-m {module.name}" if module is not None else shlex.quote(sys.argv[0])
    return " ".join([python, target, *map(shlex.quote, sys.argv[1:])])


def publish(
    key: str,
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    intro: str,
    outro: str = "",
    write: bool = True,
) -> None:
    """Print the table; if ``write`` (no ``--no-write``), also make it the section ``key`` of
    BENCHMARKS.md: ``intro``, the table in Markdown, then ``outro``."""
    print()
    print(text_table(headers, rows))
    if write:
        write_section(key, title, intro + "\n\n" + markdown_table(headers, rows) + outro)


def write_section(key: str, title: str, body: str) -> None:
    """Replace (or append) the section ``key`` of BENCHMARKS.md with ``body``.

    Every section starts with the command, the date, the library versions and the machine.
    """
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = [
        f"## {title}",
        "",
        f"- Command: `{command_line()}`",
        f"- Date: {now}",
        *environment_lines(),
        "",
    ]
    section = f"<!-- bench:{key}:start -->\n" + "\n".join(header) + "\n" + body.rstrip() + "\n"
    section += f"<!-- bench:{key}:end -->\n"
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else _INTRO
    pattern = re.compile(
        rf"<!-- bench:{re.escape(key)}:start -->.*?<!-- bench:{re.escape(key)}:end -->\n?", re.S
    )
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip() + "\n\n" + section
    BENCHMARKS.write_text(text)
    print(f"\nwrote the '{title}' section of {os.path.relpath(BENCHMARKS)}")


_INTRO = """# Benchmarks

Measured with the scripts in `bench/` against the Cloud Spanner emulator on the machine named
in each section (shared, 2 cores: expect a few percent of noise between runs). The emulator
is not Cloud Spanner: RPC *counts* carry over, latencies and throughput do not. How to run
them: `bench/README.md`.
"""

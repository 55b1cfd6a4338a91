"""What ``flask spanner status|ping`` and ``manage.py spanner_status|spanner_ping`` report.

Answers an operator's questions about a database from any shell, without building a pool:
is it reachable (``SELECT 1`` on one temporary session, deleted afterwards), and what the
sessions on the server look like (ListSessions: total, counts by label, ages), e.g. the
pools of the running web workers. Every RPC has no retry and shares one deadline per
database (``RPC_TIMEOUT`` or ``timeout``), so a server that never answers costs about that
deadline, never more. The adapters only choose the databases and print :func:`render_text`
or :func:`render_json`; the format is the same for Flask and Django.
"""

from __future__ import annotations

import datetime
import json
import logging
import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .settings import SpannerSettings

__all__ = [
    "PROBE_LABELS",
    "check_database",
    "check_databases",
    "render_json",
    "render_text",
    "unreachable",
]

logger = logging.getLogger(__name__)

#: Labels of the temporary session that runs ``SELECT 1`` (excluded from the counts).
PROBE_LABELS = {"spanner-pools-probe": "status"}
#: ListSessions pages read at most (1000 sessions each): bounds a huge listing.
MAX_PAGES = 20
#: Extra time the clean-up DeleteSession may take once the deadline is used up.
CLEANUP_TIMEOUT = 1.0


class _Deadline:
    """One deadline shared by the RPCs of one database."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            from google.api_core.exceptions import DeadlineExceeded

            raise DeadlineExceeded(f"the {self.seconds:g} s deadline was used up")
        return left


def _database_path(settings: SpannerSettings) -> str:
    project = settings.project
    if project is None:  # Application Default Credentials know the project
        import google.auth

        _, project = google.auth.default()
    return f"projects/{project}/instances/{settings.instance}/databases/{settings.database}"


def _api(settings: SpannerSettings) -> Any:
    """A bare ``SpannerClient`` on a new channel of this process (closed by the caller)."""
    from google.cloud.spanner_v1.services.spanner import SpannerClient
    from google.cloud.spanner_v1.services.spanner.transports.grpc import SpannerGrpcTransport

    if settings.emulator_host is not None:
        import grpc

        channel = grpc.insecure_channel(settings.emulator_host)
        return SpannerClient(transport=SpannerGrpcTransport(channel=channel))
    credentials = None
    if settings.credentials is not None:
        from google.oauth2 import service_account

        credentials = service_account.Credentials.from_service_account_file(settings.credentials)
    return SpannerClient(credentials=credentials)


def _error(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}".rstrip(": ")


def _seconds(now: datetime.datetime, then: Any) -> float | None:
    if not isinstance(then, datetime.datetime):
        return None
    return max(0.0, (now - then).total_seconds())


def _summarize(sessions: list[Any], truncated: bool) -> dict[str, Any]:
    """Counts by ``key=value`` label, unlabeled count, and the ages of the sessions."""
    now = datetime.datetime.now(datetime.timezone.utc)
    by_label: Counter[str] = Counter()
    unlabeled = 0
    ages: list[float] = []
    idle: list[float] = []
    for session in sessions:
        labels = dict(session.labels)
        if labels:
            by_label.update(f"{key}={value}" for key, value in labels.items())
        else:
            unlabeled += 1
        age = _seconds(now, session.create_time)
        if age is not None:
            ages.append(age)
        quiet = _seconds(now, session.approximate_last_use_time)
        if quiet is not None:
            idle.append(quiet)
    return {
        "total": len(sessions),
        "truncated": truncated,
        "by_label": dict(sorted(by_label.items())),
        "unlabeled": unlabeled,
        "oldest_age_seconds": round(max(ages), 1) if ages else None,
        "newest_age_seconds": round(min(ages), 1) if ages else None,
        "max_idle_seconds": round(max(idle), 1) if idle else None,
    }


def _is_probe(session: Any) -> bool:
    labels = dict(session.labels)
    return all(labels.get(key) == value for key, value in PROBE_LABELS.items())


def _list_sessions(api: Any, path: str, deadline: _Deadline, probe: str | None) -> dict[str, Any]:
    from google.cloud.spanner_v1 import ListSessionsRequest

    found: list[Any] = []
    token = ""
    for _ in range(MAX_PAGES):
        request = ListSessionsRequest(database=path, page_size=1000, page_token=token)
        pager = api.list_sessions(request=request, timeout=deadline.remaining(), retry=None)
        page = next(iter(pager.pages))
        # Multiplexed sessions (if the server lists them) belong to no pool; skip the probes,
        # this one's and those of status checks running beside it (other aliases, operators).
        found.extend(
            s for s in page.sessions if s.name != probe and not s.multiplexed and not _is_probe(s)
        )
        token = page.next_page_token
        if not token:
            return _summarize(found, truncated=False)
    return _summarize(found, truncated=True)


def check_database(
    name: str,
    settings: SpannerSettings,
    *,
    timeout: float | None = None,
    list_sessions: bool = True,
) -> dict[str, Any]:
    """The report of one database (never raises): reachability, then the server's sessions.

    ``timeout`` (default ``RPC_TIMEOUT``) bounds every RPC together; the temporary session's
    DeleteSession may take :data:`CLEANUP_TIMEOUT` more.
    """
    from google.cloud.spanner_v1 import Session

    seconds = settings.rpc_timeout if timeout is None else timeout
    report: dict[str, Any] = {
        "name": name,
        "database": None,
        "reachable": False,
        "select_1_ms": None,
        "error": None,
        "timeout_seconds": seconds,
        "settings": settings.describe(),
    }
    if list_sessions:
        report.update(sessions=None, sessions_error=None)
    start = time.monotonic()
    deadline = _Deadline(seconds)
    api: Any = None
    probe: str | None = None
    try:
        path = _database_path(settings)
        report["database"] = path
        api = _api(settings)
        created = api.create_session(
            request={
                "database": path,
                "session": Session(labels=PROBE_LABELS, creator_role=settings.database_role),
            },
            timeout=deadline.remaining(),
            retry=None,
        )
        probe = created.name
        began = time.monotonic()
        api.execute_sql(
            request={"session": probe, "sql": "SELECT 1"}, timeout=deadline.remaining(), retry=None
        )
        report["select_1_ms"] = round((time.monotonic() - began) * 1000, 1)
        report["reachable"] = True
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        report["error"] = _error(exc)
    try:
        if probe is not None:
            try:
                api.delete_session(
                    name=probe, timeout=max(_left(deadline), CLEANUP_TIMEOUT), retry=None
                )
            except Exception as exc:  # noqa: BLE001 - the server expires it after an hour
                logger.warning("could not delete the status probe session %s: %s", probe, exc)
        if list_sessions and report["reachable"]:
            try:
                report["sessions"] = _list_sessions(api, report["database"], deadline, probe)
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                report["sessions_error"] = _error(exc)
    finally:
        if api is not None:
            api.transport.close()
    report["elapsed_ms"] = round((time.monotonic() - start) * 1000, 1)
    return report


def _left(deadline: _Deadline) -> float:
    return max(0.0, deadline.end - time.monotonic())


def check_databases(
    databases: Mapping[str, SpannerSettings],
    *,
    timeout: float | None = None,
    list_sessions: bool = True,
) -> dict[str, dict[str, Any]]:
    """:func:`check_database` of each (name -> settings), in parallel: about one deadline."""
    if not databases:
        return {}
    with ThreadPoolExecutor(
        max_workers=min(len(databases), 8), thread_name_prefix="spanner-pools-status"
    ) as pool:
        futures = {
            name: pool.submit(
                check_database, name, settings, timeout=timeout, list_sessions=list_sessions
            )
            for name, settings in databases.items()
        }
        return {name: future.result() for name, future in futures.items()}


def unreachable(reports: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per database that did not answer (empty when all did)."""
    return [
        f"Spanner database {r['name']!r} ({r['database']}) is unreachable: {r['error']}"
        for r in reports.values()
        if not r["reachable"]
    ]


def render_json(reports: Mapping[str, Mapping[str, Any]]) -> str:
    """``{"ok": ..., "databases": {name: report}}`` as indented JSON."""
    document = {
        "ok": all(r["reachable"] for r in reports.values()),
        "databases": dict(reports),
    }
    return json.dumps(document, indent=2, sort_keys=True, default=str)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def render_text(reports: Mapping[str, Mapping[str, Any]], *, settings: bool = True) -> str:
    """The human-readable report, one block per database."""
    lines: list[str] = []
    for name, r in reports.items():
        lines.append(f"{name}: {r['database'] or '(unknown database)'}")
        if r["reachable"]:
            lines.append(f"  reachable:  yes (SELECT 1 in {r['select_1_ms']:.0f} ms)")
        else:
            lines.append(f"  reachable:  NO ({r['error']})")
        if "sessions" in r:
            lines.extend(_session_lines(r))
        if settings:
            shown = " ".join(f"{k}={v}" for k, v in r["settings"].items() if v not in (None, {}))
            lines.append(f"  settings:   {shown}")
    return "\n".join(lines)


def _session_lines(r: Mapping[str, Any]) -> list[str]:
    s = r["sessions"]
    if s is None:
        why = r["sessions_error"] or "not listed (the database is unreachable)"
        return [f"  sessions:   ? ({why})"]
    more = " (or more: listing truncated)" if s["truncated"] else ""
    lines = [f"  sessions:   {s['total']}{more} on the server"]
    if s["total"]:
        lines.append(
            f"  ages:       oldest {_duration(s['oldest_age_seconds'])}, newest "
            f"{_duration(s['newest_age_seconds'])}, longest idle {_duration(s['max_idle_seconds'])}"
        )
        labels = ", ".join(f"{label}: {count}" for label, count in s["by_label"].items())
        lines.append(f"  by label:   {labels or '-'}; unlabeled: {s['unlabeled']}")
    return lines

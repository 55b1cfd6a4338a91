"""The settings schema: every key with its kind, default and meaning (``SCHEMA``), the pool
modes, and the allowed ranges of the durations with the server's limits behind them. Plain
data: :mod:`.settings` builds ``SpannerSettings`` from it, :mod:`._settings_checks` checks
values against it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

__all__ = [
    "DEFAULT_MAX_SESSION_AGE",
    "POOL_MODES",
    "RANGES",
    "SCHEMA",
    "SERVER_IDLE_LIMIT",
    "SERVER_MAX_SESSION_AGE",
    "SETTINGS_KEYS",
    "Setting",
]

#: Pool modes accepted by ``POOL``.
POOL_MODES = ("pinging", "transaction_pinging", "bursty", "multiplexed")

#: The server deletes sessions idle for about an hour, and any session after 28 days.
SERVER_IDLE_LIMIT = 3600.0
SERVER_MAX_SESSION_AGE = 28 * 24 * 3600.0

DEFAULT_MAX_SESSION_AGE = 25 * 24 * 3600.0

HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True)
class _Range:
    """Allowed seconds of a duration key: ``low`` to ``high`` (``high`` excluded if
    ``open_high``); the message states them in human units."""

    low: float
    high: float
    open_high: bool = False

    def allows(self, value: float, low: float | None = None) -> bool:
        low = self.low if low is None else low
        return low <= value and (value < self.high if self.open_high else value <= self.high)

    def text(self, low: float | None = None) -> str:
        lo = "more than 0" if low == 0 else _seconds(self.low if low is None else low)
        return f"from {lo} to {'under ' if self.open_high else ''}{_seconds(self.high)}"


#: The user-facing ranges (README "Settings"). Below ``PING_INTERVAL`` 1 s the pinger makes
#: hundreds of RPCs a second; ``LEAK_TIMEOUT`` is capped because ``Condition.wait`` overflows.
RANGES: Mapping[str, _Range] = MappingProxyType(
    {
        "POOL_TIMEOUT": _Range(0.01, HOUR),
        "PING_INTERVAL": _Range(1.0, SERVER_IDLE_LIMIT - 1),
        "MAX_SESSION_AGE": _Range(HOUR, SERVER_MAX_SESSION_AGE, open_high=True),
        "LEAK_TIMEOUT": _Range(1.0, SERVER_MAX_SESSION_AGE),
        "RPC_TIMEOUT": _Range(1.0, SERVER_IDLE_LIMIT - 1),
    }
)


@dataclass(frozen=True)
class Setting:
    """One key of the schema: its kind (how strings from env vars convert), its default and
    what it means. ``SETTINGS_KEYS``, ``describe()``, the string rule and the README table
    follow from it."""

    key: str
    kind: str  # "id", "text", "choice", "int", "seconds", "labels", "path"
    default: Any
    description: str

    @property
    def attribute(self) -> str:
        return self.key.lower()


#: Every setting, in the order the README lists them.
SCHEMA: Mapping[str, Setting] = MappingProxyType(
    {
        s.key: s
        for s in (
            Setting("PROJECT", "id", None, "Google Cloud project (GOOGLE_CLOUD_PROJECT)"),
            Setting("INSTANCE", "id", None, "instance ID (required)"),
            Setting("DATABASE", "id", None, "database ID (required)"),
            Setting("POOL", "choice", "pinging", "pool mode: " + ", ".join(POOL_MODES)),
            Setting("POOL_SIZE", "int", 10, "sessions per process (1-1000)"),
            Setting("POOL_TIMEOUT", "seconds", 5.0, "wait for a free session"),
            Setting("PING_INTERVAL", "seconds", 300.0, "idle time before a ping"),
            Setting("EMULATOR_HOST", "text", None, "host:port of an emulator"),
            Setting("DATABASE_ROLE", "id", None, "fine-grained access control role"),
            Setting("LABELS", "labels", MappingProxyType({}), "labels on every session"),
            Setting("CREDENTIALS", "path", None, "service-account JSON key file"),
            Setting("MAX_SESSION_AGE", "seconds", DEFAULT_MAX_SESSION_AGE, "rotation age"),
            Setting("LEAK_TIMEOUT", "seconds", None, "report sessions held longer"),
            Setting("RPC_TIMEOUT", "seconds", 30.0, "deadline of every RPC"),
        )
    }
)


def _default(key: str) -> Any:
    return SCHEMA[key].default


#: Every key ``SpannerSettings.from_mapping`` accepts.
SETTINGS_KEYS = frozenset(SCHEMA)


def _seconds(value: float) -> str:
    """A duration for a message: ``3599``, ``1 hour (3600 s)``, ``28 days (2419200 s)``."""
    for unit, size in (("day", DAY), ("hour", HOUR)):
        if value >= size and value % size == 0:
            count = int(value // size)
            return f"{count} {unit}{'s' if count > 1 else ''} ({value:.0f} s)"
    return f"{value:.0f}" if value == int(value) else f"{value:g}"

"""Validated, immutable settings shared by the Flask and Django adapters.

Keys are upper case (``POOL_SIZE``); the adapters add their prefix (``SPANNER_POOL_SIZE`` in
Flask, ``SPANNER['default']['POOL_SIZE']`` in Django) through ``key_format`` so that every
error names the setting exactly as the user wrote it. Validation never touches the network.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ._redact import holds_key, not_a_path, show_value
from ._redact import safe_value as _safe_value
from .errors import ConfigurationError

__all__ = ["POOL_MODES", "SCHEMA", "SETTINGS_KEYS", "Setting", "SpannerSettings", "show_value"]

#: Pool modes accepted by ``POOL``.
POOL_MODES = ("pinging", "transaction_pinging", "bursty", "multiplexed")

#: The server deletes sessions idle for about an hour, and any session after 28 days.
SERVER_IDLE_LIMIT = 3600.0
SERVER_MAX_SESSION_AGE = 28 * 24 * 3600.0

DEFAULT_MAX_SESSION_AGE = 25 * 24 * 3600.0

# Matched with ``fullmatch`` (``$`` would accept a final newline); ASCII classes only, so no
# whitespace or control character passes.
_PROJECT_RE = re.compile(r"(?:[a-z0-9][-a-z0-9.]{0,61}[a-z0-9]:)?[a-z][-a-z0-9]{4,28}[a-z0-9]")
_INSTANCE_RE = re.compile(r"[a-z][-a-z0-9]{0,62}[a-z0-9]")
_DATABASE_RE = re.compile(r"[a-z][a-z0-9_\-]{0,28}[a-z0-9]")
_ROLE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,127}")
_LABEL_KEY_RE = re.compile(r"[a-z][-_a-z0-9]{0,62}")
_LABEL_VALUE_RE = re.compile(r"[-_a-z0-9]{0,63}")
_HOST_PORT_RE = re.compile(r"(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+):([0-9]{1,5})")

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


@dataclass(frozen=True)
class SpannerSettings:
    """Everything needed to build one per-process pool.

    Build it with :meth:`from_mapping`; the constructor itself does no validation of the
    environment fallbacks.
    """

    instance: str
    database: str
    project: str | None = None
    pool: str = _default("POOL")
    pool_size: int = _default("POOL_SIZE")
    pool_timeout: float = _default("POOL_TIMEOUT")
    ping_interval: float = _default("PING_INTERVAL")
    emulator_host: str | None = None
    database_role: str | None = None
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    credentials: str | None = None
    max_session_age: float = _default("MAX_SESSION_AGE")
    leak_timeout: float | None = _default("LEAK_TIMEOUT")
    rpc_timeout: float = _default("RPC_TIMEOUT")

    @classmethod
    def from_mapping(
        cls,
        values: Mapping[str, Any],
        *,
        key_format: str = "{key}",
        environ: Mapping[str, str] | None = None,
    ) -> SpannerSettings:
        """Validate ``values`` (upper-case keys) and build the settings.

        ``key_format`` renders a key for error messages, e.g. ``"SPANNER_{key}"``.
        ``environ`` (default ``os.environ``) supplies ``GOOGLE_CLOUD_PROJECT`` and
        ``SPANNER_EMULATOR_HOST`` when ``PROJECT`` / ``EMULATOR_HOST`` are not set.
        """
        return _build(cls, values, key_format, environ, testing=False)

    def describe(self) -> dict[str, Any]:
        """The settings as a plain dict for status output; the credentials path is masked."""
        described: dict[str, Any] = {}
        for key, setting in SCHEMA.items():
            value = getattr(self, setting.attribute)
            if setting.kind == "labels":
                value = dict(value)
            elif setting.kind == "path":
                value = "***" if value else None
            described[key] = value
        return described


#: Every key ``SpannerSettings.from_mapping`` accepts.
SETTINGS_KEYS = frozenset(SCHEMA)


def _build(
    cls: type[SpannerSettings],
    values: Mapping[str, Any],
    key_format: str,
    environ: Mapping[str, str] | None,
    *,
    testing: bool,
) -> SpannerSettings:
    """The validation behind :meth:`SpannerSettings.from_mapping`; ``testing`` lowers every
    duration's minimum to "more than 0" (see :func:`_settings_for_tests`)."""
    env = os.environ if environ is None else environ
    if not isinstance(values, Mapping):
        raise ConfigurationError(
            f"Spanner settings: expected a mapping of upper-case keys "
            f"(e.g. {key_format.format(key='INSTANCE')}), got {show_value(values)}",
            value=_safe_value(values),
        )
    v = _Validator(values, key_format, testing=testing)
    v.reject_unknown()
    instance = v.identifier("INSTANCE", _INSTANCE_RE, "2-64 lowercase letters, digits or '-'")
    database = v.identifier("DATABASE", _DATABASE_RE, "2-30 lowercase letters, digits, '_' or '-'")
    emulator_host = v.optional_str("EMULATOR_HOST") or env.get("SPANNER_EMULATOR_HOST") or None
    if emulator_host is not None:
        v.check_host("EMULATOR_HOST", emulator_host)
    project = v.optional_str("PROJECT")
    if project is None and env.get("GOOGLE_CLOUD_PROJECT"):
        project = env["GOOGLE_CLOUD_PROJECT"]
        v.check_project(project, " (from the GOOGLE_CLOUD_PROJECT environment variable)")
    elif project is not None:
        v.check_project(project, "")
    if project is None and emulator_host is not None:
        raise ConfigurationError(
            f"{v.name('PROJECT')} is required with the emulator "
            "(set it, or the GOOGLE_CLOUD_PROJECT environment variable)",
            key=v.name("PROJECT"),
        )
    pool = v.choice("POOL", POOL_MODES, "pinging")
    ping_interval = v.number("PING_INTERVAL", 300.0)
    role = v.optional_str("DATABASE_ROLE")
    if role is not None and not _ROLE_RE.fullmatch(role):
        raise v.fail(
            "DATABASE_ROLE",
            "expected a role name of 1-128 letters, digits or '_', starting with a letter",
            role,
        )
    return cls(
        project=project,
        instance=instance,
        database=database,
        pool=pool,
        pool_size=v.integer("POOL_SIZE", 10, low=1, high=1000),
        pool_timeout=v.number("POOL_TIMEOUT", 5.0),
        ping_interval=ping_interval,
        emulator_host=emulator_host,
        database_role=role,
        labels=v.labels("LABELS"),
        credentials=v.credentials("CREDENTIALS"),
        max_session_age=v.max_session_age(ping_interval),
        leak_timeout=v.number("LEAK_TIMEOUT", None),
        rpc_timeout=v.number("RPC_TIMEOUT", 30.0),
    )


def _settings_for_tests(
    values: Mapping[str, Any],
    *,
    key_format: str = "{key}",
    environ: Mapping[str, str] | None = None,
) -> SpannerSettings:
    """TEST ONLY: ``from_mapping`` with every duration's minimum lowered to "more than 0", so
    that tests can run the pinger, rotation and deadlines in fractions of a second. Types,
    formats and maximums are checked as usual. Not part of the API; users get ``RANGES``."""
    return _build(SpannerSettings, values, key_format, environ, testing=True)


def _seconds(value: float) -> str:
    """A duration for a message: ``3599``, ``1 hour (3600 s)``, ``28 days (2419200 s)``."""
    for unit, size in (("day", DAY), ("hour", HOUR)):
        if value >= size and value % size == 0:
            count = int(value // size)
            return f"{count} {unit}{'s' if count > 1 else ''} ({value:.0f} s)"
    return f"{value:.0f}" if value == int(value) else f"{value:g}"


class _Validator:
    """Reads one key at a time from the user's mapping and raises on the first bad one."""

    def __init__(self, values: Mapping[str, Any], key_format: str, *, testing: bool) -> None:
        self.values = values
        self.key_format = key_format
        self.testing = testing

    def name(self, key: str) -> str:
        return self.key_format.format(key=key)

    def fail(self, key: str, what: str, value: Any) -> ConfigurationError:
        if key == "CREDENTIALS" and not isinstance(value, (str, int, float)):
            # Never render it: a parsed key file (a dict) is the credential itself.
            return ConfigurationError(
                f"{self.name(key)}: {what}, got a value of type {type(value).__name__} (not shown)",
                key=self.name(key),
            )
        return ConfigurationError(
            f"{self.name(key)}: {what}, got {show_value(value)}",
            key=self.name(key),
            value=_safe_value(value),
        )

    def reject_unknown(self) -> None:
        for key in self.values:
            if key not in SETTINGS_KEYS:
                close = difflib.get_close_matches(str(key), SETTINGS_KEYS, n=1)
                hint = f"did you mean {self.name(close[0])}? " if close else ""
                known = ", ".join(self.name(k) for k in sorted(SETTINGS_KEYS))
                raise ConfigurationError(
                    f"{self.name(str(key))}: unknown setting ({hint}known settings: {known})",
                    key=self.name(str(key)),
                    value=_safe_value(self.values[key]),
                )

    def present(self, key: str) -> bool:
        return self.values.get(key) is not None

    def identifier(self, key: str, pattern: re.Pattern[str], rule: str) -> str:
        if not self.present(key):
            raise ConfigurationError(f"{self.name(key)} is required", key=self.name(key))
        value = self.values[key]
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise self.fail(key, f"expected an ID of {rule}", value)
        return value

    def optional_str(self, key: str) -> str | None:
        if not self.present(key):
            return None
        value = self.values[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "expected a non-empty string", value)
        return value

    def check_project(self, value: str, source: str) -> None:
        if not _PROJECT_RE.fullmatch(value):
            raise self.fail(
                "PROJECT",
                "expected a Google Cloud project ID of 6-30 lowercase letters, digits or '-', "
                "starting with a letter and not ending with '-' (or the legacy "
                f"'example.com:my-project' form){source}",
                value,
            )

    def check_host(self, key: str, value: str) -> None:
        match = _HOST_PORT_RE.fullmatch(value)
        if match is None or not 1 <= int(match.group(2)) <= 65535:
            raise self.fail(
                key, "expected 'host:port' without a scheme, e.g. 'localhost:9010'", value
            )

    def choice(self, key: str, options: tuple[str, ...], default: str) -> str:
        if not self.present(key):
            return default
        value = self.values[key]
        if value not in options:
            raise self.fail(key, f"expected one of {', '.join(repr(o) for o in options)}", value)
        return str(value)

    def _raw_number(self, key: str, value: Any) -> float:
        allowed = RANGES[key]
        low = 0.0 if self.testing else None  # tests: any positive duration (see _build)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise self.fail(key, "expected a number of seconds (int or float)", value)
        if value <= 0 or not allowed.allows(value, low):
            raise self.fail(key, f"expected a number of seconds {allowed.text(low)}", value)
        return float(value)

    def number(self, key: str, default: float | None) -> Any:
        if not self.present(key):
            return default
        return self._raw_number(key, self.values[key])

    def max_session_age(self, ping_interval: float) -> float:
        key = "MAX_SESSION_AGE"
        if not self.present(key):
            return DEFAULT_MAX_SESSION_AGE
        value = self._raw_number(key, self.values[key])
        if value <= ping_interval:
            raise self.fail(
                key, f"expected more seconds than PING_INTERVAL ({ping_interval:g})", value
            )
        return value

    def integer(self, key: str, default: int, *, low: int, high: int) -> int:
        if not self.present(key):
            return default
        value = self.values[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, "expected an integer", value)
        if not low <= value <= high:
            raise self.fail(key, f"expected an integer from {low} to {high}", value)
        return value

    def credentials(self, key: str) -> str | None:
        if not self.present(key):
            return None
        value = self.values[key]
        if holds_key(value) or (isinstance(value, str) and not_a_path(value)):
            raise ConfigurationError(
                f"{self.name(key)}: the value looks like the contents of a service-account key "
                "(JSON or PEM), not the path of its file; it is not shown. Save the key to a "
                "file readable only by the app and set the file's path",
                key=self.name(key),
            )
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "expected the path of a service-account JSON key file", value)
        if value != value.strip() or not value.isprintable():
            raise self.fail(key, "the path has surrounding whitespace or control characters", value)
        if not os.path.isfile(value):
            raise self.fail(
                key, "no such file (expected the path of a service-account JSON key file)", value
            )
        return value

    def labels(self, key: str) -> Mapping[str, str]:
        if not self.present(key):
            return MappingProxyType({})
        value = self.values[key]
        if not isinstance(value, Mapping):
            raise self.fail(key, "expected a dict of str to str", value)
        if len(value) > 61:  # Spanner's 64 per session, less the 3 that name the process
            raise self.fail(
                key, "expected at most 61 labels (spanner-pools adds 3 naming the process)", value
            )
        for k, v in value.items():
            if not isinstance(k, str) or not _LABEL_KEY_RE.fullmatch(k):
                raise self.fail(
                    key,
                    f"label key {k!r} must be 1-63 lowercase letters, digits, '_' or '-', "
                    "starting with a letter",
                    value,
                )
            if not isinstance(v, str) or not _LABEL_VALUE_RE.fullmatch(v):
                shown = "(not shown)" if holds_key(v) else repr(v)
                raise self.fail(
                    key,
                    f"label {k!r} has value {shown}; values must be strings of 0-63 lowercase "
                    "letters, digits, '_' or '-'",
                    value,
                )
        return MappingProxyType(dict(value))

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

from .errors import ConfigurationError

__all__ = ["POOL_MODES", "SETTINGS_KEYS", "SpannerSettings"]

#: Pool modes accepted by ``POOL``.
POOL_MODES = ("pinging", "transaction_pinging", "bursty", "multiplexed")

#: The server deletes sessions idle for about an hour, and any session after 28 days.
SERVER_IDLE_LIMIT = 3600.0
SERVER_MAX_SESSION_AGE = 28 * 24 * 3600.0

DEFAULT_MAX_SESSION_AGE = 25 * 24 * 3600.0

_INSTANCE_RE = re.compile(r"^[a-z][-a-z0-9]{0,62}[a-z0-9]$")
_DATABASE_RE = re.compile(r"^[a-z][a-z0-9_\-]{0,28}[a-z0-9]$")
_LABEL_KEY_RE = re.compile(r"^[a-z][-_a-z0-9]{0,62}$")
_LABEL_VALUE_RE = re.compile(r"^[-_a-z0-9]{0,63}$")
_HOST_PORT_RE = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+):([0-9]{1,5})$")


@dataclass(frozen=True)
class SpannerSettings:
    """Everything needed to build one per-process pool.

    Build it with :meth:`from_mapping`; the constructor itself does no validation of the
    environment fallbacks.
    """

    instance: str
    database: str
    project: str | None = None
    pool: str = "pinging"
    pool_size: int = 10
    pool_timeout: float = 5.0
    ping_interval: float = 300.0
    emulator_host: str | None = None
    database_role: str | None = None
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    credentials: str | None = None
    max_session_age: float = DEFAULT_MAX_SESSION_AGE
    leak_timeout: float | None = None
    rpc_timeout: float = 30.0

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
        env = os.environ if environ is None else environ
        if not isinstance(values, Mapping):
            raise ConfigurationError(
                f"Spanner settings: expected a mapping of upper-case keys "
                f"(e.g. {key_format.format(key='INSTANCE')}), got {_show(values)}",
                value=values,
            )
        v = _Validator(values, key_format)
        v.reject_unknown()
        instance = v.identifier("INSTANCE", _INSTANCE_RE, "2-64 lowercase letters, digits or '-'")
        database = v.identifier(
            "DATABASE", _DATABASE_RE, "2-30 lowercase letters, digits, '_' or '-'"
        )
        emulator_host = v.optional_str("EMULATOR_HOST") or env.get("SPANNER_EMULATOR_HOST") or None
        if emulator_host is not None:
            v.check_host("EMULATOR_HOST", emulator_host)
        project = v.optional_str("PROJECT") or env.get("GOOGLE_CLOUD_PROJECT") or None
        if project is None and emulator_host is not None:
            raise ConfigurationError(
                f"{v.name('PROJECT')} is required with the emulator "
                "(set it, or the GOOGLE_CLOUD_PROJECT environment variable)",
                key=v.name("PROJECT"),
            )
        pool = v.choice("POOL", POOL_MODES, "pinging")
        ping_interval = v.number("PING_INTERVAL", 300.0, low=0.0, high=SERVER_IDLE_LIMIT)
        credentials = v.optional_str("CREDENTIALS")
        if credentials is not None and not os.path.isfile(credentials):
            raise ConfigurationError(
                f"{v.name('CREDENTIALS')}: no such file {credentials!r} "
                "(expected the path of a service-account JSON key file)",
                key=v.name("CREDENTIALS"),
                value=credentials,
            )
        return cls(
            project=project,
            instance=instance,
            database=database,
            pool=pool,
            pool_size=v.integer("POOL_SIZE", 10, low=1, high=1000),
            pool_timeout=v.number("POOL_TIMEOUT", 5.0, low=0.0, high=3600.0),
            ping_interval=ping_interval,
            emulator_host=emulator_host,
            database_role=v.optional_str("DATABASE_ROLE"),
            labels=v.labels("LABELS"),
            credentials=credentials,
            max_session_age=v.number(
                "MAX_SESSION_AGE",
                DEFAULT_MAX_SESSION_AGE,
                low=ping_interval,
                high=SERVER_MAX_SESSION_AGE,
            ),
            leak_timeout=v.optional_number("LEAK_TIMEOUT", low=0.0),
            rpc_timeout=v.number("RPC_TIMEOUT", 30.0, low=0.0, high=3600.0),
        )

    def describe(self) -> dict[str, Any]:
        """The settings as a plain dict for status output; the credentials path is masked."""
        return {
            "PROJECT": self.project,
            "INSTANCE": self.instance,
            "DATABASE": self.database,
            "POOL": self.pool,
            "POOL_SIZE": self.pool_size,
            "POOL_TIMEOUT": self.pool_timeout,
            "PING_INTERVAL": self.ping_interval,
            "EMULATOR_HOST": self.emulator_host,
            "DATABASE_ROLE": self.database_role,
            "LABELS": dict(self.labels),
            "CREDENTIALS": "***" if self.credentials else None,
            "MAX_SESSION_AGE": self.max_session_age,
            "LEAK_TIMEOUT": self.leak_timeout,
            "RPC_TIMEOUT": self.rpc_timeout,
        }


#: Every key ``SpannerSettings.from_mapping`` accepts.
SETTINGS_KEYS = frozenset(
    {
        "PROJECT",
        "INSTANCE",
        "DATABASE",
        "POOL",
        "POOL_SIZE",
        "POOL_TIMEOUT",
        "PING_INTERVAL",
        "EMULATOR_HOST",
        "DATABASE_ROLE",
        "LABELS",
        "CREDENTIALS",
        "MAX_SESSION_AGE",
        "LEAK_TIMEOUT",
        "RPC_TIMEOUT",
    }
)


def _show(value: Any) -> str:
    """Render a bad value and its type for an error message."""
    return f"{value!r} ({type(value).__name__})"


class _Validator:
    """Reads one key at a time from the user's mapping and raises on the first bad one."""

    def __init__(self, values: Mapping[str, Any], key_format: str) -> None:
        self.values = values
        self.key_format = key_format

    def name(self, key: str) -> str:
        return self.key_format.format(key=key)

    def fail(self, key: str, what: str, value: Any) -> ConfigurationError:
        return ConfigurationError(
            f"{self.name(key)}: {what}, got {_show(value)}", key=self.name(key), value=value
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
                    value=self.values[key],
                )

    def present(self, key: str) -> bool:
        return self.values.get(key) is not None

    def identifier(self, key: str, pattern: re.Pattern[str], rule: str) -> str:
        if not self.present(key):
            raise ConfigurationError(f"{self.name(key)} is required", key=self.name(key))
        value = self.values[key]
        if not isinstance(value, str) or not pattern.match(value):
            raise self.fail(key, f"expected an ID of {rule}", value)
        return value

    def optional_str(self, key: str) -> str | None:
        if not self.present(key):
            return None
        value = self.values[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "expected a non-empty string", value)
        return value

    def check_host(self, key: str, value: str) -> None:
        if not _HOST_PORT_RE.match(value):
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

    def _raw_number(self, key: str, value: Any, low: float, high: float | None) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise self.fail(key, "expected a number of seconds (int or float)", value)
        if value <= low or (high is not None and value >= high):
            bound = f"greater than {low:g}" + (
                f" and less than {high:g}" if high is not None else ""
            )
            raise self.fail(key, f"expected a number {bound}", value)
        return float(value)

    def number(self, key: str, default: float, *, low: float, high: float) -> float:
        if not self.present(key):
            return default
        return self._raw_number(key, self.values[key], low, high)

    def optional_number(self, key: str, *, low: float) -> float | None:
        if not self.present(key):
            return None
        return self._raw_number(key, self.values[key], low, None)

    def integer(self, key: str, default: int, *, low: int, high: int) -> int:
        if not self.present(key):
            return default
        value = self.values[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, "expected an integer", value)
        if not low <= value <= high:
            raise self.fail(key, f"expected an integer from {low} to {high}", value)
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
            if not isinstance(k, str) or not _LABEL_KEY_RE.match(k):
                raise self.fail(
                    key,
                    f"label key {k!r} must be 1-63 lowercase letters, digits, '_' or '-', "
                    "starting with a letter",
                    value,
                )
            if not isinstance(v, str) or not _LABEL_VALUE_RE.match(v):
                raise self.fail(
                    key,
                    f"label {k!r} has value {v!r}; values must be strings of 0-63 lowercase "
                    "letters, digits, '_' or '-'",
                    value,
                )
        return MappingProxyType(dict(value))

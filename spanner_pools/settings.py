"""Validated, immutable settings shared by the Flask and Django adapters.

Keys are upper case (``POOL_SIZE``); the adapters add their prefix (``SPANNER_POOL_SIZE`` in
Flask, ``SPANNER['default']['POOL_SIZE']`` in Django) through ``key_format`` so that every
error names the setting exactly as the user wrote it. Validation never touches the network.
The schema (keys, kinds, defaults, ranges) lives in :mod:`._settings_schema` and the checks of
each value in :mod:`._settings_checks`; both are re-exported here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from ._redact import safe_value as _safe_value
from ._redact import show_value as show_value
from ._settings_checks import _DATABASE_RE, _INSTANCE_RE, _ROLE_RE, _Validator
from ._settings_schema import DAY as DAY
from ._settings_schema import DEFAULT_MAX_SESSION_AGE as DEFAULT_MAX_SESSION_AGE
from ._settings_schema import HOUR as HOUR
from ._settings_schema import POOL_MODES as POOL_MODES
from ._settings_schema import RANGES as RANGES
from ._settings_schema import SCHEMA as SCHEMA
from ._settings_schema import SERVER_IDLE_LIMIT as SERVER_IDLE_LIMIT
from ._settings_schema import SERVER_MAX_SESSION_AGE as SERVER_MAX_SESSION_AGE
from ._settings_schema import SETTINGS_KEYS as SETTINGS_KEYS
from ._settings_schema import Setting as Setting
from ._settings_schema import _default
from .errors import ConfigurationError

__all__ = ["POOL_MODES", "SCHEMA", "SETTINGS_KEYS", "Setting", "SpannerSettings", "show_value"]

T = TypeVar("T")


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

    @classmethod
    def problems(
        cls,
        values: Mapping[str, Any],
        *,
        key_format: str = "{key}",
        environ: Mapping[str, str] | None = None,
    ) -> list[ConfigurationError]:
        """Every problem of ``values`` at once (empty if :meth:`from_mapping` would succeed),
        in the order the keys are checked; the first is the one :meth:`from_mapping` raises.
        Django's system checks list them all."""
        return _check(cls, values, key_format, environ, testing=False)[1]

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


def _build(
    cls: type[SpannerSettings],
    values: Mapping[str, Any],
    key_format: str,
    environ: Mapping[str, str] | None,
    *,
    testing: bool,
) -> SpannerSettings:
    """The validation behind :meth:`SpannerSettings.from_mapping`: the first problem raised;
    ``testing`` lowers every duration's minimum to "more than 0" (see
    :func:`_settings_for_tests`)."""
    settings, problems = _check(cls, values, key_format, environ, testing=testing)
    if settings is None:
        raise problems[0]
    return settings


def _check(
    cls: type[SpannerSettings],
    values: Mapping[str, Any],
    key_format: str,
    environ: Mapping[str, str] | None,
    *,
    testing: bool,
) -> tuple[SpannerSettings | None, list[ConfigurationError]]:
    """Every problem of ``values`` in one pass, in key order (a bad key's default stands in
    for it, so later checks still run); the settings only when there is none."""
    env = os.environ if environ is None else environ
    if not isinstance(values, Mapping):
        return None, [
            ConfigurationError(
                f"Spanner settings: expected a mapping of upper-case keys "
                f"(e.g. {key_format.format(key='INSTANCE')}), got {show_value(values)}",
                value=_safe_value(values),
            )
        ]
    v = _Validator(values, key_format, testing=testing)
    problems: list[ConfigurationError] = list(v.unknown())

    def take(read: Callable[..., T], *args: Any, fallback: T, **kwargs: Any) -> T:
        try:
            return read(*args, **kwargs)
        except ConfigurationError as exc:
            problems.append(exc)
            return fallback

    instance_rule = "2-64 lowercase letters, digits or '-'"
    instance = take(v.identifier, "INSTANCE", _INSTANCE_RE, instance_rule, fallback="")
    database_rule = "2-30 lowercase letters, digits, '_' or '-'"
    database = take(v.identifier, "DATABASE", _DATABASE_RE, database_rule, fallback="")
    emulator_host = take(v.optional_str, "EMULATOR_HOST", fallback=None)
    emulator_host = emulator_host or env.get("SPANNER_EMULATOR_HOST") or None
    if emulator_host is not None:
        take(v.check_host, "EMULATOR_HOST", emulator_host, fallback=None)
    before = len(problems)
    project = take(v.optional_str, "PROJECT", fallback=None)
    if project is None and len(problems) == before and env.get("GOOGLE_CLOUD_PROJECT"):
        project = env["GOOGLE_CLOUD_PROJECT"]
        source = " (from the GOOGLE_CLOUD_PROJECT environment variable)"
        take(v.check_project, project, source, fallback=None)
    elif project is not None:
        take(v.check_project, project, "", fallback=None)
    if project is None and emulator_host is not None and len(problems) == before:
        problems.append(
            ConfigurationError(
                f"{v.name('PROJECT')} is required with the emulator "
                "(set it, or the GOOGLE_CLOUD_PROJECT environment variable)",
                key=v.name("PROJECT"),
            )
        )
    pool = take(v.choice, "POOL", POOL_MODES, "pinging", fallback="pinging")
    ping_interval = take(v.number, "PING_INTERVAL", 300.0, fallback=300.0)
    role = take(v.optional_str, "DATABASE_ROLE", fallback=None)
    if role is not None and not _ROLE_RE.fullmatch(role):
        problems.append(
            v.fail(
                "DATABASE_ROLE",
                "expected a role name of 1-128 letters, digits or '_', starting with a letter",
                role,
            )
        )
    checked = cls(
        project=project,
        instance=instance,
        database=database,
        pool=pool,
        pool_size=take(v.integer, "POOL_SIZE", 10, fallback=10, low=1, high=1000),
        pool_timeout=take(v.number, "POOL_TIMEOUT", 5.0, fallback=5.0),
        ping_interval=ping_interval,
        emulator_host=emulator_host,
        database_role=role,
        labels=take(v.labels, "LABELS", fallback=MappingProxyType({})),
        credentials=take(v.credentials, "CREDENTIALS", fallback=None),
        max_session_age=take(v.max_session_age, ping_interval, fallback=DEFAULT_MAX_SESSION_AGE),
        leak_timeout=take(v.number, "LEAK_TIMEOUT", None, fallback=None),
        rpc_timeout=take(v.number, "RPC_TIMEOUT", 30.0, fallback=30.0),
    )
    return (None if problems else checked), problems


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

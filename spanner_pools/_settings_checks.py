"""The checks behind ``SpannerSettings.from_mapping``: one key at a time from the user's
mapping, raising a :class:`~spanner_pools.errors.ConfigurationError` that names the key as the
user wrote it on the first bad one. Never touches the network; credentials are never shown."""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from ._redact import holds_key, not_a_path, show_value
from ._redact import safe_value as _safe_value
from ._settings_schema import DEFAULT_MAX_SESSION_AGE, RANGES, SETTINGS_KEYS
from .errors import ConfigurationError

__all__ = ["_DATABASE_RE", "_INSTANCE_RE", "_ROLE_RE", "_Validator"]

# Matched with ``fullmatch`` (``$`` would accept a final newline); ASCII classes only, so no
# whitespace or control character passes.
_PROJECT_RE = re.compile(r"(?:[a-z0-9][-a-z0-9.]{0,61}[a-z0-9]:)?[a-z][-a-z0-9]{4,28}[a-z0-9]")
_INSTANCE_RE = re.compile(r"[a-z][-a-z0-9]{0,62}[a-z0-9]")
_DATABASE_RE = re.compile(r"[a-z][a-z0-9_\-]{0,28}[a-z0-9]")
_ROLE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,127}")
_LABEL_KEY_RE = re.compile(r"[a-z][-_a-z0-9]{0,62}")
_LABEL_VALUE_RE = re.compile(r"[-_a-z0-9]{0,63}")
_HOST_PORT_RE = re.compile(r"(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+):([0-9]{1,5})")


class _Validator:
    """Reads one key at a time from the user's mapping; a bad value raises, naming the key."""

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

    def unknown(self) -> Iterator[ConfigurationError]:
        """One error per key that is not a setting, with the closest known one as a hint."""
        for key in self.values:
            if key not in SETTINGS_KEYS:
                close = difflib.get_close_matches(str(key), SETTINGS_KEYS, n=1)
                hint = f"did you mean {self.name(close[0])}? " if close else ""
                known = ", ".join(self.name(k) for k in sorted(SETTINGS_KEYS))
                yield ConfigurationError(
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

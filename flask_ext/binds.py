"""``SPANNER_BINDS``: named databases beside the default ``SPANNER_*`` one.

``SPANNER_BINDS = {"analytics": {"DATABASE": "events", "POOL_SIZE": 4}}`` (keys without the
``SPANNER_`` prefix). A bind that does not set ``PROJECT``, ``INSTANCE``, ``EMULATOR_HOST`` or
``CREDENTIALS`` inherits them from the default database (where it lives and how to reach it);
every other key (pool mode and size, timeouts, ``LABELS``, ``DATABASE_ROLE``) is the
library's default unless the bind sets it, since pools are sized per database.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from spanner_pools import ConfigurationError, PoolManager, SpannerSettings
from spanner_pools._strings import convert_strings
from spanner_pools.handles import HandleMap

__all__ = [
    "BINDS_KEY",
    "INHERITED_KEYS",
    "BindDoesNotExist",
    "BoundHandles",
    "BoundSessions",
    "bind_key_format",
    "binds_from_config",
]

#: The config key of the named databases.
BINDS_KEY = "SPANNER_BINDS"
#: Keys a bind takes from the default ``SPANNER_*`` database when it does not set them.
INHERITED_KEYS = ("PROJECT", "INSTANCE", "EMULATOR_HOST", "CREDENTIALS")
#: Shown for the default database in CLI output; not allowed as a bind name.
DEFAULT_NAME = "default"

_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


class BindDoesNotExist(KeyError):
    """A bind name that ``SPANNER_BINDS`` does not define (a ``KeyError``: ``in``/``get`` work)."""

    def __init__(self, bind: Any, configured: Iterator[str] | tuple[str, ...]) -> None:
        self.bind = bind
        self.configured = tuple(configured)
        names = ", ".join(repr(b) for b in self.configured) or "none"
        super().__init__(
            f"Spanner bind {bind!r} is not configured in SPANNER_BINDS (configured binds: "
            f"{names}; the default SPANNER_* database is spanner.handle or "
            "spanner.handles[None])"
        )

    def __str__(self) -> str:
        return str(self.args[0])


def bind_key_format(name: str) -> str:
    """``SPANNER_BINDS['<name>']['{key}']``: how errors name a key of this bind."""
    escaped = repr(name).replace("{", "{{").replace("}", "}}")
    return f"{BINDS_KEY}[{escaped}]['{{key}}']"


def _inherited(default: SpannerSettings) -> dict[str, Any]:
    values = {
        "PROJECT": default.project,
        "INSTANCE": default.instance,
        "EMULATOR_HOST": default.emulator_host,
        "CREDENTIALS": default.credentials,
    }
    return {key: value for key, value in values.items() if value is not None}


def binds_from_config(raw: Any, default: SpannerSettings) -> dict[str, SpannerSettings]:
    """Validate ``SPANNER_BINDS`` (``None`` = no binds); errors name the bind and the key."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigurationError(
            f"{BINDS_KEY}: expected a dict of bind names to dicts of settings, e.g. "
            f"{{'analytics': {{'DATABASE': 'events'}}}}, got {raw!r} ({type(raw).__name__})",
            key=BINDS_KEY,
            value=raw,
        )
    binds: dict[str, SpannerSettings] = {}
    for name, values in raw.items():
        if not isinstance(name, str) or not _NAME_RE.match(name) or name == DEFAULT_NAME:
            raise ConfigurationError(
                f"{BINDS_KEY}: bind name {name!r} is not valid (expected a non-empty string of "
                f"letters, digits, '_', '-' or '.', other than {DEFAULT_NAME!r}, which names "
                "the SPANNER_* database)",
                key=BINDS_KEY,
                value=name,
            )
        fmt = bind_key_format(name)
        if not isinstance(values, Mapping):
            raise ConfigurationError(
                f"{BINDS_KEY}[{name!r}]: expected a dict of settings such as "
                f"{{'DATABASE': 'events'}}, got {values!r} ({type(values).__name__})",
                key=f"{BINDS_KEY}[{name!r}]",
                value=values,
            )
        merged = {**_inherited(default), **{k: v for k, v in values.items() if v is not None}}
        binds[name] = SpannerSettings.from_mapping(
            convert_strings(merged, key_format=fmt), key_format=fmt
        )
    return binds


class BoundHandles(HandleMap[str | None]):
    """The app context's handles: ``[None]`` is the default database, ``[name]`` a bind.

    A handle is made on first access (a session is checked out on first use) and every
    handle is returned at teardown. Iterating lists ``None`` and the bind names without
    making handles.
    """

    def __init__(self, managers: Mapping[str | None, PoolManager]) -> None:
        super().__init__(managers)

    def missing(self, key: str | None) -> KeyError:
        return BindDoesNotExist(key, tuple(b for b in self._sources if b is not None))

    def closed_message(self, key: str | None) -> str:
        return (
            "the app context's Spanner sessions were returned at its teardown; outside one "
            f"use spanner.get_manager(bind={key!r}).handle()"
        )


#: Deprecated name (before 0.2) of :class:`BoundHandles`.
BoundSessions = BoundHandles

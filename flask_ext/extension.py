"""The ``Spanner`` Flask extension: one pool manager per app, one session handle per app context.

All pool, pinger, fork and stats logic lives in :mod:`spanner_pools`; this module only reads
``SPANNER_*`` config, keeps a :class:`~spanner_pools.PoolManager` in ``app.extensions``, lends
a request-scoped :class:`~spanner_pools.SessionHandle` and answers pool errors with a 503.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
import weakref
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app, g, has_app_context
from flask.typing import ResponseReturnValue
from google.cloud.spanner_v1.database import Database
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from spanner_pools import (
    SETTINGS_KEYS,
    ConfigurationError,
    PoolError,
    PoolManager,
    SessionHandle,
    SpannerSettings,
)

from .cli import spanner_cli

__all__ = ["CONFIG_PREFIX", "EXTENSION_KEY", "Spanner", "settings_from_config"]

logger = logging.getLogger(__name__)

#: Prefix of every config key this extension reads (``SPANNER_POOL_SIZE``).
CONFIG_PREFIX = "SPANNER_"
#: Key of the app's :class:`~spanner_pools.PoolManager` in ``app.extensions``.
EXTENSION_KEY = "spanner"
#: Attribute of ``g`` holding the app context's session handle.
_HANDLE_ATTR = "_spanner_pools_handle"

# Env vars are strings: these keys accept a numeric string and are converted here.
_INT_KEYS = frozenset({"POOL_SIZE"})
_FLOAT_KEYS = frozenset(
    {"POOL_TIMEOUT", "PING_INTERVAL", "MAX_SESSION_AGE", "LEAK_TIMEOUT", "RPC_TIMEOUT"}
)
_INT_RE = re.compile(r"^[+-]?[0-9]+$")


def _config_defaults() -> dict[str, Any]:
    """``SPANNER_*`` defaults taken from the core's ``SpannerSettings`` (``None`` = unset)."""
    fields = {f.name.upper(): f for f in dataclasses.fields(SpannerSettings)}
    defaults: dict[str, Any] = {}
    for key in sorted(SETTINGS_KEYS):
        field = fields.get(key)
        default = None if field is None else field.default
        defaults[CONFIG_PREFIX + key] = None if default is dataclasses.MISSING else default
    return defaults


def _convert(key: str, name: str, value: Any) -> Any:
    """Turn an env-var string into the type the core expects; other values pass unchanged."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if key in _INT_KEYS:
        if not _INT_RE.match(text):
            raise ConfigurationError(
                f"{name}: expected an integer (or a string of digits), got {value!r} (str)",
                key=name,
                value=value,
            )
        return int(text)
    if key in _FLOAT_KEYS:
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise ConfigurationError(
                f"{name}: expected a number of seconds (or a numeric string), got {value!r} (str)",
                key=name,
                value=value,
            )
        return number
    if key == "LABELS":
        try:
            labels = json.loads(text)
        except ValueError:
            labels = None
        if not isinstance(labels, dict):
            raise ConfigurationError(
                f'{name}: expected a dict of str to str or a JSON object such as \'{{"team": '
                f'"web"}}\', got {value!r} (str)',
                key=name,
                value=value,
            )
        return labels
    return value


def settings_from_config(config: Mapping[str, Any]) -> SpannerSettings:
    """Validate every ``SPANNER_*`` key of a Flask config; errors name the ``SPANNER_`` key.

    Unknown ``SPANNER_*`` keys are errors (a typo must not be ignored). No network.
    """
    values: dict[str, Any] = {}
    for name, value in config.items():
        if isinstance(name, str) and name.startswith(CONFIG_PREFIX):
            key = name[len(CONFIG_PREFIX) :]
            values[key] = _convert(key, name, value)
    return SpannerSettings.from_mapping(values, key_format=CONFIG_PREFIX + "{key}")


class Spanner:
    """Spanner session pools for one or more Flask apps (app factory friendly).

    ``Spanner(app)`` or ``spanner = Spanner()`` then ``spanner.init_app(app)``. The instance
    never stores an app: it finds the current one through ``current_app``, so one instance
    serves several apps, each with its own :class:`~spanner_pools.PoolManager`.
    """

    def __init__(self, app: Flask | None = None) -> None:
        self._managers: weakref.WeakKeyDictionary[Flask, PoolManager] = weakref.WeakKeyDictionary()
        if app is not None:
            self.init_app(app)

    def __repr__(self) -> str:
        return f"<Spanner apps={len(self._managers)}>"

    # -- registration ------------------------------------------------------------------------

    def init_app(self, app: Flask) -> None:
        """Validate ``app.config``, create the app's (unopened) pool manager and register the
        teardown, the 503 error handler and the ``flask spanner`` commands. No network.
        """
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                f"A 'Spanner' instance has already been registered on the Flask app "
                f"{app.name!r}. Import and use that instance instead of calling 'init_app' "
                "again."
            )
        for name, default in _config_defaults().items():
            app.config.setdefault(name, default)
        settings = settings_from_config(app.config)
        manager = PoolManager(settings, alias=app.name)
        app.extensions[EXTENSION_KEY] = manager
        self._managers[app] = manager
        app.teardown_appcontext(self._teardown)
        # An app handler registered before init_app (for PoolError itself) is kept; handlers
        # for subclasses (PoolExhausted) win over this one anyway.
        if PoolError not in app.error_handler_spec[None][None]:
            app.register_error_handler(PoolError, self._handle_pool_error)
        if spanner_cli.name not in app.cli.commands:
            app.cli.add_command(spanner_cli)
        logger.debug("Spanner extension registered on app %r: %r", app.name, manager)

    # -- the current app's objects -----------------------------------------------------------

    def get_manager(self, app: Flask | None = None) -> PoolManager:
        """The :class:`~spanner_pools.PoolManager` of ``app`` (default: the current app)."""
        if app is None:
            if not has_app_context():
                raise RuntimeError(
                    "Working outside of an application context: the Spanner extension needs "
                    "one to find the current app (inside a request it exists; elsewhere use "
                    "'with app.app_context():')."
                )
            app = current_app._get_current_object()  # type: ignore[attr-defined]
        manager = self._managers.get(app)
        if manager is None:
            if EXTENSION_KEY in app.extensions:
                raise RuntimeError(
                    f"The Flask app {app.name!r} is registered with another 'Spanner' "
                    "instance. Did you create multiple 'Spanner' instances? Import and use "
                    "the one you called 'init_app' with."
                )
            raise RuntimeError(
                f"The Flask app {app.name!r} is not registered with this 'Spanner' instance. "
                "Did you forget to call 'init_app'?"
            )
        return manager

    @property
    def manager(self) -> PoolManager:
        """The current app's :class:`~spanner_pools.PoolManager`."""
        return self.get_manager()

    @property
    def session(self) -> SessionHandle:
        """The app context's session handle, created on first access and returned to the
        pool when the app context ends. A session is checked out only when first used.
        """
        manager = self.get_manager()
        handle: SessionHandle | None = g.get(_HANDLE_ATTR)
        if handle is None or handle.closed:
            handle = manager.session()
            setattr(g, _HANDLE_ATTR, handle)
        return handle

    @property
    def database(self) -> Database:
        """The current app's ``Database`` in this process (opens the pool if needed)."""
        return self.get_manager().database

    def stats(self) -> dict[str, Any]:
        """The current app's pool stats (never an RPC)."""
        return self.get_manager().stats()

    # -- hooks ---------------------------------------------------------------------------------

    @staticmethod
    def _teardown(exc: BaseException | None) -> None:
        """Return the app context's session to the pool, also when the view raised."""
        handle: SessionHandle | None = g.pop(_HANDLE_ATTR, None)
        if handle is not None:
            handle.close()

    @staticmethod
    def _handle_pool_error(error: PoolError) -> HTTPException | ResponseReturnValue:
        """``PoolError`` -> ``503 Service Unavailable`` with ``Retry-After``.

        The 503 goes through the app's own ``errorhandler(503)`` if it has one.
        """
        current_app.extensions[EXTENSION_KEY].log.warning("answered with 503: %s", error)
        unavailable = ServiceUnavailable(
            description=(
                "The database is temporarily unavailable. Please retry in "
                f"{error.retry_after} second(s)."
            ),
            retry_after=error.retry_after,
        )
        return current_app.handle_http_exception(unavailable)

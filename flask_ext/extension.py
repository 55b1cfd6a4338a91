"""The ``Spanner`` Flask extension: one pool manager per app and bind, one handle per app context.

All pool, pinger, fork and stats logic lives in :mod:`spanner_pools`; this module only reads
``SPANNER_*`` config (and ``SPANNER_BINDS``, see :mod:`flask_ext.binds`), keeps the
:class:`~spanner_pools.PoolManager` objects in ``app.extensions``, lends request-scoped
:class:`~spanner_pools.SessionHandle` objects and answers pool errors with a 503.
"""

from __future__ import annotations

import dataclasses
import logging
import weakref
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from flask import Flask, current_app, g, has_app_context
from flask.typing import ResponseReturnValue
from google.cloud.spanner_v1.database import Database
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from spanner_pools import (
    SETTINGS_KEYS,
    PoolError,
    PoolManager,
    SessionHandle,
    SpannerSettings,
)
from spanner_pools._strings import convert_strings

from .binds import BINDS_KEY, BindDoesNotExist, BoundHandles, binds_from_config
from .cli import spanner_cli

__all__ = [
    "BINDS_EXTENSION_KEY",
    "CONFIG_PREFIX",
    "EXTENSION_KEY",
    "Spanner",
    "settings_from_config",
]

logger = logging.getLogger(__name__)

#: Prefix of every config key this extension reads (``SPANNER_POOL_SIZE``).
CONFIG_PREFIX = "SPANNER_"
#: Key of the app's :class:`~spanner_pools.PoolManager` in ``app.extensions``.
EXTENSION_KEY = "spanner"
#: Key of the app's binds (name -> :class:`~spanner_pools.PoolManager`) in ``app.extensions``.
BINDS_EXTENSION_KEY = "spanner_binds"
#: Attribute of ``g`` holding the app context's :class:`~flask_ext.binds.BoundHandles`.
_HANDLES_ATTR = "_spanner_pools_handles"


def _config_defaults() -> dict[str, Any]:
    """``SPANNER_*`` defaults taken from the core's ``SpannerSettings`` (``None`` = unset)."""
    fields = {f.name.upper(): f for f in dataclasses.fields(SpannerSettings)}
    defaults: dict[str, Any] = {}
    for key in sorted(SETTINGS_KEYS):
        field = fields.get(key)
        default = None if field is None else field.default
        defaults[CONFIG_PREFIX + key] = None if default is dataclasses.MISSING else default
    defaults[BINDS_KEY] = None
    return defaults


def settings_from_config(config: Mapping[str, Any]) -> SpannerSettings:
    """Validate every ``SPANNER_*`` key of a Flask config; errors name the ``SPANNER_`` key.

    Unknown ``SPANNER_*`` keys are errors (a typo must not be ignored). No network.
    """
    values: dict[str, Any] = {}
    for name, value in config.items():
        if isinstance(name, str) and name.startswith(CONFIG_PREFIX) and name != BINDS_KEY:
            values[name[len(CONFIG_PREFIX) :]] = value
    key_format = CONFIG_PREFIX + "{key}"
    return SpannerSettings.from_mapping(
        convert_strings(values, key_format=key_format), key_format=key_format
    )


class Spanner:
    """Spanner session pools for one or more Flask apps (app factory friendly).

    ``Spanner(app)`` or ``spanner = Spanner()`` then ``spanner.init_app(app)``. The instance
    never stores an app: it finds the current one through ``current_app``, so one instance
    serves several apps, each with its own :class:`~spanner_pools.PoolManager` per database
    (the default ``SPANNER_*`` one under ``None``, each of ``SPANNER_BINDS`` under its name).
    """

    def __init__(self, app: Flask | None = None) -> None:
        self._managers: weakref.WeakKeyDictionary[Flask, dict[str | None, PoolManager]] = (
            weakref.WeakKeyDictionary()
        )
        if app is not None:
            self.init_app(app)

    def __repr__(self) -> str:
        return f"<Spanner apps={len(self._managers)}>"

    # -- registration ------------------------------------------------------------------------

    def init_app(self, app: Flask) -> None:
        """Validate ``app.config``, create the app's (unopened) pool managers and register the
        teardown, the 503 error handler and the ``flask spanner`` commands. No network.
        """
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                f"A 'Spanner' instance has already been registered on the Flask app "
                f"{app.name!r}. Import and use that instance instead of calling 'init_app' "
                "again (several databases: SPANNER_BINDS and spanner.handles[name])."
            )
        for name, default in _config_defaults().items():
            app.config.setdefault(name, default)
        settings = settings_from_config(app.config)
        binds = binds_from_config(app.config.get(BINDS_KEY), settings)
        managers: dict[str | None, PoolManager] = {None: PoolManager(settings, alias=app.name)}
        for bind, bind_settings in binds.items():
            managers[bind] = PoolManager(bind_settings, alias=f"{app.name}:{bind}")
        app.extensions[EXTENSION_KEY] = managers[None]
        app.extensions[BINDS_EXTENSION_KEY] = MappingProxyType(
            {bind: m for bind, m in managers.items() if bind is not None}
        )
        self._managers[app] = managers
        app.teardown_appcontext(self._teardown)
        # An app handler registered before init_app (for PoolError itself) is kept; handlers
        # for subclasses (PoolExhausted) win over this one anyway.
        if PoolError not in app.error_handler_spec[None][None]:
            app.register_error_handler(PoolError, self._handle_pool_error)
        if spanner_cli.name not in app.cli.commands:
            app.cli.add_command(spanner_cli)
        logger.debug("Spanner extension registered on app %r: %r", app.name, managers)

    # -- the current app's objects -----------------------------------------------------------

    def get_managers(self, app: Flask | None = None) -> dict[str | None, PoolManager]:
        """Every manager of ``app`` (default: the current app): ``None`` first, then binds."""
        if app is None:
            if not has_app_context():
                raise RuntimeError(
                    "Working outside of an application context: the Spanner extension needs "
                    "one to find the current app (inside a request it exists; elsewhere use "
                    "'with app.app_context():')."
                )
            app = current_app._get_current_object()  # type: ignore[attr-defined]
        managers = self._managers.get(app)
        if managers is None:
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
        return dict(managers)

    def get_manager(self, app: Flask | None = None, bind: str | None = None) -> PoolManager:
        """The :class:`~spanner_pools.PoolManager` of ``bind`` (default: the ``SPANNER_*``
        database) of ``app`` (default: the current app); ``BindDoesNotExist`` for a bad name.
        """
        managers = self.get_managers(app)
        manager = managers.get(bind)
        if manager is None:
            raise BindDoesNotExist(bind, tuple(b for b in managers if b is not None))
        return manager

    @property
    def manager(self) -> PoolManager:
        """The current app's :class:`~spanner_pools.PoolManager` of the default database."""
        return self.get_manager()

    @property
    def handles(self) -> BoundHandles:
        """The app context's handles by bind: ``spanner.handles["analytics"]``; ``[None]`` is
        ``spanner.handle``. Each is made on first access and returned at teardown.
        """
        managers = self.get_managers()  # outside an app context: the extension's error
        handles: BoundHandles | None = g.get(_HANDLES_ATTR)
        if handles is None:
            handles = BoundHandles(managers)
            setattr(g, _HANDLES_ATTR, handles)
        return handles

    @property
    def handle(self) -> SessionHandle:
        """The app context's handle of the default database, made on first access and
        returned to the pool when the app context ends. A session is checked out only when
        first used (``spanner.handle.session`` is the client's ``Session``).
        """
        return self.handles[None]

    @property
    def sessions(self) -> BoundHandles:
        """The older name (before 0.2) of :attr:`handles`: the same object."""
        return self.handles

    @property
    def session(self) -> SessionHandle:
        """The older name (before 0.2) of :attr:`handle`: the same handle."""
        return self.handle

    @property
    def database(self) -> Database:
        """The current app's default ``Database`` in this process (opens the pool if needed)."""
        return self.get_manager().database

    def stats(self, bind: str | None = None) -> dict[str, Any]:
        """The current app's pool stats of ``bind`` (default database: ``None``); never an RPC."""
        return self.get_manager(bind=bind).stats()

    # -- hooks ---------------------------------------------------------------------------------

    @staticmethod
    def _teardown(exc: BaseException | None) -> None:
        """Return the app context's sessions to their pools, also when the view raised."""
        handles: BoundHandles | None = g.pop(_HANDLES_ATTR, None)
        if handles is not None:
            handles.close()  # never raises: logs what it could not return

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

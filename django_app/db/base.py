"""The ``DatabaseWrapper`` of ``"ENGINE": "django_app.db"`` (see :mod:`django_app.db`).

Every Django connection is a DB-API connection on the alias's :class:`~spanner_pools.PoolManager`:
no client, database or session of its own, a session lent per transaction (or per autocommit
statement), nothing held while idle. So it is cheap at ``CONN_MAX_AGE=0`` (a new connection
per request costs no RPC), holds no session at ``CONN_MAX_AGE=None``, and a connection
inherited over ``fork()`` (``--preload``) drops the parent's state and uses the child's pool.
"""

from __future__ import annotations

from typing import Any

try:
    from django_spanner.base import DatabaseWrapper as SpannerDatabaseWrapper
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f'ENGINE "django_app.db" needs django-google-spanner: pip install "spanner-pools[django-orm]" ({exc})'
    ) from exc

from spanner_pools import PoolManager
from spanner_pools._compat import database_instance
from spanner_pools._compat.dbapi import PooledConnection
from spanner_pools._compat.django_spanner import patch_django_autofield
from spanner_pools.dbapi import connect

from . import ENGINE

__all__ = ["DatabaseWrapper"]

#: Our own option, not passed to the DB-API connection.
SPANNER_ALIAS_OPTION = "SPANNER_ALIAS"

patch_django_autofield()  # models defined from now on (django_app's app config did it before)


class DatabaseWrapper(SpannerDatabaseWrapper):
    """django-google-spanner's backend with connections drawn from the ``SPANNER`` alias's
    manager instead of a new Client/Database per connection."""

    def __init__(self, settings_dict: dict[str, Any], alias: str = "default") -> None:
        super().__init__(settings_dict, alias)
        # django-google-spanner's tracing reads these; they follow from the SPANNER alias.
        spanner = self.spanner_manager.settings
        self.settings_dict.setdefault("PROJECT", spanner.project or "")
        self.settings_dict["INSTANCE"] = spanner.instance
        self.settings_dict["NAME"] = spanner.database

    @property
    def spanner_alias(self) -> str:
        """The ``SPANNER`` alias: ``OPTIONS["SPANNER_ALIAS"]``, else this database's alias."""
        options = self.settings_dict.get("OPTIONS") or {}
        alias = options.get(SPANNER_ALIAS_OPTION, self.alias)
        if not isinstance(alias, str):
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured(
                f"DATABASES[{self.alias!r}]['OPTIONS']['SPANNER_ALIAS'] must be a string, got {alias!r}"
            )
        return alias

    @property
    def spanner_manager(self) -> PoolManager:
        """This process's manager of :attr:`spanner_alias` (``django_app.managers``)."""
        from django.core.exceptions import ImproperlyConfigured

        from django_app import PoolDoesNotExist, managers

        try:
            return managers[self.spanner_alias]
        except PoolDoesNotExist as exc:
            raise ImproperlyConfigured(
                f'DATABASES[{self.alias!r}] uses ENGINE "{ENGINE}" but settings.SPANNER has no '
                f"alias {self.spanner_alias!r} (set OPTIONS['SPANNER_ALIAS'] to one of "
                f"{sorted(managers)})"
            ) from exc

    @property
    def instance(self) -> Any:
        """The ``Instance`` of the manager's database in this process (test DB creation)."""
        return database_instance(self.spanner_manager.database)

    def get_connection_params(self) -> dict[str, Any]:
        """The ``OPTIONS`` for ``spanner_pools.dbapi.connect`` (``read_only``, ...)."""
        options = dict(self.settings_dict.get("OPTIONS") or {})
        options.pop(SPANNER_ALIAS_OPTION, None)
        for key in ("pool", "client", "instance_id", "project", "credentials", "user_agent"):
            if key in options:
                from django.core.exceptions import ImproperlyConfigured

                raise ImproperlyConfigured(
                    f"DATABASES[{self.alias!r}]['OPTIONS'][{key!r}] is not used with ENGINE "
                    f'"{ENGINE}": the client and pool come from settings.SPANNER'
                )
        return options

    def get_new_connection(self, conn_params: dict[str, Any]) -> PooledConnection:
        """A DB-API connection on the manager: no RPC, no session until a statement runs."""
        return connect(self.spanner_manager, **conn_params)

    def init_connection_state(self) -> None:
        """Nothing to do: the connection is new. (django-google-spanner closes it and runs
        ``Connection.__init__`` again, which would reset what makes it pooled.)"""

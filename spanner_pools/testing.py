"""Create and drop test databases named like Django's (``test_<name>``), for any settings.

Used by ``django_app.test.SpannerDiscoverRunner``. With ``EMULATOR_HOST`` the instance is
created if missing; against real Cloud Spanner the instance must exist and the credentials
need ``spanner.databases.create``/``drop``.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator, Sequence
from typing import Any

from .settings import SpannerSettings

__all__ = ["MAX_DATABASE_ID", "admin_client", "create_database", "drop_database", "name_for_tests"]

logger = logging.getLogger(__name__)

#: Spanner's limit on a database ID (2-30 characters, ``[a-z][a-z0-9_-]*[a-z0-9]``).
MAX_DATABASE_ID = 30
_TRAILING = re.compile(r"[_\-]+$")


def name_for_tests(database: str, prefix: str = "test_") -> str:
    """``test_<database>``, cut to Spanner's 30 characters (never ending in ``_`` or ``-``)."""
    return _TRAILING.sub("", (prefix + database)[:MAX_DATABASE_ID])


@contextlib.contextmanager
def admin_client(settings: SpannerSettings) -> Iterator[Any]:
    """A plain client for admin calls, on the emulator or real Spanner as ``settings`` say."""
    if settings.emulator_host is not None:
        from .emulator import admin_client as emulator_client

        with emulator_client(settings.emulator_host, settings.project or "") as client:
            yield client
        return
    from google.cloud.spanner_v1 import Client

    credentials = None
    if settings.credentials is not None:
        from google.oauth2 import service_account

        credentials = service_account.Credentials.from_service_account_file(settings.credentials)
    client = Client(project=settings.project, credentials=credentials)
    try:
        yield client
    finally:
        client.database_admin_api.transport.close()


def create_database(
    settings: SpannerSettings,
    name: str,
    ddl: Sequence[str],
    *,
    keep: bool = False,
    timeout: float = 120.0,
) -> bool:
    """Create database ``name`` with ``ddl`` in the settings' instance; True if created.

    An existing one is dropped and created again, unless ``keep`` (then it is kept as it is,
    like Django's ``--keepdb``).
    """
    from google.api_core.exceptions import AlreadyExists

    if settings.emulator_host is not None:
        from .emulator import DatabaseExists, provision

        try:
            return provision(
                settings.emulator_host,
                project=settings.project or "",
                instance=settings.instance,
                database=name,
                ddl=ddl,
                exist_ok=keep,
                timeout=timeout,
            )
        except DatabaseExists:
            logger.info("dropping the old test database %r", name)
            drop_database(settings, name)
            return create_database(settings, name, ddl, keep=False, timeout=timeout)
    with admin_client(settings) as client:
        database = client.instance(settings.instance).database(name, ddl_statements=list(ddl))
        try:
            database.create().result(timeout)
        except AlreadyExists:
            if keep:
                return False
            logger.info("dropping the old test database %r", name)
            database.drop()
            database.create().result(timeout)
        return True


def drop_database(settings: SpannerSettings, name: str) -> None:
    """Drop database ``name`` of the settings' instance (a missing one is fine)."""
    from google.api_core.exceptions import NotFound

    with admin_client(settings) as client, contextlib.suppress(NotFound):
        client.instance(settings.instance).database(name).drop()

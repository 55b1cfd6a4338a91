"""A throw-away emulator database for the Django tests (created, listed, dropped)."""

from __future__ import annotations

import uuid
from typing import Any

from spanner_pools._compat import NO_BUILTIN_METRICS
from spanner_pools.emulator import Emulator, provision
from tests.conftest import INSTANCE, PROJECT, SCHEMA


class EmulatorDatabase:
    """One emulator database: its name, core settings for it, and ListSessions on it."""

    def __init__(self, emulator: Emulator) -> None:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud.spanner_v1 import Client

        self.name = "dj" + uuid.uuid4().hex[:12]
        provision(emulator.host, project=PROJECT, instance=INSTANCE, database=self.name, ddl=SCHEMA)
        self.config: dict[str, Any] = {
            "PROJECT": PROJECT,
            "INSTANCE": INSTANCE,
            "DATABASE": self.name,
            "EMULATOR_HOST": emulator.host,
            "POOL_SIZE": 3,
        }
        self._client = Client(
            project=PROJECT,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": emulator.host},
            **NO_BUILTIN_METRICS,
        )
        self._database = self._client.instance(INSTANCE).database(self.name)

    def sessions(self) -> list[Any]:
        """The sessions the emulator holds for this database."""
        api = self._database.spanner_api
        return list(api.list_sessions(database=self._database.name))

    def drop(self) -> None:
        self._database.drop()
        self._client.database_admin_api.transport.close()
        self._database.spanner_api.transport.close()

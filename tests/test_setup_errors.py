"""Errors that are not outages: named once, with the setting involved, and never answered with
an invitation to retry in a second; credentials are looked for once, not on every request."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest

from spanner_pools import PoolError, PoolManager, PoolMisconfigured
from spanner_pools.emulator import Emulator, free_port

from .proxy import BlackHoleProxy
from .test_availability import MODES, manager_for


def failures_of(manager: PoolManager, count: int = 3) -> list[BaseException]:
    errors: list[BaseException] = []
    for _ in range(count):
        try:
            manager.check()
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            errors.append(exc)
    return errors


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("where", "key"), [("database", "DATABASE"), ("instance", "INSTANCE")])
def test_a_database_or_instance_that_does_not_exist_is_named(
    emulator: Emulator,
    database_id: str,
    caplog: pytest.LogCaptureFixture,
    mode: str,
    where: str,
    key: str,
) -> None:
    caplog.set_level(logging.WARNING, logger="spanner_pools")
    overrides: dict[str, Any] = {"POOL": mode}
    if where == "instance":
        overrides["INSTANCE"] = "no-such-instance"
    database = "no-such-database" if where == "database" else database_id
    manager = manager_for(emulator.host, database, **overrides)
    try:
        with pytest.raises(PoolMisconfigured) as opened:
            manager.open()
        assert opened.value.key == key
        assert f"{key}: Spanner says the {where} does not exist" in str(opened.value)
        errors = failures_of(manager)
        assert len(errors) == 3
        for error in errors:
            assert isinstance(error, PoolMisconfigured) and not isinstance(error, PoolError)
            assert f"the {where} does not exist" in str(error)
        stats = manager.stats()
        assert f"{key}: Spanner says the {where} does not exist" in stats["setup_error"]
        reports = [r for r in caplog.records if f"the {where} does not exist" in r.getMessage()]
        assert len(reports) == 1, [r.getMessage() for r in reports]  # at open, not per retry
        assert not any("has not been reachable" in r.getMessage() for r in caplog.records)
    finally:
        manager.close()


class _Refuse(grpc.GenericRpcHandler):  # type: ignore[misc]
    """Answers every Spanner RPC with PERMISSION_DENIED, as IAM does for a principal without
    access. A stand-in server: the emulator has no IAM, and real Cloud cannot be reached here."""

    def service(self, handler_call_details: Any) -> Any:
        def deny(request: Any, context: grpc.ServicerContext) -> Any:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "Caller is missing IAM permission")

        return grpc.unary_unary_rpc_method_handler(deny)


@pytest.fixture
def denying_server() -> Iterator[str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((_Refuse(),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(0)


@pytest.mark.parametrize("mode", ["pinging", "multiplexed"])
def test_a_permission_error_is_named_and_not_retried_per_second(
    denying_server: str, mode: str
) -> None:
    manager = manager_for(denying_server, "anything", POOL=mode)
    try:
        with pytest.raises(PoolMisconfigured, match="CREDENTIALS: permission denied") as info:
            manager.open()
        assert info.value.key == "CREDENTIALS"
        for error in failures_of(manager):
            assert isinstance(error, PoolMisconfigured), error
        assert "permission denied" in manager.stats()["setup_error"]
    finally:
        manager.close()


NO_CREDENTIALS_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from spanner_pools import PoolManager, PoolMisconfigured, SpannerSettings

    manager = PoolManager(SpannerSettings.from_mapping(
        {"PROJECT": "my-project", "INSTANCE": "main", "DATABASE": "app"}))
    results = []
    for _ in range(4):
        start = time.monotonic()
        try:
            manager.check()
            results.append({"error": None})
        except Exception as exc:
            results.append({"error": type(exc).__name__, "key": getattr(exc, "key", None),
                            "message": str(exc), "is_misconfigured":
                            isinstance(exc, PoolMisconfigured)})
        sys.stderr.write("attempt done\\n")
    results.append({"setup_error": manager.stats()["setup_error"]})
    print(json.dumps(results))
    """
)


def test_missing_credentials_are_looked_for_once(tmp_path: Any) -> None:
    """No Application Default Credentials and a metadata server that never answers: before,
    every request re-ran the discovery (12 s each) and got a 500."""
    import json

    metadata = BlackHoleProxy(free_port())  # accepts and never answers, like a dead metadata IP
    metadata.black_hole = True
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GOOGLE_", "GCE_", "SPANNER_", "CLOUDSDK_"))
    }
    env.update(
        HOME=str(tmp_path),
        CLOUDSDK_CONFIG=str(tmp_path / "gcloud"),
        GCE_METADATA_HOST=metadata.host,
        GCE_METADATA_IP=metadata.host,
        GCE_METADATA_TIMEOUT="1",
        GCE_METADATA_DETECT_RETRIES="1",
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", NO_CREDENTIALS_SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    finally:
        metadata.close()
    results = json.loads(done.stdout.strip().splitlines()[-1])
    attempts, summary = results[:-1], results[-1]
    for attempt in attempts:
        assert attempt["is_misconfigured"] and attempt["key"] == "CREDENTIALS", attempt
        assert "no Google Cloud credentials found" in attempt["message"]
    assert "CREDENTIALS" in summary["setup_error"]
    # The metadata server was asked during the first attempt only (discovery is cached).
    assert metadata.accepted == 1, metadata.accepted
    assert done.stderr.count("no Google Cloud credentials found") == 1, done.stderr  # logged once

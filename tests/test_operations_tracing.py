"""OpenTelemetry spans for checkouts and pinger work; nothing (and no error) without OTel."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from spanner_pools import PoolExhausted, PoolManager, tracing

from .forking import run_script

Make = Callable[..., PoolManager]


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """The library's spans go to an in-memory exporter (not the process-wide provider)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.set_tracer_provider(provider)
    yield provider, exporter
    tracing.set_tracer_provider(None)
    provider.shutdown()


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


def test_checkout_spans_nest_under_the_request_and_record_exhaustion(
    make_manager: Make, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = spans
    manager = make_manager(POOL_SIZE=1, POOL_TIMEOUT=0.05)
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("request") as request, manager.handle() as handle:
        handle.execute_sql("SELECT 1")
        with pytest.raises(PoolExhausted):
            manager.handle().execute_sql("SELECT 1")  # the only session is lent
    ok, exhausted = named(exporter, "spanner_pools.checkout")
    for span in ok, exhausted:
        assert span.parent is not None
        assert span.parent.span_id == request.get_span_context().span_id
        assert span.attributes is not None
        assert span.attributes["spanner_pools.alias"] == "default"
        assert span.attributes["spanner_pools.database"] == manager.settings.database
        assert span.attributes["spanner_pools.pool"] == "pinging"
    assert ok.status.status_code is StatusCode.UNSET
    assert ok.attributes is not None and ok.attributes["spanner_pools.wait_seconds"] >= 0
    assert exhausted.status.status_code is StatusCode.ERROR
    assert [e.name for e in exhausted.events] == ["exception"]
    assert exhausted.events[0].attributes is not None
    assert exhausted.events[0].attributes["exception.type"].endswith("PoolExhausted")


def test_pinger_passes_and_manual_pings_are_traced(
    make_manager: Make, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    _, exporter = spans
    manager = make_manager(POOL_SIZE=2, PING_INTERVAL=0.2)
    manager.open(wait=False)  # the pinger's first pass creates the sessions
    deadline = time.monotonic() + 30  # guards against a hang only
    while not any(
        (s.attributes or {}).get("spanner_pools.pings", 0) > 0
        for s in named(exporter, "spanner_pools.ping_pass")
    ):
        assert time.monotonic() < deadline, "no pinger pass with pings was traced"
        time.sleep(0.05)
    passes = named(exporter, "spanner_pools.ping_pass")
    assert all(s.parent is None for s in passes)  # background work: root spans
    assert passes[0].attributes is not None
    assert passes[0].attributes["spanner_pools.sessions_created"] == 2  # the first fill
    assert passes[0].attributes["spanner_pools.alias"] == "default"

    count = manager.ping()
    [ping] = named(exporter, "spanner_pools.ping")
    assert ping.attributes is not None and ping.attributes["spanner_pools.pings"] == count


def test_global_provider_is_used_and_missing_opentelemetry_breaks_nothing(
    spanner_config: dict[str, Any],
) -> None:
    """In a fresh interpreter: the global SDK provider gets the spans; then OpenTelemetry is
    made unimportable (google-cloud-spanner itself needs it, so it is hidden after Spanner is
    loaded) and pools work on, without spans."""
    script = """
        import json, sys
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from spanner_pools import PoolManager, SpannerSettings, tracing

        config = json.loads(sys.argv[1])
        manager = PoolManager(SpannerSettings.from_mapping(config))
        report = {"enabled_without_sdk": tracing.enabled()}
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        with manager.handle() as handle:
            handle.execute_sql("SELECT 1")
        report["global"] = [s.name for s in exporter.get_finished_spans()]

        for name in [m for m in sys.modules if m.split(".")[0] == "opentelemetry"]:
            sys.modules[name] = None  # "import opentelemetry..." now raises ImportError
        tracing._trace = None  # forget the module found before: import again
        exporter.clear()
        with manager.handle() as handle:
            report["rows"] = handle.execute_sql("SELECT 1")
        report["pings"] = manager.ping()
        report["enabled_without_otel"] = tracing.enabled()
        report["spans_without_otel"] = [s.name for s in exporter.get_finished_spans()]
        manager.close()
        print(json.dumps(report))
        """
    report = run_script(script, json.dumps(spanner_config))
    assert report["enabled_without_sdk"] is False
    assert "spanner_pools.checkout" in report["global"]
    assert report["rows"] == [[1]] and report["pings"] >= 1
    assert report["enabled_without_otel"] is False
    # The Spanner client still traces its RPCs (it kept its import); this library does not.
    assert not [n for n in report["spans_without_otel"] if n.startswith("spanner_pools.")]

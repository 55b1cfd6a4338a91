"""The example site's page at ``/`` in a real headless Chromium, served by real gunicorn.

Loads the page, waits for the script to show live ``/stats``, adds a note through the form
and sees it listed. Skipped only if no Chromium binary exists (``apt-get install chromium``;
``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from spanner_pools.emulator import Emulator, drop_database, provision

from .chromium import Chromium, find_chromium
from .conftest import INSTANCE, PROJECT
from .e2e import GunicornServer, request

pytestmark = pytest.mark.e2e

APPS = {
    "flask": "example_site.flask_site:create_app()",
    "django": "example_site.django_site.wsgi:application",
}


@pytest.fixture
def site_database(emulator: Emulator) -> Iterator[str]:
    """A database with the example site's schema, dropped after the test."""
    from example_site.schema import SCHEMA

    name = "page" + uuid.uuid4().hex[:10]
    where = {"project": PROJECT, "instance": INSTANCE, "database": name}
    provision(emulator.host, ddl=SCHEMA, **where)
    yield name
    drop_database(emulator.host, **where)


@pytest.fixture
def chromium() -> Iterator[Chromium]:
    binary = find_chromium()
    if binary is None:
        pytest.skip("Chromium not found: apt-get install chromium (or set CHROMIUM_BIN)")
    browser = Chromium(binary)
    try:
        yield browser
    finally:
        browser.close()


@pytest.mark.parametrize("site", ["flask", "django"])
def test_page_lists_notes_adds_one_through_the_form_and_shows_live_stats(
    site: str, emulator: Emulator, site_database: str, chromium: Chromium
) -> None:
    env = {
        "SPANNER_EMULATOR_HOST": emulator.host,
        "SPANNER_PROJECT": PROJECT,
        "SPANNER_INSTANCE": INSTANCE,
        "SPANNER_DATABASE": site_database,
        "SPANNER_POOL_SIZE": "2",
        "DJANGO_SETTINGS_MODULE": "example_site.django_site.settings",
    }
    server = GunicornServer(APPS[site], workers=2, env=env)
    try:
        server.start(timeout=120, ready_path="/health")
        url = f"http://127.0.0.1:{server.port}/"
        plain = request(server.port, "GET", "/")
        assert plain.status == 200, plain.body
        assert plain.headers["content-type"].startswith("text/html")
        assert b"No notes yet." in plain.body

        chromium.open(url)
        chromium.wait_for("document.querySelector('form textarea[name=body]') !== null")
        # The script polls /stats: the worker's pid and its pool's gauges appear, live.
        chromium.wait_for("Number(document.getElementById('stats-status').dataset.polls) >= 2")
        assert chromium.evaluate("document.getElementById('stat-sessions').textContent") == "2"
        pid = chromium.evaluate("document.getElementById('stat-pid').textContent")
        assert pid.isdigit(), pid

        text = f"hello from chromium {uuid.uuid4().hex[:8]} <b>not bold</b>"
        chromium.evaluate(
            "(() => { document.querySelector('textarea[name=body]').value = "
            f"{json.dumps(text)}; document.querySelector('button[type=submit]').click(); "
            "return true; })()"
        )
        listed = (
            "Array.from(document.querySelectorAll('#notes li'))"
            f".filter(li => li.firstChild && li.firstChild.textContent === {json.dumps(text)})"
            ".length"
        )
        assert chromium.wait_for(listed) == 1  # the note, escaped (no <b> element)
        assert chromium.evaluate("location.pathname") == "/"  # redirected back after the POST
        assert chromium.evaluate("document.querySelectorAll('#notes b').length") == 0
        chromium.wait_for("Number(document.getElementById('stats-status').dataset.polls) >= 1")

        notes = request(server.port, "GET", "/notes").json()["notes"]
        assert [n["body"] for n in notes] == [text]
        stats = request(server.port, "GET", "/stats")
        assert stats.status == 200 and stats.json()["in_use"] == 0

        form = {"Content-Type": "application/x-www-form-urlencoded"}
        blank = request(server.port, "POST", "/", headers=form)  # no body: an empty note
        assert blank.status == 400, blank.body
        assert b"the note is empty" in blank.body and b"<form" in blank.body
        assert len(request(server.port, "GET", "/notes").json()["notes"]) == 1
    finally:
        server.stop()

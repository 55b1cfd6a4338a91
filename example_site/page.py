"""The page at ``/`` both sites serve: the notes, a form to add one, and live pool stats.

Plain server-rendered HTML: the form posts to ``/`` (answered with a redirect back to it, so
a reload does not post twice); a small script polls ``GET /stats`` every two seconds and shows
which gunicorn worker answered and its pool's gauges and counters. Works without the script
too (the stats are then those of the worker that rendered the page).
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

__all__ = ["STATS_SHOWN", "form_payload", "render_index"]

#: The ``stats()`` keys shown on the page, with their labels.
STATS_SHOWN = {
    "pid": "worker pid",
    "pool": "pool",
    "sessions": "sessions",
    "in_use": "in use",
    "available": "available",
    "max_in_use": "max in use",
    "checkouts": "checkouts",
    "waits": "waits",
    "timeouts": "timeouts",
    "pings": "pings",
    "ping_errors": "ping errors",
    "sessions_replaced": "sessions replaced",
    "pinger_alive": "pinger alive",
}

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem;
       color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.1rem; margin-top: 0; }
main { display: flex; gap: 2rem; flex-wrap: wrap; }
section { flex: 1 1 22rem; }
textarea { width: 100%; box-sizing: border-box; font: inherit; }
button { font: inherit; padding: .3rem 1rem; margin-top: .3rem; }
ul#notes { padding-left: 1.2rem; } ul#notes li { margin: .3rem 0; }
.when { color: #777; font-size: .85em; margin-left: .5em; }
.error { color: #a00; }
table { border-collapse: collapse; } td, th { padding: .15rem .6rem; text-align: left; }
th { font-weight: normal; color: #555; } td { font-variant-numeric: tabular-nums; }
#stats-status { color: #777; font-size: .85em; }
footer { margin-top: 2rem; color: #777; font-size: .85em; }
"""

_SCRIPT = """
(function () {
  var polls = 0;
  function show(stats) {
    Object.keys(stats).forEach(function (key) {
      var cell = document.getElementById("stat-" + key);
      if (cell) { cell.textContent = String(stats[key]); }
    });
    polls += 1;
    var status = document.getElementById("stats-status");
    status.textContent = "live: poll " + polls + " at " + new Date().toLocaleTimeString();
    status.dataset.polls = String(polls);
  }
  function poll() {
    fetch("/stats", {headers: {"Accept": "application/json"}, cache: "no-store"})
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(show)
      .catch(function (e) {
        document.getElementById("stats-status").textContent = "stats unavailable: " + e.message;
      });
  }
  poll();
  setInterval(poll, 2000);
})();
"""


def form_payload(body: str | None) -> dict[str, str]:
    """The ``create_note()`` payload of the page's form; a blank note is refused (400)."""
    from .notes import BadRequest

    if not body or not body.strip():
        raise BadRequest("body: the note is empty; write something first")
    return {"body": body}


def _note(note: dict[str, Any]) -> str:
    created = note.get("created")
    # The commit timestamp to the second (list_notes() gives ISO 8601 in UTC).
    shown = f"{created[:19].replace('T', ' ')} UTC" if created else ""
    when = f'<span class="when" title="{escape(created or "")}">{escape(shown)}</span>'
    return f'<li data-id="{escape(note["id"])}">{escape(note["body"] or "")}{when}</li>'


def render_index(
    notes: list[dict[str, Any]], stats: dict[str, Any], *, site: str, error: str | None = None
) -> str:
    """The whole page: ``notes`` from ``list_notes()``, ``stats`` from the pool's ``stats()``."""
    items = "\n".join(_note(n) for n in notes) or '<li class="empty">No notes yet.</li>'
    rows = "\n".join(
        f'<tr><th>{escape(label)}</th><td id="stat-{key}">{escape(str(stats.get(key, "")))}</td></tr>'
        for key, label in STATS_SHOWN.items()
    )
    problem = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    initial = escape(json.dumps({k: stats.get(k) for k in STATS_SHOWN}))
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>spanner-pools notes ({escape(site)})</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>spanner-pools notes <small>({escape(site)} site)</small></h1>
<main>
<section>
<h2>Add a note</h2>
{problem}
<form method="post" action="/">
<textarea name="body" rows="3" maxlength="10000" required placeholder="Write a note"></textarea>
<button type="submit">Add note</button>
</form>
<h2 style="margin-top:1.5rem">Newest notes</h2>
<ul id="notes">
{items}
</ul>
</section>
<section>
<h2>The worker that answered</h2>
<table id="stats" data-initial="{initial}">
{rows}
</table>
<p id="stats-status" data-polls="0">rendered by worker {escape(str(stats.get("pid", "?")))}</p>
</section>
</main>
<footer>JSON endpoints: <a href="/notes">/notes</a>, <a href="/stats">/stats</a>,
<a href="/health">/health</a>. Each poll of /stats may reach another gunicorn worker.</footer>
<script>{_SCRIPT}</script>
</body>
</html>
"""

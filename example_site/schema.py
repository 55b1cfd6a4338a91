"""The schema both sites share, and the names the demo uses by default."""

from __future__ import annotations

#: DDL of the notes table; ``created`` is set from the commit timestamp.
NOTES_DDL = (
    "CREATE TABLE notes ("
    " id STRING(64) NOT NULL,"
    " body STRING(MAX),"
    " created TIMESTAMP OPTIONS (allow_commit_timestamp=true)"
    ") PRIMARY KEY (id)"
)

SCHEMA: list[str] = [NOTES_DDL]

#: Defaults used when SPANNER_PROJECT / SPANNER_INSTANCE / SPANNER_DATABASE are not set.
DEFAULT_PROJECT = "demo-project"
DEFAULT_INSTANCE = "demo-instance"
DEFAULT_DATABASE = "notes"


if __name__ == "__main__":
    # `python -m example_site.schema` prints the DDL, e.g. for `gcloud spanner databases create
    # --ddl="$(python -m example_site.schema)"` against real Cloud Spanner.
    print(";\n".join(SCHEMA))

"""``spanner_status`` and ``spanner_ping``."""

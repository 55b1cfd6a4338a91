"""Management commands of the spanner_pools app."""

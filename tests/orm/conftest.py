"""Fixtures of the ORM tests: the admin client of the real-server suites."""

from __future__ import annotations

from tests.example_db import admin as admin  # the fixture, re-exported

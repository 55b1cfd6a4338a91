"""Fixtures of the real-server tests: an admin client and a fresh example database each."""

from __future__ import annotations

from tests.example_db import admin as admin  # the fixtures, re-exported
from tests.example_db import example_db as example_db

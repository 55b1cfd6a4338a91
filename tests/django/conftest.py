"""Configures Django for the tests in this directory only (the Flask and core tests never
import Django), with the test project's settings; emulator databases that are dropped again.

The emulator allows 100 databases per instance, so these tests use one database per test
class (and per e2e test) and drop it afterwards instead of the suite-wide per-test one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import django
import pytest
from django.apps import apps

from spanner_pools.emulator import Emulator

from .emulator_db import EmulatorDatabase

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.django.project.settings")
if not apps.ready:
    django.setup()


@pytest.fixture(scope="class")
def class_database(emulator: Emulator) -> Iterator[EmulatorDatabase]:
    """A database shared by the tests of one class, dropped after them."""
    database = EmulatorDatabase(emulator)
    yield database
    database.drop()


@pytest.fixture
def fresh_database(emulator: Emulator) -> Iterator[EmulatorDatabase]:
    """A database for one test, dropped after it."""
    database = EmulatorDatabase(emulator)
    yield database
    database.drop()

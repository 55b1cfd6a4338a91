"""Deprecated module (before 0.2): :mod:`django_app.managers` and :mod:`django_app.handles`."""

from __future__ import annotations

from .handles import RequestHandles, RequestSessions
from .managers import REGISTRY_SOURCE, Managers, PoolDoesNotExist, Pools, managers, pools

__all__ = [
    "REGISTRY_SOURCE",
    "Managers",
    "PoolDoesNotExist",
    "Pools",
    "RequestHandles",
    "RequestSessions",
    "managers",
    "pools",
]

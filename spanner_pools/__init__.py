"""Spanner session pools that survive fork, idle time and worker recycling.

``PoolManager(SpannerSettings.from_mapping({...}))`` owns one client, database and session
pool per process; ``manager.handle()`` lends a pooled session to one request.

Names are imported lazily (PEP 562) so that ``gunicorn -c python:spanner_pools.gunicorn``
does not load google-cloud-spanner and gRPC into the gunicorn master.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import registry as registry
    from ._strings import convert_strings as convert_strings
    from .errors import ConfigurationError as ConfigurationError
    from .errors import HandleClosed as HandleClosed
    from .errors import PoolClosed as PoolClosed
    from .errors import PoolError as PoolError
    from .errors import PoolExhausted as PoolExhausted
    from .errors import PoolMisconfigured as PoolMisconfigured
    from .errors import PoolUnavailable as PoolUnavailable
    from .errors import SessionReturnedTwice as SessionReturnedTwice
    from .errors import SpannerPoolsError as SpannerPoolsError
    from .handle import SessionHandle as SessionHandle
    from .manager import PoolManager as PoolManager
    from .registry import close_all as close_all
    from .registry import managers as managers
    from .registry import open_all as open_all
    from .settings import POOL_MODES as POOL_MODES
    from .settings import SETTINGS_KEYS as SETTINGS_KEYS
    from .settings import SpannerSettings as SpannerSettings

_EXPORTS = {
    "ConfigurationError": "errors",
    "HandleClosed": "errors",
    "PoolClosed": "errors",
    "PoolError": "errors",
    "PoolExhausted": "errors",
    "PoolMisconfigured": "errors",
    "SessionReturnedTwice": "errors",
    "PoolUnavailable": "errors",
    "SpannerPoolsError": "errors",
    "SessionHandle": "handle",
    "PoolManager": "manager",
    "convert_strings": "_strings",
    "close_all": "registry",
    "managers": "registry",
    "open_all": "registry",
    "POOL_MODES": "settings",
    "SETTINGS_KEYS": "settings",
    "SpannerSettings": "settings",
}

__all__ = [
    "POOL_MODES",
    "SETTINGS_KEYS",
    "ConfigurationError",
    "HandleClosed",
    "PoolClosed",
    "PoolError",
    "PoolExhausted",
    "PoolManager",
    "PoolMisconfigured",
    "PoolUnavailable",
    "SessionHandle",
    "SessionReturnedTwice",
    "SpannerPoolsError",
    "SpannerSettings",
    "close_all",
    "convert_strings",
    "managers",
    "open_all",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'spanner_pools' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])

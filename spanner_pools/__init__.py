"""Spanner session pools that survive fork, idle time and worker recycling.

``PoolManager(SpannerSettings.from_mapping({...}))`` owns one client, database and session
pool per process; ``manager.session()`` lends a pooled session to one request.
"""

from .errors import (
    ConfigurationError,
    HandleClosed,
    PoolClosed,
    PoolError,
    PoolExhausted,
    PoolUnavailable,
    SpannerPoolsError,
)
from .handle import SessionHandle
from .manager import PoolManager
from .registry import close_all, managers, open_all
from .settings import POOL_MODES, SETTINGS_KEYS, SpannerSettings

__all__ = [
    "POOL_MODES",
    "SETTINGS_KEYS",
    "ConfigurationError",
    "HandleClosed",
    "PoolClosed",
    "PoolError",
    "PoolExhausted",
    "PoolManager",
    "PoolUnavailable",
    "SessionHandle",
    "SpannerPoolsError",
    "SpannerSettings",
    "close_all",
    "managers",
    "open_all",
]

__version__ = "0.1.0"

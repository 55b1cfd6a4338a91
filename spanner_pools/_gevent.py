"""gRPC under gevent: switch gRPC to gevent-friendly polling when gevent has patched sockets.

Without it, a gevent worker (``gunicorn -k gevent``, ``celery -P gevent``) blocks its hub in
the first RPC and never answers. ``init_gevent()`` is idempotent.
"""

from __future__ import annotations

import sys

__all__ = ["init_grpc_for_gevent"]


def init_grpc_for_gevent() -> bool:
    """Call ``grpc.experimental.gevent.init_gevent()`` if gevent patched ``socket``."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("socket"):
        return False
    from grpc.experimental import gevent as grpc_gevent

    grpc_gevent.init_gevent()
    return True

"""Flask adapter of spanner-pools: ``spanner = Spanner(); spanner.init_app(app)``.

``spanner.handle`` is the request's handle on a pooled Spanner session (``spanner.session``,
its older name, still works); config keys are the core settings with a ``SPANNER_`` prefix;
``SPANNER_BINDS`` adds named databases (``spanner.handles["analytics"]``). See docs/flask.md.
"""

from spanner_pools import PoolError, PoolExhausted, PoolUnavailable

from .binds import BindDoesNotExist
from .cli import spanner_cli
from .extension import Spanner, settings_from_config

__all__ = [
    "BindDoesNotExist",
    "PoolError",
    "PoolExhausted",
    "PoolUnavailable",
    "Spanner",
    "settings_from_config",
    "spanner_cli",
]

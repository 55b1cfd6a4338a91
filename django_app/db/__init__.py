"""Django database backend on the per-worker pools: ``"ENGINE": "django_app.db"``.

A subclass of django-google-spanner's backend whose connections are
:func:`spanner_pools.dbapi.connect` connections on the ``SPANNER`` alias of the same name as
the ``DATABASES`` alias (or ``OPTIONS={"SPANNER_ALIAS": "..."}``). Needs
``pip install "spanner-pools[django-orm]"``. See docs/orm.md.
"""

from __future__ import annotations

#: The value of ``DATABASES[alias]["ENGINE"]`` that selects this backend.
ENGINE = "django_app.db"


def prepare_models() -> None:
    """Before models load: give auto primary keys django-google-spanner's random int64
    default for databases on this backend (its own check wants ENGINE "django_spanner").

    Called by the ``django_app`` app config; does nothing unless a database uses this backend,
    so ``django_app`` works without django-google-spanner installed.
    """
    from django.conf import settings

    databases = getattr(settings, "DATABASES", None) or {}
    if not any(
        isinstance(config, dict) and config.get("ENGINE") == ENGINE for config in databases.values()
    ):
        return
    from spanner_pools._compat.django_spanner import patch_django_autofield

    patch_django_autofield()

"""The one patch of django-google-spanner's internals, in the compatibility package.

django-google-spanner gives auto primary keys a random int64 default only for databases whose
``ENGINE`` is literally ``"django_spanner"``; :func:`patch_django_autofield` extends that to
``"django_app.db"``. It wraps ``django_spanner.autofield_init`` and reads
``RANDOM_ID_GENERATION_ENABLED_SETTING`` and ``gen_rand_int64``, none of them documented API:
checked against django-google-spanner 5.2.0 (the version ``pyproject.toml`` pins).
"""

from __future__ import annotations

from typing import Any

__all__ = ["DJANGO_ENGINE", "patch_django_autofield"]

#: The ``ENGINE`` of the backend in django_app.db, next to django-google-spanner's own.
DJANGO_ENGINE = "django_app.db"
_patched = False


def patch_django_autofield() -> None:
    """Let django-google-spanner's generated primary keys work with ``ENGINE = "django_app.db"``.

    django_spanner/__init__.py (5.2.0) replaces ``AutoField.__init__`` with a version that gives
    auto fields a random int64 default only when a database's ``ENGINE == "django_spanner"``
    literally. This wraps it: where that did not apply, the same rule is applied for databases
    using this library's backend. Idempotent; must run before models are defined (the
    ``django_app`` app config calls it).
    """
    global _patched
    if _patched:
        return
    import django.db
    import django_spanner
    from django.db.models.fields import NOT_PROVIDED, AutoField, BigAutoField, SmallAutoField

    original = django_spanner.autofield_init
    setting = django_spanner.RANDOM_ID_GENERATION_ENABLED_SETTING

    def autofield_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if self.default is not NOT_PROVIDED:
            return
        for alias, config in django.db.connections.databases.items():
            default_enabled = str(alias == django.db.DEFAULT_DB_ALIAS)
            if (
                config.get("ENGINE") == DJANGO_ENGINE
                and str(config.get(setting, default_enabled)).lower() == "true"
            ):
                self.default = django_spanner.gen_rand_int64
                self.db_returning = True
                self.validators = []
                break

    for cls in (AutoField, SmallAutoField, BigAutoField):
        cls.__init__ = autofield_init
    _patched = True

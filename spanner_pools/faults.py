"""Sorting the client's errors: an outage, a lost session, or settings the server refused.

Every place that must tell these apart (the breaker, the pools, the handle, ``open()``) asks
here, so the rules live once.
"""

from __future__ import annotations

from google.api_core import exceptions as api_exceptions

from .errors import PoolMisconfigured

__all__ = ["TRANSPORT_ERRORS", "classify_setup_error", "is_session_not_found"]

#: Errors that mean Spanner could not be reached, not that the request was wrong.
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    api_exceptions.ServiceUnavailable,
    api_exceptions.DeadlineExceeded,
    api_exceptions.RetryError,
)


def is_session_not_found(exc: BaseException, session_id: str | None = None) -> bool:
    """True for the server's "Session not found" (the session was deleted server-side).

    With ``session_id``, only when the message names that session (or names none): a
    NotFound raised by another pool's session inside a transaction is not ours to replace.
    """
    if not isinstance(exc, api_exceptions.NotFound):
        return False
    message = str(exc)
    if "Session not found" not in message:
        return False
    if session_id is None or "/sessions/" not in message:
        return True
    return f"/sessions/{session_id}" in message


def classify_setup_error(exc: BaseException) -> PoolMisconfigured | None:
    """The :class:`PoolMisconfigured` an error stands for, or None (an outage, or a bug).

    Errors that say the server answered and refused the settings, or that credentials are
    missing; "Session not found" is not one (the pool replaces the session).
    """
    from google.auth import exceptions as auth_exceptions

    message = str(exc).strip()
    if isinstance(exc, auth_exceptions.DefaultCredentialsError):
        return PoolMisconfigured(
            "no Google Cloud credentials found: set CREDENTIALS (the path of a service-account "
            f"key file), or set up Application Default Credentials ({message})",
            key="CREDENTIALS",
        )
    if isinstance(exc, auth_exceptions.RefreshError):
        return PoolMisconfigured(
            f"the credentials were refused or could not be refreshed: {message}",
            key="CREDENTIALS",
        )
    if isinstance(exc, api_exceptions.NotFound):
        if "Session not found" in message:
            return None
        lowered = message.lower()
        for word, key in (("database", "DATABASE"), ("instance", "INSTANCE")):  # noqa: B007
            if f"{word} not found" in lowered:
                return PoolMisconfigured(
                    f"{key}: Spanner says the {word} does not exist ({message})", key=key
                )
        if "project" in lowered:
            return PoolMisconfigured(
                f"PROJECT: Spanner says the project does not exist ({message})", key="PROJECT"
            )
        return PoolMisconfigured(f"Spanner says: {message}", key="DATABASE")
    if isinstance(exc, (api_exceptions.PermissionDenied, api_exceptions.Unauthenticated)):
        return PoolMisconfigured(
            "CREDENTIALS: permission denied; the credentials (or DATABASE_ROLE) are not allowed "
            f"to use this database ({message})",
            key="CREDENTIALS",
        )
    if isinstance(exc, (api_exceptions.InvalidArgument, api_exceptions.FailedPrecondition)):
        refused = "LABELS" if "label" in message.lower() else None
        where = f"{refused}: " if refused else ""
        return PoolMisconfigured(
            f"{where}Spanner refused the pool's request: {message}", key=refused
        )
    return None

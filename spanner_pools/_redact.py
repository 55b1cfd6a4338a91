"""Keeps credentials out of error messages: a value that may hold a key is described, never
shown, and not kept in ``ConfigurationError.value``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["holds_key", "not_a_path", "safe_value", "show_value"]

#: A CREDENTIALS value longer than this is not a path (a key file's JSON is about 2.3 kB).
MAX_PATH = 1024

_KEY_MARKERS = ("private_key", "-----BEGIN", "PRIVATE KEY")


def holds_key(value: Any) -> bool:
    """Whether ``value`` (a string, or a dict/list of them, e.g. a parsed key file) contains
    private key material: such a value is never rendered or kept, whatever the setting."""
    if isinstance(value, Mapping):
        return any(holds_key(k) or holds_key(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(holds_key(item) for item in value)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return isinstance(value, str) and any(marker in value for marker in _KEY_MARKERS)


def not_a_path(value: str) -> bool:
    """Whether a ``CREDENTIALS`` string looks like a key file's contents rather than its path:
    a key marker, JSON, a line break inside, or longer than any sane path."""
    text = value.strip()
    return (
        holds_key(text)
        or text.startswith("{")
        or "\n" in text
        or "\r" in text
        or len(text) > MAX_PATH
    )


def show_value(value: Any) -> str:
    """Render a bad value and its type for an error message; a value holding a key is
    described, never shown."""
    if holds_key(value):
        return f"a value of type {type(value).__name__} that looks like key contents (not shown)"
    return f"{value!r} ({type(value).__name__})"


def safe_value(value: Any) -> Any:
    """What ``ConfigurationError.value`` may keep: ``None`` for a value holding a key."""
    return None if holds_key(value) else value

"""Import pyarrow on first use, with an install hint when it is missing."""

from __future__ import annotations

from types import ModuleType

from hitloop.errors import InputError

__all__ = ["require_pyarrow"]

INSTALL_HINT = 'Parquet support needs pyarrow: pip install "hitloop[parquet]"'


def require_pyarrow() -> tuple[ModuleType, ModuleType]:
    """Return ``(pyarrow, pyarrow.parquet)`` or raise :class:`InputError` with the hint."""
    try:
        import pyarrow  # type: ignore[import-untyped,unused-ignore]
        import pyarrow.parquet  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise InputError(INSTALL_HINT) from None
    return pyarrow, pyarrow.parquet

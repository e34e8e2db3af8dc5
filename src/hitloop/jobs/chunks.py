"""Where chunked work runs: here, in this thread, or on the workers of a Dask cluster."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

__all__ = ["ChunkMapper", "DaskMapper", "LocalMapper"]

T = TypeVar("T")
R = TypeVar("R")


class ChunkMapper(Protocol):
    name: str

    def map(self, fn: Callable[[T], R], chunks: Sequence[T]) -> tuple[list[R], set[str]]:
        """The results in chunk order, and the names of the workers that computed them."""
        ...

    def close(self) -> None: ...


class LocalMapper:
    """Runs every chunk in the calling thread."""

    name = "threads"

    def map(self, fn: Callable[[T], R], chunks: Sequence[T]) -> tuple[list[R], set[str]]:
        return [fn(c) for c in chunks], {"local"}

    def close(self) -> None:
        pass


class DaskMapper:
    """Sends each chunk to a worker of the Dask distributed cluster at ``address``.

    ``fn`` and the chunks are pickled to the workers, so ``fn`` must be a
    module-level function of an installed package. The client connects on
    first use; an unreachable scheduler fails the job that needed it.
    """

    name = "dask"

    def __init__(self, address: str, *, timeout_s: float = 10.0) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self._client: Any = None

    def _connect(self) -> Any:
        if self._client is None:
            try:
                from distributed import Client
            except ImportError as exc:
                raise RuntimeError(
                    "HITLOOP_DASK_SCHEDULER is set but Dask is not installed: pip install 'hitloop[dask]'"
                ) from exc
            try:
                self._client = Client(self.address, timeout=self.timeout_s, set_as_default=False)  # type: ignore[no-untyped-call]
            except OSError as exc:
                raise RuntimeError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from None
        return self._client

    def map(self, fn: Callable[[T], R], chunks: Sequence[T]) -> tuple[list[R], set[str]]:
        if not chunks:
            return [], set()
        client = self._connect()
        futures = client.map(fn, list(chunks), pure=False)
        try:
            results: list[R] = client.gather(futures)
            workers: set[str] = set()
            for holders in client.who_has(futures).values():
                workers.update(holders)
        finally:
            client.cancel(futures)
        return results, workers

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

"""The checks after the rollback, run while the soak watches: one context manager.

They start when the rollback is over (the command exited, the state checks passed again): they
need not wait for the soak to end, and the soak watches them too (a smoke that breaks serving
relapses). Entered when the soak starts, they run on one thread; leaving the block waits for them
(bounded), so no smoke request still hits the front while staging is put back. A target that never
recovered has no soak: `problems()` then runs them at once.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, TimeoutError as FutureTimeout, wait as wait_futures

from helpers.verdict import guarded

__all__ = ["AfterRollbackChecks"]

Check = Callable[[], list[str]]


class AfterRollbackChecks:
    def __init__(self, checks: Sequence[Check], bound_s: float) -> None:
        self.checks, self.bound_s = list(checks), bound_s
        self._running: Future[list[str]] | None = None

    def _run(self) -> list[str]:
        """Each check runs even when another one raised, so the failure keeps its headline."""
        return [p for check in self.checks for p in guarded(check)]

    def __enter__(self) -> AfterRollbackChecks:
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="after-rollback-checks")
        try:
            self._running = pool.submit(self._run)
        finally:
            pool.shutdown(wait=False)  # the one job still runs; no thread is kept after it
        return self

    def __exit__(self, *exc: object) -> None:
        if self._running is not None:
            wait_futures([self._running], timeout=self.bound_s)

    def problems(self) -> list[str]:
        """Their problems: awaited (bounded) when they run alongside the soak, else run now."""
        if self._running is None:
            return self._run()
        try:
            return self._running.result(timeout=self.bound_s)
        except FutureTimeout:
            return [f"checks after the rollback (verify, performance smoke, /metrics, host) did not end "
                    f"within {self.bound_s:g}s"]

"""The event loop a run's `async def` steps share, so a client or pool made by one step's loop
stays usable by the next, and the loop is closed when the run ends.

asyncio is imported only when an async step runs: most pipelines never pay for it.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio


class StepLoop:
    """Runs coroutines to completion for one run; `close()` ends it (idempotent).

    In a thread without a running loop (a script, the CLI, a TUI worker) the coroutine runs
    right here on an `asyncio.Runner`. Where a loop is already running in this thread (the
    user called `pipeline.run()` from Jupyter), or from another thread than the first caller,
    it runs on a private loop in a helper thread; this thread waits for it. Either way the
    coroutine runs in a copy of the caller's context, so its output is captured for its step.
    """

    def __init__(self) -> None:
        self._runner: asyncio.Runner | None = None
        self._owner: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        import asyncio

        here = threading.get_ident()
        if _loop_running() or self._owner not in (None, here):
            return asyncio.run_coroutine_threadsafe(coro, self._helper_loop()).result()
        if self._runner is None:
            self._runner, self._owner = asyncio.Runner(), here
        return self._runner.run(coro)

    def close(self) -> None:
        """Cancel what the run's steps left running, shut async generators down, close."""
        runner, self._runner, self._owner = self._runner, None, None
        if runner is not None:
            runner.close()
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is not None and thread is not None:
            import asyncio

            asyncio.run_coroutine_threadsafe(_wind_down(), loop).result()
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()

    def _helper_loop(self) -> asyncio.AbstractEventLoop:
        import asyncio

        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="flowyml-tui async steps", daemon=True
                )
                # From an empty context: the helper thread belongs to no step's capture.
                contextvars.Context().run(self._thread.start)
            return self._loop


def _loop_running() -> bool:
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _wind_down() -> None:
    import asyncio

    current = asyncio.current_task()
    left = [task for task in asyncio.all_tasks() if task is not current]
    for task in left:
        task.cancel()
    await asyncio.gather(*left, return_exceptions=True)
    loop = asyncio.get_running_loop()
    await loop.shutdown_asyncgens()
    await loop.shutdown_default_executor()

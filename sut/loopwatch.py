"""Event-loop responsiveness, measured from inside the app.

A heartbeat task asks to wake every ``interval_s``; how late it wakes is the time the
loop spent unable to run anything else (a long synchronous call, a thread lock waited on
from the loop, a GC pause). A loop that stalls stalls every request and every stream at
once, while the CPU may look idle, so it is worth its own metric. Example::

    watch = LoopWatch(interval_s=0.01)
    task = asyncio.create_task(watch.run())
    ...
    assert watch.max_lag_s < 0.5
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class LoopWatch:
    """Wakes every ``interval_s`` and records how late each wake-up was."""

    def __init__(
        self, interval_s: float = 0.05, observe: Callable[[float], None] | None = None
    ) -> None:
        self.interval_s = interval_s
        self._observe = observe
        self.beats = 0
        self.max_lag_s = 0.0
        self.last_lag_s = 0.0

    def reset(self) -> None:
        """Forget the maximum (e.g. after start-up, whose seeding is allowed to be slow)."""
        self.max_lag_s = 0.0

    async def run(self) -> None:
        """Beat forever (cancel the task to stop)."""
        while True:
            asked = time.monotonic()
            await asyncio.sleep(self.interval_s)
            lag = max(0.0, time.monotonic() - asked - self.interval_s)
            self.beats += 1
            self.last_lag_s = lag
            self.max_lag_s = max(self.max_lag_s, lag)
            if self._observe is not None:
                self._observe(lag)

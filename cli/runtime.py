"""Running commands: one line for the user's mistakes, and long-lived asyncio services until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable

from shopfloor.api.settings import SettingsError
from shopfloor.models.plant import PlantFileError
from shopfloor.store.base import StoreError


def run_command(prog: str, command: Callable[[], int]) -> int:
    """``command()``'s exit code; a plant file, setting or store it cannot use ends it with one line, code 2.

    Shared by ``shopfloor`` and ``python -m shopfloor.api``: ``prog`` starts the line (``shopfloor run: …``).
    """
    try:
        return command()
    except (PlantFileError, SettingsError, StoreError) as exc:
        # Configuration and storage problems are the user's to fix: the message, not a traceback.
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def run_until_stopped(main: Callable[[asyncio.Event], Awaitable[int]]) -> int:
    """Run ``main(stop)``; SIGINT and SIGTERM set ``stop`` so it can shut down cleanly."""

    async def runner() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            return await main(stop)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    return asyncio.run(runner())

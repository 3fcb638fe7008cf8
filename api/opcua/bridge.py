"""The bridge: the OPC UA server, fed by the committed piece records of the service's database.

``Bridge(settings)`` is an async context manager (tests run it in their event loop);
:func:`run` is the companion process of ``aluloop serve --opcua-endpoint`` (``python -m api.opcua``).
"""

from __future__ import annotations

import asyncio
import logging
import os

from api.db.engine import make_engine, session_factory
from api.opcua.access import KeyUserManager
from api.opcua.records import RecordFollower, known_lines
from api.opcua.server import LineServer, build_server
from api.settings import Settings
from blending.errors import InputError

log = logging.getLogger("api.opcua")
LINES_EVERY_S = 2.0   # how often line configuration is re-read for lines that have no record yet


class Bridge:
    """Serve ``settings.opcua_endpoint``; publish every record committed after :meth:`start`, in commit order."""

    def __init__(self, settings: Settings):
        if not settings.opcua_endpoint:
            raise InputError("no OPC UA endpoint (opc.tcp://HOST:PORT) is set", field="opcua_endpoint")
        self.settings = settings
        self.engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
        self.sessions = session_factory(self.engine)
        self.follower = RecordFollower(self.sessions)
        self.lines: LineServer | None = None
        self._task: asyncio.Task | None = None
        self.published = 0

    async def start(self) -> Bridge:
        self.lines = await build_server(self.settings.opcua_endpoint,
                                        KeyUserManager(self.sessions, self.settings.opcua_anonymous),
                                        self.settings.opcua_anonymous, self.settings.opcua_certificate,
                                        self.settings.opcua_private_key)
        await asyncio.to_thread(self.follower.start_at_newest)
        await self._add_known_lines()
        await self.lines.server.start()
        self._task = asyncio.create_task(self._follow(), name="aluloop-opcua-follow")
        log.info("OPC UA server on %s", self.settings.opcua_endpoint)
        return self

    async def _add_known_lines(self) -> None:
        with self.sessions() as session:
            lines = await asyncio.to_thread(known_lines, session)
        for line in sorted(lines):
            await self.lines.add_line(line)

    async def step(self) -> int:
        """Publish what was committed since the last step; how many results."""
        results = await asyncio.to_thread(self.follower.poll)
        for result in results:
            await self.lines.publish(result)
        self.published += len(results)
        return len(results)

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        lines_at = loop.time()
        while True:
            try:
                if not await self.step():
                    await asyncio.sleep(self.settings.opcua_poll_s)   # a poll interval, not a synchronisation
                if loop.time() - lines_at > LINES_EVERY_S:
                    lines_at = loop.time()
                    await self._add_known_lines()
            except asyncio.CancelledError:
                raise
            except Exception:   # a database hiccup must not end the bridge: say so and poll again
                log.exception("OPC UA bridge: reading records failed; retrying")
                await asyncio.sleep(1.0)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self.lines:
            await self.lines.server.stop()
        self.engine.dispose()

    async def __aenter__(self) -> Bridge:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()


async def _watch_parent(parent_pid: int) -> None:
    """End when the process that started this one (``aluloop serve``) is gone."""
    while os.getppid() == parent_pid:
        await asyncio.sleep(1.0)


async def serve_until_parent_exits(settings: Settings, parent_pid: int) -> None:
    async with Bridge(settings):
        await _watch_parent(parent_pid)


def run(settings: Settings) -> None:
    """The companion process: serve until the parent exits or SIGTERM/SIGINT."""
    parent_pid = os.getppid()   # taken before the NodeSets load, so a parent that dies meanwhile is noticed
    try:
        asyncio.run(serve_until_parent_exits(settings, parent_pid))
    except KeyboardInterrupt:
        pass

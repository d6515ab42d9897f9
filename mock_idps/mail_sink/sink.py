"""`MailSink`: the SMTP server in a thread of its own, for tests.

Its own event loop in its own thread, so it serves both synchronous tests and async ones, and
keeps serving while a test's loop is blocked in a synchronous call.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from datetime import datetime
from types import TracebackType

from mock_idps.mail_sink.messages import DEFAULT_MAX_MESSAGES, Message, MessageStore, _now
from mock_idps.mail_sink.smtp import bind_smtp_socket, start_smtp

_START_SECONDS = 10.0


class MailSink:
    """An SMTP server on 127.0.0.1 that keeps what it receives.

    with MailSink() as sink:              # or sink.start() ... sink.stop()
        settings = {"smtp": {"host": sink.host, "port": sink.port, "security": "none"}}
        ...
        [message] = sink.wait_for("maija@hus.fi")
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_messages: int = DEFAULT_MAX_MESSAGES,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.host = host
        self._wanted_port = port
        self.port = 0
        """The port it listens on; known once started."""
        self.store = MessageStore(max_messages, clock)
        """The messages, shared with `create_app(sink.store)` to show them over HTTP."""
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the mail sink is already running")
        sock = bind_smtp_socket(self.host, self._wanted_port)
        self.port = sock.getsockname()[1]
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=asyncio.run,
            args=(self._serve(sock, ready, failure),),
            name=f"mail-sink-{self.port}",
            daemon=True,
        )
        self._thread.start()
        if not ready.wait(_START_SECONDS) or failure:
            self.stop()
            raise RuntimeError("the mail sink did not start") from (failure[0] if failure else None)

    async def _serve(
        self, sock: socket.socket, ready: threading.Event, failure: list[BaseException]
    ) -> None:
        try:
            server = await start_smtp(self.store, sock)
        except Exception as exc:  # handed to start(), which raises it in the caller's thread
            failure.append(exc)
            sock.close()
            ready.set()
            return
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        ready.set()
        async with server:
            await self._stopping.wait()

    def stop(self) -> None:
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)
        thread.join(_START_SECONDS)
        self._thread = self._loop = self._stopping = None

    def __enter__(self) -> MailSink:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def messages(self, to: str | None = None) -> list[Message]:
        """Oldest first; only those to `to` (case-insensitive) when given."""
        return self.store.messages(to)

    def wait_for(self, to: str, timeout: float = 5.0, count: int = 1) -> list[Message]:
        """The messages to `to` once there are at least `count`; TimeoutError otherwise."""
        return self.store.wait_for(to, timeout, count)

    def clear(self) -> None:
        self.store.clear()

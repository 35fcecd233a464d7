"""Limits on what a connection may send before its request starts: uvicorn's httptools protocol with a cap
on the request head and a deadline for it. `tracuu serve` names this class (`http=HTTP_PROTOCOL`).

httptools keeps any header that has not ended yet in memory, with no limit, and uvicorn only times out
idle keep-alive connections: one client streaming a header that never ends grew the server by 400 MB,
and a socket that sent half a request line was still open 40 s later. Here:
- a request line plus headers longer than MAX_HEAD_BYTES is answered 431 and the connection closed;
- a request head not complete HEAD_TIMEOUT_S after the connection opened (or after its first byte, on
  a kept-alive connection) is answered 408 and closed; a connection that sent nothing is just closed.
The refusal is written, the rest of what the client sends is read and dropped for a moment
(LINGER_S, so it sees the answer rather than a reset), then the connection is closed.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HTTP_PROTOCOL = "server.limits:GuardedHttpProtocol"  # uvicorn.run(..., http=HTTP_PROTOCOL)
MAX_HEAD_BYTES = 64 * 1024  # a query of 1,000 characters, percent-encoded, is at most 12 kB
HEAD_TIMEOUT_S = 5.0
LINGER_S = 1.0

REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}
MESSAGES = {408: "Yêu cầu đến quá chậm: phần đầu của yêu cầu phải đến trong vài giây.",
            431: "Phần đầu của yêu cầu quá lớn."}


class GuardedHttpProtocol(HttpToolsProtocol):
    max_head_bytes = MAX_HEAD_BYTES
    head_timeout_s = HEAD_TIMEOUT_S

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.head_bytes = 0
        self.reading_head = False
        self.head_timer: asyncio.TimerHandle | None = None
        self.refused = False

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._start_head()

    def connection_lost(self, exc) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return  # read and dropped until the connection closes
        super().data_received(data)
        if self.reading_head and not self.transport.is_closing():
            self.head_bytes += len(data)
            if self.head_bytes > self.max_head_bytes:
                self._refuse(431)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self.reading_head:  # the next request on a kept-alive connection
            self._start_head()

    def on_headers_complete(self) -> None:
        self.reading_head = False
        self._stop_head_timer()
        super().on_headers_complete()

    def _start_head(self) -> None:
        self.reading_head = True
        self.head_bytes = 0
        self._stop_head_timer()
        self.head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_timed_out(self) -> None:
        self.head_timer = None
        if not self.reading_head or self.transport.is_closing():
            return
        if self.head_bytes == 0:
            self.transport.close()  # opened and never used (a browser's spare connection): no answer due
        else:
            self._refuse(408)

    def _refuse(self, status: int) -> None:
        self.refused = True
        self.reading_head = False
        self._stop_head_timer()
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # a pipelined request is still being answered: no room for a second answer
            return
        self._unset_keepalive_if_required()
        body = MESSAGES[status].encode()
        head = [b"HTTP/1.1 %d %s\r\n" % (status, REASONS[status])]
        head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        head += [b"content-type: text/plain; charset=utf-8\r\n", b"content-length: %d\r\n" % len(body),
                 b"x-content-type-options: nosniff\r\n", b"connection: close\r\n", b"\r\n"]
        self.transport.write(b"".join(head) + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_S, self._close)

    def _close(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

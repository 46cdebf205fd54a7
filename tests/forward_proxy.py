"""A real HTTP forward proxy on 127.0.0.1 for proxy tests: it reads an absolute-form
request (`GET http://host:port/path HTTP/1.1`), checks Basic credentials when it has some,
forwards the request to the target and pipes the answer back. `requests` counts what it
forwarded, so a test sees that a check went through the proxy and not around it."""
from __future__ import annotations

import asyncio
import base64
from urllib.parse import urlsplit


class ForwardProxy:
    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        self._credentials = None
        if username is not None:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self._credentials = f"Basic {token}"
        self.requests: list[str] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> "ForwardProxy":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *header_lines = head.split("\r\n")
            method, url, version = request_line.split(" ")
            headers = dict(line.split(": ", 1) for line in header_lines if ": " in line)
            if self._credentials and headers.get("Proxy-Authorization") != self._credentials:
                writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
                return
            self.requests.append(url)
            target = urlsplit(url)
            up_reader, up_writer = await asyncio.open_connection(target.hostname, target.port or 80)
            kept = [f"{k}: {v}" for k, v in headers.items() if not k.lower().startswith("proxy-")]
            path = target.path or "/"
            if target.query:
                path += "?" + target.query
            up_writer.write(("\r\n".join([f"{method} {path} {version}", *kept, "Connection: close", "", ""]))
                            .encode("latin-1"))
            writer.write(await up_reader.read())
            up_writer.close()
        finally:
            await writer.drain()
            writer.close()

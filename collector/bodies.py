"""Request bodies with limits: a size cap before and after gzip, so no upload exhausts memory.

FastAPI's documented way to accept compressed bodies is a custom ``APIRoute`` whose request
class decodes them (https://fastapi.tiangolo.com/how-to/custom-request-and-route/); this one also
counts bytes while reading, so a lying Content-Length or a gzip bomb ends in 413, not in swap.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

GZIP_WBITS = 16 + zlib.MAX_WBITS


def too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"request body larger than {limit} bytes; send smaller batches")


class LimitedRequest(Request):
    """A request whose ``body()`` is capped at ``limit`` bytes and gunzipped when marked so."""

    limit: int = 8_000_000

    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            declared = self.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.limit:
                raise too_large(self.limit)
            chunks: list[bytes] = []
            size = 0
            async for chunk in self.stream():
                size += len(chunk)
                if size > self.limit:
                    raise too_large(self.limit)
                chunks.append(chunk)
            raw = b"".join(chunks)
            self._body = self._decode(raw)
        return self._body

    def _decode(self, raw: bytes) -> bytes:
        encoding = self.headers.get("content-encoding", "identity").strip().lower()
        if encoding in {"", "identity"}:
            return raw
        if encoding != "gzip":
            raise HTTPException(415, f"Content-Encoding {encoding!r} not supported; use gzip")
        inflater = zlib.decompressobj(GZIP_WBITS)
        try:
            data = inflater.decompress(raw, self.limit + 1)
        except zlib.error as exc:
            raise HTTPException(400, f"body is not valid gzip: {exc}") from None
        if len(data) > self.limit or inflater.unconsumed_tail:
            raise too_large(self.limit)
        if not inflater.eof:
            raise HTTPException(400, "body is not valid gzip: truncated stream")
        if inflater.unused_data:
            raise HTTPException(
                400, "body is not valid gzip: bytes after the end of the stream; send one member"
            )
        return data


def limited_route(limit: int) -> type[APIRoute]:
    """An APIRoute class whose requests are LimitedRequest with the given byte limit."""

    request_class = type("LimitedRequestN", (LimitedRequest,), {"limit": limit})

    class LimitedRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def limited_handler(request: Request) -> Response:
                return await handler(request_class(request.scope, request.receive))

            return limited_handler

    return LimitedRoute

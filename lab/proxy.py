"""The ISP's transparent proxy for hijacked names (run in the isp namespace; dns-proxy).

The resolver answers the proxy's address for a hijacked name (OONI's dnsHijackingToProxy cases).
On 443 the proxy reads the SNI from the ClientHello and relays the bytes untouched to the site's
real address, so TLS still validates end to end; on 80 it either relays by Host, or answers a
200 notice page of its own (``--notice NAME``). Usage: ``python -m lab.proxy --listen ADDR
--site NAME=ADDRESS [...] [--notice NAME ...] --ready FILE``.
"""

from __future__ import annotations

import argparse
import asyncio
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path

from lab.mitm import pipe
from lab.services import NOTICE_HTML

HELLO_LIMIT = 16_384
CONNECT_TIMEOUT = 5.0


def server_name(hello: bytes) -> str | None:
    """The SNI host name of a TLS ClientHello record, or None (incomplete or absent)."""
    try:
        if hello[0] != 0x16 or hello[5] != 0x01:
            return None
        at = 5 + 4 + 2 + 32  # record header, handshake header, version, random
        at += 1 + hello[at]  # session id
        (suites,) = struct.unpack_from("!H", hello, at)
        at += 2 + suites
        at += 1 + hello[at]  # compression methods
        (ext_total,) = struct.unpack_from("!H", hello, at)
        at += 2
        end = at + ext_total
        while at + 4 <= end:
            kind, length = struct.unpack_from("!HH", hello, at)
            at += 4
            if kind == 0:  # server_name: list length, type 0 (host_name), name length, name
                (name_length,) = struct.unpack_from("!H", hello, at + 3)
                return hello[at + 5 : at + 5 + name_length].decode("ascii").lower()
            at += length
    except (IndexError, struct.error, UnicodeDecodeError):
        return None
    return None


def host_header(head: bytes) -> str | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"host":
            return value.strip().decode("ascii", errors="replace").split(":")[0].lower()
    return None


class Proxy:
    def __init__(self, sites: Mapping[str, str], notice: Sequence[str]) -> None:
        self.sites = {name.lower(): address for name, address in sites.items()}
        self.notice = {name.lower() for name in notice}

    async def relay(
        self,
        first: bytes,
        address: str,
        port: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(address, port), CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError):
            writer.close()
            return
        up_writer.write(first)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def serve_tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hello = b""
        name = None
        while name is None and len(hello) < HELLO_LIMIT:
            chunk = await reader.read(4096)
            if not chunk:
                break
            hello += chunk
            name = server_name(hello)
        address = self.sites.get(name or "")
        if address is None:
            writer.close()  # a name this proxy was not set up for
            return
        await self.relay(hello, address, 443, reader, writer)

    async def serve_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < HELLO_LIMIT:
            chunk = await reader.read(4096)
            if not chunk:
                break
            head += chunk
        name = host_header(head) or ""
        if name in self.notice:
            body = NOTICE_HTML.encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            writer.close()
            return
        address = self.sites.get(name)
        if address is None:
            writer.close()
            return
        await self.relay(head, address, 80, reader, writer)


async def run(proxy: Proxy, listen: str, ready: Path | None) -> None:
    tls = await asyncio.start_server(proxy.serve_tls, listen, 443)
    http = await asyncio.start_server(proxy.serve_http, listen, 80)
    if ready:
        ready.write_text("ready\n", encoding="utf-8")
    async with tls, http:
        await asyncio.gather(tls.serve_forever(), http.serve_forever())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.proxy")
    parser.add_argument("--listen", required=True)
    parser.add_argument("--site", action="append", default=[], metavar="NAME=ADDRESS")
    parser.add_argument("--notice", action="append", default=[], metavar="NAME")
    parser.add_argument("--ready", type=Path)
    args = parser.parse_args(argv)
    sites = dict(item.split("=", 1) for item in args.site)
    asyncio.run(run(Proxy(sites, args.notice), args.listen, args.ready))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Transparent TLS interception (run in the isp namespace), the way Kazakhstan did it in 2019.

nftables redirects the vantage's port 443 here; this proxy reads the SNI, presents a certificate
minted on the fly by the "national" CA, and relays to the real server (the original destination,
from SO_ORIGINAL_DST). Usage: ``python -m lab.mitm --port 8443 --ca PEM --ca-key KEY
--leaf-key KEY --ready FILE``.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import ssl
import struct
import tempfile
from collections.abc import Sequence
from pathlib import Path

from lab.pki import Authority, cert_pem, private_pem

SO_ORIGINAL_DST = 80


class Interceptor:
    def __init__(self, authority: Authority, workdir: Path) -> None:
        self.authority = authority
        self.workdir = workdir
        self.contexts: dict[str, ssl.SSLContext] = {}
        key = workdir / "leaf.key"
        key.write_bytes(private_pem(authority.leaf_key))
        self.key = key
        self.default = self.context_for("intercepted.invalid")

    def context_for(self, name: str) -> ssl.SSLContext:
        if name not in self.contexts:
            chain = self.workdir / f"{len(self.contexts)}.pem"
            chain.write_bytes(
                cert_pem(self.authority.issue([name])) + cert_pem(self.authority.cert)
            )
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(chain, self.key)
            context.sni_callback = self.on_sni
            self.contexts[name] = context
        return self.contexts[name]

    def on_sni(self, sock: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
        sock.context = self.context_for(name or "intercepted.invalid")

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raw: socket.socket = writer.get_extra_info("socket")
        data = raw.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
        port, packed = struct.unpack("!2xH4s8x", data)
        address = socket.inet_ntoa(packed)
        tls: ssl.SSLObject | None = writer.get_extra_info("ssl_object")
        name = (tls.server_hostname if tls else None) or address
        upstream = ssl.create_default_context()
        upstream.check_hostname = False
        upstream.verify_mode = ssl.CERT_NONE  # the censor does not care who it relays to
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(address, port, ssl=upstream, server_hostname=name), 10
            )
        except (OSError, TimeoutError):
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (OSError, ssl.SSLError):
        pass  # either side went away: the relay simply ends
    finally:
        writer.close()


async def run(port: int, authority: Authority, ready: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="tyndau-mitm-") as tmp:
        interceptor = Interceptor(authority, Path(tmp))
        server = await asyncio.start_server(
            interceptor.serve,
            "0.0.0.0",  # noqa: S104 - inside the isp namespace, reached only by nft redirect
            port,
            ssl=interceptor.default,
        )
        if ready:
            ready.write_text("ready\n", encoding="utf-8")
        async with server:
            await server.serve_forever()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.mitm")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ca", type=Path, required=True)
    parser.add_argument("--ca-key", type=Path, required=True)
    parser.add_argument("--leaf-key", type=Path, required=True)
    parser.add_argument("--ready", type=Path)
    args = parser.parse_args(argv)
    authority = Authority.load(args.ca, args.ca_key, args.leaf_key)
    asyncio.run(run(args.port, authority, args.ready))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

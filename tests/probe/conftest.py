"""Real servers on 127.0.0.1 for the probe's I/O tests: unbound, TLS and HTTP servers that
behave well or badly (reset, silence, garbage, endless headers, huge bodies), and a test PKI.

Every server binds an ephemeral port on 127.0.0.1 and is stopped by its fixture, pass or fail.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.processes import stop

Handler = Callable[[socket.socket], None]

UNBOUND_CONF = """
server:
  interface: 127.0.0.1
  port: {port}
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "{dir}"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 0
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  outbound-msg-retry: 1
  local-zone: "test." nodefault
  local-zone: "tyndau.test." static
  local-data: "ok.tyndau.test. A 127.0.0.1"
  local-data: "control.tyndau.test. A 127.0.0.1"
  local-data: "dual.tyndau.test. A 127.0.0.1"
  local-data: "dual.tyndau.test. AAAA ::1"
  local-data: "bogon.tyndau.test. A 10.10.34.35"
  local-data: "redirect.tyndau.test. A 198.18.9.80"
  local-zone: "refused.test." always_refuse
  local-zone: "deny.test." deny
# everything else goes to a closed local port: SERVFAIL, and never a packet to the internet
stub-zone:
  name: "."
  stub-addr: 127.0.0.1@9
remote-control:
  control-enable: no
"""


@pytest.fixture(scope="session")
def unbound(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real unbound on 127.0.0.1 with local data for *.tyndau.test; yields its port."""
    binary = shutil.which("unbound") or "/usr/sbin/unbound"
    if not Path(binary).exists():
        pytest.skip("unbound is not installed: apt-get install unbound (CI has it)")
    directory = tmp_path_factory.mktemp("unbound")
    port = free_port(socket.SOCK_DGRAM)
    conf = directory / "unbound.conf"
    conf.write_text(UNBOUND_CONF.format(port=port, dir=directory))
    proc = subprocess.Popen([binary, "-d", "-c", str(conf)], stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_dns(port, proc)
        yield port
    finally:
        stop(proc)


def _wait_for_dns(port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"unbound exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("unbound did not start in 10 s")


@dataclass(frozen=True)
class Pki:
    """A test CA, a leaf for the test names, and a 'national' CA that intercepts."""

    ca_pem: Path
    leaf_cert: Path
    leaf_key: Path
    national_ca_pem: Path
    national_cert: Path
    national_key: Path


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Certificates minted by the lab's own CA code (lab/pki.py), for loopback servers."""
    pytest.importorskip("cryptography.x509", reason="cryptography (lab extra) is needed")
    from lab.pki import Authority, cert_pem, private_pem

    directory = tmp_path_factory.mktemp("pki")
    names = ("ok.tyndau.test", "control.tyndau.test", "*.tyndau.test", "localhost", "127.0.0.1")
    paths: dict[str, tuple[Path, Path, Path]] = {}
    for stem, authority in (
        ("ca", Authority.create("tyndau test root")),
        ("national", Authority.create("Qaznet Trust Network (tyndau lab)")),
    ):
        root, _, _ = authority.write(directory, stem)
        leaf_cert, leaf_key = directory / f"{stem}-leaf.pem", directory / f"{stem}-leaf.key"
        leaf_cert.write_bytes(cert_pem(authority.issue(names)))
        leaf_key.write_bytes(private_pem(authority.leaf_key))
        paths[stem] = (root, leaf_cert, leaf_key)
    (ca, leaf_cert, leaf_key), (national, nat_cert, nat_key) = paths["ca"], paths["national"]
    return Pki(ca, leaf_cert, leaf_key, national, nat_cert, nat_key)


class TcpServer:
    """Accepts on 127.0.0.1:<ephemeral> and runs ``handler`` per connection in a thread."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handler(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        self.thread.join(timeout=2)


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], TcpServer]]:
    """Factory: ``serve(handler)`` starts a server; all are closed at teardown."""
    servers: list[TcpServer] = []

    def start(handler: Handler) -> TcpServer:
        server = TcpServer(handler)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def read_request(conn: socket.socket) -> bytes:
    data = b""
    conn.settimeout(5)
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def page(body: bytes, *, status: str = "200 OK", headers: str = "") -> Handler:
    def handle(conn: socket.socket) -> None:
        read_request(conn)
        head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n"
        head += f"Connection: close\r\n{headers}\r\n"
        conn.sendall(head.encode() + body)

    return handle


def reset(conn: socket.socket) -> None:
    """Abortive close: SO_LINGER 0 makes the kernel send RST."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def silent(conn: socket.socket) -> None:
    """Accept and never answer (a blackhole after the handshake)."""
    conn.settimeout(30)
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass


def tls_wrapped(
    inner: Handler, cert: Path, key: Path, *, reset_on_sni: bytes | None = None
) -> Handler:
    """Serve ``inner`` over TLS; when the ClientHello names ``reset_on_sni``, reset instead
    (what an SNI-filtering middlebox does)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def handle(conn: socket.socket) -> None:
        conn.settimeout(5)
        if reset_on_sni is not None:
            hello = conn.recv(4096, socket.MSG_PEEK)
            if reset_on_sni in hello:
                reset(conn)
                return
        try:
            with context.wrap_socket(conn, server_side=True) as tls_conn:
                inner(tls_conn)
        except (ssl.SSLError, OSError):
            return

    return handle


@dataclass(frozen=True)
class Kit:
    """The handlers above, as a fixture (test modules cannot import conftest in importlib mode)."""

    page: Callable[..., Handler] = page
    reset: Handler = reset
    silent: Handler = silent
    tls_wrapped: Callable[..., Handler] = tls_wrapped
    read_request: Callable[[socket.socket], bytes] = read_request
    free_port: Callable[..., int] = free_port


@pytest.fixture(scope="session")
def kit() -> Kit:
    return Kit()


@pytest.fixture
def forging_resolver() -> Iterator[Callable[..., int]]:
    """Start forging DNS servers (``forging_resolver("198.18.9.80")`` -> port); all are stopped
    when the test ends."""
    with ExitStack() as stack:
        yield lambda *addresses: stack.enter_context(_forging_server(*addresses))


@contextmanager
def _forging_server(*addresses: str) -> Iterator[int]:
    """A UDP DNS server on loopback answering each A query once per address, in order (one
    address: an on-path injector; two: a race of a forged and a real answer). Yields its port."""
    import dns.message
    import dns.rrset

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            query = dns.message.from_wire(data)
            for address in addresses:
                response = dns.message.make_response(query)
                if query.question[0].rdtype == 1:
                    response.answer.append(
                        dns.rrset.from_text(query.question[0].name, 60, "IN", "A", address)
                    )
                sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2)
        sock.close()

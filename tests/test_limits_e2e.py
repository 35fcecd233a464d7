"""The real server against clients that never finish their request: raw sockets to `tracuu serve`.

A request head (request line and headers) may be at most 64 kB and must arrive within 5 s
(server/limits.py); past either, the server answers 431 or 408 and closes, without growing, while it
goes on answering everyone else."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from tests.conftest import start_server

DEADLINE_S = 8.0  # the server's head timeout is 5 s


@pytest.fixture(scope="module")
def server(seed_index):
    url, proc = start_server(seed_index)
    yield url, proc
    proc.terminate()
    proc.wait(timeout=20)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        return next(int(line.split()[1]) / 1024 for line in handle if line.startswith("VmRSS:"))


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=DEADLINE_S + 5)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def test_a_32_mb_header_is_refused_and_the_server_does_not_grow(server):
    url, proc = server
    before = rss_mb(proc.pid)
    sock = connect(url)
    sent = 0

    def stream():
        nonlocal sent
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: ")
            chunk = b"a" * 65536
            for _ in range(512):  # 32 MB of one header that never ends
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the server closed the connection: expected

    sender = threading.Thread(target=stream)
    sender.start()
    answer = read_until_closed(sock)
    sender.join(timeout=30)
    sock.close()
    assert answer.split(b"\r\n")[0] in (b"HTTP/1.1 431 Request Header Fields Too Large", b"HTTP/1.1 400 Bad Request")
    assert rss_mb(proc.pid) - before < 50
    assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200


def test_a_header_just_under_the_cap_is_served(server):
    url, _ = server
    r = httpx.get(f"{url}/healthz", headers={"X-Long": "a" * 60_000})
    assert r.status_code == 200


def test_a_half_sent_request_line_is_closed_within_seconds(server):
    url, _ = server
    sock = connect(url)
    sock.sendall(b"GET /healthz HT")
    started = time.monotonic()
    answer = read_until_closed(sock)
    assert time.monotonic() - started < DEADLINE_S
    assert answer.startswith(b"HTTP/1.1 408")


def test_headers_dripping_in_forever_are_cut_off(server):
    url, _ = server
    sock = connect(url)
    started = time.monotonic()
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        while time.monotonic() - started < DEADLINE_S + 5:
            sock.sendall(b"X-Drip: 1\r\n")
            time.sleep(0.25)
    except OSError:
        pass
    assert time.monotonic() - started < DEADLINE_S + 1
    assert read_until_closed(sock).startswith(b"HTTP/1.1 408")


def test_a_connection_that_sends_nothing_is_closed(server):
    url, _ = server
    sock = connect(url)
    started = time.monotonic()
    assert read_until_closed(sock) == b""
    assert time.monotonic() - started < DEADLINE_S


def test_others_are_served_while_many_sockets_stall(server):
    url, _ = server
    stalled = [connect(url) for _ in range(40)]
    for sock in stalled:
        sock.sendall(b"GET /api/search?q=th")
    started = time.monotonic()
    for _ in range(5):
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    assert time.monotonic() - started < 2.0
    for sock in stalled:
        assert read_until_closed(sock).startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < DEADLINE_S + 2
    r = httpx.get(f"{url}/api/search", params={"q": "Tỉnh Bình Thuận có bao nhiêu dân?", "k": 1}, timeout=10)
    assert r.status_code == 200 and r.json()["results"]

"""A real `tracuu serve` in its own process on a free loopback port, for studies and tests alike."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

TRACUU = Path(sys.executable).parent / "tracuu"  # the installed command, as a user runs it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command: list[str], port: int, ready: str = "/healthz", timeout_s: float = 180, poll_s: float = 0.3,
          **popen) -> subprocess.Popen:
    """Run `command` (a server on `port`) and return once GET `ready` answers 200. A server that exits
    or stays silent for timeout_s raises RuntimeError with the end of its stderr."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, **popen)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"tracuu serve exited: {proc.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(poll_s)
    proc.kill()
    raise RuntimeError(f"tracuu serve did not answer within {timeout_s:.0f} s")


def serve(index_dir: Path, port: int, **options) -> subprocess.Popen:
    """`tracuu serve --index index_dir --port port`, answering (options as for start)."""
    return start([str(TRACUU), "serve", "--index", str(index_dir), "--port", str(port)], port, **options)

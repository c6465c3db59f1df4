"""Wait until a SIP server on 127.0.0.1 answers OPTIONS over UDP with 200.

Importable, and runnable as a script (``python options_probe.py PORT TIMEOUT``) so that the
probe can run inside another network namespace (``nsenter --net=... python ...``).
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable

OPTIONS = ("OPTIONS sip:127.0.0.1 SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKprobe{n};rport\r\n"
           "From: <sip:probe@127.0.0.1>;tag=probe\r\nTo: <sip:127.0.0.1>\r\n"
           "Call-ID: probe-{n}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
           "Content-Length: 0\r\n\r\n")


def wait_for_options(port: int, timeout: float,
                     alive: Callable[[], bool] = lambda: True) -> bool:
    """True once 127.0.0.1:``port`` answers 200; False on timeout or when ``alive()`` fails."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.2)
        own = sock.getsockname()[1]
        n = 0
        while time.monotonic() < deadline and alive():
            n += 1
            sock.sendto(OPTIONS.format(port=own, n=n).encode(), ("127.0.0.1", port))
            try:
                data, _ = sock.recvfrom(65536)
            except OSError:  # timeout, or ICMP port unreachable before the engine binds
                time.sleep(0.05)
                continue
            if data.startswith(b"SIP/2.0 200"):
                return True
    return False


if __name__ == "__main__":
    sys.exit(0 if wait_for_options(int(sys.argv[1]), float(sys.argv[2])) else 1)

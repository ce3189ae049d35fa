"""When did these bytes reach this machine? Kernel receive timestamps, so the generator can tell
its own delay from everything before it.

With ``SO_TIMESTAMPNS`` set on a socket, Linux stamps each arriving segment with the time it
was queued on the socket, and ``recvmsg`` hands the stamp over with the data. The time between
that stamp and the moment the generator has read the response is the generator's own delay for
that response, exactly: its hub busy elsewhere, or its process waiting for a CPU. (A sampling
probe sees the hub only at its own instants; responses arrive in bursts, and a burst is what
keeps the hub busy.) Elsewhere, or on a TLS socket, there is no stamp and callers say so.

    if stamps.enable(sock):
        data, arrived = stamps.recv(sock, 65536)
"""

from __future__ import annotations

import platform
import socket
import struct
import sys
from typing import Any

# the option's number where struct timespec is two 64-bit fields (asm-generic; not exposed by
# Python's socket module)
SO_TIMESTAMPNS: int | None = (
    35
    if sys.platform.startswith("linux")
    and platform.machine() in ("x86_64", "aarch64", "arm64", "ppc64le", "s390x", "riscv64")
    else None
)
_TIMESPEC = struct.Struct("qq")
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size) if hasattr(socket, "CMSG_SPACE") else 0


def enable(sock: Any) -> bool:
    """Ask the kernel to stamp what arrives on ``sock``; False where it cannot."""
    if SO_TIMESTAMPNS is None or not hasattr(sock, "recvmsg"):
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def arrival(ancdata: list[tuple[int, int, bytes]]) -> float | None:
    """The receive stamp (epoch seconds) in ``recvmsg``'s ancillary data, if any.

    >>> arrival([(socket.SOL_SOCKET, 35, _TIMESPEC.pack(1_800_000_000, 500_000_000))])
    1800000000.5
    """
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            sec, nsec = _TIMESPEC.unpack_from(data)
            return float(sec + nsec / 1e9)
    return None


def recv(sock: Any, size: int) -> tuple[bytes, float | None]:
    """Up to ``size`` bytes from a stamped socket, and when the latest of them arrived."""
    data, ancdata, _flags, _address = sock.recvmsg(size, _ANCILLARY)
    return data, arrival(ancdata)

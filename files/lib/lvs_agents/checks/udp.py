# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""UDP checks: send ``send`` (an empty datagram without one) and require a reply, with the
same ``expect`` semantics as TCP (no ``expect``: any reply). Rare: one task each."""

from __future__ import annotations

import asyncio
import socket

from .probe import ProbeState, matcher, new_socket
from .spec import READ_LIMIT, CheckSpec


async def udp_check(spec: CheckSpec, loop: asyncio.AbstractEventLoop, state: ProbeState) -> str:
    sock = new_socket(spec.address, socket.SOCK_DGRAM)
    try:
        sock.connect((spec.address, spec.port))  # UDP: no handshake, never blocks
        state.phase = "send"
        await loop.sock_sendall(sock, spec.send or b"")
        state.phase = "read"
        reply = await loop.sock_recv(sock, READ_LIMIT)
        if spec.expect is None:
            return "ok"
        return matcher(spec)(reply, True) or "ok"
    finally:
        sock.close()

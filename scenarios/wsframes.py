"""Server-to-client WebSocket frames (RFC 6455), parsed from whatever the socket held.

The odds watcher reads its stream itself rather than through websocket-client's ``recv``: one
read takes every frame that arrived together (websocket-client reads a frame's header and body
with separate calls), and it comes with the kernel's receive stamp (:mod:`scenarios.stamps`),
so each message's wait for the generator is known. websocket-client still makes the handshake
and sends (client frames must be masked). Pure: no socket here.

>>> reader = FrameReader()
>>> reader.feed(b"\\x81\\x02hi\\x89\\x00")
[(1, b'hi'), (9, b'')]
"""

from __future__ import annotations

OP_CONTINUATION, OP_TEXT, OP_BINARY = 0, 1, 2
OP_CLOSE, OP_PING, OP_PONG = 8, 9, 10
MAX_MESSAGE = 1 << 20  # the SUT's frames are a few hundred bytes; anything near this is a fault


class FrameError(ValueError):
    """The bytes break the protocol (or a limit): the connection cannot go on."""


class FrameReader:
    """Feeds on bytes; returns each message when it is whole (data messages reassembled from
    their fragments, control frames as they come) as ``(opcode, payload)``."""

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self.buffer = bytearray()
        self.max_message = max_message
        self.opcode: int | None = None  # of the data message being reassembled
        self.parts: list[bytes] = []
        self.size = 0

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self.buffer += data
        out: list[tuple[int, bytes]] = []
        while (frame := self._frame()) is not None:
            fin, opcode, payload = frame
            if opcode >= OP_CLOSE:
                if opcode not in (OP_CLOSE, OP_PING, OP_PONG):
                    raise FrameError(f"unknown control opcode {opcode}")
                if not fin or len(payload) > 125:
                    raise FrameError("a control frame must be whole and at most 125 bytes")
                out.append((opcode, payload))
                continue
            if opcode == OP_CONTINUATION:
                if self.opcode is None:
                    raise FrameError("a continuation frame without a message to continue")
            elif opcode in (OP_TEXT, OP_BINARY):
                if self.opcode is not None:
                    raise FrameError("a new message began before the last one ended")
                self.opcode, self.parts, self.size = opcode, [], 0
            else:
                raise FrameError(f"unknown data opcode {opcode}")
            self.parts.append(payload)
            self.size += len(payload)
            if self.size > self.max_message:
                raise FrameError(f"a message over {self.max_message} bytes")
            if fin:
                assert self.opcode is not None
                out.append((self.opcode, b"".join(self.parts)))
                self.opcode, self.parts, self.size = None, [], 0
        return out

    def _frame(self) -> tuple[bool, int, bytes] | None:
        buf = self.buffer
        if len(buf) < 2:
            return None
        first, second = buf[0], buf[1]
        if first & 0x70:
            raise FrameError("reserved bits set, though no extension was agreed")
        length, at = second & 0x7F, 2
        if length == 126:
            if len(buf) < 4:
                return None
            length, at = int.from_bytes(buf[2:4], "big"), 4
        elif length == 127:
            if len(buf) < 10:
                return None
            length, at = int.from_bytes(buf[2:10], "big"), 10
        if length > self.max_message:
            raise FrameError(f"a frame of {length} bytes, over {self.max_message}")
        mask = None
        if second & 0x80:  # servers do not mask; accept it anyway
            if len(buf) < at + 4:
                return None
            mask, at = bytes(buf[at : at + 4]), at + 4
        if len(buf) < at + length:
            return None
        payload = bytes(buf[at : at + length])
        del buf[: at + length]
        if mask is not None:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return bool(first & 0x80), first & 0x0F, payload

"""Server-sent events, sans I/O: bytes in, events out.

Nothing here touches the network or prints. The sync and async clients wrap
these classes in ``for`` and ``async for`` loops respectively.

Lines are split on bytes and decoded only when whole, so a multi-byte
character split across two network reads comes out intact.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServerSentEvent:
    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Feed raw bytes, get complete events. Handles LF, CRLF and CR line ends."""

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        self._buf += chunk
        events: list[ServerSentEvent] = []
        while True:
            line, sep_len = self._next_line()
            if line is None:
                break
            self._buf = self._buf[len(line) + sep_len :]
            ev = self._line(line.decode("utf-8", "replace"))
            if ev is not None:
                events.append(ev)
        return events

    def flush(self) -> list[ServerSentEvent]:
        """End of stream: a last event not followed by a blank line still counts."""
        events: list[ServerSentEvent] = []
        if self._buf:
            ev = self._line(self._buf.decode("utf-8", "replace"))
            self._buf = b""
            if ev is not None:
                events.append(ev)
        ev = self._dispatch()
        if ev is not None:
            events.append(ev)
        return events

    def _next_line(self) -> tuple[bytes | None, int]:
        buf = self._buf
        lf = buf.find(b"\n")
        cr = buf.find(b"\r")
        if cr == -1 and lf == -1:
            return None, 0
        if cr != -1 and (lf == -1 or cr < lf):
            if cr == len(buf) - 1:
                return None, 0  # a CR at the end may be half of a CRLF: wait
            if buf[cr + 1 : cr + 2] == b"\n":
                return buf[:cr], 2
            return buf[:cr], 1
        return buf[:lf], 1

    def _line(self, line: str) -> ServerSentEvent | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None  # comment / keep-alive
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._data and self._event is None:
            self._id = self._retry = None
            return None
        ev = ServerSentEvent("\n".join(self._data), self._event, self._id, self._retry)
        self._data, self._event, self._id, self._retry = [], None, None, None
        return ev


class DeltaNormalizer:
    """Turns cumulative text into deltas.

    Some OpenAI-compatible servers repeat the whole answer so far in each
    ``delta.content``; a piece that starts with everything received and is longer
    is reduced to its new suffix, and from then on the stream counts as
    cumulative. A piece that merely equals the text so far is a real delta
    ("1" then "1" is "11") until the stream has shown itself cumulative, when it
    adds nothing.
    """

    def __init__(self) -> None:
        self.text = ""
        self.cumulative = False

    def feed(self, piece: str) -> str:
        t = self.text
        if t and piece.startswith(t) and (len(piece) > len(t) or self.cumulative):
            self.cumulative = True
            piece = piece[len(t) :]
        self.text += piece
        return piece

"""Server-sent events, sans I/O: bytes in, events out.

Nothing here touches the network or prints. The sync and async clients wrap
these classes in ``for`` and ``async for`` loops respectively.

Lines are split on bytes and decoded only when whole, so a multi-byte
character split across two network reads comes out intact.
"""

from __future__ import annotations

from qwen_cli.structs import struct


@struct(frozen=True)
class ServerSentEvent:
    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None


# One event larger than this is not an answer: stop reading rather than hold it all in memory.
MAX_EVENT_BYTES = 8 << 20


class EventTooLargeError(ValueError):
    """One event (or one line) grew past the decoder's ``max_event`` bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"one event was larger than {limit >> 20} MiB")
        self.limit = limit


class SSEDecoder:
    """Feed raw bytes, get complete events. Handles LF, CRLF and CR line ends.

    Linear in the bytes fed: each chunk is scanned once and an unfinished line is kept as a
    list of pieces, never re-scanned or re-copied. An event (its data lines plus an
    unfinished line) longer than ``max_event`` bytes raises :class:`EventTooLargeError`.
    """

    def __init__(self, max_event: int = MAX_EVENT_BYTES) -> None:
        self.max_event = max_event
        self._tail: list[bytes] = []  # the unfinished line, in pieces
        self._tail_len = 0
        self._skip_lf = False  # the last chunk ended in CR: a leading LF completes that CRLF
        self._data: list[str] = []
        self._data_len = 0
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if not chunk:
            return events
        lines = chunk.splitlines(keepends=True)  # bytes split on LF, CRLF and CR only
        last = lines[-1]
        tail = None if last.endswith((b"\n", b"\r")) else lines.pop()
        for line in lines:
            line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
            if self._tail:
                self._tail.append(line)
                line = b"".join(self._tail)
                self._tail, self._tail_len = [], 0
            ev = self._line(line.decode("utf-8", "replace"))
            if ev is not None:
                events.append(ev)
        if tail is not None:
            self._tail.append(tail)
            self._tail_len += len(tail)
            self._check()
        elif last.endswith(b"\r"):
            self._skip_lf = True  # a CRLF may be split between this read and the next
        return events

    def flush(self) -> list[ServerSentEvent]:
        """End of stream: a last event not followed by a blank line still counts."""
        events: list[ServerSentEvent] = []
        if self._tail:
            line = b"".join(self._tail)
            self._tail, self._tail_len = [], 0
            ev = self._line(line.decode("utf-8", "replace"))
            if ev is not None:
                events.append(ev)
        ev = self._dispatch()
        if ev is not None:
            events.append(ev)
        return events

    def _check(self) -> None:
        if self._tail_len + self._data_len > self.max_event:
            self._tail, self._tail_len = [], 0
            self._data, self._data_len = [], 0
            raise EventTooLargeError(self.max_event)

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
            self._data_len += len(value)
            self._check()
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
        self._data_len = 0
        return ev


class TextBuffer:
    """Text that grows by appending, in time linear in its length (``str +=`` on an attribute
    copies the whole text each time)."""

    __slots__ = ("_len", "_parts")

    def __init__(self, text: str = "") -> None:
        self._parts = [text] if text else []
        self._len = len(text)

    def append(self, piece: str) -> None:
        if piece:
            self._parts.append(piece)
            self._len += len(piece)

    def __len__(self) -> int:
        return self._len

    def __str__(self) -> str:
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""


class DeltaNormalizer:
    """Turns cumulative text into deltas.

    Some OpenAI-compatible servers repeat the whole answer so far in each
    ``delta.content``; a piece that starts with everything received and is longer
    is reduced to its new suffix, and from then on the stream counts as
    cumulative. A piece that merely equals the text so far is a real delta
    ("1" then "1" is "11") until the stream has shown itself cumulative, when it
    adds nothing.

    The cost of a piece does not grow with the text: only a piece at least as long as
    everything received so far is compared with it.
    """

    def __init__(self) -> None:
        self._text = TextBuffer()
        self.cumulative = False

    @property
    def text(self) -> str:
        return str(self._text)

    def feed(self, piece: str) -> str:
        n = len(self._text)
        if n and len(piece) >= n and (len(piece) > n or self.cumulative) and piece.startswith(self.text):
            self.cumulative = True
            piece = piece[n:]
        self._text.append(piece)
        return piece

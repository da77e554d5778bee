"""Server-sent events, split on the hot path with as little work as possible.

The splitter is fed raw body bytes together with the ``perf_counter_ns`` reading taken as
they came off the socket. It finds event boundaries (a blank line: ``\\n\\n``, ``\\r\\n\\r\\n``
or ``\\r\\r``), drops comment lines (``:`` keep-alives) and ``event: ping`` keep-alives whose
data is no JSON object (Anthropic's ``{"type": "ping"}`` stays), and keeps each event's raw
``data:`` payload (multi-line data joined with ``\\n``). Each event is stamped with the time of the
read that delivered its *first* byte, which is the earliest moment the client could have
seen it. Nothing is decoded here: JSON parsing happens after the request, off the hot path.

Why not httpx-sse: it iterates decoded text lines (``aiter_lines``) and yields parsed
``ServerSentEvent`` objects when an event *ends*; the time its first byte arrived is lost,
and the line/str decoding costs more per chunk than finding ``\\n\\n`` in bytes.
"""

from __future__ import annotations

from conformance.run.records import ChunkEvent

_DATA = b"data:"


def _payload(block: bytes) -> bytes | None:
    """The ``data`` of one event block (lines separated by ``\\n``), or None if it has none."""
    if block.startswith(b"data: ") and b"\n" not in block:  # the common case
        return block[6:]
    data: list[bytes] = []
    ping = False
    for line in block.split(b"\n"):
        if not line or line[0] == 0x3A:  # empty or ":" comment
            continue
        if line.startswith(_DATA):
            value = line[5:]
            data.append(value[1:] if value[:1] == b" " else value)
        elif line == b"data":
            data.append(b"")
        elif line.startswith(b"event:"):
            ping = line[6:].strip() == b"ping"
        # other fields (id:, retry:) carry nothing this client needs
    if not data:
        return None
    payload = b"\n".join(data)
    if ping and not payload.lstrip().startswith(b"{"):
        return None  # a keep-alive named ping carrying a timestamp (older sse-starlette)
    return payload


class SSESplitter:
    """Incremental event splitter; ``feed`` returns the events completed by ``data``."""

    __slots__ = ("_buf", "_cr", "_last", "_t", "events", "nbytes")

    def __init__(self) -> None:
        self._buf = b""
        self._t = 0  # time of the first byte of the event now in the buffer
        self._last = 0  # time of the latest read
        self._cr = False  # a CR has been seen: normalise line endings from now on
        self.events: list[ChunkEvent] = []
        self.nbytes = 0

    def feed(self, data: bytes, t_ns: int) -> None:
        self.nbytes += len(data)
        self._last = t_ns
        if not self._buf:
            self._t = t_ns
            buf = data
        else:
            buf = self._buf + data
        if self._cr or b"\r" in data:
            self._cr = True
            keep = buf.endswith(b"\r")  # may be the first half of a CRLF split across reads
            body = buf[:-1] if keep else buf
            buf = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n") + (b"\r" if keep else b"")
        self._split(buf, t_ns)

    def _split(self, buf: bytes, t_ns: int) -> None:
        pos = 0
        t_first = self._t
        while True:
            end = buf.find(b"\n\n", pos)
            if end < 0:
                break
            payload = _payload(buf[pos:end])
            if payload is not None:
                self.events.append(ChunkEvent(t_first, payload))
            pos = end + 2
            while buf[pos : pos + 1] == b"\n":  # stray blank lines between events
                pos += 1
            t_first = t_ns  # any later event in this buffer started in this read
        rest = buf[pos:] if pos else buf
        if rest.strip(b"\n") == b"":  # only blank lines: no event has started yet
            rest = b""
        self._buf = rest
        if pos and rest:
            self._t = t_ns

    def close(self) -> bool:
        """End of stream. Dispatches a final event that lacks its blank line (lenient) and
        returns True when the stream ended inside an event (a framing fault to report)."""
        if self._buf.endswith(b"\r"):  # a lone CR at the very end is a line end
            self._split(self._buf[:-1] + b"\n", self._last)
        rest = self._buf.rstrip(b"\n")
        self._buf = b""
        if not rest:
            return False
        payload = _payload(rest)
        if payload is not None:
            self.events.append(ChunkEvent(self._t, payload))
        return True

"""The hot-path SSE splitter: property tests over framings and arbitrary read boundaries."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.run.client import SSESplitter

payload = st.binary(min_size=0, max_size=40).filter(lambda b: b"\n" not in b and b"\r" not in b)
line_end = st.sampled_from([b"\n", b"\r\n", b"\r"])


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[tuple[int, list[bytes]]], list[int]]:
    """A byte stream of events (each: one or more data lines, maybe a comment line first),
    keep-alive comment blocks between them, and the offsets where each event starts."""
    nl = draw(line_end)
    out = b""
    expected: list[tuple[int, list[bytes]]] = []
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            out += b": keep-alive" + nl + nl
        lines = draw(st.lists(payload, min_size=1, max_size=3))
        start = len(out)
        seen = []
        for x in lines:
            if draw(st.booleans()):
                out += b"data: " + x + nl
                seen.append(x)
            else:  # no space after the colon: a leading space in x is the one dropped
                out += b"data:" + x + nl
                seen.append(x[1:] if x[:1] == b" " else x)
        out += nl
        expected.append((start, seen))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(out) - 1)), max_size=12)))
    return out, expected, cuts


@settings(max_examples=300, deadline=None)
@given(streams())
def test_events_and_first_byte_times(case: tuple[bytes, list[tuple[int, list[bytes]]],
                                                 list[int]]) -> None:
    data, expected, cuts = case
    bounds = [0, *[c for c in cuts if c < len(data)], len(data)]
    sp = SSESplitter()
    read_of: list[int] = []  # for each byte offset, the index (= timestamp) of its read
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        if b > a:
            sp.feed(data[a:b], i)
            read_of += [i] * (b - a)
    assert sp.close() is False
    # payloads: data lines as sent, joined with "\n" (a leading space after "data:" dropped)
    assert [e.data for e in sp.events] == [b"\n".join(lines) for _, lines in expected]
    # each event is stamped with the read that delivered its first byte
    assert [e.t_ns for e in sp.events] == [read_of[start] for start, _ in expected]
    assert sp.nbytes == len(data)


def test_crlf_split_between_cr_and_lf() -> None:
    sp = SSESplitter()
    sp.feed(b"data: a\r\n\r", 1)
    assert sp.events == []
    sp.feed(b"\ndata: b\r\n", 2)
    assert [(e.t_ns, e.data) for e in sp.events] == [(1, b"a")]
    sp.feed(b"\r\n", 3)
    assert [(e.t_ns, e.data) for e in sp.events] == [(1, b"a"), (2, b"b")]


def test_event_started_in_an_earlier_read_keeps_that_time() -> None:
    sp = SSESplitter()
    sp.feed(b"data: {\"a\":", 10)
    sp.feed(b" 1}\n", 20)
    sp.feed(b"\ndata: x\n\n", 30)
    assert [(e.t_ns, e.data) for e in sp.events] == [(10, b'{"a": 1}'), (30, b"x")]


def test_unterminated_final_event_is_dispatched_and_reported() -> None:
    sp = SSESplitter()
    sp.feed(b"data: a\n\ndata: tail", 5)
    assert sp.close() is True
    assert [e.data for e in sp.events] == [b"a", b"tail"]


def test_comments_and_other_fields_carry_no_data() -> None:
    sp = SSESplitter()
    sp.feed(b": ping\n\nevent: x\nid: 3\nretry: 10\n\ndata\n\n", 1)
    assert [e.data for e in sp.events] == [b""]

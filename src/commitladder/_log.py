"""Packed event history: an enrollment's events kept as bytes, about 25 per event.

An event object costs about 100 bytes, and the datetimes it holds 48 more each;
ten of them would outweigh everything else an enrollment keeps. So an enrollment
stores its history packed: per event a type code, flags, ``seq`` and ``at`` (as
microseconds since the epoch), then the event's own fields, each by kind:

- ``t`` a datetime: microseconds since the epoch when its ``tzinfo`` is
  ``timezone.utc``; any other timezone keeps the datetime object itself (in the
  extras list), as does one with ``fold=1``, so nothing about it is lost;
- ``s`` a string: its index in the ladder's symbol table (rung, end, channel,
  outcome and result names); any other string goes to the extras;
- ``i`` an int (``None`` allowed), ``b`` a bool, ``o`` anything else (the facts
  dict): a reference into the extras.

``actor`` and ``reason`` go to the extras when set. ``History.events`` rebuilds
equal ``Event`` objects; nothing is rounded or normalised. Packing matches over
the event union (one case a kind, written out: it runs once per event); unpacking
reads each kind's layout from ``LAYOUTS``, and a test round-trips every kind.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, assert_never

from ._events import (
    EVENT_TYPES,
    AskExpired,
    AskIssued,
    AskWithdrawn,
    Committed,
    Declined,
    Ended,
    Enrolled,
    Event,
    FollowedUp,
    LateCommitment,
    Parked,
    Resumed,
)

__all__ = ["LAYOUTS", "History"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_NONE_T = -(2**63)  # a datetime field holding None
_EXTRA_T = _NONE_T + 1  # ... or held in the extras, at index (value - _EXTRA_T)
_REAL_T = _EXTRA_T + 2**62  # below this, a reference: no datetime is that far before 1970
_NONE_S = 0xFFFFFFFF
_EXTRA_S = 0x80000000  # high bit: an index into the extras, not into the symbols
_NONE_I = -(2**63)
_NONE_O = -1
_ACTOR, _REASON = 1, 2  # flags: actor / reason kept in the extras
_FORMAT = {"t": "q", "s": "I", "i": "q", "b": "?", "o": "i"}

#: each kind of event's own fields, by how they are packed (see the module docstring)
LAYOUTS: Final[Mapping[type[Event], str]] = {
    Enrolled: "ssi",
    AskIssued: "sst",
    FollowedUp: "isi",
    Committed: "issob",
    Declined: "issst",
    AskExpired: "iss",
    AskWithdrawn: "is",
    Parked: "sst",
    Resumed: "",
    Ended: "ssi",
    LateCommitment: "isso",
}
_CODES = {cls: code for code, cls in enumerate(EVENT_TYPES.values())}
_STRUCTS = {
    cls: struct.Struct("<BBIq" + "".join(_FORMAT[k] for k in LAYOUTS[cls])) for cls in LAYOUTS
}
_BY_CODE = [(cls, _STRUCTS[cls], ("t", *LAYOUTS[cls])) for cls in _CODES]


class History:
    """One enrollment's events, packed (see the module docstring). Append-only."""

    __slots__ = ("_buf", "_extras", "_id", "_index", "_table")

    def __init__(self, enrollment_id: str, symbols: tuple[tuple[str, ...], Mapping[str, int]]):
        self._id = enrollment_id
        self._table, self._index = symbols
        self._buf = bytearray()
        self._extras: list[Any] | None = None

    def _extra(self, value: object) -> int:
        extras = self._extras
        if extras is None:
            extras = self._extras = []
        extras.append(value)
        return len(extras) - 1

    def _t(self, v: datetime | None) -> int:
        if v is None:
            return _NONE_T
        if v.tzinfo is UTC and not v.fold:
            return (v - _EPOCH) // _US
        return _EXTRA_T + self._extra(v)

    def _s(self, v: str | None) -> int:
        if v is None:
            return _NONE_S
        found = self._index.get(v)
        return found if found is not None else _EXTRA_S | self._extra(v)

    def _o(self, v: object) -> int:
        return _NONE_O if v is None else self._extra(v)

    def append(self, events: Iterable[Event]) -> None:
        """Pack ``events`` after the ones kept so far."""
        buf = self._buf
        for event in events:
            buf += self._pack(event)

    def _pack(self, ev: Event) -> bytes:
        # extras go in the order ``events`` reads them back: actor, reason, at, the fields
        flags = 0
        if ev.actor is not None:
            flags |= _ACTOR
            self._extra(ev.actor)
        if ev.reason is not None:
            flags |= _REASON
            self._extra(ev.reason)
        at = self._t(ev.at)
        head = (_CODES[type(ev)], flags, ev.seq, at)
        s, t, o = self._s, self._t, self._o
        match ev:
            case AskIssued():
                return _STRUCTS[AskIssued].pack(*head, s(ev.rung), s(ev.channel), t(ev.expires_at))
            case Committed():
                return _STRUCTS[Committed].pack(
                    *head, ev.ask_seq, s(ev.rung), s(ev.outcome), o(ev.facts), ev.late
                )
            case FollowedUp():
                return _STRUCTS[FollowedUp].pack(*head, ev.ask_seq, s(ev.channel), ev.number)
            case Declined():
                return _STRUCTS[Declined].pack(
                    *head, ev.ask_seq, s(ev.rung), s(ev.then), s(ev.needs), t(ev.resume_at)
                )
            case AskExpired():
                return _STRUCTS[AskExpired].pack(*head, ev.ask_seq, s(ev.rung), s(ev.then))
            case Parked():
                return _STRUCTS[Parked].pack(*head, s(ev.cause), s(ev.needs), t(ev.resume_at))
            case Resumed():
                return _STRUCTS[Resumed].pack(*head)
            case AskWithdrawn():
                return _STRUCTS[AskWithdrawn].pack(*head, ev.ask_seq, s(ev.rung))
            case Ended():
                closed = _NONE_I if ev.ask_seq is None else ev.ask_seq
                return _STRUCTS[Ended].pack(*head, s(ev.end), s(ev.result), closed)
            case Enrolled():
                return _STRUCTS[Enrolled].pack(*head, s(ev.prospect), s(ev.ladder), ev.version)
            case LateCommitment():
                return _STRUCTS[LateCommitment].pack(
                    *head, ev.ask_seq, s(ev.rung), s(ev.outcome), o(ev.facts)
                )
            case _:
                assert_never(ev)

    def __len__(self) -> int:
        buf, count, offset = self._buf, 0, 0
        while offset < len(buf):
            offset += _BY_CODE[buf[offset]][1].size
            count += 1
        return count

    def events(self) -> list[Event]:
        """Every event, rebuilt, oldest first."""
        buf, extras, table = self._buf, self._extras or [], self._table
        out: list[Event] = []
        offset = taken = 0  # taken: extras used by the events decoded so far
        while offset < len(buf):
            cls, layout, kinds = _BY_CODE[buf[offset]]
            _, flags, seq, *raw = layout.unpack_from(buf, offset)
            offset += layout.size
            actor = reason = None
            if flags & _ACTOR:
                actor = extras[taken]
                taken += 1
            if flags & _REASON:
                reason = extras[taken]
                taken += 1
            values: list[Any] = []
            for kind, value in zip(kinds, raw, strict=True):
                if kind == "t":
                    if value == _NONE_T:
                        values.append(None)
                    elif value < _REAL_T:
                        values.append(extras[value - _EXTRA_T])
                        taken += 1
                    else:
                        values.append(_EPOCH + value * _US)
                elif kind == "s":
                    if value == _NONE_S:
                        values.append(None)
                    elif value & _EXTRA_S:
                        values.append(extras[value & ~_EXTRA_S])
                        taken += 1
                    else:
                        values.append(table[value])
                elif kind == "i":
                    values.append(None if value == _NONE_I else value)
                elif kind == "b":
                    values.append(value)
                elif value == _NONE_O:
                    values.append(None)
                else:
                    values.append(extras[value])
                    taken += 1
            out.append(
                cls(
                    enrollment_id=self._id,
                    seq=seq,
                    at=values[0],
                    actor=actor,
                    reason=reason,
                    **dict(zip(cls.data_fields, values[1:], strict=True)),
                )
            )
        return out

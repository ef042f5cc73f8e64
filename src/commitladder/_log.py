"""Packed event history: an enrollment's events kept as bytes, about 25 per event.

An event object costs about 100 bytes, and the datetimes it holds 48 more each;
ten of them would outweigh everything else an enrollment keeps. So an enrollment
stores its history packed: per event a type code, flags, ``seq`` and ``at`` (as
microseconds since the epoch), then the event's own fields, each by kind:

- ``t`` a datetime: when it is a plain ``datetime`` in ``timezone.utc``, the ten
  bytes its ``__reduce__`` gives as the first argument to rebuild it (year, month,
  day, hour, minute, second, microsecond), read back by that same call,
  ``datetime(state, timezone.utc)``, as pickle does; ten zero bytes for ``None``;
  any other datetime (another timezone, a subclass, ``fold=1``) is kept whole in the
  extras list, so nothing about it is lost;
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
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any, Final, assert_never

from ._events import (
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
    Migrated,
    Parked,
    Rekeyed,
    Resumed,
)

__all__ = ["CODES", "LAYOUTS", "History"]

_NONE_T = bytes(10)  # a datetime field holding None (there is no year 0)
_EXTRA_T = 0xFF  # first byte of a datetime held in the extras (a year's high byte is < 40)
# ``__reduce__`` promises ``rebuild(*args)`` gives the datetime back: checked here once, and
# by the tests on every kind of datetime
_probe = datetime(2026, 1, 5, 9, 30, 1, 7, tzinfo=UTC)
_reduced: Any = _probe.__reduce__()
_from_state: Callable[[bytes, tzinfo], datetime] = _reduced[0]
if len(_reduced[1][0]) != 10 or _from_state(*_reduced[1]) != _probe:
    raise ImportError(
        f"datetime.__reduce__ gives {_reduced!r}: not the form the history codec reads"
    )
_NONE_S = 0xFFFFFFFF
_EXTRA_S = 0x80000000  # high bit: an index into the extras, not into the symbols
_NONE_I = -(2**63)
_NONE_O = -1
_ACTOR, _REASON = 1, 2  # flags: actor / reason kept in the extras
_FORMAT = {"t": "10s", "s": "I", "i": "q", "b": "?", "o": "i"}

#: each kind of event's own fields, by how they are packed (see the module docstring)
LAYOUTS: Final[Mapping[type[Event], str]] = {
    Enrolled: "ssiss",  # prospect, ladder, version, time zone, tenant
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
    Rekeyed: "ss",
    Migrated: "iioooi",
}
#: each kind's code, the first byte of its record (``_pack`` writes them as literals)
CODES: Final[Mapping[type[Event], int]] = {
    AskIssued: 0,
    Committed: 1,
    FollowedUp: 2,
    Declined: 3,
    AskExpired: 4,
    Parked: 5,
    Resumed: 6,
    AskWithdrawn: 7,
    Ended: 8,
    Enrolled: 9,
    LateCommitment: 10,
    Rekeyed: 11,
    Migrated: 12,
}
_STRUCTS = {
    cls: struct.Struct("<BBI10s" + "".join(_FORMAT[k] for k in layout))
    for cls, layout in LAYOUTS.items()
}
_BY_CODE = [
    (cls, _STRUCTS[cls], ("t", *LAYOUTS[cls]))
    for cls, _ in sorted(CODES.items(), key=lambda item: item[1])
]
_ASK = _STRUCTS[AskIssued].pack
_COMMITTED = _STRUCTS[Committed].pack
_FOLLOWED = _STRUCTS[FollowedUp].pack
_DECLINED = _STRUCTS[Declined].pack
_EXPIRED = _STRUCTS[AskExpired].pack
_PARKED = _STRUCTS[Parked].pack
_RESUMED = _STRUCTS[Resumed].pack
_WITHDRAWN = _STRUCTS[AskWithdrawn].pack
_ENDED = _STRUCTS[Ended].pack
_ENROLLED = _STRUCTS[Enrolled].pack
_LATE = _STRUCTS[LateCommitment].pack
_REKEYED = _STRUCTS[Rekeyed].pack
_MIGRATED = _STRUCTS[Migrated].pack


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

    def _t(self, v: datetime | None) -> bytes:
        if v is None:
            return _NONE_T
        if type(v) is datetime and v.tzinfo is UTC and not v.fold:
            state: bytes = v.__reduce__()[1][0]  # type: ignore[assignment]
            return state
        return bytes((_EXTRA_T,)) + self._extra(v).to_bytes(9, "little")

    def _sx(self, v: str | None) -> int:
        """A string that is not a symbol (the fast path looked it up already)."""
        return _NONE_S if v is None else _EXTRA_S | self._extra(v)

    def _o(self, v: object) -> int:
        return _NONE_O if v is None else self._extra(v)

    def append(self, events: Iterable[Event]) -> None:
        """Pack ``events`` after the ones kept so far."""
        buf = self._buf
        for event in events:
            buf += self._pack(event)

    def _pack(self, ev: Event) -> bytes:
        # extras go in the order ``events`` reads them back: actor, reason, at, the fields;
        # symbols are looked up inline (``get``) and only the rest goes through ``_sx``
        flags = 0
        if ev.actor is not None:
            flags |= _ACTOR
            self._extra(ev.actor)
        if ev.reason is not None:
            flags |= _REASON
            self._extra(ev.reason)
        at = ev.at
        if type(at) is datetime and at.tzinfo is UTC and not at.fold:
            when = at.__reduce__()[1][0]  # _t, inlined
        else:
            when = self._t(at)
        get, sx, t = self._index.get, self._sx, self._t
        match ev:
            case AskIssued():
                rung = get(ev.rung)
                rung = sx(ev.rung) if rung is None else rung
                channel = get(ev.channel)
                channel = sx(ev.channel) if channel is None else channel
                return _ASK(0, flags, ev.seq, when, rung, channel, t(ev.expires_at))
            case Committed():
                rung = get(ev.rung)
                rung = sx(ev.rung) if rung is None else rung
                outcome = _NONE_S if ev.outcome is None else get(ev.outcome)
                outcome = sx(ev.outcome) if outcome is None else outcome
                facts = _NONE_O if ev.facts is None else self._extra(ev.facts)
                return _COMMITTED(1, flags, ev.seq, when, ev.ask_seq, rung, outcome, facts, ev.late)
            case FollowedUp():
                channel = get(ev.channel)
                channel = sx(ev.channel) if channel is None else channel
                return _FOLLOWED(2, flags, ev.seq, when, ev.ask_seq, channel, ev.number)
            case Declined():
                rung = get(ev.rung)
                rung = sx(ev.rung) if rung is None else rung
                then = get(ev.then)
                then = sx(ev.then) if then is None else then
                needs = _NONE_S if ev.needs is None else get(ev.needs)
                needs = sx(ev.needs) if needs is None else needs
                return _DECLINED(
                    3, flags, ev.seq, when, ev.ask_seq, rung, then, needs, t(ev.resume_at)
                )
            case AskExpired():
                rung = get(ev.rung)
                rung = sx(ev.rung) if rung is None else rung
                then = get(ev.then)
                then = sx(ev.then) if then is None else then
                return _EXPIRED(4, flags, ev.seq, when, ev.ask_seq, rung, then)
            case Parked():
                cause = get(ev.cause)
                cause = sx(ev.cause) if cause is None else cause
                needs = _NONE_S if ev.needs is None else get(ev.needs)
                needs = sx(ev.needs) if needs is None else needs
                return _PARKED(5, flags, ev.seq, when, cause, needs, t(ev.resume_at))
            case Resumed():
                return _RESUMED(6, flags, ev.seq, when)
            case AskWithdrawn():
                rung = get(ev.rung)
                rung = sx(ev.rung) if rung is None else rung
                return _WITHDRAWN(7, flags, ev.seq, when, ev.ask_seq, rung)
            case Ended():
                end = get(ev.end)
                end = sx(ev.end) if end is None else end
                result = get(ev.result)
                result = sx(ev.result) if result is None else result
                closed = _NONE_I if ev.ask_seq is None else ev.ask_seq
                return _ENDED(8, flags, ev.seq, when, end, result, closed)
            case Enrolled():
                prospect, ladder = sx(ev.prospect), get(ev.ladder)
                ladder = sx(ev.ladder) if ladder is None else ladder
                zone, tenant = sx(ev.timezone), sx(ev.tenant)
                return _ENROLLED(9, flags, ev.seq, when, prospect, ladder, ev.version, zone, tenant)
            case LateCommitment():
                rung = get(ev.rung)
                rung = sx(ev.rung) if rung is None else rung
                outcome = _NONE_S if ev.outcome is None else get(ev.outcome)
                outcome = sx(ev.outcome) if outcome is None else outcome
                facts = _NONE_O if ev.facts is None else self._extra(ev.facts)
                return _LATE(10, flags, ev.seq, when, ev.ask_seq, rung, outcome, facts)
            case Rekeyed():
                return _REKEYED(11, flags, ev.seq, when, sx(ev.was), sx(ev.prospect))
            case Migrated():
                withdrawn = _NONE_I if ev.withdrawn is None else ev.withdrawn
                return _MIGRATED(
                    12,
                    flags,
                    ev.seq,
                    when,
                    ev.from_version,
                    ev.to_version,
                    self._extra(ev.renamed),
                    self._extra(ev.removed),
                    self._extra(ev.ends),
                    withdrawn,
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
                    if value[0] == _EXTRA_T:
                        values.append(extras[int.from_bytes(value[1:], "little")])
                        taken += 1
                    elif value == _NONE_T:
                        values.append(None)
                    else:
                        values.append(_from_state(value, UTC))
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

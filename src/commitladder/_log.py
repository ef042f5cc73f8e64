"""Packed event history: an enrollment's events kept as bytes, about 25 per event.

An ``Event`` object costs about 100 bytes, and the datetimes it holds 48 more each;
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
equal ``Event`` objects; nothing is rounded or normalised.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

from ._events import _COMMON, _TYPES, Event

__all__ = ["History", "symbols"]

_UTC = UTC
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_US = timedelta(microseconds=1)
_NONE_T = -(2**63)  # a datetime field holding None
_EXTRA_T = _NONE_T + 1  # ... or held in the extras, at index (value - _EXTRA_T)
_REAL_T = _EXTRA_T + 2**62  # below this, a reference: no datetime is that far before 1970
_NONE_S = 0xFFFFFFFF
_EXTRA_S = 0x80000000  # high bit: an index into the extras, not into the symbols
_NONE_I = -(2**63)
_NONE_O = -1
_ACTOR, _REASON = 1, 2  # flags: actor / reason kept in the extras
_HEAD = struct.Struct("<BBIq")  # type code, flags, seq, at

_FORMAT = {"t": "q", "s": "I", "i": "q", "b": "?", "o": "i"}


def _kind(annotation: object) -> str:
    text = str(annotation)
    if "datetime" in text:
        return "t"
    if text.startswith("bool"):
        return "b"
    if text.startswith("int"):
        return "i"
    if text.startswith("str"):
        return "s"
    return "o"


class _Codec:
    __slots__ = ("cls", "code", "kinds", "names", "pack", "size", "struct", "unpacked")

    def __init__(self, code: int, cls: type[Event]) -> None:
        own = [f for f in fields(cls) if f.name not in _COMMON]
        self.cls = cls
        self.code = code
        self.names = tuple(f.name for f in own)
        self.kinds = tuple(_kind(f.type) for f in own)
        self.unpacked = ("t", *self.kinds)  # at, then the event's own fields
        self.struct = struct.Struct("<BBIq" + "".join(_FORMAT[k] for k in self.kinds))
        self.size = self.struct.size
        self.pack = self._packer()

    def _packer(self) -> Callable[[History, Event, Mapping[str, int]], bytes]:
        """Generate ``pack(log, event, index) -> bytes`` for this type, as dataclasses does:
        a command packs its events on the hot path, and a generic loop costs twice as much.
        Extras are added in the order ``History.events`` reads them back."""
        time = "{0} = _NONE_T if v is None else (v - _EPOCH) // _US if v.tzinfo is _UTC and "
        time += "not v.fold else _EXTRA_T + log._extra(v)"
        body = [
            "flags = 0",
            "if ev.actor is not None: flags |= _ACTOR; log._extra(ev.actor)",
            "if ev.reason is not None: flags |= _REASON; log._extra(ev.reason)",
            "v = ev.at",
            time.format("at"),
        ]
        for i, (name, kind) in enumerate(zip(self.names, self.kinds, strict=True)):
            body.append(f"v = ev.{name}")
            if kind == "t":
                body.append(time.format(f"f{i}"))
            elif kind == "s":
                body.append(f"f{i} = _NONE_S if v is None else index.get(v)")
                body.append(f"if f{i} is None: f{i} = _EXTRA_S | log._extra(v)")
            elif kind == "i":
                body.append(f"f{i} = _NONE_I if v is None else v")
            elif kind == "b":
                body.append(f"f{i} = v")
            else:
                body.append(f"f{i} = _NONE_O if v is None else log._extra(v)")
        own = [f"f{i}" for i in range(len(self.names))]
        values = ", ".join(["code", "flags", "ev.seq", "at", *own])
        body.append(f"return pack({values})")
        source = "def pack_event(log, ev, index):\n" + "".join(f"    {line}\n" for line in body)
        scope = {
            **{k: v for k, v in globals().items() if k.startswith("_")},
            "code": self.code,
            "pack": self.struct.pack,
        }
        exec(compile(source, f"<commitladder pack {self.cls.__name__}>", "exec"), scope)
        packer: Callable[[History, Event, Mapping[str, int]], bytes] = scope["pack_event"]
        return packer


_BY_CODE = [_Codec(code, cls) for code, cls in enumerate(_TYPES.values())]
_PACKERS = {codec.cls: codec.pack for codec in _BY_CODE}


def symbols(names: Iterable[str]) -> tuple[tuple[str, ...], dict[str, int]]:
    """A ladder's symbol table: the names, and each name's index."""
    table = tuple(dict.fromkeys(names))
    return table, {name: i for i, name in enumerate(table)}


class History:
    """One enrollment's events, packed (see the module docstring). Append-only."""

    __slots__ = ("_buf", "_extras", "_id", "_symbols")

    def __init__(self, enrollment_id: str, table: tuple[tuple[str, ...], Mapping[str, int]]):
        self._id = enrollment_id
        self._symbols = table
        self._buf = bytearray()
        self._extras: list[Any] | None = None

    def _extra(self, value: object) -> int:
        extras = self._extras
        if extras is None:
            extras = self._extras = []
        extras.append(value)
        return len(extras) - 1

    def append(self, events: Iterable[Event]) -> None:
        index, buf = self._symbols[1], self._buf
        for event in events:
            buf += _PACKERS[type(event)](self, event, index)

    def __len__(self) -> int:
        buf, count, offset = self._buf, 0, 0
        while offset < len(buf):
            offset += _BY_CODE[buf[offset]].size
            count += 1
        return count

    def events(self) -> list[Event]:
        """Every event, rebuilt, oldest first."""
        buf, extras, table = self._buf, self._extras or [], self._symbols[0]

        out: list[Event] = []
        offset, taken = 0, 0  # taken: extras used by the events decoded so far
        while offset < len(buf):
            codec = _BY_CODE[buf[offset]]
            _, flags, seq, at, *raw = codec.struct.unpack_from(buf, offset)
            offset += codec.size
            # append() adds an event's extras in order: actor, reason, at, then its fields
            actor = reason = None
            if flags & _ACTOR:
                actor = extras[taken]
                taken += 1
            if flags & _REASON:
                reason = extras[taken]
                taken += 1
            values: list[Any] = []
            for kind, value in zip(codec.unpacked, [at, *raw], strict=True):
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
                codec.cls(
                    enrollment_id=self._id,
                    seq=seq,
                    at=values[0],
                    actor=actor,
                    reason=reason,
                    **dict(zip(codec.names, values[1:], strict=True)),
                )
            )
        return out

"""Validation of a whole definition: shapes (pydantic) and cross-references, all at once.

Every problem is collected, located (``file:line:column`` for YAML) and raised
together as one ``DefinitionError``; a definition with a problem never compiles
half-way. Cross-reference checks read the raw data defensively so they still
report when shapes are wrong elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from ._calendar_definition import CalendarDefinition, HolidaysDefinition
from ._definition import (
    Defaults,
    EndDefinition,
    FollowUps,
    Kind,
    LadderDefinition,
    Rules,
    RungDefinition,
    SimulatedAnswer,
    Simulation,
)
from ._errors import DefinitionError, Problem, did_you_mean
from ._format import PARK, limits_broken, listed
from ._yaml import Located, Path

__all__ = ["validate"]


def validate(data: Any, located: Located | None = None) -> LadderDefinition:
    """Return the definition in ``data`` or raise ``DefinitionError`` listing every problem."""
    where = located or Located(data=data)
    if not isinstance(data, dict):
        raise DefinitionError(
            [where.problem((), "a ladder is a mapping with `ladder:`, `start:`, `rungs:`, `ends:`")]
        )
    # a definition over a limit is refused before anything else is checked, so the work
    # below is bounded by the limits, not by what the input holds
    problems = list(_limit_problems(data, where))
    if not problems:
        suggest = _Suggestions()
        definition: LadderDefinition | None = None
        try:
            definition = LadderDefinition.model_validate(data)
        except ValidationError as exc:
            problems.extend(_shape_problems(exc, where, suggest))
        problems.extend(_reference_problems(data, where, suggest))
        if not problems:
            assert definition is not None
            return definition
    problems.sort(key=lambda p: (p.line or 0, p.column or 0, p.path))
    raise DefinitionError(listed(_unique(problems)))


def _limit_problems(data: dict[Any, Any], where: Located) -> Iterator[Problem]:
    """Every collection over its limit (see ``_format.LIMITS``), at its key."""
    for path, limit in limits_broken(data):
        yield where.problem(path, limit.message(), key=True)


def _unique(problems: Iterable[Problem]) -> list[Problem]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for problem in problems:
        if (problem.path, problem.message) not in seen:
            seen.add((problem.path, problem.message))
            kept.append(problem)
    return kept


_SECTION_MODELS: dict[str, type[BaseModel]] = {
    "calendar": CalendarDefinition,
    "defaults": Defaults,
    "rules": Rules,
    "simulation": Simulation,
}


def _model_at(loc: Path) -> type[BaseModel] | None:
    """The model whose fields live at ``loc`` (for "did you mean" on unknown fields)."""
    if not loc:
        return LadderDefinition
    head = loc[0]
    if head in ("rungs", "ends") and len(loc) >= 2:
        model: type[BaseModel] = RungDefinition if head == "rungs" else EndDefinition
        rest = loc[2:]
    elif head == "simulation" and len(loc) >= 2 and loc[1] in ("defaults", "rungs"):
        model, rest = SimulatedAnswer, loc[2 if loc[1] == "defaults" else 3 :]
    elif isinstance(head, str) and head in _SECTION_MODELS:
        model, rest = _SECTION_MODELS[head], loc[1:]
    else:
        return None
    if rest == ("follow_ups",):
        return FollowUps
    if rest == ("holidays",) and head == "calendar":
        return HolidaysDefinition
    return model if not rest else None


def _shape_problems(
    exc: ValidationError, where: Located, suggest: _Suggestions
) -> Iterable[Problem]:
    for error in exc.errors(include_url=False):
        loc: Path = tuple(part for part in error["loc"] if part != "[key]")
        message = str(error["msg"]).removeprefix("Value error, ")
        kind = error["type"]
        key = "[key]" in error["loc"]
        if kind == "extra_forbidden":
            name = str(loc[-1])
            model = _model_at(loc[:-1])
            fields = list(model.model_fields) if model else []
            message = f"unknown field {name!r}{suggest(name, fields, f'field of {model}')}"
            key = True
        elif kind == "missing":
            message = f"`{loc[-1]}` is required"
            key = True
        elif kind == "string_pattern_mismatch":
            message = (
                f"{error['input']!r} is not a valid id: start with a letter, then letters, "
                "digits, '_' or '-'"
            )
        elif kind == "enum" and isinstance(error["input"], str):
            choices = [k.value for k in Kind]
            message += suggest(error["input"], choices, "kind")
        elif kind == "string_type" and (error["input"] is None or isinstance(error["input"], bool)):
            message += (
                "; YAML reads yes/no/on/off/true/false/null as booleans or nothing: "
                "put the value in quotes"
            )
        yield where.problem(loc, message, key=key)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _names(section: Any) -> list[str]:
    return [k for k in section if isinstance(k, str)] if isinstance(section, dict) else []


class _Suggestions:
    """``did_you_mean`` within a budget of name comparisons, remembering each answer.

    A suggestion compares a name with every known one; a generated ladder with thousands
    of unknown names against a thousand rungs would otherwise take minutes.
    """

    def __init__(self, budget: int = 20_000) -> None:
        self.left = budget
        self.found: dict[tuple[str, str], str] = {}

    def __call__(self, name: str, known: Sequence[str], what: str) -> str:
        key = (what, name)
        if key not in self.found:
            if self.left < len(known):
                return ""
            self.left -= len(known)
            self.found[key] = did_you_mean(name, known)
        return self.found[key]


def _reference_problems(
    data: dict[str, Any], where: Located, suggest: _Suggestions
) -> Iterable[Problem]:
    rungs = data.get("rungs") if isinstance(data.get("rungs"), dict) else {}
    assert isinstance(rungs, dict)
    rung_ids = _names(rungs)
    end_ids = _names(data.get("ends"))
    targets = rung_ids + end_ids
    known = {"rung": (rung_ids, set(rung_ids)), "target": (targets, set(targets))}
    known["on_target"] = ([PARK, *targets], {PARK, *targets})

    def unknown(path: Path, name: Any, among: str, what: str) -> Problem | None:
        names, lookup = known[among]
        if not isinstance(name, str) or name in lookup:
            return None
        return where.problem(path, f"unknown {what} {name!r}{suggest(name, names, among)}")

    for name in set(rung_ids) & set(end_ids):
        yield where.problem(
            ("ends", name), f"{name!r} is both a rung and an end; rename one", key=True
        )
    for section, ids in (("rungs", rung_ids), ("ends", end_ids)):
        if PARK in ids:
            yield where.problem(
                (section, PARK), f"{PARK!r} is reserved for on_decline/on_expire", key=True
            )

    start = data.get("start")
    for i, name in enumerate([start] if isinstance(start, str) else _as_list(start)):
        path: Path = ("start",) if isinstance(start, str) else ("start", i)
        if name in end_ids:
            yield where.problem(path, f"start must be a rung; {name!r} is an end")
        elif problem := unknown(path, name, "rung", "rung"):
            yield problem

    for rung_id, rung in rungs.items():
        if not isinstance(rung, dict):
            continue
        base: Path = ("rungs", rung_id)
        has_next = rung.get("next") is not None
        has_outcomes = rung.get("outcomes") is not None
        if has_next and has_outcomes:
            yield where.problem(
                (*base, "outcomes"),
                "give either `next:` (the seller picks) or `outcomes:` (the answer picks), "
                "not both",
                key=True,
            )
        elif not has_next and not has_outcomes:
            yield where.problem(
                base,
                "this rung has no way forward: give it `next:` (a rung or end) or `outcomes:`",
                key=True,
            )
        nxt = rung.get("next")
        if isinstance(nxt, str):
            if problem := unknown((*base, "next"), nxt, "target", "target"):
                yield problem
        elif isinstance(nxt, list):
            for i, name in enumerate(nxt):
                if problem := unknown((*base, "next", i), name, "target", "target"):
                    yield problem
        outcomes = rung.get("outcomes")
        if isinstance(outcomes, dict):
            for outcome, name in outcomes.items():
                if problem := unknown((*base, "outcomes", outcome), name, "target", "target"):
                    yield problem
        for field in ("on_decline", "on_expire"):
            value = rung.get(field)
            problem = None
            if value is not None and value != PARK:
                problem = unknown((*base, field), value, "on_target", "target")
            if problem:
                yield Problem(
                    problem.path,
                    problem.message + f" (use {PARK!r}, a rung or an end)",
                    problem.source,
                    problem.line,
                    problem.column,
                )

    yield from _simulation_problems(data, rungs, where, suggest)
    yield from _migration_problems(data, rung_ids, end_ids, where, suggest)

    rules = data.get("rules")
    before = rules.get("requires_before") if isinstance(rules, dict) else None
    if isinstance(before, dict):
        for rung_id, needed in before.items():
            path = ("rules", "requires_before", rung_id)
            if problem := unknown(path, rung_id, "rung", "rung"):
                yield Problem(
                    problem.path, problem.message, problem.source, *where.where(path, key=True)
                )
            for i, name in enumerate(needed if isinstance(needed, list) else []):
                if problem := unknown((*path, i), name, "rung", "rung"):
                    yield problem


def _migration_problems(
    data: dict[str, Any],
    rung_ids: list[str],
    end_ids: list[str],
    where: Located,
    suggest: _Suggestions,
) -> Iterable[Problem]:
    """A migration comes from an older version, once, and maps onto this version's ids."""
    migrations = data.get("migrations")
    version = data.get("version", 1)
    seen: set[Any] = set()
    for i, migration in enumerate(migrations if isinstance(migrations, list) else []):
        if not isinstance(migration, dict):
            continue
        base: Path = ("migrations", i)
        source = migration.get("from_version")
        if isinstance(source, int) and isinstance(version, int) and source >= version:
            yield where.problem(
                (*base, "from_version"),
                f"a migration comes from an older version: {source} is not below {version}",
            )
        if source in seen:
            yield where.problem((*base, "from_version"), f"a second migration from {source}")
        seen.add(source)
        for section, among, what in (
            ("renamed", rung_ids, "rung"),
            ("removed", rung_ids + end_ids, "rung or end"),
            ("ends", end_ids, "end"),
        ):
            mapping = migration.get(section)
            for old, new in mapping.items() if isinstance(mapping, dict) else []:
                if isinstance(new, str) and new not in among:
                    hint = suggest(new, among, section)
                    yield where.problem(
                        (*base, section, old),
                        f"{old!r} maps to {new!r}, which is not a {what} of this version{hint}",
                    )
                if section == "renamed" and old in rung_ids:
                    yield where.problem(
                        (*base, section, old),
                        f"{old!r} is still a rung of this version: a renamed rung has a new id",
                        key=True,
                    )


def _simulation_problems(
    data: dict[str, Any], rungs: dict[Any, Any], where: Located, suggest: _Suggestions
) -> Iterable[Problem]:
    """``simulation.rungs`` names rungs, and their outcomes; yes and no fit in a chance of 1."""
    simulation = data.get("simulation")
    if not isinstance(simulation, dict):
        return
    defaults = simulation.get("defaults") if isinstance(simulation.get("defaults"), dict) else {}
    assert isinstance(defaults, dict)
    section = simulation.get("rungs")
    for rung_id, answer in section.items() if isinstance(section, dict) else ():
        path: Path = ("simulation", "rungs", rung_id)
        rung = rungs.get(rung_id)
        if not isinstance(rung, dict):
            message = f"unknown rung {rung_id!r}{suggest(str(rung_id), _names(rungs), 'rung')}"
            yield where.problem(path, message, key=True)
            continue
        if not isinstance(answer, dict):
            continue
        known = _names(rung.get("outcomes"))
        for outcome in _names(answer.get("outcomes")):
            if outcome not in known:
                what = (
                    f"{rung_id}'s outcomes are {', '.join(known)}"
                    if known
                    else f"{rung_id} does not branch"
                )
                yield where.problem(
                    (*path, "outcomes", outcome),
                    f"unknown outcome {outcome!r}{suggest(outcome, known, rung_id)}; {what}",
                    key=True,
                )
        yes = answer.get("commit", defaults.get("commit"))
        no = answer.get("decline", defaults.get("decline"))
        mixed = ("commit" in answer) != ("decline" in answer)  # both given: the model checks
        if mixed and isinstance(yes, float | int) and isinstance(no, float | int) and yes + no > 1:
            yield where.problem(
                path,
                f"commit ({yes}) and decline ({no}, with simulation.defaults) add up to more "
                "than 1; the rest is the chance of silence",
                key=True,
            )

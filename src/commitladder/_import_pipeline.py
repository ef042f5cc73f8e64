"""Import a CRM's deal pipeline as a starter ladder: stages in, commented YAML out.

Reads each system's own export (Salesforce ``OpportunityStage`` records as CSV or the
REST query JSON, HubSpot's pipelines API JSON, Odoo's ``crm.stage`` CSV, Pipedrive's
stages JSON) into ``Stage`` values, then writes a ladder: open stages become rungs in
pipeline order (with ``stage``, ``probability`` and the source's ids in ``meta``),
closed ones ends. A stage that names the seller's work rather than something the
prospect agrees to gets a comment with the commitment to ask for instead. The YAML
is compiled before it is returned, so what this writes always loads. It never
reaches a CRM over the network: it reads files a user exported.
"""

from __future__ import annotations

import csv
import io
import json
import re
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ._errors import PipelineImportError

__all__ = ["SYSTEMS", "Stage", "import_pipeline", "read_stages"]

System = Literal["salesforce", "hubspot", "odoo", "pipedrive"]
SYSTEMS: tuple[System, ...] = ("salesforce", "hubspot", "odoo", "pipedrive")


@dataclass(frozen=True, slots=True)
class Stage:
    """One deal stage as a CRM exports it."""

    label: str
    order: float
    probability: float | None  # 0 to 1
    closed: bool
    won: bool
    external_id: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


# ---- reading each system's export ----------------------------------------------------------


def _truth(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y", "t"):
        return True
    if text in ("false", "0", "no", "n", "f", ""):
        return False
    raise PipelineImportError(f"{where}: {value!r} is neither true nor false")


def _number(value: Any, where: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return float(str(value).strip().rstrip("%"))
    except ValueError:
        raise PipelineImportError(f"{where}: {value!r} is not a number") from None


def _percent(value: Any, where: str) -> float | None:
    number = _number(value, where)
    if number is None:
        return None
    if not 0 <= number <= 100:
        raise PipelineImportError(f"{where}: a probability of {number:g}% is not between 0 and 100")
    return round(number / 100, 4)


def _rows(text: str, source: str, needed: Iterable[str]) -> list[tuple[int, dict[str, str]]]:
    """CSV rows keyed by column, with their line numbers; names every missing column."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [n for n in needed if n not in header]
    if missing:
        raise PipelineImportError(
            f"{source}:1: the CSV has no column {', '.join(missing)} (it has "
            f"{', '.join(header) or 'no header'})"
        )
    return [
        (reader.line_num, {k.strip(): (v or "").strip() for k, v in row.items() if k})
        for row in reader
    ]


def _json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PipelineImportError(
            f"{source}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}"
        ) from None


_SF_COLUMNS = ("MasterLabel", "DefaultProbability", "IsClosed", "IsWon", "SortOrder")


def _salesforce(text: str, source: str) -> list[Stage]:
    """``OpportunityStage`` as Data Loader's CSV, or the REST query's JSON (``records``)."""
    records: list[tuple[str, Mapping[str, Any]]]
    if text.lstrip().startswith(("{", "[")):
        data = _json(text, source)
        raw = data.get("records") if isinstance(data, dict) else data
        if not isinstance(raw, list):
            raise PipelineImportError(
                f"{source}: expected the records of SELECT ... FROM OpportunityStage "
                "(a JSON object with `records`, or a list)"
            )
        records = [(f"{source}: record {i + 1}", r) for i, r in enumerate(raw)]
    else:
        records = [(f"{source}:{line}", r) for line, r in _rows(text, source, _SF_COLUMNS)]
    stages: list[Stage] = []
    for where, r in records:
        if not isinstance(r, Mapping) or not all(k in r for k in _SF_COLUMNS):
            raise PipelineImportError(f"{where}: a stage needs the fields {', '.join(_SF_COLUMNS)}")
        if "IsActive" in r and not _truth(r["IsActive"], f"{where}: IsActive"):
            continue  # an inactive stage holds no deal
        api = str(r.get("ApiName") or r["MasterLabel"])
        order = _number(r["SortOrder"], f"{where}: SortOrder")
        stages.append(
            Stage(
                label=str(r["MasterLabel"]),
                order=order if order is not None else len(stages),
                probability=_percent(r["DefaultProbability"], f"{where}: DefaultProbability"),
                closed=_truth(r["IsClosed"], f"{where}: IsClosed"),
                won=_truth(r["IsWon"], f"{where}: IsWon"),
                external_id=api,
                meta={"salesforce_api_name": api}
                | ({"salesforce_id": str(r["Id"])} if r.get("Id") else {})
                | (
                    {"forecast_category": str(r["ForecastCategoryName"])}
                    if r.get("ForecastCategoryName")
                    else {}
                ),
            )
        )
    return stages


def _hubspot(text: str, source: str, pipeline: str | None) -> list[Stage]:
    """``GET /crm/v3/pipelines/deals`` (``results``), or one pipeline object."""
    data = _json(text, source)
    pipelines = data.get("results", [data]) if isinstance(data, dict) else data
    if not isinstance(pipelines, list) or not all(isinstance(p, dict) for p in pipelines):
        raise PipelineImportError(f"{source}: expected the JSON of GET /crm/v3/pipelines/deals")
    chosen = _choose(
        pipelines,
        pipeline,
        source,
        key=lambda p: (str(p.get("id")), str(p.get("label"))),
    )
    stages = []
    for i, s in enumerate(chosen.get("stages", [])):
        where = f"{source}: pipeline {chosen.get('id')!r}, stage {i + 1}"
        meta = s.get("metadata") or {}
        if "label" not in s:
            raise PipelineImportError(f"{where}: a stage needs its `label`")
        if s.get("archived"):
            continue
        probability = _number(meta.get("probability"), f"{where}: metadata.probability")
        if probability is not None and not 0 <= probability <= 1:
            raise PipelineImportError(
                f"{where}: metadata.probability {probability:g} is not 0 to 1"
            )
        closed = _truth(meta.get("isClosed", False), f"{where}: metadata.isClosed")
        stages.append(
            Stage(
                label=str(s["label"]),
                order=_number(s.get("displayOrder"), f"{where}: displayOrder") or i,
                probability=probability,
                closed=closed,
                # HubSpot says won with a probability of 1 on a closed stage
                won=closed and probability == 1,
                external_id=str(s["id"]) if "id" in s else None,
                meta={"hubspot_stage_id": str(s["id"])} if "id" in s else {},
            )
        )
    return stages


_ODOO_NAMES = {
    "name": ("name", "Stage Name", "Name"),
    "sequence": ("sequence", "Sequence"),
    "is_won": ("is_won", "Is Won Stage?", "Is Won Stage"),
    "fold": ("fold", "Folded in Pipeline", "Folded"),
    "probability": ("probability", "Probability (%)", "Probability"),
    "id": ("id", "ID", "External ID"),
}


def _odoo(text: str, source: str) -> list[Stage]:
    """``crm.stage`` exported as CSV, with technical names or the labels Odoo shows."""
    rows = _rows(text, source, ())
    header = set(rows[0][1]) if rows else set()

    def column(name: str) -> str | None:
        return next((c for c in _ODOO_NAMES[name] if c in header), None)

    name, sequence, is_won = column("name"), column("sequence"), column("is_won")
    if name is None or sequence is None or is_won is None:
        if not rows:
            return []
        raise PipelineImportError(
            f"{source}:1: export crm.stage with the fields name, sequence and is_won "
            f"(and fold); the CSV has {', '.join(sorted(header))}"
        )
    fold, probability, ident = column("fold"), column("probability"), column("id")
    stages = []
    for line, r in rows:
        where = f"{source}:{line}"
        won = _truth(r[is_won], f"{where}: {is_won}")
        stages.append(
            Stage(
                label=r[name],
                order=_number(r[sequence], f"{where}: {sequence}") or 0,
                probability=_percent(r[probability], f"{where}: {probability}")
                if probability
                else (1.0 if won else None),
                closed=won,  # Odoo marks a lost deal lost, not by a stage
                won=won,
                external_id=r[ident] if ident and r.get(ident) else None,
                meta=({"odoo_id": r[ident]} if ident and r.get(ident) else {})
                | ({"folded": _truth(r[fold], f"{where}: {fold}")} if fold else {}),
            )
        )
    return stages


def _pipedrive(text: str, source: str, pipeline: str | None) -> list[Stage]:
    """``GET /v1/stages`` (``data``): every pipeline's stages; pick one with ``pipeline``."""
    data = _json(text, source)
    raw = data.get("data") if isinstance(data, dict) else data
    if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
        raise PipelineImportError(f"{source}: expected the JSON of GET /v1/stages (with `data`)")
    groups: dict[str, list[dict[str, Any]]] = {}
    for s in raw:
        groups.setdefault(str(s.get("pipeline_id", "")), []).append(s)
    listed = [
        {"id": pid, "label": str(group[0].get("pipeline_name", pid)), "stages": group}
        for pid, group in groups.items()
    ]
    chosen = _choose(listed, pipeline, source, key=lambda p: (str(p["id"]), str(p["label"])))
    stages = []
    for i, s in enumerate(chosen["stages"]):
        where = f"{source}: stage {s.get('id', i + 1)}"
        if "name" not in s:
            raise PipelineImportError(f"{where}: a stage needs its `name`")
        if s.get("active_flag") is False:
            continue
        stages.append(
            Stage(
                label=str(s["name"]),
                order=_number(s.get("order_nr"), f"{where}: order_nr") or i,
                probability=_percent(s.get("deal_probability"), f"{where}: deal_probability"),
                closed=False,  # won and lost are a deal's status in Pipedrive, not stages
                won=False,
                external_id=str(s["id"]) if "id" in s else None,
                meta={"pipedrive_stage_id": s["id"]} if "id" in s else {},
            )
        )
    return stages


def _choose(
    pipelines: list[dict[str, Any]],
    wanted: str | None,
    source: str,
    *,
    key: Callable[[dict[str, Any]], tuple[str, str]],
) -> dict[str, Any]:
    names = [key(p) for p in pipelines]
    if wanted is not None:
        for p, (pid, label) in zip(pipelines, names, strict=True):
            if wanted in (pid, label):
                return p
        raise PipelineImportError(
            f"{source}: no pipeline {wanted!r}; it holds "
            + ", ".join(f"{label} (id {pid})" for pid, label in names)
        )
    if not pipelines:
        raise PipelineImportError(f"{source}: the export holds no pipeline")
    if len(pipelines) > 1:
        raise PipelineImportError(
            f"{source} holds {len(pipelines)} pipelines: "
            + ", ".join(f"{label} (id {pid})" for pid, label in names)
            + "; pick one with --pipeline"
        )
    return pipelines[0]


def read_stages(
    system: System, text: str, *, source: str = "<export>", pipeline: str | None = None
) -> list[Stage]:
    """The stages of ``system``'s export ``text``, in pipeline order."""
    if system == "salesforce":
        stages = _salesforce(text, source)
    elif system == "hubspot":
        stages = _hubspot(text, source, pipeline)
    elif system == "odoo":
        stages = _odoo(text, source)
    elif system == "pipedrive":
        stages = _pipedrive(text, source, pipeline)
    else:
        raise ValueError(f"system must be one of {', '.join(SYSTEMS)}, not {system!r}")
    if not [s for s in stages if not s.closed]:
        raise PipelineImportError(f"{source}: no open stage to make a rung of")
    return sorted(stages, key=lambda s: s.order)


# ---- writing the ladder ---------------------------------------------------------------------

# Stages that name the seller's work, not a step the prospect takes: (words, why, instead).
_SELLER_WORK: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (
        ("prospecting", "new", "lead in"),
        "finding the prospect is the seller's work",
        "a short reply admitting the problem (size 1)",
    ),
    (
        ("needs analysis", "needs defined", "needs assessment"),
        "analysing needs is the seller's work",
        "a discovery meeting the prospect attends, bringing their pain and timeline "
        "(requires: [pain, timeline])",
    ),
    (
        ("qualification", "qualified", "qualify"),
        "qualifying is the seller's judgement",
        "a discovery call whose answer classifies the deal (outcomes: current_opportunity, "
        "no_current_opportunity, not_a_prospect)",
    ),
    (
        ("value proposition",),
        "presenting value is the seller's work",
        "a yes to a demo or a presentation of the solution",
    ),
    (
        ("decision maker", "id. decision"),
        "identifying decision makers is the seller's research",
        "an introduction to the decision maker: a meeting the prospect sets up with them",
    ),
    (
        ("perception analysis",),
        "analysing perception is the seller's work",
        "a review call where the prospect gives feedback on a draft proposal",
    ),
    (
        ("contact made", "contacted", "attempted to contact"),
        "making contact is the seller's activity",
        "a 15-minute call the prospect accepts",
    ),
    (
        ("contract sent", "proposal made", "quote sent"),
        "sending is the seller's act",
        "a meeting, on a set date, where the prospect reviews it with you",
    ),
)

_KINDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("trial", "pilot", "poc"), "trial"),
    (("webinar",), "webinar"),
    (("demo", "presentation", "meeting", "appointment", "analysis", "decision"), "meeting"),
    (("proposal", "quote", "contract", "proposition", "negotiat", "review"), "proposal"),
    (("call", "contact"), "call"),
    (("qualif", "prospect", "new", "lead"), "conversation"),
)


def _matches(label: str, words: Iterable[str]) -> bool:
    low = label.lower()
    return any(re.search(rf"(^|[^a-z]){re.escape(w)}", low) for w in words)


def _kind(label: str) -> str:
    return next((kind for words, kind in _KINDS if _matches(label, words)), "custom")


# words YAML 1.1 (PyYAML) reads as booleans or null, never written as a bare id
_YAML_WORDS = frozenset(("y", "n", "yes", "no", "true", "false", "on", "off", "null"))


def _slug(label: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_") or "stage"
    if not base[0].isalpha():
        base = f"stage_{base}"
    base = base[:56]
    if base in _YAML_WORDS:
        base = f"{base}_stage"  # `next: no` would read as false
    slug, n = base, 2
    while slug in taken or slug == "park":
        slug, n = f"{base}_{n}", n + 1
    taken.add(slug)
    return slug


def _scalar(value: Any) -> str:
    """``value`` as one line of YAML (a flow mapping for a dict)."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
        # NEL written raw in a quoted scalar reads back as a space (see Ladder.to_yaml)
        if "\x85" in data:
            return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"')
        return dumper.represent_str(data)

    Dumper.add_representer(str, text)
    out: str = yaml.dump(
        value, Dumper=Dumper, default_flow_style=True, allow_unicode=True, width=10_000
    )
    return out.strip().removesuffix("...").strip()


def import_pipeline(
    system: System,
    text: str,
    *,
    source: str = "<export>",
    name: str | None = None,
    pipeline: str | None = None,
) -> str:
    """A starter ladder (YAML text, with comments) from ``system``'s pipeline export.

    Open stages become rungs in pipeline order, each leading to the next and the last to
    the won end; closed stages become ends (a ``won`` and a ``lost`` end are added where
    the CRM keeps those as a deal's status rather than a stage). The text is compiled
    before it is returned: it always passes ``commitladder validate``.
    """
    from ._ladder import Ladder

    stages = read_stages(system, text, source=source, pipeline=pipeline)
    taken: set[str] = set()
    opened = [(s, _slug(s.label, taken)) for s in stages if not s.closed]
    won = [(s, _slug(s.label, taken)) for s in stages if s.closed and s.won]
    lost = [(s, _slug(s.label, taken)) for s in stages if s.closed and not s.won]
    won_end = won[0][1] if won else _slug("won", taken)
    lost_end = lost[0][1] if lost else _slug("lost", taken)
    title = {"salesforce": "Salesforce", "hubspot": "HubSpot", "odoo": "Odoo"}.get(
        system, "Pipedrive"
    )
    lines = _header(title, source, _slug(name or f"{system}_pipeline", set()), opened)
    lines += _rung_lines(opened, won_end, lost_end)
    ends: list[tuple[Stage | None, str, str]] = [(s, slug, "won") for s, slug in won]
    ends += [(s, slug, "lost") for s, slug in lost]
    if not won:
        ends.insert(0, (None, won_end, "won"))
    if not lost:
        ends.append((None, lost_end, "lost"))
    lines += _end_lines(title, ends)
    text_out = "\n".join(line for line in lines if line) + "\n"
    Ladder.from_yaml(text_out, source=f"the ladder imported from {source}")  # always loads
    return text_out


def _header(title: str, source: str, ladder_id: str, opened: list[tuple[Stage, str]]) -> list[str]:
    """The comments that say where the ladder came from, and its top-level fields."""
    lines = [
        f"# A starter ladder from the {title} pipeline in {source}.",
        "# Each open stage is a rung and each closed one an end. A rung is a commitment the",
        "# prospect makes; where a stage is the seller's work, a comment suggests the",
        "# commitment to ask for instead. Check it: commitladder check this-file.yaml",
    ]
    if len(opened) > 1 and {s.probability for s, _ in opened} == {1.0}:
        lines += [
            "# Every open stage has a probability of 100% (the CRM's default): give each a",
            "# real one, or a forecast from declared probabilities counts every open deal won.",
        ]
    return [
        *lines,
        f"ladder: {ladder_id}",
        "version: 1",
        f"title: {_scalar(f'{title} pipeline (imported)')}",
        f"start: {opened[0][1]}",
        "defaults:",
        "  expires_after: 7d",
        "  follow_ups: {max: 2, every: 2d}",
        "  cooldown: 3d",
        "  next_ask_within: 3d",
        "  max_asks: 3",
    ]


def _rung_lines(opened: list[tuple[Stage, str]], won_end: str, lost_end: str) -> list[str]:
    """The ``rungs:`` section: each open stage leads to the next, the last to the won end."""
    lines = ["rungs:"]
    for i, (stage, slug) in enumerate(opened):
        following = opened[i + 1][1] if i + 1 < len(opened) else won_end
        for words, why, instead in _SELLER_WORK:
            if _matches(stage.label, words):
                note = (
                    f"{stage.label!r}: {why}, not a commitment the prospect makes. "
                    f"Ask instead for {instead}."
                )
                lines += textwrap.wrap(note, 92, initial_indent="  # ", subsequent_indent="  # ")
                break
        lines += [
            f"  {slug}:",
            f"    kind: {_kind(stage.label)}",
            f"    size: {min(10, 1 + i * 9 // max(1, len(opened) - 1)) if len(opened) > 1 else 1}",
            f"    title: {_scalar(stage.label)}",
            f"    next: {following}",
            f"    on_decline: {lost_end}" if i == len(opened) - 1 else "",
            f"    stage: {_scalar(stage.label)}",
        ]
        if stage.probability is not None:
            lines.append(f"    probability: {stage.probability:g}")
        if stage.meta:
            lines.append(f"    meta: {_scalar(dict(stage.meta))}")
    return lines


def _end_lines(title: str, ends: list[tuple[Stage | None, str, str]]) -> list[str]:
    """The ``ends:`` section: closed stages, and the won or lost end a CRM keeps as a status."""
    lines = ["ends:"]
    for end, slug, result in ends:
        if end is None:
            lines.append(f"  # {title} keeps {result} as a deal's status, not a stage")
            lines.append(f"  {slug}: {{result: {result}, probability: {int(result == 'won')}}}")
            continue
        probability = end.probability if end.probability is not None else float(result == "won")
        fields: dict[str, Any] = {"result": result, "stage": end.label}
        fields["probability"] = int(probability) if probability in (0, 1) else probability
        if end.meta:
            fields["meta"] = dict(end.meta)
        # one flow mapping dumped whole: YAML quotes what a flow context needs (`}`, `,`)
        lines.append(f"  {slug}: {_scalar(fields)}")
    return lines

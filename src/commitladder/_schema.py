"""The JSON Schema of the ladder format, made from the pydantic models (never by hand).

Editors use it through the YAML language server: a ladder file that starts with
``# yaml-language-server: $schema=<path or URL>`` gets completion, hover docs
and errors as you type. ``docs/schema/ladder.schema.json`` is this output,
committed (a test keeps them equal). The schema checks shapes; cross-references
(targets, start, rules) are checked by ``commitladder validate``.
"""

from __future__ import annotations

import json
from typing import Any

from ._definition import LadderDefinition

__all__ = ["MODELINE", "ladder_schema", "schema_text"]

#: The first line of a ladder file, when the schema sits in ``docs/schema/`` of a checkout.
MODELINE = "# yaml-language-server: $schema=../../docs/schema/ladder.schema.json"


def ladder_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that a ladder file's data must satisfy."""
    schema = LadderDefinition.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "commitladder ladder",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def schema_text() -> str:
    """``ladder_schema()`` as the JSON text ``commitladder schema`` prints."""
    return json.dumps(ladder_schema(), indent=2, ensure_ascii=False) + "\n"

"""Write docs/reference/configuration.md from the run config's pydantic schema (the JSON Schema that
`eval-orchestrator config schema` prints): every key, its type, default and description.

    python scripts/gen_config_reference.py    (tests/test_docs.py fails when the page is stale)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "reference" / "configuration.md"


def _type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    if "enum" in prop:
        return " \\| ".join(json.dumps(v) for v in prop["enum"])
    if "anyOf" in prop:
        return " \\| ".join(_type(p, defs) for p in prop["anyOf"])
    if prop.get("type") == "array":
        return f"list[{_type(prop.get('items', {}), defs)}]"
    if "const" in prop:
        return json.dumps(prop["const"])
    return str(prop.get("type", "any"))


def _rows(name: str, schema: dict[str, Any], defs: dict[str, Any], prefix: str, out: list[str]) -> None:
    nested = []
    for key, prop in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        default = json.dumps(prop["default"]) if "default" in prop else "required" if key in schema.get(
            "required", []) else "-"  # fmt: skip
        text = " ".join(str(prop.get("description", "")).split()).replace("|", "\\|")
        out.append(f"| `{path}` | {_type(prop, defs)} | `{default}` | {text} |")
        ref = prop.get("$ref") or next((p["$ref"] for p in prop.get("anyOf", []) if "$ref" in p), None)
        if ref and prop.get("type") != "array":
            nested.append((path, defs[ref.rsplit("/", 1)[-1]]))
    for path, sub in nested:
        _rows(path, sub, defs, f"{path}.", out)


def render() -> str:
    sys.path.insert(0, str(REPO))
    from eval_orchestrator.config import json_schema

    schema = json_schema()
    defs = schema.get("$defs", {})
    out = [
        "# Run config reference",
        "",
        "Generated from the run config's schema (`eval-orchestrator config schema` prints it as JSON Schema) by",
        "`python scripts/gen_config_reference.py`. Precedence: defaults < YAML < environment < flags.",
        "",
        "| key | type | default | what |",
        "|---|---|---|---|",
    ]
    _rows("RunConfig", schema, defs, "", out)
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    PAGE.write_text(render())
    print(f"wrote {PAGE.relative_to(REPO)}")

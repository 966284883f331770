"""Regenerate the parts of the docs that are generated from the code (the environment variable table).

python scripts/docs.py          # rewrite them
python scripts/docs.py --check  # exit 1 when one is out of date (the tests run this check)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def blocks() -> dict[tuple[Path, str], str]:
    from eval_orchestrator import env

    return {(ROOT / "docs" / "reference" / "environment.md", "env-table"): env.markdown_table()}


def render(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(\n<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"no <!-- {name}:start/end --> markers")
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text)


def main(check: bool) -> int:
    stale = []
    for (path, name), body in blocks().items():
        text = path.read_text()
        new = render(text, name, body)
        if new != text:
            stale.append(f"{path.name}: {name}")
            if not check:
                path.write_text(new)
    if check and stale:
        print("out of date (run python scripts/docs.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main("--check" in sys.argv))

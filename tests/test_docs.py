"""The docs that are generated stay current, and the README stays the short one."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_config_reference_is_current() -> None:
    spec = importlib.util.spec_from_file_location("gen_config_reference", REPO / "scripts" / "gen_config_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = (REPO / "docs" / "reference" / "configuration.md").read_text()
    assert module.render() == page, "regenerate it: python scripts/gen_config_reference.py"
    assert "`watch.report`" in page and "`inspect.limit`" in page  # nested sections are listed


def test_the_readme_is_short_and_every_docs_page_is_in_the_site() -> None:
    assert len((REPO / "README.md").read_text().splitlines()) <= 250
    nav = (REPO / "mkdocs.yml").read_text()
    pages = sorted(str(p.relative_to(REPO / "docs")) for p in (REPO / "docs").rglob("*.md"))
    assert [p for p in pages if p not in nav] == []

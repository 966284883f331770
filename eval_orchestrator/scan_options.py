"""Inspect Scout scanners after each sample (`run --scanner` and its `--scan-*` options), kept as
`inspect eval` takes them and resolved by Inspect's own resolver (``inspect_api.resolve_scanner``), so
they mean what they mean there. Scanning needs the inspect-scout package, as with `inspect eval`."""

from __future__ import annotations

from pydantic import Field

from eval_orchestrator.strict import StrictModel


class ScanOptions(StrictModel):
    """``inspect.scan`` in the run config; KEY=VALUE lists as on Inspect's command line."""

    scanner: str = Field(description="Scanners: a .py file (file.py@name), a YAML/JSON scanner config, or pkg/name.")
    scanner_args: list[str] | None = Field(default=None, description="KEY=VALUE args of the scanners.")
    scans: str | None = Field(default=None, description="Where scan results go (a folder or URL).")
    scan_name: str | None = Field(default=None, description="The scan's name.")
    scan_tags: str | None = Field(default=None, description="The scan's tags (comma-separated).")
    scan_metadata: list[str] | None = Field(default=None, description="KEY=VALUE metadata of the scan.")
    scan_filter: list[str] | None = Field(default=None, description="Transcript filters (-F).")
    scan_model: str | None = Field(default=None, description="The scanners' model.")
    scan_model_base_url: str | None = Field(default=None, description="The scanners' model base URL.")
    scan_model_args: list[str] | None = Field(default=None, description="KEY=VALUE args of the scanners' model.")
    scan_model_config: str | None = Field(default=None, description="YAML/JSON file of the scanners' model args.")
    scan_model_roles: list[str] | None = Field(default=None, description="ROLE=MODEL roles of the scanners.")
    scan_generate_config: str | None = Field(default=None, description="YAML/JSON generate config of the scanners.")

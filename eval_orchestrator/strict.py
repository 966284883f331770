"""The base of every run-config section."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    # Unknown keys are errors (a typo must not silently fall back to a default); assignments are
    # validated too; inf and nan are never a setting, so they are refused like any bad value.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

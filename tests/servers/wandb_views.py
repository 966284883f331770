"""The W&B Reports part of the test server: exactly the GraphQL that the pinned ``wandb-workspaces``
(0.4.13) sends to save and read a Report, read from its source (``reports/v2/gql.py`` and
``Report.save``), and the SDK queries it calls on the way (``Api.projects``, ``Api.create_project``):

- ``ProjectInternalId``: each run set's project (an unknown project is an error, as in W&B);
- ``GetProjects``: ``Report.save`` lists the entity's projects, then ``CreateProject`` if missing;
- ``upsertView``: the Report (its spec is a JSON string), inserted or updated by id;
- ``SpecificReport``: a saved Report read back by id (``Report.from_url``).

Views are kept whole, so a test reads back exactly what was saved.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.servers.wandb_server import State


def _b64(kind: str, n: int | str) -> str:
    return base64.b64encode(f"{kind}:{n}".encode()).decode()


@dataclass
class View:
    id: str
    name: str
    entity: str
    project: str
    type: str
    display_name: str
    description: str
    spec: dict[str, Any]
    updated_at: str
    saves: int = 1

    @property
    def blocks(self) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = self.spec.get("blocks", [])
        return blocks


@dataclass
class Views:
    by_id: dict[str, View] = field(default_factory=dict)
    upserts: int = 0


class ViewOperations:
    """Mixed into the server: ``state.views`` holds the Reports; ``state.project_exists`` says which
    projects there are; ``state.projects`` takes the ones ``CreateProject`` makes."""

    state: State

    def view_handlers(self) -> dict[str, Any]:
        return {
            "ProjectInternalId": self._project_internal_id,
            "GetProjects": self._get_projects,
            "CreateProject": self._create_project,
            "upsertView": self._upsert_view,
            "SpecificReport": self._specific_report,
        }

    def _project_json(self, entity: str, name: str) -> dict[str, Any]:
        return {
            "__typename": "Project",
            "id": _b64("Project", f"{entity}/{name}"),
            "name": name,
            "entityName": entity,
            "createdAt": "2026-01-01T00:00:00",
            "isBenchmark": False,
            "user": None,
        }

    def _project_internal_id(self, variables: dict[str, Any]) -> dict[str, Any]:
        entity, name = variables["entityName"], variables["projectName"]
        if not self.state.project_exists(entity, name):
            return {"project": None}
        return {"project": {"id": _b64("Project", f"{entity}/{name}"), "internalId": f"{entity}/{name}"}}

    def _get_projects(self, variables: dict[str, Any]) -> dict[str, Any]:
        entity = variables["entity"]
        with self.state.lock:
            names = sorted(
                {p for e, p in self.state.projects if e == entity}
                | {p for e, p, _ in self.state.runs if e == entity}
                | {p for e, p, _ in self.state.collections if e == entity}
            )
        edges = [{"node": self._project_json(entity, name)} for name in names]
        page = {"__typename": "PageInfo", "endCursor": None, "hasNextPage": False}
        return {"models": {"pageInfo": page, "edges": edges}}

    def _create_project(self, variables: dict[str, Any]) -> dict[str, Any]:
        spec = variables["input"]
        entity, name = spec["entityName"], spec["name"]
        with self.state.lock:
            self.state.projects.add((entity, name))
        project = {
            "id": _b64("Project", f"{entity}/{name}"),
            "name": name,
            "entityName": entity,
            "description": None,
            "access": "PRIVATE",
            "views": None,
        }
        return {"result": {"project": project, "model": project, "inserted": True}}

    def _upsert_view(self, variables: dict[str, Any]) -> dict[str, Any]:
        spec = json.loads(variables["spec"])  # a string that is not JSON fails here, as in W&B
        entity, project = variables["entityName"], variables["projectName"]
        if not self.state.project_exists(entity, project):
            raise ValueError(f"project {entity}/{project} not found")
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        views: Views = self.state.views
        with self.state.lock:
            views.upserts += 1
            existing = views.by_id.get(variables.get("id") or "")
            inserted = existing is None
            view = existing or View(
                id=_b64("View", len(views.by_id) + 1),
                name=variables["name"],
                entity=entity,
                project=project,
                type=variables["type"],
                display_name="",
                description="",
                spec={},
                updated_at=now,
                saves=0,
            )
            view.display_name, view.description = variables.get("displayName") or "", variables.get("description") or ""
            view.spec, view.type, view.updated_at = spec, variables["type"], now
            view.saves += 1
            views.by_id[view.id] = view
        return {"upsertView": {"view": self._view_json(view), "inserted": inserted}}

    def _view_json(self, view: View) -> dict[str, Any]:
        return {
            "id": view.id,
            "type": view.type,
            "name": view.name,
            "displayName": view.display_name,
            "description": view.description,
            "project": {
                "id": _b64("Project", f"{view.entity}/{view.project}"),
                "name": view.project,
                "entityName": view.entity,
            },
            "spec": json.dumps(view.spec),
            "updatedAt": view.updated_at,
            "createdAt": view.updated_at,
        }

    def _specific_report(self, variables: dict[str, Any]) -> dict[str, Any]:
        view = self.state.views.by_id.get(variables["reportId"])
        return {"view": None if view is None else self._view_json(view)}

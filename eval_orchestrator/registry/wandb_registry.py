"""The W&B Model Registry backend, on the real SDK (``wandb.Api``).

Resolving asks W&B what an alias points at (version, manifest, metadata); the bytes are then
fetched by our store, which verifies every file's MD5 (the SDK's ``download`` does not, and its
``skip_cache`` path races in the pinned SDK), so W&B's own cache never holds a second copy.

``<name>:<alias>-local`` artifacts (references to a shared filesystem, logged by a trainer before
its upload finishes) are used in place when their files match their digests; while they are
incomplete we poll for ``<name>:<alias>`` up to ``store.wait_timeout`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from eval_orchestrator.checkpoint import Manifest, ManifestEntry, ResolvedCheckpoint
from eval_orchestrator.errors import (
    CollectionNotFound,
    OrchestratorError,
    RegistryError,
    StoreError,
    Unavailable,
    VersionNotFound,
)
from eval_orchestrator.local_files import first_mismatch, in_place_root, iter_reference
from eval_orchestrator.notify import Notify, quiet
from eval_orchestrator.refs import (
    DEFAULT_ALIAS,
    CheckpointRef,
    CollectionRef,
    alias_problem,
    format_ref,
    version_number,
)
from eval_orchestrator.registry.base import VersionInfo
from eval_orchestrator.run_config import StoreConfig
from eval_orchestrator.wandb_api import first_line, not_found, open_api, wandb_errors

if TYPE_CHECKING:
    import requests
    import wandb

LOCAL_SUFFIX = "-local"
LISTING_PAGE = 100  # versions per listing request
DOWNLOAD_CHUNK = 256 * 1024  # also how soon a stopped download notices
FILES_PAGE = 1000


def _is_transient(exc: BaseException) -> bool:
    import requests

    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return True
    response = getattr(exc, "response", None)
    return response is not None and (response.status_code >= 500 or response.status_code == 429)


class WandbFileSource:
    """Streams an artifact's files from the URLs W&B hands out (and reference entries from their refs)."""

    def __init__(self, artifact: wandb.Artifact, api_key: str | None, base_url: str, workers: int) -> None:
        import requests
        from requests.adapters import HTTPAdapter

        self.artifact = artifact
        self.api_key = api_key
        self.api_host = urlparse(base_url).netloc
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_maxsize=workers)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._urls: dict[str, str] | None = None
        self._lock = threading.Lock()

    def _url(self, path: str) -> str:
        with self._lock:
            if self._urls is None:
                self._urls = self._list_files()
        try:
            return self._urls[path]
        except KeyError:
            raise StoreError(f"W&B lists no file {path!r} for {self.artifact.source_qualified_name}") from None

    def _list_files(self) -> dict[str, str]:
        name = self.artifact.source_qualified_name
        try:
            with wandb_errors(self.api_host):
                return {f.name: f.direct_url for f in self.artifact.files(per_page=FILES_PAGE)}
        except OrchestratorError:
            raise
        except Exception as exc:  # the SDK's WandbApiFailedError and kin: W&B answered, with an error
            raise Unavailable(f"listing the files of {name} in W&B failed: {first_line(exc)}") from None

    @retry(
        retry=retry_if_exception(_is_transient),
        stop=stop_after_attempt(4),
        wait=wait_exponential(multiplier=0.5, max=8),
        reraise=True,
    )
    def _get(self, url: str) -> requests.Response:
        # Signed cloud URLs take no credentials; files served by the W&B host itself do.
        auth = ("api", self.api_key or "") if urlparse(url).netloc == self.api_host else None
        response = self.session.get(url, stream=True, auth=auth, timeout=60)
        response.raise_for_status()
        return response

    def iter_bytes(self, entry: ManifestEntry) -> Iterator[bytes]:
        if entry.ref:
            yield from iter_reference(entry)
            return
        import requests

        try:
            with self._get(self._url(entry.path)) as response:
                yield from response.iter_content(DOWNLOAD_CHUNK)
        except requests.RequestException as exc:  # after the retries above: W&B's storage is away
            raise Unavailable(
                f"downloading {entry.path!r} of {self.artifact.source_qualified_name} failed: {exc}"
            ) from None


class WandbRegistry:
    def __init__(
        self,
        store: StoreConfig,
        notify: Notify = quiet,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.notify = notify
        self.sleep = sleep
        self._api_handle: wandb.Api | None = None
        self._artifacts: dict[str, wandb.Artifact] = {}
        self._types: dict[str, str] = {}  # collection path -> its artifact type, for listings

    # -- the Registry protocol ---------------------------------------------------------------

    def resolve(self, ref: CheckpointRef) -> ResolvedCheckpoint:
        real = self._lookup(ref)
        local_ref = ref.with_alias(ref.alias + LOCAL_SUFFIX)
        local = None if ref.alias.endswith(LOCAL_SUFFIX) else self._lookup(local_ref)
        if local is not None and real is not None and real.version == local.version:
            real = None  # e.g. `latest` moved onto the '-local' version itself: the upload is not there yet
        wanted = self._resolved(ref, real) if real is not None else None
        if local is not None:
            candidate = self._resolved(ref, local)
            root = in_place_root(candidate.manifest.entries)
            if root is None:
                problem: str | None = "its files are not one directory of file:// references"
            else:
                problem = first_mismatch(root, candidate.manifest.entries)
            if problem is None and wanted is not None and not _same_files(candidate, wanted):
                problem = f"it holds other files than {format_ref(ref)}"
            if problem is None:
                return replace(candidate, in_place=str(root))
            if wanted is None:
                wanted = self._resolved(ref, self._wait_for(ref, local_problem=problem))
            else:
                self.notify(f"not using {format_ref(local_ref)}: {problem}")
        if wanted is None:
            where = "/".join(part for part in (ref.entity or "<default entity>", ref.project) if part)
            raise VersionNotFound(
                f"{format_ref(ref)} not found: W&B has no version or alias {ref.alias!r} of {ref.collection!r} "
                f"(nor {local_ref.alias!r}) in {where}, or no such project there that this API key can see; "
                "check the entity, project, name and alias in the W&B UI"
            )
        return wanted

    def source(self, resolved: ResolvedCheckpoint) -> WandbFileSource:
        artifact = self._artifacts[resolved.digest]
        api = self.connect()
        return WandbFileSource(artifact, api.api_key, api.settings["base_url"], self.store.workers)

    def list_versions(self, collection: CollectionRef) -> list[VersionInfo]:
        """Every committed version of ``collection`` with its aliases: one paginated listing (one
        request per 100 versions; the artifact type is looked up on the first call only)."""
        api = self.connect()
        path = str(collection)
        if path not in self._types:
            newest = self._lookup(collection.at(DEFAULT_ALIAS))
            if newest is None:
                raise CollectionNotFound(
                    f"{path} not found in W&B (no version of it, or no such project that this API key can see); "
                    "check the entity, project and collection name in the W&B UI"
                )
            self._types[path] = newest.type
        with wandb_errors(api.settings["base_url"]):
            listed = [
                VersionInfo(collection.name, a.version, tuple(sorted(a.aliases)), a.file_count, a.size,
                            str(a.created_at or ""), a.digest, dict(a.metadata or {}))
                for a in api.artifacts(self._types[path], path, per_page=LISTING_PAGE)
            ]  # fmt: skip
        return sorted(listed, key=lambda info: version_number(info.version))

    def set_alias(self, ref: CheckpointRef, alias: str) -> ResolvedCheckpoint:
        """Add ``alias`` to the version ``ref`` names; W&B moves it off the version that had it."""
        if problem := alias_problem(alias):
            raise RegistryError(problem)
        api = self.connect()
        with wandb_errors(api.settings["base_url"]):
            artifact = api.artifact(format_ref(ref))
            if alias not in artifact.aliases:
                artifact.aliases.append(alias)
                artifact.save()
        return self._resolved(ref.with_alias(artifact.version), artifact)

    def update_metadata(self, ref: CheckpointRef, updates: Mapping[str, Any]) -> None:
        api = self.connect()
        with wandb_errors(api.settings["base_url"]):
            artifact = api.artifact(format_ref(ref))
            artifact.metadata.update(updates)
            artifact.save()

    # -- W&B access --------------------------------------------------------------------------

    def connect(self) -> wandb.Api:
        """The API session, opened on first use; bad keys and unreachable hosts fail here."""
        if self._api_handle is None:
            self._api_handle = open_api()
        return self._api_handle

    def _lookup(self, ref: CheckpointRef) -> wandb.Artifact | None:
        api = self.connect()
        name = format_ref(ref)
        with wandb_errors(api.settings["base_url"]):
            try:
                found: wandb.Artifact = api.artifact(name)
                return found
            except Exception as exc:
                if not_found(exc):  # W&B answered: no such project, version or alias
                    return None
                raise

    def _resolved(self, ref: CheckpointRef, artifact: wandb.Artifact) -> ResolvedCheckpoint:
        manifest = Manifest.of(
            ManifestEntry(path, entry.digest, int(entry.size or 0), entry.ref, dict(entry.extra or {}))
            for path, entry in artifact.manifest.entries.items()
        )
        if artifact.digest and manifest.digest != artifact.digest:
            raise RegistryError(
                f"{artifact.qualified_name}: its manifest does not match its digest {artifact.digest}; "
                "the artifact is inconsistent in W&B, refusing it"
            )
        self._artifacts[manifest.digest] = artifact
        created = artifact.created_at
        return ResolvedCheckpoint(
            ref=ref,
            version=artifact.version,
            manifest=manifest,
            aliases=tuple(sorted(artifact.aliases)),
            metadata=dict(artifact.metadata or {}),
            description=artifact.description,
            created_at=str(created) if created else None,
        )

    def _wait_for(self, ref: CheckpointRef, local_problem: str) -> wandb.Artifact:
        name = format_ref(ref)
        timeout = self.store.wait_timeout
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RegistryError(
                    f"timed out after {timeout:g}s waiting for {name} to be uploaded "
                    f"({ref.alias + LOCAL_SUFFIX!r} exists but {local_problem}); "
                    "check the trainer's upload or raise WANDB_ARTIFACT_WAIT_TIMEOUT_SEC"
                )
            self.notify(
                f"waiting for {name}: {ref.alias + LOCAL_SUFFIX!r} is incomplete ({local_problem}); "
                f"{remaining:.0f}s left"
            )
            self.sleep(min(self.store.poll_interval, remaining))
            found = self._lookup(ref)
            if found is not None:
                return found


def _same_files(a: ResolvedCheckpoint, b: ResolvedCheckpoint) -> bool:
    digests = {p: e.digest for p, e in a.manifest.entries.items()}
    return digests == {p: e.digest for p, e in b.manifest.entries.items()}

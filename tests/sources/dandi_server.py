"""A stand-in DANDI archive on 127.0.0.1: the API endpoints the dandi client calls, blobs with Range, and
Zarr assets with their file listings and S3-style objects.

It serves real files with their real dandi-etag digests (Zarr folders with their dandi-zarr-checksum,
computed by zarr-checksum from each file's MD5), counts the bytes it sends, and can be told to drop
connections mid-download, to vanish after a drop, or to serve corrupted bytes. The endpoints and JSON
shapes follow what dandi 0.81's `DandiAPIClient` reads (dandi/dandiapi.py, dandi/utils.py
`get_instance`) and what the archive answers (dandi-archive's dandiapi/zarr/views: a Zarr's files listed
S3-style, `Key`/`LastModified`/`ETag`/`Size`, paged by `after`; `download=true` redirects to the object).
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from dandischema import __version__ as SCHEMA_VERSION
from dandischema.digests.dandietag import DandiETag
from zarr_checksum import compute_zarr_checksum
from zarr_checksum.generators import ZarrArchiveFile

TIME = "2026-01-01T00:00:00.000000Z"
DRAFT = "draft"

SMALL = {"neurons": 30, "minutes": 0.75, "clip_seconds": 2.0, "repeated_clips": 3, "repeats": 3, "seed": 7}
"""Two small animals (2-second clips: long enough to train and score on), a few MB each."""
OLD, LATEST = "0.220101.0000", "0.230101.1200"
SESSION_0 = "sub-000/sub-000_ses-sim-000.nwb"
SESSION_1 = "sub-001/sub-001_ses-sim-001.nwb"
NO_MOVIE = "sub-002/sub-002_ses-no-movie.nwb"


@dataclass(frozen=True)
class ServedAsset:
    """One asset of one version: its path, id and blob (a file) or Zarr (a folder)."""

    asset_id: str
    path: str
    blob: str | None
    size: int
    digest: str
    zarr: str | None = None


@dataclass
class ServedDandiset:
    """A dandiset: its versions (draft and published ones, oldest first) and whether it is embargoed."""

    identifier: str
    versions: dict[str, list[ServedAsset]]
    embargoed: bool = False

    @property
    def published(self) -> list[str]:
        return [v for v in self.versions if v != DRAFT]


@dataclass
class DandiServer:
    """The server, its catalogue and its fault switches (set them between requests)."""

    api_key: str = "never-print-this-key-7f3a"
    page_size: int = 2
    drop_after: int | None = None
    """Bytes of a blob response to send before dropping the connection (None: never drop)."""
    drops_left: int = 0
    vanish_on_drop: bool = False
    """After dropping a connection, shut the whole server down (a server that goes away)."""
    delay_s: float = 0.0
    """Added to every request, as a network's round trip would be (benchmarks)."""
    bytes_sent: int = 0
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(method, path with query, Range header) of every request, in order."""
    zarr_page_size: int = 100
    """Files per page of a Zarr's listing (the archive's default is 1000)."""
    dandisets: dict[str, ServedDandiset] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    zarrs: dict[str, dict[str, bytes]] = field(default_factory=dict)
    """Zarr id -> {file path inside the Zarr: bytes served}."""
    zarr_md5s: dict[str, dict[str, str]] = field(default_factory=dict)
    """Zarr id -> {file path: MD5 of the bytes uploaded}, what the listing's ETag says."""
    zarr_records: dict[str, dict] = field(default_factory=dict)
    """Zarr id -> what `/api/zarr/{id}/` answers."""
    _httpd: ThreadingHTTPServer | None = None
    _connections: set[socket.socket] = field(default_factory=set)

    def add_dandiset(
        self, identifier: str, versions: dict[str, dict[str, Path]], *, embargoed: bool = False
    ) -> ServedDandiset:
        """Serve `versions` ({version: {asset path: file, or folder for a Zarr}}, published ones oldest
        first, plus draft)."""
        served = {}
        for version, files in versions.items():
            served[version] = [self._asset(identifier, path, file, embargoed) for path, file in files.items()]
        self.dandisets[identifier] = ServedDandiset(identifier, served, embargoed)
        return self.dandisets[identifier]

    def _asset(self, identifier: str, path: str, file: Path, embargoed: bool) -> ServedAsset:
        if file.is_dir():
            return self._zarr_asset(identifier, path, file)
        data = file.read_bytes()
        digest = DandiETag.from_file(file).as_str()
        owner = identifier if embargoed else "public"  # an embargoed dandiset's blobs are its own
        blob = str(uuid.uuid5(uuid.NAMESPACE_OID, f"{owner}/{digest}"))
        self.blobs[blob] = data
        asset_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{identifier}/{path}/{blob}"))
        return ServedAsset(asset_id, path, blob, len(data), digest)

    def _zarr_asset(self, identifier: str, path: str, folder: Path) -> ServedAsset:
        files = {
            file.relative_to(folder).as_posix(): file.read_bytes()
            for file in sorted(folder.rglob("*"))
            if file.is_file()
        }
        md5s = {key: hashlib.md5(data).hexdigest() for key, data in files.items()}
        entries = (ZarrArchiveFile(Path(key), len(files[key]), md5) for key, md5 in md5s.items())
        checksum = compute_zarr_checksum(entries).digest
        zarr = str(uuid.uuid5(uuid.NAMESPACE_OID, f"zarr/{checksum}"))
        size = sum(map(len, files.values()))
        self.zarrs[zarr], self.zarr_md5s[zarr] = files, md5s
        self.zarr_records[zarr] = {
            "name": path,
            "dandiset": identifier,
            "zarr_id": zarr,
            "status": "Complete",
            "checksum": checksum,
            "file_count": len(files),
            "size": size,
        }
        asset_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{identifier}/{path}/{zarr}"))
        return ServedAsset(asset_id, path, None, size, checksum, zarr)

    def corrupt_zarr_file(self, zarr: str, key: str) -> None:
        """Serve the Zarr file `key` with one byte changed (its listing still gives the true MD5)."""
        data = bytearray(self.zarrs[zarr][key])
        data[len(data) // 2] ^= 0xFF
        self.zarrs[zarr][key] = bytes(data)

    def corrupt(self, blob: str) -> None:
        """Serve `blob` with one byte changed (same size, different digest)."""
        data = bytearray(self.blobs[blob])
        data[len(data) // 2] ^= 0xFF
        self.blobs[blob] = bytes(data)

    def asset(self, identifier: str, version: str, path: str) -> ServedAsset:
        return next(a for a in self.dandisets[identifier].versions[version] if a.path == path)

    def blob_requests(self) -> list[tuple[str, str, str | None]]:
        return [r for r in self.requests if r[1].startswith("/blobs/")]

    def zarr_requests(self) -> list[tuple[str, str, str | None]]:
        """Requests to the Zarr API (listings, download redirects) and to Zarr objects."""
        return [r for r in self.requests if r[1].startswith(("/api/zarr/", "/s3/zarr/"))]

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api"

    def start(self) -> DandiServer:
        handler = type("Handler", (_Handler,), {"dandi": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening and cut the open (keep-alive) connections: the server is gone."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        for connection in list(self._connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def reset_counters(self) -> None:
        self.bytes_sent = 0
        self.requests.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    dandi: DandiServer

    def log_message(self, format: str, *args) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as separate writes: without this, Nagle's algorithm and delayed ACKs
        # add 40 ms to every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.dandi._connections.add(self.connection)

    def finish(self) -> None:
        self.dandi._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_GET(self) -> None:
        self._route(head=False)

    # --- routing -----------------------------------------------------------------------------------

    def _route(self, head: bool) -> None:
        url = urlsplit(self.path)
        path, query = url.path, dict(parse_qsl(url.query, keep_blank_values=True))
        self.dandi.requests.append((self.command, self.path, self.headers.get("Range")))
        time.sleep(self.dandi.delay_s)
        parts = [p for p in path.split("/") if p]
        if path == "/server-info":
            return self._json(self._server_info(), head)
        if parts[:2] == ["api", "info"]:
            return self._json({**self._server_info(), "schema_version": SCHEMA_VERSION}, head)
        if parts[:3] == ["api", "auth", "token"]:
            return self._json("ok", head) if self._authorised() else self._error(401, head)
        if parts[:1] == ["blobs"] and len(parts) == 2:
            return self._blob(parts[1], query, head)
        if parts[:2] == ["api", "assets"] and len(parts) == 4 and parts[3] == "download":
            return self._download(parts[2], head)
        if parts[:2] == ["api", "dandisets"] and len(parts) >= 3:
            return self._dandiset_route(parts[2], parts[3:], query, head)
        if parts[:2] == ["api", "zarr"] and len(parts) in (3, 4) and parts[2] in self.dandi.zarrs:
            return self._zarr_route(parts[2], parts[3:], query, head)
        if parts[:2] == ["s3", "zarr"] and len(parts) > 3:
            data = self.dandi.zarrs.get(parts[2], {}).get("/".join(parts[3:]))
            return self._error(404, head) if data is None else self._bytes(data, head)
        return self._error(404, head)

    def _zarr_route(self, zarr: str, rest: list[str], query: dict, head: bool) -> None:
        """A Zarr's record, or its files: listed S3-style a page at a time, or one redirected to."""
        files = self.dandi.zarrs[zarr]
        if not rest:
            return self._json(self.dandi.zarr_records[zarr], head)
        if rest != ["files"]:
            return self._error(404, head)
        prefix = query.get("prefix", "")
        if query.get("download") == "true":
            return self._redirect(f"{self.dandi.base_url}/s3/zarr/{zarr}/{prefix}")
        limit = int(query.get("limit", self.dandi.zarr_page_size))
        keys = [k for k in sorted(files) if k.startswith(prefix) and k > query.get("after", "")]
        page = [
            {"Key": k, "LastModified": TIME, "ETag": self.dandi.zarr_md5s[zarr][k], "Size": len(files[k])}
            for k in keys[:limit]
        ]
        following = None
        if len(keys) > limit:
            following = f"http://{self.headers['Host']}{urlsplit(self.path).path}?" + urlencode(
                {**query, "after": page[-1]["Key"]}
            )
        return self._json({"next": following, "previous": None, "results": page}, head)

    def _dandiset_route(self, identifier: str, rest: list[str], query: dict, head: bool) -> None:
        dandiset = self.dandi.dandisets.get(identifier)
        if dandiset is None:
            return self._error(404, head)
        if dandiset.embargoed and not self._authorised():
            return self._error(401, head)
        if not rest:
            return self._json(self._dandiset_json(dandiset), head)
        if rest == ["versions"]:
            versions = [self._version_json(dandiset, v) for v in reversed(dandiset.versions)]
            return self._json(self._page(versions, query), head)
        version = rest[1] if len(rest) >= 2 and rest[0] == "versions" else None
        if version not in dandiset.versions:
            return self._error(404, head)
        tail = rest[2:]
        if tail in ([], ["info"]):
            info = {**self._version_json(dandiset, version), "asset_validation_errors": []}
            return self._json({**info, "version_validation_errors": []}, head)
        assets = dandiset.versions[version]
        if tail == ["assets"]:
            chosen = [a for a in assets if a.path.startswith(query.get("path", ""))]
            if "glob" in query:
                chosen = [a for a in chosen if fnmatch.fnmatchcase(a.path, query["glob"])]
            return self._json(self._page([self._asset_json(a) for a in chosen], query), head)
        if len(tail) == 2 and tail[0] == "assets":
            asset = next((a for a in assets if a.asset_id == tail[1]), None)
            if asset is None:
                return self._error(404, head)
            return self._json(self._metadata(asset, identifier, version), head)
        return self._error(404, head)

    # --- JSON bodies --------------------------------------------------------------------------------

    def _server_info(self) -> dict:
        return {
            "version": "0.4.0",
            "cli-minimal-version": "0.60.0",
            "cli-bad-versions": [],
            "services": {"api": {"url": self.dandi.api_url}, "webui": {"url": self.dandi.base_url}},
        }

    def _version_json(self, dandiset: ServedDandiset, version: str) -> dict:
        assets = dandiset.versions[version]
        return {
            "version": version,
            "name": f"Simulated V1 {dandiset.identifier}",
            "asset_count": len(assets),
            "size": sum(a.size for a in assets),
            "created": TIME,
            "modified": TIME,
            "status": "Valid" if version == DRAFT else "Published",
        }

    def _dandiset_json(self, dandiset: ServedDandiset) -> dict:
        published = dandiset.published
        return {
            "identifier": dandiset.identifier,
            "created": TIME,
            "modified": TIME,
            "contact_person": "Test, Person",
            "embargo_status": "EMBARGOED" if dandiset.embargoed else "OPEN",
            "most_recent_published_version": (
                self._version_json(dandiset, published[-1]) if published else None
            ),
            "draft_version": self._version_json(dandiset, DRAFT),
        }

    @staticmethod
    def _asset_json(asset: ServedAsset) -> dict:
        return {
            "asset_id": asset.asset_id,
            "blob": asset.blob,
            "zarr": asset.zarr,
            "path": asset.path,
            "size": asset.size,
            "created": TIME,
            "modified": TIME,
        }

    def _metadata(self, asset: ServedAsset, identifier: str, version: str) -> dict:
        stored = f"blobs/{asset.blob}" if asset.zarr is None else f"s3/zarr/{asset.zarr}/"
        digest = "dandi:dandi-etag" if asset.zarr is None else "dandi:dandi-zarr-checksum"
        return {
            "schemaKey": "Asset",
            "identifier": asset.asset_id,
            "path": asset.path,
            "contentSize": asset.size,
            "encodingFormat": "application/x-nwb" if asset.zarr is None else "application/x-zarr",
            "digest": {digest: asset.digest},
            "contentUrl": [
                f"{self.dandi.api_url}/assets/{asset.asset_id}/download/",
                f"{self.dandi.base_url}/{stored}",
            ],
            "isPartOf": f"DANDI:{identifier}/{version}",
        }

    def _page(self, results: list, query: dict) -> dict:
        size = int(query.get("page_size", self.dandi.page_size))
        page = int(query.get("page", 1))
        more = page * size < len(results)
        following = {**query, "page": str(page + 1)}
        url = f"http://{self.headers['Host']}{urlsplit(self.path).path}?{urlencode(following)}"
        return {
            "count": len(results),
            "next": url if more else None,
            "previous": None,
            "results": results[(page - 1) * size : page * size],
        }

    # --- files -------------------------------------------------------------------------------------

    def _download(self, asset_id: str, head: bool) -> None:
        for dandiset in self.dandi.dandisets.values():
            for assets in dandiset.versions.values():
                for asset in assets:
                    if asset.asset_id == asset_id:
                        if dandiset.embargoed and not self._authorised():
                            return self._error(401, head)
                        signature = "?signature=granted" if dandiset.embargoed else ""
                        return self._redirect(f"{self.dandi.base_url}/blobs/{asset.blob}{signature}")
        return self._error(404, head)

    def _blob(self, blob: str, query: dict, head: bool) -> None:
        data = self.dandi.blobs.get(blob)
        if data is None:
            return self._error(404, head)
        if self._blob_is_embargoed(blob) and query.get("signature") != "granted":
            return self._error(403, head)
        return self._bytes(data, head)

    def _bytes(self, data: bytes, head: bool) -> None:
        """Serve `data` as a storage bucket does: whole, or the part an HTTP Range asks for."""
        start, stop, status = 0, len(data) - 1, 200
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
        if match is not None:
            start = int(match[1])
            stop = min(int(match[2]) if match[2] else len(data) - 1, len(data) - 1)
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            status = 206
        body = data[start : stop + 1]
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{stop}/{len(data)}")
        self.end_headers()
        if head:
            return None
        if (
            self.dandi.drop_after is not None
            and self.dandi.drops_left > 0
            and len(body) > self.dandi.drop_after
        ):
            self.dandi.drops_left -= 1
            self._send(body[: self.dandi.drop_after])
            return self._drop()
        self._send(body)
        return None

    def _blob_is_embargoed(self, blob: str) -> bool:
        return any(
            dandiset.embargoed
            and any(a.blob == blob for assets in dandiset.versions.values() for a in assets)
            for dandiset in self.dandi.dandisets.values()
        )

    def _send(self, body: bytes) -> None:
        self.wfile.write(body)
        self.wfile.flush()
        self.dandi.bytes_sent += len(body)

    def _drop(self) -> None:
        """Close the connection mid-body; with vanish_on_drop, take the whole server down too."""
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)
        if self.dandi.vanish_on_drop:
            threading.Thread(target=self.dandi.stop, daemon=True).start()

    # --- plumbing ----------------------------------------------------------------------------------

    def _authorised(self) -> bool:
        return self.headers.get("Authorization") == f"token {self.dandi.api_key}"

    def _json(self, payload, head: bool) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _error(self, status: int, head: bool) -> None:
        body = json.dumps({"detail": f"HTTP {status}"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)


def serve(files: dict[str, Path]) -> DandiServer:
    """A started server with the test dandisets:

    000123: published OLD (one session) and LATEST (two), and a draft adding a session without a movie
    and a README; 000456: draft only; 000666: asset paths that try to leave the cache; 000999: embargoed.
    """
    server = DandiServer().start()
    first = {SESSION_0: files[SESSION_0]}
    both = {**first, SESSION_1: files[SESSION_1]}
    draft = {**both, NO_MOVIE: files[NO_MOVIE], "README.md": files["README.md"]}
    server.add_dandiset("000123", {OLD: first, LATEST: both, "draft": draft})
    server.add_dandiset("000456", {"draft": first})
    hostile = {"../../escape.nwb": files[SESSION_0], "sub-000/fine.nwb": files[SESSION_1]}
    server.add_dandiset("000666", {LATEST: hostile, "draft": hostile})
    server.add_dandiset("000999", {LATEST: {SESSION_1: files[SESSION_1]}, "draft": {}}, embargoed=True)
    return server

"""Every way the archive stores a session: external video assets fetched with the NWB asset that needs
them, Zarr assets (.nwb.zarr folders) fetched file by file, each checked against its DANDI digest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from nwb_v1former.errors import SourceError
from nwb_v1former.nwb.remote import RemoteFile
from nwb_v1former.sources import resolve_sources
from sources.archive_forms import OUTSIDE, VIDEOS_MISSING, WITH_VIDEOS, ZARR_ONLY, ZARR_SESSION, serve_forms
from sources.dandi_server import LATEST


def resolve(server, source: str, cache: Path, **options):
    return resolve_sources([source], cache_dir=cache, api_url=server.api_url, progress=False, **options)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder`, by path relative to it."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def sidecar(path: Path) -> dict:
    return json.loads((path.parent / f".{path.name}.verified.json").read_text())


def test_download_fetches_the_stimulus_videos_beside_their_nwb_and_a_zarr_verified_then_nothing_again(
    forms, forms_server, tmp_path
):
    forms_server.reset_counters()
    found = resolve(forms_server, f"dandiset:{WITH_VIDEOS}", tmp_path)
    version = tmp_path / WITH_VIDEOS / LATEST
    assert [(r.asset.path, r.file) for r in found] == [
        (forms.nwb, version / forms.nwb),
        (ZARR_SESSION, version / ZARR_SESSION),
    ]
    assert found[1].asset.zarr == forms_server.asset(WITH_VIDEOS, LATEST, ZARR_SESSION).zarr
    nwb = found[0].file
    for written, path in zip(forms.written, forms.videos, strict=True):
        local = nwb.parent / written  # the path the NWB file writes resolves in the cache
        assert local == version / path and local.read_bytes() == forms.files[path].read_bytes()
        assert sidecar(local)["dandi_etag"] == forms_server.asset(WITH_VIDEOS, LATEST, path).digest
    assert not (version / forms.camera).exists()  # a camera's video is never needed
    zarr = found[1].file
    assert tree(zarr) == tree(forms.files[ZARR_SESSION])
    record = sidecar(zarr)
    assert (
        record["dandi_zarr_checksum"]
        == found[1].asset.digest
        == forms_server.zarr_records[found[1].asset.zarr]["checksum"]
    )
    assert record["files"] == len(tree(zarr))
    assert not list(tmp_path.rglob("*.partial"))
    listing = [
        path for _, path, _ in forms_server.zarr_requests() if "/files" in path and "download" not in path
    ]
    assert len(listing) > 1 and any("after=" in path for path in listing)  # paged as the archive pages

    forms_server.reset_counters()
    again = resolve(forms_server, f"dandiset:{WITH_VIDEOS}", tmp_path)
    assert [r.file for r in again] == [r.file for r in found]
    assert forms_server.blob_requests() == [] and forms_server.zarr_requests() == []  # nothing read again


def test_a_corrupted_video_is_refused_and_not_marked_verified(forms, tmp_path):
    server = serve_forms(forms)
    try:
        video = server.asset(WITH_VIDEOS, LATEST, forms.videos[1])
        server.corrupt(video.blob)
        with pytest.raises(SourceError) as caught:
            resolve(server, f"dandiset:{WITH_VIDEOS}/{forms.nwb}", tmp_path)
    finally:
        server.stop()
    message = str(caught.value)
    assert message.startswith(
        f"dandiset:{WITH_VIDEOS}@{LATEST}/{forms.videos[1]}: the downloaded file does not match its DANDI "
        f"digest (expected {video.digest}, got "
    )
    assert message.endswith("it was deleted: run again to download it afresh") and "\n" not in message
    target = tmp_path / WITH_VIDEOS / LATEST / forms.videos[1]
    assert not target.exists() and not (target.parent / f".{target.name}.verified.json").exists()
    assert (tmp_path / WITH_VIDEOS / LATEST / forms.videos[0]).is_file()  # the sound one stays verified


def test_a_corrupted_zarr_file_is_refused_and_the_next_run_fetches_only_it(forms, forms_server, tmp_path):
    server = serve_forms(forms)
    zarr = server.asset(ZARR_ONLY, "draft", ZARR_SESSION).zarr
    key = max(server.zarrs[zarr], key=lambda k: len(server.zarrs[zarr][k]))  # a chunk of data
    true_md5 = server.zarr_md5s[zarr][key]
    server.corrupt_zarr_file(zarr, key)
    try:
        with pytest.raises(SourceError) as caught:
            resolve(server, f"dandiset:{ZARR_ONLY}", tmp_path)
    finally:
        server.stop()
    message = str(caught.value)
    assert message.startswith(
        f"dandiset:{ZARR_ONLY}@draft/{ZARR_SESSION}: the Zarr file {key} does not match its MD5 "
        f"(expected {true_md5}, got "
    )
    assert message.endswith("it was deleted: run again to download it afresh") and "\n" not in message
    target = tmp_path / ZARR_ONLY / "draft" / ZARR_SESSION
    partial = target.with_name(target.name + ".partial")
    assert not target.exists() and not (target.parent / f".{target.name}.verified.json").exists()
    assert partial.is_dir() and not (partial / key).exists()
    kept = set(tree(partial))

    forms_server.reset_counters()
    (found,) = resolve(forms_server, f"dandiset:{ZARR_ONLY}", tmp_path)
    assert found.file == target and tree(target) == tree(forms.files[ZARR_SESSION]) and not partial.exists()
    objects = f"/s3/zarr/{zarr}/"
    fetched = {path.removeprefix(objects) for _, path, _ in forms_server.zarr_requests() if objects in path}
    assert key in fetched and fetched & kept == set()  # the files that arrived whole are kept
    assert fetched | kept == set(server.zarrs[zarr])


def test_a_zarr_changed_in_the_cache_is_completed_and_one_without_a_record_is_hashed(
    forms, forms_server, tmp_path
):
    (found,) = resolve(forms_server, f"dandiset:{ZARR_ONLY}", tmp_path)
    changed = sorted(p for p in found.file.rglob("*") if p.is_file())[-1]
    changed.write_bytes(changed.read_bytes() + b"x")
    forms_server.reset_counters()
    assert resolve(forms_server, f"dandiset:{ZARR_ONLY}", tmp_path)[0].file == found.file
    assert tree(found.file) == tree(forms.files[ZARR_SESSION])
    relative = changed.relative_to(found.file).as_posix()
    objects = [path for _, path, _ in forms_server.zarr_requests() if path.startswith("/s3/")]
    assert objects == [f"/s3/zarr/{found.asset.zarr}/{relative}"]

    (found.file.parent / f".{found.file.name}.verified.json").unlink()
    forms_server.reset_counters()
    assert resolve(forms_server, f"dandiset:{ZARR_ONLY}", tmp_path)[0].file == found.file
    assert not [path for _, path, _ in forms_server.zarr_requests() if path.startswith("/s3/")]
    assert sidecar(found.file)["dandi_zarr_checksum"] == found.asset.digest


def test_streaming_gives_the_videos_beside_the_nwb_and_downloads_a_zarr_with_a_note(
    forms, forms_server, tmp_path
):
    notes: list[str] = []
    found = resolve(forms_server, f"dandiset:{WITH_VIDEOS}", tmp_path, stream=True, on_note=notes.append)
    nwb, zarr = found
    assert (
        isinstance(nwb.file, RemoteFile) and str(nwb.file) == f"dandiset:{WITH_VIDEOS}@{LATEST}/{forms.nwb}"
    )
    assert [(written, str(video)) for written, video in nwb.file.beside] == [
        (written, f"dandiset:{WITH_VIDEOS}@{LATEST}/{path}")
        for written, path in zip(forms.written, forms.videos, strict=True)
    ]
    for (_, video), path in zip(nwb.file.beside, forms.videos, strict=True):
        assert requests.get(video.url, timeout=10).content == forms.files[path].read_bytes()
    assert zarr.file == tmp_path / WITH_VIDEOS / LATEST / ZARR_SESSION and zarr.file.is_dir()
    assert notes == [
        f"dandiset:{WITH_VIDEOS}@{LATEST}/{ZARR_SESSION}: a Zarr asset cannot be read in place, so it is "
        f"downloaded into the cache instead ({zarr.asset.size / 2**20:.1f} MiB)"
    ]
    assert [p.name for p in (tmp_path / WITH_VIDEOS / LATEST).iterdir()] == ["sub-sim"]  # only the Zarr


def test_paths_globs_and_folders_select_zarr_assets_and_a_zarr_only_dandiset_works(
    forms, forms_server, tmp_path
):
    def paths(source: str) -> list[str]:
        return [r.asset.path for r in resolve(forms_server, source, tmp_path, stream=True)]

    assert paths(f"dandiset:{WITH_VIDEOS}/*.nwb.zarr") == [ZARR_SESSION]
    assert paths(f"dandiset:{WITH_VIDEOS}/{ZARR_SESSION}") == [ZARR_SESSION]
    assert paths(f"dandiset:{WITH_VIDEOS}/sub-sim/") == [ZARR_SESSION]
    assert paths(f"dandiset:{WITH_VIDEOS}/sub-m1/*") == [forms.nwb]  # videos are not sessions
    notes: list[str] = []
    (only,) = resolve(forms_server, f"dandiset:{ZARR_ONLY}", tmp_path, on_note=notes.append)
    assert only.file == tmp_path / ZARR_ONLY / "draft" / ZARR_SESSION
    assert tree(only.file) == tree(forms.files[ZARR_SESSION])
    assert notes and "no published version, so its draft is used" in notes[0]


def test_a_video_missing_from_the_dandiset_is_a_note_and_its_session_is_still_fetched(
    forms, forms_server, tmp_path
):
    for stream in (False, True):
        notes: list[str] = []
        (found,) = resolve(
            forms_server, f"dandiset:{VIDEOS_MISSING}", tmp_path, stream=stream, on_note=notes.append
        )
        assert found.asset.path == forms.nwb and "its draft is used" in notes[0]
        assert notes[1:] == [
            f"dandiset:{VIDEOS_MISSING}@draft/{forms.nwb}: its stimulus may be in the external video "
            f"{written!r}, but version draft has no asset {path}; it is not fetched, and reading a movie "
            "from it will fail"
            for written, path in zip(forms.written, forms.videos, strict=True)
        ]
        if stream:
            assert found.file.beside == ()
    assert not (tmp_path / VIDEOS_MISSING / "draft" / forms.camera).exists()


@pytest.mark.parametrize("path", ["sub-m1/absolute.nwb", "sub-m1/escaping.nwb"])
@pytest.mark.parametrize("stream", [False, True])
def test_a_video_named_outside_the_dandiset_is_refused_with_one_line(forms_server, tmp_path, path, stream):
    with pytest.raises(SourceError) as caught:
        resolve(forms_server, f"dandiset:{OUTSIDE}/{path}", tmp_path, stream=stream)
    message = str(caught.value)
    assert message.startswith(f"dandiset:{OUTSIDE}@draft/{path}: its stimulus may be in the external video ")
    assert "names no file inside the dandiset (an absolute path, a URL or a path leaving it)" in message
    assert message.endswith("or ask the dandiset's owners to run `dandi organize`") and "\n" not in message

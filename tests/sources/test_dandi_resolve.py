"""Resolving DANDI SOURCEs against a local stand-in archive: versions, globs, errors, the API key."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from nwb_v1former.errors import SourceError
from nwb_v1former.sources import resolve_sources
from sources.dandi_server import LATEST, NO_MOVIE, OLD, SESSION_0, SESSION_1


def resolve(dandi, source: str, cache: Path, **options):
    return resolve_sources([source], cache_dir=cache, api_url=dandi.api_url, progress=False, **options)


def test_latest_published_version_by_default(dandi, tmp_path):
    found = resolve(dandi, "dandiset:000123", tmp_path)
    assert [(r.asset.version, r.asset.path) for r in found] == [(LATEST, SESSION_0), (LATEST, SESSION_1)]
    for item in found:
        served = dandi.asset("000123", LATEST, item.asset.path)
        assert item.file == tmp_path / "000123" / LATEST / item.asset.path  # the cache mirrors asset paths
        assert item.file.read_bytes() == dandi.blobs[served.blob]
        assert item.asset.asset_id == served.asset_id and item.asset.digest == served.digest
        assert item.asset.provenance() == {
            "dandiset": "000123",
            "version": LATEST,
            "asset_path": item.asset.path,
            "asset_id": served.asset_id,
            "digest": served.digest,
            "dandi_api": dandi.api_url,
        }
        assert item.source == "dandiset:000123"


def test_draft_and_a_given_version(dandi, tmp_path):
    draft = resolve(dandi, "dandiset:000123@draft", tmp_path)
    assert [r.asset.path for r in draft] == [SESSION_0, SESSION_1, NO_MOVIE]  # README.md is not NWB
    assert {r.asset.version for r in draft} == {"draft"}
    old = resolve(dandi, f"dandiset:000123@{OLD}", tmp_path)
    assert [(r.asset.version, r.asset.path) for r in old] == [(OLD, SESSION_0)]
    assert old[0].file == tmp_path / "000123" / OLD / SESSION_0


def test_globs_paths_and_folders_over_several_pages(dandi, tmp_path):
    dandi.reset_counters()
    chosen = resolve(dandi, "dandiset:000123@draft/sub-00[02]/*.nwb", tmp_path, stream=True)
    assert [r.asset.path for r in chosen] == [SESSION_0, NO_MOVIE]
    assert any("glob=sub-00%5B02%5D%2F%2A.nwb" in path for _, path, _ in dandi.requests)
    everything = resolve(dandi, "dandiset:000123@draft", tmp_path, stream=True)
    assert len(everything) == 3 and any("page=2" in path for _, path, _ in dandi.requests)  # 2 a page
    folder = resolve(dandi, "dandiset:000123@draft/sub-001/", tmp_path, stream=True)
    assert [r.asset.path for r in folder] == [SESSION_1]
    one = resolve(dandi, f"dandiset:000123/{SESSION_0}", tmp_path, stream=True)
    assert [r.asset.path for r in one] == [SESSION_0]
    missing = r"has no \.nwb or \.nwb\.zarr asset matching 'sub-009/\*\.nwb'; check the path"
    with pytest.raises(SourceError, match=missing):
        resolve(dandi, "dandiset:000123/sub-009/*.nwb", tmp_path, stream=True)


def test_several_sources_keep_order_and_drop_duplicates(dandi, tmp_path, dandi_files):
    found = resolve_sources(
        ["dandiset:000123", str(dandi_files[NO_MOVIE]), f"dandiset:000123/{SESSION_1}"],
        cache_dir=tmp_path,
        api_url=dandi.api_url,
        progress=False,
    )
    expected = [SESSION_0, SESSION_1, dandi_files[NO_MOVIE]]
    assert [(r.asset.path if r.asset else r.file) for r in found] == expected
    assert found[2].session_input.skip_unusable is False and found[0].session_input.skip_unusable is True


def test_environment_names_the_server_and_the_cache(dandi, tmp_path, monkeypatch):
    monkeypatch.setenv("NWB_V1FORMER_DANDI_API_URL", dandi.api_url)
    monkeypatch.setenv("NWB_V1FORMER_CACHE", str(tmp_path / "cache"))
    found = resolve_sources([f"dandiset:000123@{OLD}"], progress=False)
    assert found[0].file == tmp_path / "cache" / "dandi" / "000123" / OLD / SESSION_0


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "dandiset:000777",
            "dandiset:000777: no dandiset 000777 on {api}; check the id (embargoed? set DANDI_API_KEY)",
        ),
        (
            "dandiset:000123@0.999999.9999",
            "dandiset:000123@0.999999.9999: dandiset 000123 has no version '0.999999.9999'; "
            f"published: {LATEST}, {OLD} (or @draft)",
        ),
    ],
)
def test_unknown_dandiset_version_or_no_published_version(dandi, tmp_path, source, message):
    with pytest.raises(SourceError) as caught:
        resolve(dandi, source, tmp_path)
    assert str(caught.value) == message.format(api=dandi.api_url)


def test_a_server_that_is_not_there(tmp_path):
    with pytest.raises(SourceError, match=r"http://127\.0\.0\.1:9/api: not a DANDI API server that answers"):
        resolve_sources(["dandiset:000123"], cache_dir=tmp_path, api_url="http://127.0.0.1:9/api")


def test_asset_paths_that_try_to_leave_the_cache_are_refused(dandi, tmp_path):
    dandi.reset_counters()
    cache = tmp_path / "cache"
    with pytest.raises(SourceError) as caught:
        resolve(dandi, "dandiset:000666", cache)
    assert str(caught.value) == (
        f"dandiset:000666@{LATEST}: the server gave the asset path '../../escape.nwb', which would leave "
        f"the cache folder {cache}; refused (report it to the server's administrators)"
    )
    assert not any(tmp_path.rglob("*.nwb*")) and dandi.blob_requests() == []  # nothing fetched or written


def test_embargoed_dandiset_needs_the_key_which_is_never_shown(dandi, tmp_path, monkeypatch, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SourceError) as no_key:
        resolve(dandi, "dandiset:000999", tmp_path)
    assert str(no_key.value) == (
        f"dandiset:000999: {dandi.api_url} answered HTTP 401; the dandiset may be embargoed: "
        "set DANDI_API_KEY to an API key with access"
    )
    monkeypatch.setenv("DANDI_API_KEY", "wrong-" + dandi.api_key)
    with pytest.raises(SourceError) as wrong_key:
        resolve(dandi, "dandiset:000999", tmp_path)
    assert str(wrong_key.value) == (
        f"{dandi.api_url}: the API key in DANDI_API_KEY was refused (HTTP 401); "
        "check that it is this server's key"
    )
    monkeypatch.setenv("DANDI_API_KEY", dandi.api_key)
    downloaded = resolve(dandi, "dandiset:000999", tmp_path)
    streamed = resolve(dandi, "dandiset:000999", tmp_path, stream=True)
    assert downloaded[0].file.read_bytes() == dandi.blobs[dandi.asset("000999", LATEST, SESSION_1).blob]
    assert streamed[0].file.url.endswith("?signature=granted")  # an embargoed blob's signed link is kept
    shown = [str(no_key.value), str(wrong_key.value), repr(downloaded), repr(streamed), caplog.text]
    shown += list(capsys.readouterr())
    assert all(dandi.api_key not in text for text in shown)


def test_an_unpublished_dandiset_resolves_to_its_draft_and_says_it_can_change(dandi, tmp_path):
    """As the dandi client does: no published version -> the draft; each asset's digest is recorded."""
    notes: list[str] = []
    (found,) = resolve(dandi, "dandiset:000456", tmp_path, on_note=notes.append)
    assert found.asset.version == "draft" and found.asset.path == SESSION_0
    assert notes == [
        "dandiset:000456: no published version, so its draft is used; a draft can change (each asset's "
        "digest is recorded with the session)"
    ]
    origin = found.session_input.origin
    assert (
        origin["version"] == "draft" and origin["digest"] == found.asset.digest and len(origin["digest"]) > 8
    )
    assert resolve(dandi, "dandiset:000123", tmp_path / "published", on_note=notes.append)
    assert len(notes) == 1  # a published dandiset says nothing

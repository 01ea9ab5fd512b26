"""SOURCE strings -> DandiRef: every accepted form, and one clear line for the wrong ones."""

from __future__ import annotations

import pytest

from nwb_v1former.errors import SourceError
from nwb_v1former.sources import resolve_sources
from nwb_v1former.sources.dandi import DandiRef, is_dandi_source, parse_source


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dandiset:000123", DandiRef("000123")),
        ("dandiset:000123@0.230101.1200", DandiRef("000123", "0.230101.1200")),
        ("dandiset:000123@draft", DandiRef("000123", "draft")),
        ("dandiset:000123/sub-01/*.nwb", DandiRef("000123", None, "sub-01/*.nwb")),
        ("dandiset:000123@draft/sub-01/*.nwb", DandiRef("000123", "draft", "sub-01/*.nwb")),
        ("DANDISET:000123@draft/", DandiRef("000123", "draft")),
        ("DANDI:000123", DandiRef("000123")),
        ("DANDI:000123/0.230101.1200", DandiRef("000123", "0.230101.1200")),
        (
            "dandi://dandi/000123@draft/sub-01/*.nwb",
            DandiRef("000123", "draft", "sub-01/*.nwb", "https://api.dandiarchive.org/api"),
        ),
    ],
)
def test_accepted_forms(text, expected):
    assert is_dandi_source(text)
    assert parse_source(text) == expected


def test_canonical_form_round_trips():
    ref = parse_source("dandiset:000123@draft/sub-01/*.nwb")
    assert str(ref) == "dandiset:000123@draft/sub-01/*.nwb"
    assert parse_source(str(ref)) == ref


def test_archive_urls_of_a_local_server(dandi):
    """Archive URLs name their server: the API is found from it (/server-info), offline."""
    ref = parse_source(f"{dandi.base_url}/dandiset/000123/draft/files?location=sub-000%2F")
    assert ref == DandiRef("000123", "draft", "sub-000/", dandi.api_url)
    ref = parse_source(f"{dandi.api_url}/dandisets/000123/versions/draft/assets/?glob=sub-*/*.nwb")
    assert ref == DandiRef("000123", "draft", "sub-*/*.nwb", dandi.api_url)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("000123", "000123: a bare dandiset id; write dandiset:000123 (or give the path"),
        ("000123@draft/sub-01", "write dandiset:000123@draft/sub-01 "),
        ("dandiset:123", "a dandiset id has six digits (e.g. dandiset:000123)"),
        ("dandiset:000123@/x.nwb", "empty version after '@'"),
        ("https://example.org/some/file.nwb", "not a DANDI source"),
        ("http://127.0.0.1:9/dandiset/000123", "not a DANDI URL that can be read (Could not retrieve"),
        ("DANDI:000123/draft/sub-01", "not a DANDI source; use dandiset:000123[@version][/glob]"),
    ],
)
def test_wrong_forms_get_one_line_with_the_fix(text, message):
    with pytest.raises(SourceError) as caught:
        parse_source(text)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_bare_id_is_refused_by_resolve_unless_it_is_a_real_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SourceError, match=r"000123: a bare dandiset id; write dandiset:000123 "):
        resolve_sources(["000123"])
    (tmp_path / "000123").mkdir()
    (tmp_path / "000123" / "a.nwb").touch()
    assert [r.file.name for r in resolve_sources(["000123"])] == ["a.nwb"]  # a folder of that name

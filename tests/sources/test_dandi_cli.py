"""`inspect` and `convert` with DANDI SOURCEs, through the command line, against the stand-in archive."""

from __future__ import annotations

import json

from click.testing import CliRunner
from nwb_v1former.cli.main import main

from sources.dandi_server import LATEST, NO_MOVIE, SESSION_0, SESSION_1


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env)


def server_options(dandi, cache) -> list[str]:
    return ["--dandi-api-url", dandi.api_url, "--cache-dir", str(cache)]


def test_inspect_a_dandiset(dandi, tmp_path):
    result = run("inspect", "dandiset:000123", *server_options(dandi, tmp_path))
    assert result.exit_code == 0, result.output
    for path in (SESSION_0, SESSION_1):
        asset = dandi.asset("000123", LATEST, path)
        assert f"{tmp_path / '000123' / LATEST / path}  (NWB " in result.output
        assert f"from dandiset 000123 version {LATEST}: {path} (asset {asset.asset_id})" in result.output
    assert result.output.count("problems: none") == 2


def test_inspect_streams_and_reports_a_session_without_a_movie(dandi, tmp_path):
    source = f"dandiset:000123@draft/{NO_MOVIE}"
    result = run("inspect", source, "--stream", "--json", *server_options(dandi, tmp_path))
    assert result.exit_code == 1, result.output  # reported in full, and not convertible: scripts can tell
    assert result.stderr.startswith(f"Error: {source} cannot be converted: no stimulus movie")
    (report,) = json.loads(result.stdout)
    assert report["path"] == f"dandiset:000123@draft/{NO_MOVIE}" and report["will_use"] is None
    assert any(problem.startswith("no stimulus movie") for problem in report["problems"])
    assert report["dandi"]["asset_id"] == dandi.asset("000123", "draft", NO_MOVIE).asset_id
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # streamed: nothing downloaded


def test_convert_a_dandiset_skips_what_it_cannot_use_and_records_where_sessions_came_from(dandi, tmp_path):
    out = tmp_path / "store"
    result = run(
        "convert", "dandiset:000123@draft", "--out", str(out), *server_options(dandi, tmp_path / "c")
    )
    assert result.exit_code == 0, result.output
    assert f"Converted 2 of 3 session(s) into {out}:" in result.stdout
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == 1 and NO_MOVIE in skipped[0] and "no stimulus movie" in skipped[0]
    sources = [json.loads(meta.read_text())["source"] for meta in sorted(out.glob("*/meta.json"))]
    assert [(s["dandiset"], s["version"], s["asset_path"]) for s in sources] == [
        ("000123", "draft", SESSION_0),
        ("000123", "draft", SESSION_1),
    ]
    assert [s["asset_id"] for s in sources] == [
        dandi.asset("000123", "draft", p).asset_id for p in (SESSION_0, SESSION_1)
    ]


def test_dandi_errors_are_one_line_and_never_show_the_api_key(dandi, tmp_path):
    options = server_options(dandi, tmp_path)
    unknown = run("inspect", "dandiset:000777", *options)
    assert unknown.exit_code == 1
    assert unknown.output.splitlines() == [
        f"Error: dandiset:000777: no dandiset 000777 on {dandi.api_url}; check the id "
        "(embargoed? set DANDI_API_KEY)"
    ]
    bare = run("inspect", "000123", *options)
    assert bare.exit_code == 1 and bare.output.startswith(
        "Error: 000123: a bare dandiset id; write dandiset:000123 "
    )
    wrong = run("inspect", "dandiset:000999", *options, env={"DANDI_API_KEY": dandi.api_key + "-typo"})
    assert wrong.exit_code == 1 and len(wrong.output.splitlines()) == 1 and "was refused" in wrong.output
    right = run(
        "convert",
        "dandiset:000999",
        "--out",
        str(tmp_path / "e"),
        *options,
        env={"DANDI_API_KEY": dandi.api_key},
    )
    assert right.exit_code == 0, right.output
    assert all(dandi.api_key not in r.output for r in (unknown, bare, wrong, right))


def test_an_unpublished_dandiset_converts_from_its_draft(dandi, tmp_path):
    """A lab's own, unpublished data: `dandiset:ID` without a version takes the draft and says so."""
    out = tmp_path / "store"
    result = run(
        "convert", "dandiset:000456", "--out", str(out), "--json", *server_options(dandi, tmp_path / "c")
    )
    assert result.exit_code == 0, result.output
    assert "000456: no published version, so its draft is used; a draft can change" in result.stderr
    (meta,) = [json.loads(path.read_text()) for path in out.glob("*/meta.json")]
    served = dandi.asset("000456", "draft", SESSION_0)
    assert (meta["source"]["version"], meta["source"]["digest"]) == ("draft", served.digest)

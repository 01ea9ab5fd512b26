"""#19.5: `--in-place` writes through a symlink to its target; a hard-linked file or a git-annex link
(read-only content named by its digest) is refused with one line, every name left as it was."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from hostile.checks import assert_refused, assert_succeeded, cli, partials, snapshot
from nwb_v1former.nwb.discover import open_nwb
from nwb_v1former.nwb.write import DEFAULT_NAME


def test_in_place_through_a_symlink_writes_the_target(source: Path, checkpoint: Path, tmp_path) -> None:
    link = tmp_path / "view" / "session.nwb"  # a DataLad / cache layout: the name is a link elsewhere
    link.parent.mkdir()
    link.symlink_to(source)
    assert_succeeded(cli("predict", checkpoint, link, "--in-place", "--quiet"))
    assert link.is_symlink() and link.resolve() == source, "the link still points at the file"
    with open_nwb(source) as nwbfile:
        assert DEFAULT_NAME in nwbfile.processing
    assert partials(tmp_path) == [] and sorted(p.name for p in link.parent.iterdir()) == ["session.nwb"]


def test_in_place_on_a_hard_link_is_refused(source: Path, checkpoint: Path, tmp_path) -> None:
    other = tmp_path / "elsewhere.nwb"
    os.link(source, other)
    before = snapshot(source, other)
    assert_refused(cli("predict", checkpoint, source, "--in-place", "--quiet"), "2 hard links", "--out")
    assert snapshot(source, other) == before and os.path.samefile(source, other)
    assert partials(tmp_path) == []


def test_in_place_on_a_git_annex_link_is_refused(source: Path, checkpoint: Path, tmp_path) -> None:
    dataset = tmp_path / "dataset"
    content = dataset / ".git" / "annex" / "objects" / "Xy" / "Zw" / "KEY.nwb" / "KEY.nwb"
    content.parent.mkdir(parents=True)
    shutil.copyfile(source, content)
    link = dataset / "sub-1" / "session.nwb"
    link.parent.mkdir()
    link.symlink_to(os.path.relpath(content, link.parent))
    before = snapshot(dataset)
    assert_refused(cli("predict", checkpoint, link, "--in-place", "--quiet"), "git annex unlock")
    assert snapshot(dataset) == before and link.is_symlink() and partials(dataset) == []

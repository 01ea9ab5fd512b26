"""#19.1: `--overwrite` replaces only an earlier output of the same kind, and an output never overlaps
a source: refused up front with one line, every file left as it was."""

from __future__ import annotations

import shutil
from pathlib import Path

from hostile.checks import OVERLAP, QUICK, assert_refused, assert_succeeded, cli, partials, snapshot


def test_convert_into_the_folder_of_its_source_is_refused(source: Path) -> None:
    folder = source.parent
    (folder / "notes.txt").write_text("lab notebook\n")
    before = snapshot(folder)
    assert_refused(cli("convert", source, "--out", folder, "--overwrite", "--quiet"), OVERLAP)
    assert_refused(cli("convert", folder, "--out", folder / "store", "--quiet"), OVERLAP)
    assert snapshot(folder) == before and partials(folder) == []


def test_predict_into_the_folder_of_its_source_is_refused(source: Path, checkpoint: Path) -> None:
    folder = source.parent
    before = snapshot(folder)
    assert_refused(cli("predict", checkpoint, source, "--out", folder, "--overwrite", "--quiet"), OVERLAP)
    assert_refused(cli("predict", checkpoint, folder, "--out", folder / "predictions", "--quiet"), OVERLAP)
    assert snapshot(folder) == before and partials(folder) == []


def test_finetune_into_the_folder_of_its_source_is_refused(source: Path, base: Path) -> None:
    folder = source.parent
    before = snapshot(folder)
    result = cli("finetune", source, "--out", folder, "--from", base, "--overwrite", *QUICK)
    assert_refused(result, OVERLAP)
    assert snapshot(folder) == before and partials(folder) == []


def test_overwrite_replaces_only_what_the_command_wrote(source: Path, checkpoint: Path, tmp_path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("not a dataset\n")
    recording = shutil.copyfile(source, tmp_path / "recording.nwb")  # an NWB file predict did not write
    before = snapshot(other, recording, source)
    line = assert_refused(
        cli("convert", source, "--out", other, "--overwrite", "--quiet"), "is not a dataset"
    )
    assert str(other) in line
    result = cli("predict", checkpoint, source, "--out", recording, "--overwrite", "--quiet")
    assert_refused(result, str(recording), "is not an NWB file nwb-v1former wrote predictions into")
    assert snapshot(other, recording, source) == before

    store, predictions = tmp_path / "store", tmp_path / "predictions.nwb"
    for _ in range(2):  # the second time, each replaces the first's output
        assert_succeeded(cli("convert", source, "--out", store, "--overwrite", "--quiet"))
        assert_succeeded(cli("predict", checkpoint, source, "--out", predictions, "--overwrite", "--quiet"))
    assert len(list(store.glob("*/meta.json"))) == 1
    assert snapshot(source) == {path: digest for path, digest in before.items() if path == source}
    assert partials(tmp_path) == []

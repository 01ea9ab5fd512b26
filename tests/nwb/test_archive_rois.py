"""ROIs as the archive's converters write them (issue 23): neuroconv's Suite2p planes, whose ROI ids repeat
plane by plane; AllenSDK mesoscope planes in different areas; OpenScope's dF/F stored ROIs x time with one
timestamp more than frames. Files are written with pynwb (and neuroconv's own Suite2p interface)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from neuroconv.converters import Suite2pConverter
from nwb_builders import as_read
from prediction_helpers import MICRO, checkpoint_for
from pynwb import NWBHDF5IO, NWBFile, TimeSeries
from pynwb.image import ImageSeries
from pynwb.ophys import DfOverF, ImageSegmentation, OpticalChannel, RoiResponseSeries

from nwb_v1former.data.store import SessionStore
from nwb_v1former.errors import SessionError
from nwb_v1former.model.checkpoint import load_checkpoint
from nwb_v1former.nwb.convert import convert
from nwb_v1former.nwb.discover import open_nwb
from nwb_v1former.nwb.provenance import ModelProvenance, RoiEvaluation
from nwb_v1former.nwb.rois import choose_planes, id_offsets
from nwb_v1former.nwb.timing import series_times
from nwb_v1former.nwb.write import DEFAULT_NAME, predicted_rois, write_predictions
from nwb_v1former.pipeline.predict import predict

START = datetime(2026, 1, 1, tzinfo=UTC)
MOVIE_SECONDS = 20


def _nwbfile(name: str) -> NWBFile:
    return NWBFile(session_description=f"{name} test session", identifier=name, session_start_time=START)


def _add_movie(nwbfile: NWBFile) -> None:
    """The frames shown: a plain 30 Hz ImageSeries in /stimulus/presentation, from t = 0."""
    frames = np.random.default_rng(1).integers(0, 255, (30 * MOVIE_SECONDS, 36, 64), dtype=np.uint8)
    movie = ImageSeries(name="movie", data=frames, unit="n.a.", format="raw", rate=30.0, starting_time=0.0)
    nwbfile.add_stimulus(movie)


def _write(nwbfile: NWBFile, path: Path) -> Path:
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    return path


def _store(source: Path, folder: Path) -> SessionStore:
    return SessionStore(convert([source], folder, progress=False)[0].folder)


def _provenance(store: SessionStore) -> ModelProvenance:
    return ModelProvenance("test-model", "ab" * 32, store.key, MICRO.to_dict(), "test")


def _suite2p_folder(root: Path, sizes: tuple[int, ...], frames: int, rate: float) -> list[np.ndarray]:
    """A suite2p output folder, one planeN/ per plane (stat, ops, F, Fneu, spks, iscell), as suite2p writes
    it; returns each plane's F, (n, frames) float32."""
    rng = np.random.default_rng(0)
    traces = []
    for plane, n in enumerate(sizes):
        folder = root / f"plane{plane}"
        folder.mkdir(parents=True)
        stat = []
        for roi in range(n):
            ypix, xpix = np.mgrid[4 + 6 * roi : 7 + 6 * roi, 10 + 20 * plane : 13 + 20 * plane]
            med = [5 + 6 * roi, 11 + 20 * plane]
            stat.append(
                {"ypix": ypix.ravel(), "xpix": xpix.ravel(), "lam": np.ones(9, np.float32), "med": med}
            )
        np.save(folder / "stat.npy", np.array(stat, dtype=object), allow_pickle=True)
        ops = {"fs": rate, "nframes": frames, "Ly": 64, "Lx": 64, "meanImg": np.zeros((64, 64), np.float32)}
        np.save(folder / "ops.npy", np.array(ops, dtype=object), allow_pickle=True)
        fluorescence = rng.random((n, frames)).astype(np.float32)
        np.save(folder / "F.npy", fluorescence)
        np.save(folder / "Fneu.npy", fluorescence / 2)
        np.save(folder / "spks.npy", np.maximum(fluorescence - 0.5, 0))
        np.save(folder / "iscell.npy", np.ones((n, 2)))
        traces.append(fluorescence)
    return traces


def test_roi_ids_are_qualified_by_plane_only_where_planes_repeat_them():
    assert id_offsets([np.array([3, 9]), np.array([4, 12])], "f.nwb") == [0, 0]
    assert id_offsets([np.arange(50), np.arange(50), np.arange(7)], "f.nwb") == [0, 100, 200]
    assert id_offsets([np.arange(10), np.arange(3)], "f.nwb") == [0, 10]  # ids up to 9: 10; up to 10: 100
    assert id_offsets([np.arange(11), np.arange(3)], "f.nwb") == [0, 100]
    with pytest.raises(SessionError, match="cannot be qualified by plane; give each ROI its own id"):
        id_offsets([np.array([-1, 2]), np.array([-1])], "f.nwb")


def test_neuroconv_suite2p_planes_repeating_roi_ids_map_to_plane_and_file_id_and_back(tmp_path):
    """Suite2pConverter writes PlaneSegmentationChan1Plane0 / ...Plane1 with ids 0..n-1 each: the session's
    ids are unique, each column is its own plane's ROI, and predictions map each row back to both."""
    traces = _suite2p_folder(tmp_path / "suite2p", sizes=(6, 4), frames=300, rate=15.0)
    converter = Suite2pConverter(folder_path=tmp_path / "suite2p")
    metadata = converter.get_metadata()
    metadata["NWBFile"]["session_start_time"] = START
    nwbfile = converter.create_nwbfile(metadata)
    _add_movie(nwbfile)
    source = _write(nwbfile, tmp_path / "suite2p.nwb")
    store = _store(source, tmp_path / "store")

    np.testing.assert_array_equal(store.plane, [0] * 6 + [1] * 4)
    np.testing.assert_array_equal(store.roi_ids, [0, 1, 2, 3, 4, 5, 10, 11, 12, 13])
    plane1 = "/processing/ophys/Fluorescence/RoiResponseSeriesChan1Plane1"
    qualified = "ROI ids repeat those of other planes, so its ROIs' ids in the session are the file's plus 10"
    assert f"{plane1} (plane 1): {qualified} (its ROI 0 is 10)" in store.meta["notes"]
    file_ids = store.roi_ids - 10 * store.plane
    expected = np.stack(
        [
            np.interp(store.times, np.arange(300) / 15.0, traces[p][i])
            for p, i in zip(store.plane, file_ids, strict=True)
        ],
        axis=1,
    )
    np.testing.assert_allclose(store.responses, expected, rtol=1e-5, atol=1e-6)

    out = tmp_path / "predicted.nwb"
    scores = np.arange(store.n_neurons) / 10.0
    write_predictions(
        source,
        [(0, np.asarray(store.responses))],  # the recorded responses as predictions
        tick_times=store.times,
        roi_ids=store.roi_ids,
        model=_provenance(store),
        evaluation=RoiEvaluation("test", 1, {"score": ("Column / 10.", scores)}),
        out=out,
    )
    with NWBHDF5IO(out, "r") as io:
        module = io.read().processing[DEFAULT_NAME]
        table = module["evaluation"]
        mapped = predicted_rois(module)
        assert sorted(mapped) == store.roi_ids.tolist()
        columns = ("roi_id", "predicted_series", "file_roi_id", "score")
        rows = zip(*(table[column][:] for column in columns), strict=True)
        for column, (roi, name, file_roi, score) in enumerate(rows):
            plane = int(store.plane[column])
            assert (roi, file_roi, score) == (store.roi_ids[column], file_ids[column], scores[column])
            assert mapped[roi] == (name, file_roi)
            series = module[name]
            assert series.rois.table.name == f"PlaneSegmentationChan1Plane{plane}"
            position = list(series.rois.table.id[:][series.rois.data[:]]).index(file_roi)
            frames = series_times(series, name) <= store.times[-1]  # imaging frames k / 15 s = tick 2k
            np.testing.assert_allclose(
                series.data[:, position][frames], traces[plane][file_roi][frames], atol=1e-6
            )

    checkpoint = checkpoint_for(store, tmp_path / "model.ckpt")  # the readout is keyed as the store is
    np.testing.assert_array_equal(load_checkpoint(checkpoint).sessions[store.key].roi_ids, store.roi_ids)
    predict(checkpoint, source, out=tmp_path / "by-predict.nwb", progress=False)
    with NWBHDF5IO(tmp_path / "by-predict.nwb", "r") as io:
        assert sorted(predicted_rois(io.read().processing[DEFAULT_NAME])) == store.roi_ids.tolist()


CENTRES = {1: [(10, 20), (30, 40), (50, 12)], 2: [(14, 50), (40, 8), (22, 30)]}
"""(row, column) of each ROI's 3 x 3 mask, per mesoscope plane."""
AREAS = {1: ("VISp", 150), 2: ("VISl", 300)}


def _mesoscope_session(path: Path, *, origin: bool) -> Path:
    """Two planes of a mesoscope session, each as AllenSDK writes one: its imaging plane ('(64, 64) field
    of view in VISp at depth 150 um', the area as location, no grid spacing or origin unless `origin`),
    a cell_specimen_table of full-frame image masks (rows, columns) with x, y, width, height, and
    dff/traces on ~11 Hz timestamps; plane 2's frames 10 ms after plane 1's."""
    rng = np.random.default_rng(2)
    nwbfile = _nwbfile(path.stem)
    device = nwbfile.create_device(name="MESO.1", description="Allen Brain Observatory - Mesoscope 2P Rig")
    for index, (area, depth) in AREAS.items():
        frame = (
            {
                "grid_spacing": [2.0, 2.0],
                "grid_spacing_unit": "micrometers",
                "origin_coords": [1000.0 * index, 0.0, depth + 25.0],
                "origin_coords_unit": "micrometers",
            }
            if origin
            else {}
        )
        imaging_plane = nwbfile.create_imaging_plane(
            name=f"imaging_plane_{index}",
            optical_channel=OpticalChannel(
                name="channel_1", description="2P Optical Channel", emission_lambda=520.0
            ),
            description=f"(64, 64) field of view in {area} at depth {depth} um",
            device=device,
            excitation_lambda=910.0,
            imaging_rate=11.0,
            indicator="GCaMP6f",
            location=area,
            **frame,
        )
        module = nwbfile.create_processing_module(f"ophys_plane_{index}", "Ophys processing module")
        segmentation = ImageSegmentation(name="image_segmentation")
        module.add(segmentation)
        table = segmentation.create_plane_segmentation(
            name="cell_specimen_table", description="Segmented rois", imaging_plane=imaging_plane
        )
        for column in ("x", "y", "width", "height"):
            table.add_column(column, column)
        for roi, (row, col) in enumerate(CENTRES[index]):
            mask = np.zeros((64, 64), np.float32)
            mask[row - 1 : row + 2, col - 1 : col + 2] = 1.0
            table.add_roi(
                image_mask=mask, x=col - 1, y=row - 1, width=3, height=3, id=1086490000 + 10 * index + roi
            )
        region = table.create_roi_table_region(region=[0, 1, 2], description="All ROIs")
        times = 0.01 * (index - 1) + np.arange(240) / 11.0
        dff = DfOverF(name="dff")
        module.add(dff)  # first, so that the series and its ROI table share an ancestor
        data = rng.random((240, 3)).astype(np.float32)
        dff.create_roi_response_series(name="traces", data=data, rois=region, unit="NA", timestamps=times)
    _add_movie(nwbfile)
    return _write(nwbfile, path)


def test_mesoscope_planes_in_different_areas_say_their_xy_are_not_one_frame(tmp_path):
    source = _mesoscope_session(tmp_path / "mesoscope.nwb", origin=False)
    store = _store(source, tmp_path / "store")
    assert store.meta["coordinate_unit"] == "pixels"
    for index, (area, depth) in AREAS.items():
        mine = store.plane == index - 1
        expected = [(col, row, depth) for row, col in CENTRES[index]]  # x = column, y = row, z = depth
        np.testing.assert_allclose(store.coordinates[mine], expected, atol=1e-4)
        other = AREAS[3 - index][0]
        path = f"/processing/ophys_plane_{index}/dff/traces"
        frame = (
            f"x, y (pixels) are in a frame of its own, not one frame of reference with the planes in {other}"
        )
        assert (
            f"{path}: imaging plane imaging_plane_{index} ({area}) has no origin_coords, so its ROIs' {frame}"
            in store.meta["notes"]
        )
        depth_note = (
            f"z = {depth} um, the depth imaging plane imaging_plane_{index}'s description gives (no origin z)"
        )
        assert f"{path}: {depth_note}" in store.meta["notes"]


def test_mesoscope_planes_with_origins_share_one_frame(tmp_path):
    source = _mesoscope_session(tmp_path / "mesoscope.nwb", origin=True)
    with open_nwb(source) as nwbfile:
        planes = choose_planes(nwbfile, None, str(source))
        for index, plane in zip(AREAS, planes, strict=True):
            coordinates, notes = plane.coordinates()
            expected = [
                (1000.0 * index + 2 * col, 2 * row, AREAS[index][1] + 25.0) for row, col in CENTRES[index]
            ]
            np.testing.assert_allclose(coordinates, expected, atol=1e-3)  # micrometres; z from the origin
            assert notes == []


@pytest.mark.filterwarnings("ignore:RoiResponseSeries 'imaging_plane_1'")  # pynwb's, on the layout tested
def test_openscope_rois_by_time_dff_with_one_timestamp_too_many_is_read(tmp_path):
    """000036's DfOverF/imaging_plane_1: (ROIs, frames) with frames + 1 timestamps and uint8 image masks."""
    n_rois, frames = 5, 30 * MOVIE_SECONDS
    data = np.random.default_rng(3).random((n_rois, frames)).astype(np.float32)
    nwbfile = _nwbfile("openscope")
    imaging_plane = nwbfile.create_imaging_plane(
        name="imaging_plane_1",
        optical_channel=OpticalChannel(
            name="channel_1", description="2P Optical Channel", emission_lambda=520.0
        ),
        description="(64, 64) field of view in VISp at depth 175 um",
        device=nwbfile.create_device(name="CAM2P.5"),
        excitation_lambda=910.0,
        imaging_rate=30.0,
        indicator="GCaMP6f",
        location="VISp",
    )
    module = nwbfile.create_processing_module("ophys", "Ophys processing module")
    segmentation = ImageSegmentation()
    module.add(segmentation)
    table = segmentation.create_plane_segmentation(
        name="imaging_plane_1", description="Segmented rois", imaging_plane=imaging_plane
    )
    for roi in range(n_rois):
        mask = np.zeros((64, 64), np.uint8)
        mask[5 + 10 * roi : 8 + 10 * roi, 20:23] = 1
        table.add_roi(image_mask=mask, id=roi)
    region = table.create_roi_table_region(region=list(range(n_rois)), description="All ROIs")
    dff = as_read(
        RoiResponseSeries,
        name="imaging_plane_1",
        data=data,
        rois=region,
        unit="NA",
        timestamps=np.arange(frames + 1) / 30.0,
    )
    container = DfOverF()
    module.add(container)  # first, so that the series and its ROI table share an ancestor
    container.add_roi_response_series(dff)
    _add_movie(nwbfile)
    source = _write(nwbfile, tmp_path / "openscope.nwb")
    store = _store(source, tmp_path / "store")

    path = "/processing/ophys/DfOverF/imaging_plane_1"
    assert store.n_ticks == frames  # frame k at timestamp k = tick k; the 601st timestamp is not a frame
    np.testing.assert_allclose(store.responses, data.T, atol=1e-6)
    assert f"{path}: stored ROIs x time ({n_rois}, {frames}), read transposed" in store.meta["transforms"]
    assert (
        f"{path}: {frames + 1} timestamps for {frames} samples; sample k at timestamp k, the last one ignored"
        in store.meta["notes"]
    )

    out = tmp_path / "predicted.nwb"
    write_predictions(
        source,
        [(0, np.asarray(store.responses))],
        tick_times=store.times,
        roi_ids=store.roi_ids,
        model=_provenance(store),
        out=out,
    )
    with NWBHDF5IO(out, "r") as io:
        predicted = io.read().processing[DEFAULT_NAME]["imaging_plane_1"]
        np.testing.assert_array_equal(predicted.timestamps[:], np.arange(frames) / 30.0)
        np.testing.assert_allclose(predicted.data[:], data.T, atol=1e-6)


@pytest.mark.filterwarnings("ignore:TimeSeries 'speed'")  # pynwb's, on the extra timestamp tested
def test_one_timestamp_too_many_is_tolerated_only_when_notes_are_kept():
    series = as_read(TimeSeries, name="speed", data=np.arange(4.0), unit="cm/s", timestamps=np.arange(5.0))
    with pytest.raises(SessionError, match="5 timestamps for 4 samples; the series is damaged or truncated"):
        series_times(series, "speed")
    notes: list[str] = []
    np.testing.assert_array_equal(series_times(series, "speed", notes=notes), np.arange(4.0))
    assert notes == ["speed: 5 timestamps for 4 samples; sample k at timestamp k, the last one ignored"]

"""Sensorium 2023 mouse folder (folders of .npy files) -> one NWB file, through neuroconv.

Mapping (one mouse folder, one file):

- Trials in temporal order (meta/trials/trial_idx.npy when present, else file order), laid end to end on
  one 30 Hz clock, INTER_TRIAL_GAP_S apart. The release has no acquisition times, so this clock is
  reconstructed; the gaps hold no samples. Each trial is cut at its first NaN in any of its four arrays.
- stimulus/presentation/StimulusVideo: OpticalSeries (frames, height, width) uint8 with per-frame
  timestamps, chunked VIDEO_CHUNK_FRAMES frames x the full frame; every other series links to them.
- processing/ophys: per distinct depth (z of cell_motor_coordinates) one ImagingPlane, one
  PlaneSegmentation (ids = unit_ids, a cell_motor_coordinates column, placeholder pixel masks placing each
  ROI at its x, y on a 1 um grid) and one RoiResponseSeries `Deconvolved` in `Fluorescence` (the responses
  are deconvolved activity, not dF/F). Depths become planes because readers take a ROI's depth from its plane.
- processing/behavior: PupilTracking/pupil_dilation, BehavioralTimeSeries/running_speed,
  EyeTracking/pupil_center.
- intervals/trials: trial_file_index, trial_idx, tier (Sensorium's names), valid_frames, padded_frames,
  stimulus_id (hash of the valid frames: repeats share it) and labelled, False for test-tier trials whose
  responses are all zeros (hidden labels: unlabelled, not silent).

Every file is read and checked before anything is written; bulk data then streams through
GenericDataChunkIterators that read one trial file at a time.
"""

from nwb_v1former.sources.sensorium.folder import GAP_FRAMES, SensoriumFolder, scan_folder
from nwb_v1former.sources.sensorium.interface import (
    SensoriumInterface,
    SensoriumNWBConverter,
    convert_sensorium,
    depth_planes,
    position_masks,
)

__all__ = [
    "GAP_FRAMES",
    "SensoriumFolder",
    "SensoriumInterface",
    "SensoriumNWBConverter",
    "convert_sensorium",
    "depth_planes",
    "position_masks",
    "scan_folder",
]

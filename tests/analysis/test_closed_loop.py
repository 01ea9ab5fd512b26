"""The closed loop on the tiny model, end to end: tiny-sim designs an image for each of two of its best
neurons, the set is exported and shown to the same simulated animal, and the loop report finds the
stimuli by content; the animal's TRUE responses say whether the design worked."""

from __future__ import annotations

import json

import numpy as np

from nwb_v1former.analysis.mei import MEIConfig
from nwb_v1former.nwb.stimulus_set import ScheduleConfig
from nwb_v1former.pipeline.closed_loop import run_loop
from nwb_v1former.pipeline.design import run_mei
from nwb_v1former.pipeline.export import export_stimuli
from nwb_v1former.simulate import load_truth
from nwb_v1former.simulate.present import present_and_write

DESIGN = MEIConfig(frames=10, burn_in=6, settle=4, steps=20, starts=1, learning_rate=0.1)
REPEATS = 4


def test_designed_images_drive_their_own_neurons_in_the_simulated_animal(fitted_animal, tmp_path):
    best = fitted_animal.best(8)
    centers = fitted_animal.truth["rf_center"][best]
    distance = np.linalg.norm(centers[:, None] - centers[None], axis=-1)
    columns = best[list(np.unravel_index(distance.argmax(), distance.shape))]  # two apart on the screen
    rois = fitted_animal.store.roi_ids[columns].tolist()
    out = tmp_path / "insilico"
    store = fitted_animal.store
    run_mei(fitted_animal.checkpoint, store.folder, out, roi_ids=rois, config=DESIGN, session=store.key)
    stimuli, _ = export_stimuli(
        out,
        tmp_path / "set.nwb",
        config=ScheduleConfig(repeats=REPEATS, gap_s=1.0, frame_rate=30.0, screen=(36, 64)),
    )
    assert stimuli.provenance["targeted_rois"] == sorted(rois)
    present_and_write(tmp_path / "set.nwb", fitted_animal.nwb, tmp_path / "presented")
    presented = load_truth(next((tmp_path / "presented").glob("*.truth.npz")))
    assert np.array_equal(presented["roi_ids"], fitted_animal.truth["roi_ids"])

    # The truth: each neuron's expected rate is higher for its own image than for the other's.
    own = [stimuli.names.index(f"mei_image_excite_full_roi{roi}") for roi in rois]
    rates = np.zeros((2, 2))
    for s in range(2):
        trials = np.flatnonzero(presented["trial_clip_id"] == s)
        ticks = np.concatenate(
            [np.arange(presented["trial_start_tick"][t] + 3, presented["trial_stop_tick"][t]) for t in trials]
        )
        rates[:, s] = presented["expected_ticks"][ticks][:, columns].mean(axis=0)
    assert rates[0, own[0]] > rates[0, own[1]] and rates[1, own[1]] > rates[1, own[0]], rates

    # The loop report finds every presentation by its frames and agrees with the model's prediction.
    run_loop(fitted_animal.checkpoint, tmp_path / "set.nwb", tmp_path / "presented", out)
    loop = json.loads((out / "closed_loop.json").read_text())
    assert loop["summary"]["presentations"] == 2 * REPEATS and loop["summary"]["targeted_rois"] == 2
    table = loop["table"]["rows"]
    assert sorted(table["roi_id"]) == sorted(rois)
    assert all(value > 0 for value in table["predicted_difference"])
    assert all(0 <= p <= 1 for p in table["p_adjusted"])

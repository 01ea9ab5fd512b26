"""The closed loop on the tiny model, end to end: tiny-sim designs an image for each of two of its best
neurons and chooses their controls (best natural clip, best grating), the set is exported and shown to
the same simulated animal, and the loop report finds the stimuli by content and judges each design
against each control; the animal's TRUE responses say whether the design worked."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nwb_v1former.analysis.closed_loop import LoopConfig, loop_statistics
from nwb_v1former.analysis.contextual import ContextConfig
from nwb_v1former.analysis.controls import ControlConfig
from nwb_v1former.analysis.experiment import mean_responses, session_states
from nwb_v1former.analysis.mei import MEIConfig
from nwb_v1former.analysis.receptive_fields import NoiseConfig
from nwb_v1former.analysis.results import AnalysisProvenance
from nwb_v1former.analysis.stimulus_space import Screen
from nwb_v1former.data.stats import Normalizer
from nwb_v1former.errors import ConfigError
from nwb_v1former.nwb.stimulus_set import ScheduleConfig, StimulusSet
from nwb_v1former.pipeline.closed_loop import run_loop
from nwb_v1former.pipeline.design import run_contextual, run_controls, run_mei
from nwb_v1former.pipeline.export import export_stimuli
from nwb_v1former.pipeline.insilico import run_receptive_fields
from nwb_v1former.simulate import load_truth
from nwb_v1former.simulate.present import present_and_write

DESIGN = MEIConfig(frames=10, burn_in=6, settle=4, steps=20, starts=1, learning_rate=0.1)
CONTROLS = ControlConfig(frames=10, burn_in=6, settle=4, stride=10)
GRATINGS = ContextConfig(
    orientations=4, periods_px=(8.0, 16.0), diameters_px=(8.0, 16.0, 32.0, 80.0), frames=20, settle=6
)
REPEATS = 4


def test_designed_images_drive_their_own_neurons_in_the_simulated_animal(fitted_animal, tmp_path):
    best = fitted_animal.best(8)
    centers = fitted_animal.truth["rf_center"][best]
    distance = np.linalg.norm(centers[:, None] - centers[None], axis=-1)
    columns = best[list(np.unravel_index(distance.argmax(), distance.shape))]  # two apart on the screen
    rois = fitted_animal.store.roi_ids[columns].tolist()
    out = tmp_path / "insilico"
    store = fitted_animal.store
    checkpoint, key = fitted_animal.checkpoint, store.key
    run_mei(checkpoint, store.folder, out, roi_ids=rois, config=DESIGN, session=key)
    run_receptive_fields(
        checkpoint, out, session=key, data=store.folder, roi_ids=rois, config=NoiseConfig(clips=4)
    )
    run_contextual(checkpoint, out, roi_ids=rois, data=store.folder, config=GRATINGS, session=key)
    run_controls(checkpoint, store.folder, out, roi_ids=rois, config=CONTROLS, session=key)
    controls = json.loads((out / "controls.json").read_text())
    # The natural control is the best of every training window the model scored, the grating a grating.
    trials = store.trials
    train_ticks = (trials.stop_tick - trials.first_tick)[trials.tier == "train"]
    assert controls["summary"]["natural_windows"] == sum(
        (train_ticks - CONTROLS.frames) // CONTROLS.stride + 1
    )
    assert all(trials.tier[t] == "train" for t in controls["table"]["rows"]["natural_trial"])
    # ... and none of the windows it scored (a third of them, recomputed here) drives its ROI more.
    screen = Screen.from_normalizer(Normalizer.from_statistics(store.statistics))
    starts = np.concatenate(
        [
            np.arange(a, b - CONTROLS.frames + 1, CONTROLS.stride)
            for a, b in zip(trials.first_tick, trials.stop_tick, strict=True)
        ]
    )[::3]
    starts = starts[
        np.isin(
            np.searchsorted(trials.first_tick, starts, side="right") - 1,
            np.flatnonzero(trials.tier == "train"),
        )
    ]
    clips = torch.as_tensor(
        screen.from_pixels(np.asarray(store.video)[starts[:, None] + np.arange(CONTROLS.frames)])
    )
    shown = torch.cat([torch.zeros(len(clips), CONTROLS.burn_in, 36, 64), clips], dim=1)
    state = session_states(store)[0]
    others = mean_responses(fitted_animal.model, key, shown, state, start=CONTROLS.burn_in + CONTROLS.settle)
    chosen = np.asarray(controls["table"]["rows"]["natural_response"])
    assert np.all(others[:, columns].max(axis=0) <= chosen + 1e-4), (others[:, columns].max(axis=0), chosen)
    stimuli, _ = export_stimuli(
        out,
        tmp_path / "set.nwb",
        config=ScheduleConfig(repeats=REPEATS, gap_s=1.0, frame_rate=30.0, screen=(36, 64)),
        video=False,
    )
    assert stimuli.provenance["targeted_rois"] == sorted(rois)
    assert sorted(stimuli.roles) == sorted(["mei_image_excite_full"] * 2 + ["natural", "grating"] * 2)
    with np.load(out / "controls.npz") as arrays:
        first = int(arrays["natural_first_tick"][0])
        clip = np.asarray(store.video)[first : first + CONTROLS.frames]
        assert np.array_equal(stimuli.frames[stimuli.names.index(f"natural_roi{rois[0]}")], clip)
    present_and_write(tmp_path / "set.nwb", fitted_animal.nwb, tmp_path / "presented")
    presented = load_truth(next((tmp_path / "presented").glob("*.truth.npz")))
    assert np.array_equal(presented["roi_ids"], fitted_animal.truth["roi_ids"])

    # The truth: each neuron's expected rate is higher for its own image than for the other's.
    own = [stimuli.names.index(f"mei_image_excite_full_roi{roi}") for roi in rois]
    rates = np.zeros((2, len(stimuli.names)))
    for s in range(len(stimuli.names)):
        trials = np.flatnonzero(presented["trial_clip_id"] == s)
        ticks = np.concatenate(
            [np.arange(presented["trial_start_tick"][t] + 3, presented["trial_stop_tick"][t]) for t in trials]
        )
        rates[:, s] = presented["expected_ticks"][ticks][:, columns].mean(axis=0)
    assert rates[0, own[0]] > rates[0, own[1]] and rates[1, own[1]] > rates[1, own[0]], rates

    # The loop report finds every presentation by its frames and judges each design against each control.
    run_loop(checkpoint, tmp_path / "set.nwb", tmp_path / "presented", out)
    loop = json.loads((out / "closed_loop.json").read_text())
    summary = loop["summary"]
    assert summary["presentations"] == len(stimuli.names) * REPEATS and summary["targeted_rois"] == 2
    assert {name: values["pairs"] for name, values in summary["controls"].items()} == {
        "other_designed": 2,
        "natural": 2,
        "grating": 2,
    }
    table = loop["table"]["rows"]
    assert sorted(table["roi_id"]) == sorted(rois * 3)
    other = [row for row, control in enumerate(table["control"]) if control == "other_designed"]
    assert all(table["predicted_difference"][row] > 0 for row in other)
    assert all(0 <= p <= 1 for p in table["p_adjusted"])
    # The recorded contrasts follow the truth's: own image against each control, neuron by neuron.
    for row, control in enumerate(table["control"]):
        m = rois.index(table["roi_id"][row])
        name = {"natural": f"natural_roi{rois[m]}", "grating": f"grating_roi{rois[m]}"}.get(control)
        truth_control = rates[m, stimuli.names.index(name)] if name else rates[m, own[1 - m]]
        truly_better = rates[m, own[m]] > truth_control
        assert (table["recorded_difference"][row] > 0) == truly_better or table["p_value"][row] > 0.05


def _played(
    stimuli: StimulusSet, repeats: int, gap: int, rng: np.random.Generator
) -> tuple[np.ndarray, list]:
    """A screen showing every stimulus `repeats` times in shuffled blocks, grey between; (T, 36, 64) and
    the (stimulus, onset) of each presentation."""
    screen, shown, tick = [], [], 0
    for _ in range(repeats):
        for s in rng.permutation(len(stimuli.names)):
            screen += [np.full((gap, 36, 64), 128, np.uint8), stimuli.frames[s]]
            shown.append((s, tick + gap))
            tick += gap + len(stimuli.frames[s])
    return np.concatenate(screen), shown


def test_each_design_is_judged_against_each_of_its_controls_as_recorded():
    """Two ROIs, each with a design, a natural clip and a grating: ROI 7 answers its design twice as much
    as its natural clip and less than its grating; the verdicts, ratios and BH follow, per control."""
    rng = np.random.default_rng(0)
    frames = [np.full((6, 36, 64), value, np.uint8) for value in (10, 40, 70, 100, 160, 200)]
    roles = ["mei_image_excite_full", "natural", "grating"] * 2
    targets = np.array([7, 7, 7, 9, 9, 9])
    names = [f"{role}_roi{roi}" for role, roi in zip(roles, targets, strict=True)]
    stimuli = StimulusSet(names, frames, targets, roles, {})
    video, shown = _played(stimuli, repeats=12, gap=8, rng=rng)
    mean = np.array([[2.0, 1.0, 3.0, 0.2, 0.2, 0.2], [0.3, 0.3, 0.3, 1.5, 1.5, 1.4]])  # (ROI, stimulus)
    responses = rng.normal(0.1, 0.1, (len(video), 2)).astype(np.float32)
    for s, onset in shown:
        responses[onset + 3 : onset + 9] += mean[:, s] + rng.normal(0, 0.2, 2)
    provenance = AnalysisProvenance("x.ckpt", "0" * 64, "x")
    predicted = mean + 0.05
    result = loop_statistics(np.array([7, 9]), responses, video, stimuli, predicted, provenance, LoopConfig())
    pairs, summary = result.table().columns, result.summary()
    verdict = {
        (roi, control): (ratio, p)
        for roi, control, ratio, p in zip(
            pairs["roi_id"][1],
            pairs["control"][1],
            pairs["recorded_ratio"][1],
            pairs["p_adjusted"][1],
            strict=True,
        )
    }
    ratio, p = verdict[(7, "natural")]
    assert abs(ratio - 1.91) < 0.35 and p < 0.01  # about (2 + 0.1) / (1 + 0.1), significant
    assert ratio == pytest.approx(result.recorded[0, 0] / result.recorded[0, 1])
    ratio, p = verdict[(7, "grating")]
    assert ratio < 1 and p > 0.5
    assert verdict[(7, "other_designed")][1] < 0.01 and verdict[(9, "other_designed")][1] < 0.01
    assert verdict[(9, "grating")][1] > 0.01  # 1.5 against 1.4 in noise 0.2: not shown at 12 repeats
    assert summary["controls"]["natural"]["own_beats_control_bh"] == 1
    assert summary["own_stimulus_best_recorded"] == 2 and summary["presentations"] == 6 * 12

    # One design and nothing to judge it against: one line, not an empty verdict.
    alone = StimulusSet(names[:1], frames[:1], targets[:1], roles[:1], {})
    video, _ = _played(alone, repeats=3, gap=8, rng=rng)
    with pytest.raises(ConfigError, match="nothing to judge"):
        loop_statistics(
            np.array([7, 9]),
            np.zeros((len(video), 2)),
            video,
            alone,
            predicted[:, :1],
            provenance,
            LoopConfig(),
        )

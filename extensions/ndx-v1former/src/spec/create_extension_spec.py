"""Generate the ndx-v1former spec YAML in ../../spec (ndx-template convention): run it after any change.

    python extensions/ndx-v1former/src/spec/create_extension_spec.py [OUTPUT_DIR]

The YAML it writes is the one source of truth: it is installed as `nwb_v1former.nwb.spec` (see
setup.py) and loaded by `nwb_v1former.nwb.extension`; tests check the shipped files equal its output.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pynwb.spec import (
    NWBAttributeSpec,
    NWBDatasetSpec,
    NWBGroupSpec,
    NWBLinkSpec,
    NWBNamespaceBuilder,
    export_spec,
)

NAME = "ndx-v1former"
VERSION = "0.2.0"
SPEC_DIR = Path(__file__).resolve().parents[2] / "spec"


def _text(name: str, doc: str, *, required: bool = True) -> NWBAttributeSpec:
    return NWBAttributeSpec(name=name, doc=doc, dtype="text", required=required)


def model_spec() -> NWBGroupSpec:
    """V1FormerModel: which model made a set of predictions, and from what data it learned."""
    return NWBGroupSpec(
        neurodata_type_def="V1FormerModel",
        neurodata_type_inc="NWBDataInterface",
        doc=(
            "The ViV1T model (nwb-v1former) that produced predicted responses, with its provenance: "
            "checkpoint digest, configuration, training data and evaluation."
        ),
        attributes=[
            _text("description", "What this model is, in a sentence."),
            _text("model_name", "Name of the model (the checkpoint's own name, else its file name)."),
            _text("model_version", "Version of the software that trained and saved the checkpoint."),
            _text("software", "Software and version that wrote these predictions."),
            _text("checkpoint_sha256", "SHA-256 hex digest of the checkpoint file."),
            _text("preset", "Architecture preset (viv1t-2025, small, tiny, ...).", required=False),
            _text("session_key", "Which per-session readout of the model made the predictions."),
            NWBAttributeSpec(
                name="trained_on_simulated_data",
                doc=(
                    "True when the model learned from simulated sessions: its predictions then show that "
                    "the pipeline works, not how these neurons respond."
                ),
                dtype="bool",
            ),
            _text(
                "training_data_description",
                "What the model was trained on, in words (including the warning for simulated data).",
            ),
            NWBAttributeSpec(
                name="learned",
                doc=(
                    "Whether training's fit check found that the model learned (validation correlation "
                    "above 0, not stopped while still improving); absent for checkpoints saved before the "
                    "check. When False, fit_check_reasons says why."
                ),
                dtype="bool",
                required=False,
            ),
        ],
        datasets=[
            NWBDatasetSpec(name="config", doc="The model configuration, as JSON.", dtype="text"),
            NWBDatasetSpec(
                name="training_data",
                doc=(
                    "One identifier per training session: its DANDI asset (DANDI:id/version/path), else "
                    "its file's name, else its NWB identifier; never a path on the training machine."
                ),
                dtype="text",
                shape=[None],
                dims=["num_sessions"],
                quantity="?",
            ),
            NWBDatasetSpec(
                name="training_data_sha256",
                doc=(
                    "SHA-256 hex digest of each training session's NWB file, in the order of "
                    "training_data ('' where the checkpoint does not record one)."
                ),
                dtype="text",
                shape=[None],
                dims=["num_sessions"],
                quantity="?",
            ),
            NWBDatasetSpec(
                name="fit_check_reasons",
                doc="Why the fit check found that the model did not learn (see learned), one per line.",
                dtype="text",
                shape=[None],
                dims=["num_reasons"],
                quantity="?",
            ),
            NWBDatasetSpec(
                name="training_dandisets",
                doc="The dandisets (DANDI:ID[/version]) the training sessions came from.",
                dtype="text",
                shape=[None],
                dims=["num_dandisets"],
                quantity="?",
            ),
            NWBDatasetSpec(
                name="evaluation",
                doc="Evaluation metrics, as JSON: on this session's held-out trials and from training.",
                dtype="text",
                quantity="?",
            ),
            NWBDatasetSpec(
                name="checkpoint_provenance",
                doc="Everything the checkpoint records about how it was made, as JSON.",
                dtype="text",
                quantity="?",
            ),
        ],
    )


def predicted_series_spec() -> NWBGroupSpec:
    """PredictedRoiResponseSeries: a RoiResponseSeries of model output that names its model."""
    return NWBGroupSpec(
        neurodata_type_def="PredictedRoiResponseSeries",
        neurodata_type_inc="RoiResponseSeries",
        doc=(
            "Responses predicted by a model for the same ROIs and imaging times as recorded responses, "
            "in the recorded unit. NaN where the model made no prediction."
        ),
        attributes=[
            NWBAttributeSpec(
                name="model_rate",
                doc="Rate (Hz) of the model's frame grid; predictions are linearly interpolated from it.",
                dtype="float64",
            ),
            _text(
                "recorded_path",
                (
                    "Where the recorded series lies in the file described by the module's "
                    "PredictionSource, when that is another file (a predictions-only file has no link)."
                ),
                required=False,
            ),
        ],
        links=[
            NWBLinkSpec(
                name="model", target_type="V1FormerModel", doc="The model that made these predictions."
            ),
            NWBLinkSpec(
                name="recorded",
                target_type="RoiResponseSeries",
                doc="The recorded responses these predictions are for.",
                quantity="?",
            ),
        ],
    )


def source_spec() -> NWBGroupSpec:
    """PredictionSource: which NWB file holds the recording a module's predictions are for."""
    return NWBGroupSpec(
        neurodata_type_def="PredictionSource",
        neurodata_type_inc="NWBDataInterface",
        doc=(
            "The NWB file whose recorded responses the predictions in this module are for, when the "
            "predictions were written into a file of their own (a derived file, or a full copy)."
        ),
        attributes=[
            _text("file_name", "The source file's name when predicted (dandi organize may rename it)."),
            _text("identifier", "The source file's NWB identifier."),
            _text("file_object_id", "The object_id of the source file's NWBFile."),
            _text("sha256", "SHA-256 hex digest of the source file (HDF5 files only).", required=False),
            _text(
                "copy",
                "What this file holds of the source: predictions-only (its subject, session and ROI tables) "
                "or full (everything, under new object ids).",
            ),
        ],
    )


def main(output_dir: Path = SPEC_DIR) -> None:
    """Write ndx-v1former.namespace.yaml and ndx-v1former.extensions.yaml into `output_dir`."""
    builder = NWBNamespaceBuilder(
        name=NAME,
        version=VERSION,
        doc="Predictions of the ViV1T model of mouse V1 (nwb-v1former), with model provenance.",
        author=["nwb-v1former developers"],
        contact=["https://github.com/nwb-v1former/nwb-v1former/issues"],
    )
    builder.include_namespace("core")
    export_spec(builder, [model_spec(), predicted_series_spec(), source_spec()], str(output_dir))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else SPEC_DIR)

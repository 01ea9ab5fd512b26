"""`demo`: the whole pipeline on a simulated mouse, on a laptop CPU, in a few minutes and with no network.

```
DEMO/
  simulated/         the new mouse: sim-000.nwb (allen layout), sim-000.truth.npz (ground truth)
  data/              the session converted into the common dataset
  run/               fine-tuning of the shipped core's readout (config, metrics, best.ckpt, evaluation)
  run/insilico/      in-silico experiments on the fitted model: tuning, receptive fields, attention
  run/report/        the report (index.html and its figures, the in-silico ones included)
  predictions.nwb    the model's predictions in a file of their own (predictions-only: sim-000.nwb's
                     subject, session and ROI tables, processing/v1former_predictions), and the
                     in-silico per-ROI tables beside them
```
Settings are in nwb_v1former.pipeline.demo_config. `overwrite` replaces only such a folder (or an empty
one): each entry in it must be the demo's own, of its kind (DEMO).
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nwb_v1former.analysis.receptive_fields import NoiseConfig
from nwb_v1former.analysis.report import INSILICO, write_report
from nwb_v1former.analysis.report_data import ground_truth
from nwb_v1former.atomic import OutputKind, check_apart, check_writable, folder_kind, visible_entries
from nwb_v1former.data.store import SessionStore
from nwb_v1former.metrics import mean_over_neurons
from nwb_v1former.nwb.convert import DATASET, convert
from nwb_v1former.nwb.write import PREDICTIONS
from nwb_v1former.pipeline.demo_config import DemoConfig
from nwb_v1former.pipeline.insilico import run_attention, run_receptive_fields, run_tuning
from nwb_v1former.pipeline.predict import predict
from nwb_v1former.pipeline.train import RunOptions, finetune
from nwb_v1former.progress import Reporter
from nwb_v1former.run_folder import BEST, RUN
from nwb_v1former.simulate.write import SIMULATION, simulate_and_write
from nwb_v1former.train.finetune import resolve_base
from nwb_v1former.train.loop import FitResult

LAYOUT = "allen"
STEPS = ("simulate", "convert", "finetune", "predict", "insilico", "report")
RF_CLIPS = 4
"""Noise clips per neuron for the demo's receptive fields (half the default: the demo stays short)."""


@dataclass(frozen=True)
class DemoResult:
    """Where the demo put everything, how well the model did and how long each step took (seconds)."""

    folder: Path
    nwb: Path
    truth: Path
    run: Path
    predictions: Path
    insilico: Path
    report: Path
    fit: FitResult
    session: str
    scores: dict[str, Any]
    true_ceiling: float | None
    seconds: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        paths = ("folder", "nwb", "truth", "run", "predictions", "insilico", "report")
        return {
            **{name: str(getattr(self, name)) for name in paths},
            "checkpoint": str(self.run / BEST),
            "epochs": self.fit.epochs,
            "best_epoch": self.fit.best_epoch,
            "session": self.session,
            "scores": self.scores,
            "true_noise_ceiling": self.true_ceiling,
            "seconds": self.seconds,
        }


@contextlib.contextmanager
def _step(name: str, seconds: dict[str, float], log: Callable[[str], None], what: str) -> Iterator[None]:
    """Time one step into `seconds[name]` and say what it does and how long it took."""
    log(f"[{STEPS.index(name) + 1}/{len(STEPS)}] {what} ...")
    started = time.perf_counter()
    yield
    seconds[name] = round(time.perf_counter() - started, 2)
    log(f"      done in {seconds[name]:.0f} s")


ENTRIES: dict[str, OutputKind] = {
    "simulated": SIMULATION,
    "data": DATASET,
    "run": RUN,
    "predictions.nwb": PREDICTIONS,
}
"""What a demo folder holds, each of the kind the step that writes it would itself replace."""


def _holds_only_demo(folder: Path) -> bool:
    return all(
        entry.name in ENTRIES and ENTRIES[entry.name].recognise(entry) for entry in visible_entries(folder)
    )


DEMO = folder_kind(
    "a folder nwb-v1former demo wrote (simulated/, data/, run/, predictions.nwb)", _holds_only_demo
)
"""What `demo --overwrite` may replace: an earlier demo's folder (or one it began), each entry of its kind,
nothing else in it; or an empty folder."""


def demo(
    out: str | Path = "nwb-v1former-demo",
    *,
    config: DemoConfig | None = None,
    overwrite: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> DemoResult:
    """Simulate a new mouse, convert it, fine-tune the shipped core, predict into NWB, evaluate, report.

    `log` receives one line per step (default: silent). On any error the half-made `out` is removed.
    `overwrite` replaces only an earlier demo folder (DEMO); `out` may not hold the core it starts from.
    """
    config = config or DemoConfig()
    log = log or (lambda line: None)
    out = Path(out)
    check_writable(out, overwrite, DEMO)
    # a missing core stops the demo before anything is written; one inside `out` would be deleted with it
    check_apart(out, [resolve_base(config.base)])
    if out.is_dir():
        shutil.rmtree(out)
    elif out.exists():
        out.unlink()
    out.mkdir(parents=True)
    try:
        return _run(out, config, progress, log)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise


def _run(out: Path, config: DemoConfig, progress: bool, log: Callable[[str], None]) -> DemoResult:
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    simulation = config.simulation()
    what = f"Simulating a new mouse ({config.neurons} neurons, {config.minutes:g} min, seed {config.seed})"
    with _step("simulate", seconds, log, what):
        session = simulate_and_write(out / "simulated", layout=LAYOUT, progress=progress, **simulation)[0]
    with _step("convert", seconds, log, "Converting the NWB file into the common dataset"):
        store = SessionStore(convert([session.data], out / "data", progress=progress)[0].folder)
    what = f"Fine-tuning a readout on the {config.base} core (<= {config.max_epochs} epochs), evaluating it"
    with _step("finetune", seconds, log, what):
        fit = finetune(
            [store.folder],
            out / "run",
            base=config.base,
            config=config.training(),
            options=RunOptions(report=False, reporter=Reporter("bars" if progress else "quiet")),
        )
    predictions = out / "predictions.nwb"
    with _step("predict", seconds, log, "Writing the predictions into an NWB file of their own"):
        predict(out / "run" / BEST, session.data, predictions, progress=progress)
    what = "In-silico experiments: gratings, receptive fields, attention vs behaviour"
    with _step("insilico", seconds, log, what):
        checkpoint, shared = out / "run" / BEST, {"nwb": predictions, "progress": progress}
        run_tuning(checkpoint, data=store.folder, **shared)
        run_receptive_fields(checkpoint, data=store.folder, config=NoiseConfig(clips=RF_CLIPS), **shared)
        run_attention(checkpoint, store.folder, **shared)
    with _step("report", seconds, log, "Drawing the report"):
        report = write_report(out / "run")
    seconds["total"] = round(time.perf_counter() - started, 2)
    truth = ground_truth(store)
    return DemoResult(
        folder=out,
        nwb=session.data,
        truth=session.truth,
        run=out / "run",
        predictions=predictions,
        insilico=out / "run" / INSILICO,
        report=report,
        fit=fit,
        session=store.key,
        scores=fit.evaluation["summary"][store.key],
        true_ceiling=None if truth is None else mean_over_neurons(truth.noise_ceiling),
        seconds=seconds,
    )

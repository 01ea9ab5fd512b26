"""`nwb-v1former pretrain` and `nwb-v1former finetune`: train into a run folder and print its summary."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource
from nwb_v1former.cli.lazy import LazyChoice
from nwb_v1former.cli.reader_options import reader_options
from nwb_v1former.cli.source_options import SOURCE_HELP, source_options

from nwb_v1former.progress import Reporter, is_main_process
from nwb_v1former.train.config import STRATEGIES, TrainConfig

if TYPE_CHECKING:
    from nwb_v1former.pipeline.train import RunOptions
    from nwb_v1former.train.loop import FitResult


def recipe_options(out_help: str, *, resume: bool) -> Callable[[Callable], Callable]:
    """Options shared by pretrain, finetune and compare (the recipe's map onto TrainConfig fields)."""
    options = [
        click.option("--out", required=True, type=click.Path(file_okay=False), help=out_help),
        click.option(
            "--max-epochs",
            type=click.IntRange(1),
            default=400,
            show_default=True,
            help="Stop after this many epochs at most (early stopping usually ends a run sooner); with "
            "--resume, a larger value continues a finished run.",
        ),
        click.option(
            "--patience",
            type=click.IntRange(1),
            default=10,
            show_default=True,
            help="Stop after this many epochs without a better validation correlation.",
        ),
        click.option(
            "--train-fraction",
            type=click.FloatRange(0, 1, min_open=True),
            default=1.0,
            show_default=True,
            help="Use this seeded fraction of each session's training trials.",
        ),
        click.option(
            "--batch-size",
            type=click.IntRange(1),
            default=1,
            show_default=True,
            help="Windows per session per step and process (under torchrun the global batch is N times it).",
        ),
        click.option(
            "--window",
            type=click.IntRange(1),
            default=None,
            help="Ticks per training window [default: the shortest training trial, at most 300].",
        ),
        click.option(
            "--warmup-steps",
            type=click.IntRange(0),
            default=None,
            help="Steps of linear learning-rate warm-up [default: scaled to the run: at most the paper's "
            "400, a tenth of the planned steps and half the patience].",
        ),
        click.option(
            "--seed",
            type=click.IntRange(0),
            default=0,
            show_default=True,
            help="Seeds fresh weights, the training-trial fraction, window order and dropout: the same "
            "seed and data give the same run.",
        ),
        click.option(
            "--device",
            default=None,
            help="cpu, cuda, cuda:N, mps [default: this process's GPU, else cpu]; under torchrun `cuda` "
            "(each process takes cuda:LOCAL_RANK).",
        ),
        click.option("--overwrite", is_flag=True, help="Replace what a finished command left in --out."),
        click.option(
            "--report/--no-report",
            default=True,
            show_default=True,
            help="Write RUN/report/ (HTML + figures) at the end.",
        ),
        click.option("--json", "as_json", is_flag=True, help="Print the result as JSON."),
        click.option(
            "--quiet",
            is_flag=True,
            help="Say nothing while training (by default: progress bars on a terminal; without one, a "
            "line per epoch and at least one a minute).",
        ),
    ]
    if resume:
        resume_help = "Continue the interrupted run in --out from last.ckpt."
        options.append(click.option("--resume", is_flag=True, help=resume_help))

    def apply(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return source_options(reader_options(command))

    return apply


training_options = recipe_options("Run folder to create.", resume=True)
"""The options of pretrain and finetune."""


def run_options(options: dict[str, Any], feature_cache: Any = None) -> RunOptions:
    """The RunOptions of the parsed options (what pretrain, finetune and compare share)."""
    from nwb_v1former.pipeline.train import DandiOptions, RunOptions

    return RunOptions(
        resume=options.get("resume", False),
        overwrite=options["overwrite"],
        device=options["device"],
        report=options["report"],
        dandi=DandiOptions(options["cache_dir"], options["stream"], options["dandi_api_url"]),
        reader=options["choices"],
        feature_cache=feature_cache,
        reporter=Reporter.for_terminal(quiet=options["quiet"]),
        given=given_settings(),
    )


def given_settings() -> frozenset[str]:
    """The TrainConfig fields this command line set (--resume refuses one that differs from the run's)."""
    context = click.get_current_context()
    fields = {field.name for field in dataclasses.fields(TrainConfig)}
    return frozenset(
        name
        for name in context.params
        if name in fields and context.get_parameter_source(name) is ParameterSource.COMMANDLINE
    )


def check_sources(sources: tuple[str, ...], options: dict[str, Any]) -> None:
    if not sources and not options["resume"]:
        raise click.UsageError("give at least one SOURCE (or --resume an interrupted run)")


def print_header(command: str, model: str, sources: tuple[str, ...], out: str, run: RunOptions) -> None:
    """The log's first lines: the command, the model, its sources and output, the device and the
    processes (the recipe follows once the sessions are known)."""
    from nwb_v1former.device import pick_placement

    processes = int(os.environ.get("WORLD_SIZE", "1"))
    placement = pick_placement(run.device)
    resumed = "as the run recorded it (--resume)"
    run.reporter.header(
        command,
        {
            "model": resumed if run.resume else model,
            "sources": resumed if run.resume else ", ".join(sources),
            "out": out,
            "device": str(placement.device),
            "processes": processes,
        },
    )
    if placement.note:
        run.reporter.note(placement.note)


def train_config(strategy: str, options: dict[str, Any], **extra: Any) -> TrainConfig:
    """The TrainConfig of the parsed options."""
    fields = ("max_epochs", "patience", "train_fraction", "batch_size", "window", "warmup_steps", "seed")
    return TrainConfig(strategy=strategy, **{name: options[name] for name in fields}, **extra)


def _figure(value: float | None) -> str:
    """A metric to three decimals; a missing or NaN one (nothing could be scored) says so, never 0.000."""
    return "n/a" if value is None or math.isnan(value) else f"{value:.3f}"


def print_result(result: FitResult, out: str, as_json: bool) -> None:
    """Print where the run is and how good it got (per session, with the noise ceiling when known)."""
    summary = result.evaluation.get("summary", {})
    if as_json:
        click.echo(
            json.dumps(
                {
                    "run": out,
                    **{k: v for k, v in result.__dict__.items() if k != "evaluation"},
                    "evaluation": summary,
                    "fit_check": result.evaluation.get("fit_check"),
                },
                indent=2,
            )
        )
        return
    how = "stopped early" if result.stopped_early else "reached --max-epochs"
    click.echo(
        f"Run {out}: {len(summary)} session(s), {result.epochs} epochs ({how}); best validation correlation "
        f"{_figure(result.best_score)} at epoch {result.best_epoch} -> {out}/best.ckpt"
    )
    for key, values in summary.items():
        ceiling = values.get("noise_ceiling")
        correlation = _figure(values["single_trial_correlation"])
        line = f"  {key}: {values['tier']} single-trial correlation {correlation}"
        if ceiling:
            normalized = values["normalized_correlation"]
            line += f" (noise ceiling {_figure(ceiling)}; normalised correlation {_figure(normalized)})"
        click.echo(line)
    for reason in result.evaluation.get("fit_check", {}).get("reasons", []):
        click.echo(f"  FLAGGED, {reason}")
    click.echo(f"Per-neuron metrics: {out}/evaluation.json; learning curve: {out}/metrics.jsonl")


@click.command("finetune", epilog=SOURCE_HELP)
@click.argument("sources", nargs=-1, type=click.Path())
@click.option(
    "--from",
    "base",
    default="tiny-sim",
    show_default=True,
    help="Pretrained core: a .ckpt, tiny-sim (shipped, trained on simulated data) or viv1t-2025.",
)
@click.option(
    "--strategy",
    type=click.Choice([s for s in STRATEGIES if s != "scratch"]),
    default="readout",
    show_default=True,
    help="readout: core frozen; full: core at 1/10 of the head rate; gradual: "
    "readout for --unfreeze-after epochs, then full.",
)
@click.option(
    "--unfreeze-after",
    type=click.IntRange(0),
    default=5,
    show_default=True,
    help="With --strategy gradual: epochs of readout-only training before the core joins in.",
)
@click.option(
    "--feature-cache/--no-feature-cache",
    default=True,
    show_default=True,
    help="While the core is frozen, run it once over the data and train the readouts from its stored "
    "output (--no-feature-cache: run the core at every step, as before).",
)
@click.option(
    "--feature-cache-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where the frozen core's output goes [default: RUN/feature-cache].",
)
@click.option(
    "--feature-cache-dtype",
    type=click.Choice(["float16", "float32"]),
    default="float16",
    show_default=True,
    help="How the core's output is stored (float16 halves the disk; float32 lets float32 evaluate and "
    "predict read it back exactly).",
)
@click.option(
    "--precision",
    type=click.Choice(["bf16", "float32"]),
    default="bf16",
    show_default=True,
    help="bf16 autocast where the hardware runs it fast (CUDA training; the frozen core's pass and the "
    "final score on GPUs of compute capability 8.0 or above and on CPUs with AMX); float32 everywhere "
    "else.",
)
@training_options
def finetune_command(
    sources: tuple[str, ...],
    base: str,
    strategy: str,
    unfreeze_after: int,
    feature_cache: bool,
    feature_cache_dir: str | None,
    feature_cache_dtype: str,
    precision: str,
    **options: Any,
) -> None:
    """Fresh readouts for new animals on a pretrained core (SOURCES: NWB, folders, dandisets, stores)."""
    from nwb_v1former.pipeline.train import finetune
    from nwb_v1former.train.feature_cache import CacheConfig

    check_sources(sources, options)
    config = train_config(strategy, options, unfreeze_after=unfreeze_after, precision=precision)
    cache = CacheConfig(feature_cache_dir and Path(feature_cache_dir), feature_cache_dtype)
    run = run_options(options, cache if feature_cache else None)
    print_header(
        "finetune", f"the core of {base}, fresh readouts, strategy {strategy}", sources, options["out"], run
    )
    with run.reporter.heartbeat("finetune"):
        result = finetune(list(sources), options["out"], base=base, config=config, options=run)
    if is_main_process():  # under torchrun, one summary
        print_result(result, options["out"], options["as_json"])


@click.command("pretrain", epilog=SOURCE_HELP)
@click.argument("sources", nargs=-1, type=click.Path())
@click.option(
    "--preset",
    "model_preset",
    type=LazyChoice("nwb_v1former.model.config:PRESETS"),
    default="small",
    show_default=True,
    help="Model: viv1t-2025 (the published architecture), small or tiny (the same at CPU sizes), or the "
    "paper's baselines fcnn (factorised 3-D CNN) and ln (linear-nonlinear).",
)
@training_options
def pretrain_command(sources: tuple[str, ...], model_preset: str, **options: Any) -> None:
    """Train a core and readouts from scratch on many sessions at once (SOURCES as for finetune)."""
    from nwb_v1former.pipeline.train import core_optimiser, pretrain

    check_sources(sources, options)
    config = train_config("scratch", options, **core_optimiser(model_preset))
    run = run_options(options)
    print_header("pretrain", f"{model_preset}, from scratch", sources, options["out"], run)
    with run.reporter.heartbeat("pretrain"):
        result = pretrain(
            list(sources), options["out"], model_preset=model_preset, config=config, options=run
        )
    if is_main_process():  # under torchrun, one summary
        print_result(result, options["out"], options["as_json"])

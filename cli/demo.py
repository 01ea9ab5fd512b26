"""`nwb-v1former demo`: the whole pipeline on a simulated mouse; prints where everything is and the scores."""

from __future__ import annotations

import json
import sys

import click

from nwb_v1former.pipeline.demo_config import DemoConfig


@click.command("demo")
@click.option(
    "--out",
    default="nwb-v1former-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder to create.",
)
@click.option(
    "--neurons",
    type=click.IntRange(1),
    default=DemoConfig.neurons,
    show_default=True,
    help="Neurons of the simulated mouse.",
)
@click.option(
    "--minutes",
    type=click.FloatRange(0, min_open=True),
    default=DemoConfig.minutes,
    show_default=True,
    help="Minutes of recording (5-second clips).",
)
@click.option(
    "--max-epochs",
    type=click.IntRange(1),
    default=DemoConfig.max_epochs,
    show_default=True,
    help="Fine-tuning epochs at most.",
)
@click.option(
    "--from",
    "base",
    default=DemoConfig.base,
    show_default=True,
    help="Core to fine-tune: tiny-sim (shipped, trained on simulated data) or a .ckpt.",
)
@click.option("--overwrite", is_flag=True, help="Replace an earlier demo folder at --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--quiet", is_flag=True, help="Only the final summary: no step lines, no progress bars.")
def demo_command(
    out: str,
    neurons: int,
    minutes: float,
    max_epochs: int,
    base: str,
    overwrite: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Simulate a new mouse, convert it, fine-tune the shipped core, predict into NWB, evaluate, run the
    in-silico experiments and report.

    Runs on a laptop CPU in a few minutes, with no network: start here.
    """
    from nwb_v1former.pipeline.demo import demo

    config = DemoConfig(neurons=neurons, minutes=minutes, max_epochs=max_epochs, base=base)
    talk = not quiet and not as_json
    result = demo(
        out,
        config=config,
        overwrite=overwrite,
        progress=talk and sys.stderr.isatty(),
        log=(lambda line: click.echo(line, err=True)) if talk else None,
    )
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    click.echo(f"Demo finished in {result.seconds['total']:.0f} s. Outputs in {result.folder}/:")
    rows = (
        ("simulated mouse", f"{result.nwb} (ground truth: {result.truth.name})"),
        ("fine-tuned model", f"{result.run}/best.ckpt"),
        ("predictions", f"{result.predictions} (processing/v1former_predictions)"),
        ("in-silico results", str(result.insilico)),
        ("report", str(result.report)),
    )
    for label, where in rows:
        click.echo(f"  {label + ':':20}{where}")
    click.echo(score_line(result.scores, result.true_ceiling))
    for reason in result.fit.evaluation["fit_check"]["reasons"]:
        click.echo(f"FLAGGED, {reason}")


def score_line(scores: dict, true_ceiling: float | None) -> str:
    """Held-out single-trial correlation next to the noise ceiling (true when simulated, else estimated)."""
    line = (
        f"Held-out {scores['tier']} trials ({scores['trials']}): single-trial correlation "
        f"{scores['single_trial_correlation']:.3f}"
    )
    ceiling = true_ceiling if true_ceiling is not None else scores.get("noise_ceiling")
    if ceiling:
        source = "true, from the simulator" if true_ceiling is not None else "estimated from repeats"
        share = 100 * scores["single_trial_correlation"] / ceiling
        line += f" vs noise ceiling {ceiling:.3f} ({source}): {share:.0f}% of the ceiling"
    return line

"""`nwb-v1former compare`: model families trained on the same sessions, scored side by side."""

from __future__ import annotations

import json
from typing import Any

import click
from nwb_v1former.cli.source_options import SOURCE_HELP
from nwb_v1former.cli.train import print_header, recipe_options, run_options, train_config

from nwb_v1former.progress import is_main_process


@click.command("compare", epilog=SOURCE_HELP)
@click.argument("sources", nargs=-1, required=True, type=click.Path())
@click.option(
    "--models",
    default="small,fcnn,ln",
    show_default=True,
    help="Comma-separated presets to train from scratch, those of `pretrain --preset` (e.g. tiny,fcnn).",
)
@click.option(
    "--budget",
    "budget_minutes",
    type=click.FloatRange(0, min_open=True),
    default=None,
    help="Minutes of training per model, spent in whole epochs [default: --max-epochs and early stopping].",
)
@recipe_options(
    "Folder of the comparison (one run folder per model, comparison.json, report/).", resume=False
)
def compare_command(
    sources: tuple[str, ...], models: str, budget_minutes: float | None, **options: Any
) -> None:
    """Train each of --models from scratch on SOURCES (as for pretrain) with the same split, seed and budget,
    score each on the same held-out repeats, and write one table: DIR/comparison.json and DIR/report/."""
    from nwb_v1former.pipeline.compare import compare

    names = tuple(name.strip() for name in models.split(",") if name.strip())  # checked by compare()
    run = run_options(options)
    print_header("compare", ", ".join(names) + ", each from scratch", sources, options["out"], run)
    with run.reporter.heartbeat("compare"):
        table = compare(
            list(sources),
            options["out"],
            models=names,
            config=train_config("scratch", options),
            budget_minutes=budget_minutes,
            options=run,
        )
    if not is_main_process():  # under torchrun, one table
        return
    if options["as_json"]:
        click.echo(json.dumps(table, indent=2))
        return
    click.echo(format_table(table))
    click.echo(
        f"Table: {options['out']}/comparison.json"
        + (f"; report: {options['out']}/report/index.html" if options["report"] else "")
    )


def format_table(table: dict[str, Any]) -> str:
    """The comparison as fixed-width text: one line per model."""
    columns = (
        "model",
        "CCnorm",
        "single-trial",
        "to-average",
        "of ceiling",
        "parameters",
        "train s",
        "trials/s",
    )
    lines = ["".join(f"{c:>13}" for c in columns)]
    for name, row in table["models"].items():
        values = [
            row["normalized_correlation"],
            row["single_trial_correlation"],
            row["correlation_to_average"],
            row["fraction_of_ceiling"],
        ]
        cells = [name, *("n/a" if v is None else f"{v:.3f}" for v in values)]
        cells += [
            f"{row['parameters']:,}",
            f"{row['training_seconds']:.0f}",
            f"{row['trials_per_second']:.2f}",
        ]
        lines.append("".join(f"{c:>13}" for c in cells))
    return "\n".join(lines)

"""`nwb-v1former evaluate`: a checkpoint's metrics per session (pooled) and per neuron (JSON)."""

from __future__ import annotations

import json

import click
from nwb_v1former.cli.precision_option import precision_option
from nwb_v1former.cli.source_options import SOURCE_HELP, source_options

from nwb_v1former.inference.evaluation import SCORED_TIERS
from nwb_v1former.pipeline.evaluate import evaluate
from nwb_v1former.progress import Reporter


@click.command("evaluate", epilog=SOURCE_HELP)
@click.argument("checkpoint", type=click.Path())
@click.argument("sources", metavar="SOURCE...", nargs=-1, required=True)
@click.option(
    "--tier",
    type=click.Choice(SCORED_TIERS),
    default="test",
    show_default=True,
    help="Trials to score: test (never seen in training), validation (chose the best epoch) or train.",
)
@click.option("--device", default=None, help="cpu, cuda, cuda:N [default: a GPU if there is one, else cpu].")
@precision_option
@click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON list, one item per session, every neuron included."
)
@click.option(
    "--quiet",
    is_flag=True,
    help="No notes or progress (bars on a terminal, else a line at least every minute).",
)
@source_options
def evaluate_command(
    checkpoint: str,
    sources: tuple[str, ...],
    tier: str,
    device: str | None,
    precision: str,
    as_json: bool,
    quiet: bool,
    cache_dir: str | None,
    stream: bool,
    dandi_api_url: str | None,
) -> None:
    """Score CHECKPOINT (a .ckpt, or a run folder: RUN or RUN/best) on the held-out trials of each SOURCE.

    SOURCE is a converted store (or a folder of them), an NWB file (a full-copy predictions file
    included), a folder of them or a dandiset; NWB sources are read as training read them.

    \b
    Examples:
      nwb-v1former evaluate run/ run/data
      nwb-v1former evaluate run/best.ckpt session.nwb --tier validation --json
    """
    results = evaluate(
        checkpoint,
        list(sources),
        tier=tier,
        device=device,
        precision=precision,
        cache_dir=cache_dir,
        stream=stream,
        api_url=dandi_api_url,
        reporter=Reporter.for_terminal(quiet=quiet),
    )
    if as_json:
        click.echo(
            json.dumps(
                [
                    {"session": r.key, "checkpoint": checkpoint, **r.to_dict(), "inference": r.inference}
                    for r in results
                ],
                indent=2,
            )
        )
        return
    for result in results:
        summary = result.summary()
        figures = ", ".join(
            f"{name} {'n/a' if value is None else f'{value:.3f}'}" for name, value in summary.items()
        )
        click.echo(
            f"{result.key} ({result.n_trials} {result.tier} trials, {len(result.roi_ids)} neurons): {figures}"
        )

"""`nwb-v1former evaluate`: a checkpoint's metrics per session (pooled) and per neuron (JSON)."""

from __future__ import annotations

import json

import click

from nwb_v1former.pipeline.evaluate import evaluate


@click.command("evaluate")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.argument("data", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--tier", default="test", show_default=True, help="Trials to score: test, validation or train.")
@click.option("--device", default=None, help="cpu, cuda, cuda:N [default: a GPU if there is one, else cpu].")
@click.option("--json", "as_json", is_flag=True, help="Print every session and neuron as JSON.")
def evaluate_command(
    checkpoint: str, data: tuple[str, ...], tier: str, device: str | None, as_json: bool
) -> None:
    """Score CHECKPOINT on converted sessions DATA (store folders, or folders of them)."""
    results = evaluate(checkpoint, list(data), tier=tier, device=device)
    if as_json:
        click.echo(
            json.dumps(
                {"checkpoint": checkpoint, "sessions": {r.key: r.to_dict() for r in results}}, indent=2
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

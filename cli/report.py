"""`nwb-v1former report`: a run's HTML report (learning curves, per-neuron scores, traces, readouts)."""

from __future__ import annotations

import click


@click.command("report")
@click.argument("run", type=click.Path(file_okay=False))
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder to write [default: RUN/report]; an earlier report there is replaced, nothing else.",
)
def report_command(run: str, out: str | None) -> None:
    """Write the report of RUN (the --out folder of pretrain or finetune): index.html and its PNG figures."""
    from nwb_v1former.analysis.report import write_report

    click.echo(f"Report: {write_report(run, out)}")

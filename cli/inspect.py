"""`nwb-v1former inspect`: what the reader finds in an NWB session, and what is missing."""

from __future__ import annotations

import json

import click

from nwb_v1former.nwb import SessionInventory, inspect_session


def _clock(series: dict) -> str:
    if series["rate"] is not None:
        return f"{series['rate']:g} Hz"
    return f"{series['n_timestamps']} timestamps" if series["n_timestamps"] is not None else "no clock"


def render(found: SessionInventory) -> str:
    """Human-readable report of one session."""
    data = found.to_dict()
    lines = [f"{data['path']}  (NWB {data['nwb_version']}, subject {data['subject_id'] or '?'})"]
    lines.append("  responses:")
    for index, series in enumerate(data["responses"]):
        marker = "*" if index == 0 else " "
        lines.append(
            f"   {marker} {series['path']}  {series['neurodata_type']} {tuple(series['shape'])}, "
            f"{_clock(series)} -> {series['target']}"
        )
    lines.append("  ROI tables:")
    for table in data["roi_tables"]:
        lines.append(
            f"     {table['path']}  {table['n_rois']} ROIs, masks: {', '.join(table['masks']) or 'none'}"
        )
    lines.append("  stimulus:")
    for series in data["stimuli"]:
        target = f" -> {series['target']}" if series["target"] else ""
        lines.append(
            f"     {series['path']}  {series['neurodata_type']} {tuple(series['shape'])}, "
            f"{_clock(series)}{target}"
        )
    lines.append("  behaviour:")
    for channel, found_series in data["behavior"].items():
        for series in found_series:
            lines.append(
                f"     {channel}: {series['path']}  {tuple(series['shape'])}, {_clock(series)}, "
                f"unit {series['unit']} x {series['conversion']:g}"
            )
    lines.append("  intervals:")
    for path, rows in data["intervals"].items():
        lines.append(f"     {path}  {rows} rows")
    lines.append(f"  problems: {'none' if not data['problems'] else ''}")
    lines.extend(f"     - {problem}" for problem in data["problems"])
    return "\n".join(lines)


@click.command("inspect")
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def inspect_command(source: str, as_json: bool) -> None:
    """Show the responses, ROIs, stimulus, behaviour and trials found in SOURCE (an .nwb file)."""
    found = inspect_session(source)
    click.echo(json.dumps(found.to_dict(), indent=2) if as_json else render(found))

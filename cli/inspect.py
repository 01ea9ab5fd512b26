"""`nwb-v1former inspect`: what the reader finds in an NWB session, and what is missing."""

from __future__ import annotations

import json

import click
from nwb_v1former.cli.source_options import SOURCE_HELP, resolve, source_options

from nwb_v1former.errors import SessionError
from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.nwb.discover import NWBSource, SessionInventory, inventory, open_nwb, opened_version
from nwb_v1former.nwb.read import plan_session, unreadable
from nwb_v1former.sources import ResolvedSource


def _clock(series: dict) -> str:
    if series["rate"] is not None:
        return f"{series['rate']:g} Hz"
    return f"{series['n_timestamps']} timestamps" if series["n_timestamps"] is not None else "no clock"


def render(found: SessionInventory, plan: dict | None, origin: dict | None = None) -> str:
    """Human-readable report of one session (`origin`: the DANDI asset it came from, if any)."""
    data = found.to_dict()
    lines = [f"{data['path']}  (NWB {data['nwb_version']}, subject {data['subject_id'] or '?'})"]
    if origin is not None:
        lines.append(
            f"  from dandiset {origin['dandiset']} version {origin['version']}: {origin['asset_path']} "
            f"(asset {origin['asset_id']})"
        )
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
    if plan is not None:
        lines.append("  will use:")
        lines.append(
            f"     responses: {', '.join(plan['responses'])} ({plan['neurons']} neurons, "
            f"coordinates in {plan['coordinate_unit']})"
        )
        lines.append(f"     stimulus: {', '.join(plan['stimulus'])}")
        lines.append(
            f"     {plan['ticks']} ticks at {TICK_RATE_HZ:g} Hz, "
            f"{plan['start_time']:.2f}-{plan['stop_time']:.2f} s"
        )
    lines.append(f"  problems: {'none' if not data['problems'] else ''}")
    lines.extend(f"     - {problem}" for problem in data["problems"])
    return "\n".join(lines)


def report(
    path: NWBSource, responses: str | None, stimulus: str | None
) -> tuple[SessionInventory, dict | None]:
    """What one file holds and, if the reader can use it, what it will use (else the reason, as a problem).

    The file is opened once for both: reading an NWB file's layout is the slow part, remote or not.
    The chosen responses and movie are read in full (local files), so a damaged chunk is a problem.
    """
    with open_nwb(path) as nwbfile:
        version = opened_version(nwbfile)
        found = inventory(nwbfile, str(path), version)
        try:
            plan = plan_session(nwbfile, path, version, responses=responses, stimulus=stimulus)
            found.problems[:0] = unreadable(plan)
            return found, plan.summary()
        except SessionError as error:
            problem = str(error).removeprefix(f"{path}: ")
            if problem not in found.problems:
                found.problems.insert(0, problem)
            return found, None


def _origin(source: ResolvedSource) -> dict | None:
    return None if source.asset is None else source.asset.provenance()


@click.command("inspect", epilog=SOURCE_HELP)
@click.argument("sources", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
@click.option("--responses", default=None, help="Name or path of the response series to use.")
@click.option("--stimulus", default=None, help="Name or path of the stimulus to use (default: all).")
@click.option("--quiet", is_flag=True, help="No download progress bar.")
@source_options
def inspect_command(
    sources: tuple[str, ...],
    as_json: bool,
    responses: str | None,
    stimulus: str | None,
    quiet: bool,
    cache_dir: str | None,
    stream: bool,
    dandi_api_url: str | None,
) -> None:
    """Show what each SOURCE holds, what the reader will use, and every problem."""
    files = resolve(sources, cache_dir=cache_dir, stream=stream, dandi_api_url=dandi_api_url, quiet=quiet)
    if len(files) == 1:  # one file: an unreadable one is the one-line error itself
        reports, unreadable = [(*report(files[0].file, responses, stimulus), _origin(files[0]))], []
    else:  # several: report the readable ones, list the rest, exit non-zero if any
        reports, unreadable = [], []
        for source in files:
            try:
                reports.append((*report(source.file, responses, stimulus), _origin(source)))
            except SessionError as error:
                unreadable.append(str(error))
    if as_json:
        payload = [
            {**found.to_dict(), "will_use": plan, **({"dandi": origin} if origin else {})}
            for found, plan, origin in reports
        ]
        unreadable_json = [{"error": message} for message in unreadable]
        click.echo(json.dumps(payload[0] if len(files) == 1 else payload + unreadable_json, indent=2))
    else:
        click.echo("\n\n".join([render(*item) for item in reports] + unreadable))
    if unreadable:
        raise click.ClickException(
            f"{len(unreadable)} of {len(files)} files could not be read (listed above)"
        )

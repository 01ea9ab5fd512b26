"""`nwb-v1former inspect`: what the reader finds in an NWB session, and what is missing."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click
from nwb_v1former.cli.reader_options import max_nan_fraction_option, reader_options
from nwb_v1former.cli.source_options import SOURCE_HELP, resolve, source_options

from nwb_v1former.errors import SessionError
from nwb_v1former.grid import TICK_RATE_HZ

if TYPE_CHECKING:
    from nwb_v1former.nwb.choices import ReaderChoices
    from nwb_v1former.nwb.discover import NWBSource, SessionInventory
    from nwb_v1former.sources import ResolvedSource


def _clock(series: dict) -> str:
    if series["rate"] is not None:
        return f"{series['rate']:g} Hz"
    return f"{series['n_timestamps']} timestamps" if series["n_timestamps"] is not None else "no clock"


def _mark(path: str, used: list[str]) -> str:
    return "*" if path in used else " "


def render(found: SessionInventory, plan: dict | None, origin: dict | None = None) -> str:
    """Human-readable report of one session (`origin`: the DANDI asset it came from, if any).

    `*` marks what the reader will use; nothing is marked in a file that cannot be converted.
    """
    data = found.to_dict()
    used = plan or {"responses": [], "stimulus": [], "behavior": {}, "transposed": []}
    lines = [f"{data['path']}  (NWB {data['nwb_version']}, subject {data['subject_id'] or '?'})"]
    if origin is not None:
        lines.append(
            f"  from dandiset {origin['dandiset']} version {origin['version']}: {origin['asset_path']} "
            f"(asset {origin['asset_id']})"
        )
    lines.append("  responses:" + ("  (* = used)" if plan is not None else "  (none used: see problems)"))
    for series in data["responses"]:
        stored = ", stored ROIs x time: read transposed" if series["path"] in used["transposed"] else ""
        lines.append(
            f"   {_mark(series['path'], used['responses'])} {series['path']}  {series['neurodata_type']} "
            f"{tuple(series['shape'])}, {_clock(series)}{stored} -> {series['target']}"
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
            f"   {_mark(series['path'], used['stimulus'])} {series['path']}  {series['neurodata_type']} "
            f"{tuple(series['shape'])}, {_clock(series)}{target}"
        )
    lines.append("  behaviour:")
    for channel, found_series in data["behavior"].items():
        for series in found_series:
            marker = _mark(series["path"], [used["behavior"].get(channel)])
            lines.append(
                f"   {marker} {channel}: {series['path']}  {tuple(series['shape'])}, {_clock(series)}, "
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
        lines.append(f"     trials: {plan['trials']} from {plan['trials_from']}")
        lines.append(
            f"     {plan['ticks']} ticks at {TICK_RATE_HZ:g} Hz, "
            f"{plan['start_time']:.2f}-{plan['stop_time']:.2f} s"
        )
        lines.extend(f"     note: {note}" for note in plan["notes"])
    lines.append(f"  problems: {'none' if not data['problems'] else ''}")
    lines.extend(f"     - {problem}" for problem in data["problems"])
    return "\n".join(lines)


def report(
    path: NWBSource, choices: ReaderChoices, max_nan_fraction: float
) -> tuple[SessionInventory, dict | None]:
    """What one file holds and, if `convert` with the same options will succeed, what it will use (else
    None, and the reason as the first problem).

    The file is opened once for both: reading an NWB file's layout is the slow part, remote or not. A
    local file is converted on trial into a scratch folder (`conversion_problems`), so the exit status
    is convert's. pynwb / hdmf warnings raised on the way are problems too, never printed.
    """
    from nwb_v1former.nwb.behavior import choose_behavior
    from nwb_v1former.nwb.discover import fold_warnings, inventory, open_nwb, opened_version
    from nwb_v1former.nwb.plan import plan_session
    from nwb_v1former.nwb.read import conversion_problems

    with open_nwb(path) as nwbfile:
        version = opened_version(nwbfile)
        found = inventory(nwbfile, str(path), version)
        try:
            plan = plan_session(nwbfile, path, version, choices)
            problems, notes = conversion_problems(plan, max_nan_fraction=max_nan_fraction)
            will_use = (
                None
                if problems
                else {
                    **plan.summary(),
                    "notes": notes,
                    "trials": len(plan.trials.start),
                    "transposed": [p.path for p in plan.planes if p.transposed],
                    "behavior": {c: p for c, (p, _, _) in choose_behavior(plan.behavior_series).items()},
                }
            )
        except SessionError as error:
            problems, will_use = [error.within(path).problem], None
        found.problems[:0] = [p for p in problems if p not in found.problems]
        fold_warnings(found, nwbfile)  # those raised while planning, too
        return found, will_use


def _origin(source: ResolvedSource) -> dict | None:
    return None if source.asset is None else source.asset.provenance()


def _unreadable_json(source: ResolvedSource, message: str) -> dict:
    """The --json report of a file that could not be read: its path, why, and `will_use` null."""
    origin = _origin(source)
    return {
        "path": str(source.file),
        "problems": [message],
        "will_use": None,
        **({"dandi": origin} if origin else {}),
    }


@click.command("inspect", epilog=SOURCE_HELP)
@click.argument("sources", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
@max_nan_fraction_option
@click.option("--quiet", is_flag=True, help="No download progress bar.")
@source_options
@reader_options
def inspect_command(
    sources: tuple[str, ...],
    as_json: bool,
    max_nan_fraction: float,
    choices: ReaderChoices,
    quiet: bool,
    cache_dir: str | None,
    stream: bool,
    dandi_api_url: str | None,
) -> None:
    """Show what each SOURCE holds, what the reader will use (marked *), and every problem.

    Exits 1 when any SOURCE cannot be read or cannot be converted (its report says why), 0 when every
    one can. --json prints a list, one report per file (a file that cannot be read or converted has
    "will_use": null, and the reason first in "problems").
    """
    files = resolve(sources, cache_dir=cache_dir, stream=stream, dandi_api_url=dandi_api_url, quiet=quiet)
    reports, unreadable = [], []
    for source in files:
        try:
            reports.append((*report(source.file, choices, max_nan_fraction), _origin(source)))
        except SessionError as error:
            if len(files) == 1 and not as_json:  # one file: an unreadable one is the one-line error
                raise
            unreadable.append((source, str(error)))
    if as_json:
        payload = [
            {**found.to_dict(), "will_use": plan, **({"dandi": origin} if origin else {})}
            for found, plan, origin in reports
        ]
        payload += [_unreadable_json(source, message) for source, message in unreadable]
        click.echo(json.dumps(payload, indent=2))
    else:
        click.echo("\n\n".join([render(*item) for item in reports] + [message for _, message in unreadable]))
    unusable = [found for found, plan, _ in reports if plan is None]
    if len(files) == 1 and unreadable:
        raise click.ClickException(unreadable[0][1])
    if len(files) == 1 and unusable:  # scripts can filter on the exit status
        raise click.ClickException(f"{unusable[0].path} cannot be converted: {unusable[0].problems[0]}")
    failures = [
        f"{count} of {len(files)} files {what}"
        for count, what in ((len(unreadable), "could not be read"), (len(unusable), "cannot be converted"))
        if count
    ]
    if failures:
        raise click.ClickException(f"{'; '.join(failures)} (listed above)")

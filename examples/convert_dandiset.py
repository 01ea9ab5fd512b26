"""Convert the sessions of a DANDI dandiset into the common dataset that nwb-v1former trains on.

    python examples/convert_dandiset.py "dandiset:000728@0.240827.1809/sub-*/*.nwb" --out dandi-data

Each .nwb asset the SOURCE selects is downloaded into the cache once (verified against its DANDI digest),
or read over HTTP with --stream. Sessions without a stimulus movie or without ROI responses are skipped
with one line each; every other session becomes one store folder under --out, ready for
`finetune` / `pretrain`. Embargoed dandisets need DANDI_API_KEY in the environment.
"""

from __future__ import annotations

import argparse
import sys

from nwb_v1former.nwb.convert import convert
from nwb_v1former.sources import resolve_sources


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", help="dandiset:ID[@version][/glob], e.g. dandiset:000728/sub-*/*.nwb")
    parser.add_argument("--out", default="dandi-data", help="Folder to create (default: %(default)s).")
    parser.add_argument("--cache-dir", default=None, help="Download cache (default: ~/.cache/nwb-v1former).")
    parser.add_argument("--stream", action="store_true", help="Read the assets over HTTP, download nothing.")
    parser.add_argument("--dandi-api-url", default=None, help="Another DANDI instance's API (e.g. sandbox).")
    args = parser.parse_args(argv)

    resolved = resolve_sources(
        [args.source],
        cache_dir=args.cache_dir,
        stream=args.stream,
        api_url=args.dandi_api_url,
        progress=sys.stderr.isatty(),
    )
    print(f"{args.source}: {len(resolved)} NWB asset(s)")
    sessions = convert(
        [item.session_input for item in resolved], args.out, progress=sys.stderr.isatty(), on_skip=print
    )
    for session in sessions:
        print(
            f"  {session.key}: {session.neurons} neurons, {session.ticks} ticks at 30 Hz -> {session.folder}"
        )


if __name__ == "__main__":
    main()

"""Run `nwb-v1former predict CHECKPOINT SOURCE --in-place --name NAME` for every NAME at once (forked).

    python concurrent_predict.py CHECKPOINT SOURCE NAME...

Each child holds its finished copy for HOLD_S seconds before validating and renaming it, so the
writes overlap: without a lock, every child starts from the original and the last rename wins.
Prints one JSON object: name -> the child's exit code. Imports are paid once, before the fork.
"""

from __future__ import annotations

import json
import os
import sys
import time

from nwb_v1former.cli.main import main

import nwb_v1former.nwb.write as write

HOLD_S = 2.0


def slow_check(original):
    def check(*args, **kwargs):
        time.sleep(HOLD_S)
        return original(*args, **kwargs)

    return check


def child(checkpoint: str, source: str, name: str) -> None:
    write.validate_module = slow_check(write.validate_module)
    code = 1
    try:
        main(["predict", checkpoint, source, "--in-place", "--name", name, "--quiet"], standalone_mode=True)
    except SystemExit as exit_:
        code = exit_.code or 0
    finally:
        os._exit(code)


if __name__ == "__main__":
    checkpoint, source, *names = sys.argv[1:]
    children = {}
    for name in names:
        pid = os.fork()
        if pid == 0:
            child(checkpoint, source, name)
        children[name] = pid
    print(
        json.dumps({name: os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for name, pid in children.items()})
    )

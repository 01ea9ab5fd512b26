"""Run `nwb-v1former predict CKPT SOURCE --in-place` in forked children, SIGKILL each at one moment.

    python sigkill_predict.py CKPT SOURCE MOMENT...

A moment is a point inside the command (the child kills itself there: `copy` half-way through
copying the source, `structure` once the module's structure is written but no prediction,
`fill` in the middle of streaming predictions, `validate` with the file complete but unchecked,
`rename` just before the rename) or an event the parent watches for and then kills the child
(`partial-appears`, `partial-grows`: the temporary file exists / has grown past the source).
Prints one JSON object: moment -> how the child ended ("SIGKILL" or its exit code). Interpreter and
imports are paid once; children are forked before torch runs anything.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from nwb_v1former.cli.main import main

import nwb_v1former.atomic as atomic
import nwb_v1former.nwb.backends as backends
import nwb_v1former.nwb.write as write


def die(*_args, **_kwargs) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def half_copy(source, target) -> None:
    with open(source, "rb") as reader, open(target, "wb") as writer:
        writer.write(reader.read(os.path.getsize(source) // 2))
        writer.flush()
        os.fsync(writer.fileno())
    die()


def dying_replace(original):
    def replace(source, target) -> None:
        if str(target).endswith(".nwb"):  # the final rename, not the temporary store's
            die()
        original(source, target)

    return replace


def dying_add(original):
    calls = []

    def add(self, first_tick, block):
        calls.append(first_tick)
        if len(calls) == 3:
            die()
        return original(self, first_tick, block)

    return add


INSIDE = {
    "copy": lambda: setattr(backends.shutil, "copyfile", half_copy),
    "structure": lambda: setattr(write.FrameStream, "add", die),
    "fill": lambda: setattr(write.FrameStream, "add", dying_add(write.FrameStream.add)),
    "validate": lambda: setattr(write, "validate_module", die),
    "rename": lambda: setattr(atomic.os, "replace", dying_replace(atomic.os.replace)),
}


def watch(pid: int, source: Path, moment: str) -> int:
    """Kill `pid` when the watched event happens; its wait status."""
    size = source.stat().st_size
    temporary = source.with_name(f".{source.stem}.partial-{pid}{source.suffix}")
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if temporary.exists() and (moment == "partial-appears" or temporary.stat().st_size > size):
            os.kill(pid, signal.SIGKILL)
            return os.waitpid(pid, 0)[1]
        time.sleep(0.0005)


def run(checkpoint: str, source: Path, moment: str) -> str:
    pid = os.fork()
    if pid == 0:
        if moment in INSIDE:
            INSIDE[moment]()
        try:
            main(["predict", checkpoint, str(source), "--in-place", "--quiet"], standalone_mode=False)
        finally:
            os._exit(0)
    status = os.waitpid(pid, 0)[1] if moment in INSIDE else watch(pid, source, moment)
    if os.WIFSIGNALED(status):
        return signal.Signals(os.WTERMSIG(status)).name
    return str(os.WEXITSTATUS(status))


if __name__ == "__main__":
    checkpoint, source, *moments = sys.argv[1:]
    print(json.dumps({moment: run(checkpoint, Path(source), moment) for moment in moments}))

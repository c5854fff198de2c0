"""`make gpu-check`, second half: plugrad's cuda device against torch on the same GPU.

Times matmul, conv2d, softmax and add on both (each call queued `--repeats` times between two
synchronisations, median of `--rounds` rounds, after a warm-up) and prints the throughput
ratio plugrad / torch, so 1.00 means as fast as torch and 0.50 half as fast. Exits 1 when a
target is missed: float32 matmul 4096 at least 0.70, add of 64M floats at least 0.85. Needs a
GPU, plugrad-cuda with a driver (PLUGRAD_CUDA=gpu) and a CUDA build of torch.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

os.environ.setdefault("PLUGRAD_CUDA", "gpu")


@dataclass
class Case:
    name: str
    shapes: list[tuple[int, ...]]  # float32 inputs, drawn once and given to both sides
    ours: Callable[..., object]  # plugrad tensors -> result
    theirs: Callable[..., object]  # torch tensors -> result
    target: float | None = None  # minimum throughput ratio plugrad / torch


def median_seconds(call: Callable[[], object], sync: Callable[[], None], repeats: int,
                   rounds: int) -> float:  # fmt: skip
    call()
    sync()
    samples = []
    for _ in range(rounds):
        sync()
        start = time.perf_counter()
        for _ in range(repeats):
            call()
        sync()
        samples.append((time.perf_counter() - start) / repeats)
    return statistics.median(samples)


def cases(scale: int = 1) -> list[Case]:
    """The workloads; `scale` shrinks them (tests, smoke runs)."""
    import torch

    import plugrad

    n = 4096 // scale
    elems = (64 << 20) // scale**2
    batch = max(1, 32 // scale)
    return [
        Case(f"matmul float32 {n}x{n}", [(n, n), (n, n)], lambda a, b: a @ b,
             lambda a, b: a @ b, 0.70),
        Case(f"conv2d float32 {batch}x64x56x56, 64 3x3, pad 1",
             [(batch, 64, 56, 56), (64, 64, 3, 3)],
             lambda x, w: plugrad.nn.functional.conv2d(x, w, padding=1),
             lambda x, w: torch.nn.functional.conv2d(x, w, padding=1)),
        Case(f"softmax float32 {n}x{n}", [(n, n)], lambda x: x.softmax(-1),
             lambda x: x.softmax(-1)),
        Case(f"add float32 {elems >> 20}M", [(elems,), (elems,)], lambda a, b: a + b,
             lambda a, b: a + b, 0.85),
    ]  # fmt: skip


def inputs(case: Case, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape, dtype=np.float32) for shape in case.shapes]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scale", type=int, default=1, help="shrink the problems (smoke runs)")
    args = parser.parse_args(argv)
    import torch

    import plugrad

    if not torch.cuda.is_available():
        print("gpu-check: torch has no CUDA device here (install a CUDA build of torch)")
        return 2
    device = plugrad.device("cuda")
    print(f"plugrad cuda: {device.backend.runtime.description}; torch {torch.__version__} on "
          f"{torch.cuda.get_device_name()}")  # fmt: skip
    rows, failed = [], []
    with torch.no_grad(), plugrad.no_grad():
        for case in cases(args.scale):
            host = inputs(case)
            mine = [plugrad.tensor(a, device=device) for a in host]
            peers = [torch.from_numpy(a).to("cuda") for a in host]
            ours = median_seconds(partial(case.ours, *mine), device.backend.synchronize,
                                  args.repeats, args.rounds)  # fmt: skip
            theirs = median_seconds(partial(case.theirs, *peers), torch.cuda.synchronize,
                                    args.repeats, args.rounds)  # fmt: skip
            ratio = theirs / ours
            verdict = ""
            if case.target is not None:
                verdict = f">= {case.target:.2f} " + ("ok" if ratio >= case.target else "MISSED")
                if ratio < case.target:
                    failed.append(case.name)
            rows.append((case.name, f"{ours * 1e3:.3f}", f"{theirs * 1e3:.3f}", f"{ratio:.2f}",
                         verdict))  # fmt: skip
    header = ("workload", "plugrad ms", "torch ms", "throughput ratio", "target")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    if failed:
        print(f"gpu-check: targets missed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

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

os.environ.setdefault("PLUGRAD_CUDA", "gpu")


@dataclass
class Case:
    name: str
    ours: Callable[[], Callable[[], object]]  # builds inputs, returns the timed call
    theirs: Callable[[], Callable[[], object]]
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


def cases(plugrad, torch, scale: int) -> list[Case]:
    F = plugrad.nn.functional
    n = 4096 // scale
    elems = (64 << 20) // scale**2

    def ours_matmul():
        a = plugrad.randn(n, n, device="cuda")
        b = plugrad.randn(n, n, device="cuda")
        return lambda: a @ b

    def torch_matmul():
        a = torch.randn(n, n, device="cuda")
        b = torch.randn(n, n, device="cuda")
        return lambda: a @ b

    conv_shape = (32 // scale or 1, 64, 56, 56)

    def ours_conv():
        x = plugrad.randn(*conv_shape, device="cuda")
        w = plugrad.randn(64, 64, 3, 3, device="cuda")
        return lambda: F.conv2d(x, w, padding=1)

    def torch_conv():
        x = torch.randn(*conv_shape, device="cuda")
        w = torch.randn(64, 64, 3, 3, device="cuda")
        return lambda: torch.nn.functional.conv2d(x, w, padding=1)

    def ours_softmax():
        x = plugrad.randn(n, n, device="cuda")
        return lambda: x.softmax(-1)

    def torch_softmax():
        x = torch.randn(n, n, device="cuda")
        return lambda: x.softmax(-1)

    def ours_add():
        a = plugrad.randn(elems, device="cuda")
        b = plugrad.randn(elems, device="cuda")
        return lambda: a + b

    def torch_add():
        a = torch.randn(elems, device="cuda")
        b = torch.randn(elems, device="cuda")
        return lambda: a + b

    return [
        Case(f"matmul float32 {n}x{n}", ours_matmul, torch_matmul, 0.70),
        Case(f"conv2d float32 {conv_shape} 64x3x3", ours_conv, torch_conv),
        Case(f"softmax float32 {n}x{n}", ours_softmax, torch_softmax),
        Case(f"add float32 {elems >> 20}M", ours_add, torch_add, 0.85),
    ]


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
        for case in cases(plugrad, torch, args.scale):
            ours = median_seconds(case.ours(), device.backend.synchronize, args.repeats,
                                  args.rounds)  # fmt: skip
            theirs = median_seconds(case.theirs(), torch.cuda.synchronize, args.repeats,
                                    args.rounds)  # fmt: skip
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

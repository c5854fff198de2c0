"""Data-parallel scaling: training-step throughput on 1 process and on N processes (MPI,
DistributedDataParallel), one thread each, and how much of backward overlapped communication.

    .venv/bin/python benchmarks/tools/ddp_scaling.py [--model cnn|mlp] [--processes 2]

Also measured: N independent plain processes at once, which is what the machine's cores give
at that moment (on a shared machine, less than N): the ceiling for any data parallelism.
Each process trains on its own batch of --batch digits-shaped samples (weak scaling: the
global batch grows with the processes), so the ideal speed-up is the number of processes. The
baseline is plain single-process training without DDP. Runs alternate (1, N, 1, N, ...) and
the medians are reported; `overlap` is the share of backward (its first to its last
gradient) during which at least one bucket's all-reduce was in flight, `exposed` the time per
step spent waiting for communication after backward.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _worker(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    import numpy as np

    import plugrad
    from benchmarks import common

    distributed = args.mode == "ddp"
    rank, size = 0, 1
    if distributed:
        import plugrad.distributed as dist
        from plugrad.nn.parallel import DistributedDataParallel

        dist.init_process_group()
        rank, size = dist.get_rank(), dist.get_world_size()
    plugrad.manual_seed(0)
    spec = common.MODELS[args.model]
    with plugrad.device(args.device):
        net = spec.build(plugrad, plugrad.nn).to(args.device)
    model = DistributedDataParallel(net, bucket_cap_mb=args.bucket_mb) if distributed else net
    opt = plugrad.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = getattr(plugrad.nn, spec.loss)()
    rng = np.random.default_rng(rank)
    shape = (args.batch, 1, 8, 8) if args.model == "cnn" else (args.batch, 64)
    x = plugrad.tensor(rng.random(shape, dtype=np.float32), device=args.device)
    y = plugrad.tensor(rng.integers(0, 10, args.batch), device=args.device)

    def step() -> None:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    for _ in range(args.warmup):
        step()
    overlap, exposed = [], []
    if distributed:
        dist.barrier()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
        if distributed:
            overlap.append(model.comm_stats.overlap_share)
            exposed.append(model.comm_stats.exposed)
    elapsed = time.perf_counter() - start
    if distributed:  # the slowest rank sets the pace
        t = plugrad.tensor([elapsed], dtype=plugrad.float64)
        dist.all_reduce(t, op="max")
        elapsed = t.item()
    if rank == 0:
        result = {
            "samples_per_s": size * args.batch * args.steps / elapsed,
            "step_ms": 1e3 * elapsed / args.steps,
            "overlap": statistics.mean(overlap) if overlap else None,
            "exposed_ms": 1e3 * statistics.mean(exposed) if exposed else None,
            "buckets": len(model.reducer.buckets) if distributed else None,
        }
        Path(args.out).write_text(json.dumps(result))


def measure(
    processes: int, model: str = "cnn", steps: int = 60, batch: int = 64, device: str = "c_cpu",
    bucket_mb: float = 0.05, independent: bool = False,
) -> dict:  # fmt: skip
    """One run: 1 process without DDP (processes == 1), else DDP on that many. independent:
    that many plain processes at once, no communication (what the machine's cores allow)."""
    from plugrad.distributed.launch import command

    with tempfile.TemporaryDirectory() as folder:
        outs = [os.path.join(folder, f"result{i}.json") for i in range(processes)]
        mode = "ddp" if processes > 1 and not independent else "plain"

        def program(out: str) -> list[str]:
            return [__file__, "--worker", mode, "--model", model, "--steps", str(steps),
                    "--batch", str(batch), "--device", device, "--bucket-mb", str(bucket_mb),
                    "--out", out]  # fmt: skip

        env = {**os.environ, "PLUGRAD_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        if mode == "ddp":
            subprocess.run(command(processes, program(outs[0])), env=env, check=True, timeout=600)
            return json.loads(Path(outs[0]).read_text())
        running = [subprocess.Popen([sys.executable, *program(o)], env=env) for o in outs]
        if any(p.wait(timeout=600) for p in running):
            raise RuntimeError("a benchmark worker failed")
        results = [json.loads(Path(o).read_text()) for o in outs]
        slowest = max(r["step_ms"] for r in results)
        return {**results[0], "step_ms": slowest,
                "samples_per_s": processes * batch / (slowest / 1e3)}  # fmt: skip


def scaling(processes: int = 2, repeats: int = 3, **kw: object) -> dict:
    """Medians over alternating runs: speed-up, throughputs, overlap share."""
    single, several, independent = [], [], []
    for _ in range(repeats):
        single.append(measure(1, **kw))
        several.append(measure(processes, **kw))
        independent.append(measure(processes, independent=True, **kw))

    def median(runs: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    one, many = median(single, "samples_per_s"), median(several, "samples_per_s")
    return {
        "processes": processes,
        "single_samples_per_s": one,
        "ddp_samples_per_s": many,
        "speedup": many / one,
        "ceiling": median(independent, "samples_per_s") / one,
        "single_step_ms": median(single, "step_ms"),
        "ddp_step_ms": median(several, "step_ms"),
        "overlap_share": median(several, "overlap"),
        "exposed_ms": median(several, "exposed_ms"),
        "buckets": several[0]["buckets"],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--worker", choices=["plain", "ddp"], help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--model", choices=["cnn", "mlp"], default="cnn")
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--batch", type=int, default=64, help="samples per process and step")
    p.add_argument("--device", default="c_cpu")
    p.add_argument("--bucket-mb", type=float, default=0.05, help="DDP bucket_cap_mb")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args()
    if args.worker:
        _worker(argparse.Namespace(**{**vars(args), "mode": args.worker}))
        return 0
    r = scaling(args.processes, args.repeats, model=args.model, steps=args.steps,
                batch=args.batch, device=args.device, bucket_mb=args.bucket_mb)  # fmt: skip
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"{args.model} training step, batch {args.batch} per process, {args.device}, one "
          f"thread per process, medians of {args.repeats} alternating runs of "
          f"{args.steps} steps")  # fmt: skip
    print(f"  1 process (no DDP): {r['single_samples_per_s']:8.0f} samples/s  "
          f"({r['single_step_ms']:.2f} ms/step)")  # fmt: skip
    print(f"  {r['processes']} processes (DDP):  {r['ddp_samples_per_s']:8.0f} samples/s  "
          f"({r['ddp_step_ms']:.2f} ms/step, {r['buckets']} buckets)")  # fmt: skip
    print(f"  {r['processes']} independent processes, no communication: {r['ceiling']:.2f}x "
          "(what the cores give right now: the ceiling for DDP)")  # fmt: skip
    print(f"  speed-up {r['speedup']:.2f}x; communication in flight during "
          f"{r['overlap_share']:.0%} of backward; {r['exposed_ms']:.3f} ms/step waiting "
          "after it")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`plugrad demo`: train an MLP on the digits, check it, save it, reload it on another device.

plugrad demo [--device NAME] [--epochs N] [--model mlp|mlp-bn|linear|cnn] [--checkpoint PATH]
             [--distributed N]
plugrad demo --model lm [...]: the character-level language model (plugrad.demo_lm).

With --distributed N it starts itself on N MPI ranks (`plugrad run`), trains the same model with
DistributedDataParallel on a DistributedSampler's shards of the same global batch size
(BatchNorm as SyncBatchNorm), and rank 0 prints what one process would.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

MODELS = ("mlp", "mlp-bn", "linear", "cnn")


def build_model(kind: str, device: object = None):  # noqa: ANN201 - returns an nn.Module
    """The demo's models: 64 pixels -> 10 classes."""
    from plugrad import nn

    if kind == "mlp":
        model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    elif kind == "mlp-bn":
        model = nn.Sequential(
            nn.Linear(64, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 10)
        )
    elif kind == "linear":
        model = nn.Sequential(nn.Linear(64, 10))
    elif kind == "cnn":  # the pixels as a 1 x 8 x 8 image: two conv blocks, 8 -> 4 -> 2
        model = nn.Sequential(
            nn.Unflatten(1, (1, 8, 8)),
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.1), nn.Linear(64 * 2 * 2, 10),
        )  # fmt: skip
    else:
        raise ValueError(f"unknown model {kind!r}; choose one of {', '.join(MODELS)}")
    return model.to(device) if device is not None else model


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plugrad demo",
        description="Train a classifier on scikit-learn's 8x8 digits, report held-out accuracy "
        "and time per epoch, save a checkpoint and reload it on another installed device.",
    )
    parser.add_argument(
        "--device", default=None, help="training device (default: the default device)"
    )
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    parser.add_argument(
        "--model", choices=(*MODELS, "lm"), default="mlp",
        help="architecture (default mlp); lm trains a character-level language model on Python "
        "sources instead (its options: plugrad demo --model lm --help)",
    )  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    parser.add_argument("--lr", type=float, default=1e-2, help="AdamW learning rate (default 1e-2)")
    parser.add_argument("--seed", type=int, default=0, help="seed for init, dropout, shuffling")
    parser.add_argument(
        "--distributed", type=int, default=None, metavar="N",
        help="train on N MPI processes with DistributedDataParallel (needs plugrad[distributed])",
    )  # fmt: skip
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=Path(tempfile.gettempdir()) / "plugrad-demo" / "digits.safetensors",
        help="where to save the trained weights",
    )
    return parser


def _reload_device(train_device):  # noqa: ANN001, ANN202
    import plugrad

    for name in plugrad.available_devices():
        device = plugrad.device(name)
        if device is not train_device:
            return device, True
    return train_device, False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns the process exit status (0 when the reloaded model agrees)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # --model lm is another demo with its own options: pick it before parsing the digits' ones.
    which = argparse.ArgumentParser(add_help=False)
    which.add_argument("--model")
    if which.parse_known_args(argv)[0].model == "lm":
        from .demo_lm import main as lm_main

        return lm_main(argv)
    args = _parser().parse_args(argv)
    if args.epochs < 1:
        print("plugrad demo: --epochs must be at least 1", file=sys.stderr)
        return 2
    ranks = args.distributed
    if ranks is not None:
        from .distributed import launch

        if ranks < 1 or args.batch_size < ranks:
            print("plugrad demo: --distributed needs 1 <= N <= --batch-size", file=sys.stderr)
            return 2
        if not launch.in_mpi_job():
            try:
                return launch.launch(ranks, ["-m", "plugrad", "demo", *argv])
            except RuntimeError as error:
                print(f"plugrad demo: {error}", file=sys.stderr)
                return 2
        return _main(args, _Distributed(ranks))
    return _main(args, None)


class _Distributed:
    """The rank's place in the job, and the sums every rank contributes to."""

    def __init__(self, expected: int) -> None:
        import plugrad.distributed as dist

        dist.init_process_group()
        if dist.get_world_size() != expected:
            raise RuntimeError(
                f"--distributed {expected} but the job has {dist.get_world_size()} ranks"
            )
        self.dist = dist
        self.rank, self.size = dist.get_rank(), dist.get_world_size()

    def total(self, *values: float) -> list[float]:
        import plugrad

        t = plugrad.tensor(list(values), dtype=plugrad.float64)
        self.dist.all_reduce(t)
        return t.tolist()


def _main(args: argparse.Namespace, ddp: _Distributed | None) -> int:
    from tqdm import tqdm

    import plugrad
    from plugrad import nn
    from plugrad.data import DataLoader, DistributedSampler
    from plugrad.data.datasets import load_digits
    from plugrad.optim import AdamW
    from plugrad.optim.lr_scheduler import CosineAnnealingLR

    lead = ddp is None or ddp.rank == 0
    say = print if lead else (lambda *a, **k: None)
    try:
        device = plugrad.device(args.device)
    except ValueError as error:  # an unknown name (also through PLUGRAD_DEVICE)
        print(f"plugrad demo: {error}", file=sys.stderr)
        return 2
    plugrad.manual_seed(args.seed)
    train = load_digits("train", device=device)
    test = load_digits("test", device=device)
    x_test, y_test = test.tensors
    sampler = None
    if ddp is None:
        loader = DataLoader(train, batch_size=args.batch_size, shuffle=True)
    else:
        sampler = DistributedSampler(train, seed=args.seed)
        loader = DataLoader(train, batch_size=args.batch_size // ddp.size, sampler=sampler)

    net = build_model(args.model, device)
    n_params = sum(p.numel() for p in net.parameters())
    model = net
    if ddp is not None:
        from plugrad.nn.parallel import DistributedDataParallel

        net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
        model = DistributedDataParallel(net)
    opt = AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = CosineAnnealingLR(opt, T_max=args.epochs * len(loader))
    loss_fn = nn.CrossEntropyLoss()
    say(f"plugrad demo: {args.model} ({n_params} parameters) on digits, device {device.name}, "
        f"{len(train)} train / {len(test)} held-out images")  # fmt: skip
    if ddp is not None:
        say(f"distributed: {ddp.size} processes (DistributedDataParallel), batch "
            f"{loader.batch_size} per process, {loader.batch_size * ddp.size} in all")  # fmt: skip

    def accuracy(m: nn.Module) -> float:
        m.eval()
        with plugrad.no_grad():
            correct = (m(x_test).argmax(1) == y_test).sum().item()
        m.train()
        return correct / len(test)

    show = sys.stderr.isatty() and lead
    epoch_times = []
    for epoch in range(1, args.epochs + 1):
        if sampler is not None:
            sampler.set_epoch(epoch)
        start = time.perf_counter()
        total_loss, correct, seen = 0.0, 0, 0
        bar = tqdm(loader, desc=f"epoch {epoch}/{args.epochs}", file=sys.stderr, disable=not show,
                   leave=False, unit="batch")  # fmt: skip
        for xb, yb in bar:
            logits = model(xb)
            loss = loss_fn(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
            n = len(yb)
            total_loss += loss.item() * n
            correct += int((logits.detach().argmax(1) == yb).sum().item())
            seen += n
            bar.set_postfix(
                loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.1%}", refresh=False
            )
        bar.close()
        if ddp is not None:
            total_loss, correct, seen = ddp.total(total_loss, correct, seen)
        epoch_times.append(time.perf_counter() - start)
        say(f"epoch {epoch:>2}/{args.epochs}  loss {total_loss / seen:.4f}  train acc "
              f"{correct / seen:.1%}  held-out acc {accuracy(net):.1%}  "
              f"{epoch_times[-1]:.2f} s")  # fmt: skip

    held_out = accuracy(net)
    mean_time = sum(epoch_times) / len(epoch_times)
    say(f"held-out accuracy: {held_out:.2%} on {len(test)} images")
    say(f"time per epoch: {mean_time:.3f} s on {device.name} ({sum(epoch_times):.2f} s training)")
    if not lead:
        return 0
    model = net

    args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    plugrad.save(model.state_dict(), args.checkpoint)
    print(f"saved checkpoint: {args.checkpoint}")

    other, moved = _reload_device(device)
    reloaded = build_model(args.model, other)
    reloaded.load_state_dict(plugrad.load(args.checkpoint, device=other))
    model.eval()
    reloaded.eval()
    with plugrad.no_grad():
        logits_here = model(x_test)
        logits_there = reloaded(x_test.to(other)).to(device)
    agree = (logits_here.argmax(1) == logits_there.argmax(1)).astype("float64").mean().item()
    max_diff = (logits_here - logits_there).abs().amax().item()
    if moved:
        where = f"reloaded on {other.name} (trained on {device.name})"
    else:
        where = f"reloaded on {other.name} (the only installed device)"
    print(f"{where}: predictions agree on {agree:.2%} of held-out images, "
          f"max |logit difference| {max_diff:.2e}")  # fmt: skip
    return 0 if agree == 1.0 else 1

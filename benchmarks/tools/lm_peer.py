"""The LM demo (`plugrad demo --model lm`) against torch: the same model, weights, batches,
optimiser and schedule, trained side by side.

The torch twin is built with torch's own modules (Embedding, TransformerEncoderLayer pre-norm
with GELU, LayerNorm, Linear) under plugrad's parameter names and loaded with plugrad's initial
weights; both then train on the windows plugrad.demo_lm.batch_starts draws, with AdamW,
gradient-norm clipping and the demo's LambdaLR schedule. It prints both held-out losses in
bits/char and the ratio torch / plugrad (the issue's target: within 5%), the largest gap
between the two training-loss curves, and the time per step on each. Exits 1 when the ratio
is outside [0.95, 1.05].

    .venv/bin/python benchmarks/tools/lm_peer.py [--steps N] [--dtype float32|float64] ...
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from plugrad import demo_lm as lm

if TYPE_CHECKING:  # torch loads inside the functions: importing this module does not need it
    import torch

    from plugrad.nn import Module

BITS = 1.0 / math.log(2.0)


@dataclass
class Run:
    """One framework's run: training loss per step and held-out loss, in nats per character."""

    losses: list[float]
    held_out: float
    seconds_per_step: float


def torch_twin(model: Module, config: lm.LMConfig, dtype: str = "float32") -> torch.nn.Module:
    """A torch nn.Module computing what build_lm(config) computes, loaded with model's weights
    (the state_dict names are torch's, so strict loading checks that every tensor has a twin)."""
    import torch
    from torch import nn

    class TorchCharTransformer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tokens = nn.Embedding(lm.VOCAB_SIZE, config.d_model)
            self.positions = nn.Embedding(config.seq_len, config.d_model)
            self.layers = nn.ModuleList(
                nn.TransformerEncoderLayer(
                    config.d_model,
                    config.heads,
                    config.feedforward,
                    dropout=0.0,
                    activation="gelu",
                    batch_first=True,
                    norm_first=True,
                )
                for _ in range(config.layers)
            )
            self.norm = nn.LayerNorm(config.d_model)
            self.head = nn.Linear(config.d_model, lm.VOCAB_SIZE)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            t = ids.shape[1]
            x = self.tokens(ids) + self.positions(torch.arange(t))
            # torch reads is_causal as a hint about src_mask, so it needs the mask itself
            mask = nn.Transformer.generate_square_subsequent_mask(t, dtype=x.dtype)
            for layer in self.layers:
                x = layer(x, src_mask=mask, is_causal=True)
            return self.head(self.norm(x))

    twin = TorchCharTransformer().to(getattr(torch, dtype))
    state = {k: torch.from_numpy(np.array(v.numpy())) for k, v in model.state_dict().items()}
    twin.load_state_dict(state, strict=True)
    return twin


def train_plugrad(
    model: Module,
    corpus: lm.Corpus,
    starts: np.ndarray,
    config: lm.LMConfig,
    hp: lm.Training,
    device: object,
    eval_chars: int,
) -> Run:
    """The demo's own loop (lm.train_step) over the windows starts (steps, batch)."""
    opt, schedule = lm.optimizer_for(model, hp, len(starts))
    losses, start = [], time.perf_counter()
    for step, row in enumerate(starts):
        if step == 1:  # time the steady state: the first step pays one-time costs
            start = time.perf_counter()
        x, y = lm.windows(corpus.train, row, config.seq_len)
        losses.append(lm.train_step(model, opt, schedule, x, y, hp.clip, device))
    seconds = (time.perf_counter() - start) / max(len(starts) - 1, 1)
    x_val, y_val = lm.held_out_windows(corpus.held_out, config.seq_len, eval_chars)
    return Run(losses, lm.evaluate(model, x_val, y_val, device), seconds)


def train_torch(
    twin: torch.nn.Module,
    corpus: lm.Corpus,
    starts: np.ndarray,
    config: lm.LMConfig,
    hp: lm.Training,
    eval_chars: int,
) -> Run:
    """The same loop in torch: cross-entropy, backward, clip_grad_norm_, AdamW, LambdaLR."""
    import torch
    import torch.nn.functional as F

    opt = torch.optim.AdamW(twin.parameters(), lr=hp.lr, betas=hp.betas,
                            weight_decay=hp.weight_decay)  # fmt: skip
    steps, warmup = len(starts), hp.warmup_steps(len(starts))
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lm.lr_factor(s, steps, warmup))
    losses, start = [], time.perf_counter()
    for step, row in enumerate(starts):
        if step == 1:
            start = time.perf_counter()
        x, y = (torch.from_numpy(a) for a in lm.windows(corpus.train, row, config.seq_len))
        loss = F.cross_entropy(twin(x).reshape(-1, lm.VOCAB_SIZE), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(twin.parameters(), hp.clip)
        opt.step()
        schedule.step()
        losses.append(loss.item())
    seconds = (time.perf_counter() - start) / max(steps - 1, 1)
    x_val, y_val = lm.held_out_windows(corpus.held_out, config.seq_len, eval_chars)
    twin.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(x_val), 64):
            logits = twin(torch.from_numpy(x_val[i : i + 64]))
            total += F.cross_entropy(logits.reshape(-1, lm.VOCAB_SIZE),
                                     torch.from_numpy(y_val[i : i + 64]).reshape(-1),
                                     reduction="sum").item()  # fmt: skip
    return Run(losses, total / y_val.size, seconds)


def compare(config: lm.LMConfig, hp: lm.Training, steps: int, batch_size: int, seed: int,
            dtype: str = "float32", device: object = None, eval_chars: int = 32768,
            max_chars: int | None = None) -> tuple[Run, Run]:  # fmt: skip
    """Build the plugrad model (seeded), its torch twin on the same weights, train both on the
    same batches; returns (plugrad's run, torch's run)."""
    import torch

    import plugrad

    corpus = lm.load_corpus(max_chars=max_chars)
    plugrad.manual_seed(seed)
    model = lm.build_lm(config, device, getattr(plugrad, dtype))
    twin = torch_twin(model, config, dtype)
    starts = lm.batch_starts(len(corpus.train), config.seq_len, batch_size, steps, seed)
    ours = train_plugrad(model, corpus, starts, config, hp, model.tokens.weight.device, eval_chars)
    torch.manual_seed(seed)
    theirs = train_torch(twin, corpus, starts, config, hp, eval_chars)
    return ours, theirs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    demo = lm._parser()  # the demo's defaults, so that a plain run compares the demo itself
    for flag, kind in (("--steps", int), ("--seq-len", int), ("--batch-size", int),
                       ("--d-model", int), ("--layers", int), ("--heads", int), ("--lr", float),
                       ("--seed", int), ("--eval-chars", int), ("--max-chars", int)):  # fmt: skip
        default = demo.get_default(flag[2:].replace("-", "_"))
        parser.add_argument(
            flag, type=kind, default=default, help=f"as the demo's (default {default})"
        )
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--device", default=None, help="plugrad's device (torch runs on its CPU)")
    args = parser.parse_args(argv)
    try:
        import torch  # noqa: F401 - only to say early, and plainly, that it is missing
    except ImportError:
        print("lm_peer: needs torch (make install puts torch 2.13.0 into .venv)", file=sys.stderr)
        return 2
    if args.steps < 1 or args.batch_size < 1:
        parser.error("--steps and --batch-size must be at least 1")
    config = lm.LMConfig(args.seq_len, args.d_model, args.layers, args.heads, 4 * args.d_model)
    hp = lm.Training(lr=args.lr)
    ours, theirs = compare(config, hp, args.steps, args.batch_size, args.seed, args.dtype,
                           args.device, args.eval_chars, args.max_chars)  # fmt: skip
    gap = max(abs(a - b) for a, b in zip(ours.losses, theirs.losses)) * BITS
    ratio = theirs.held_out / ours.held_out
    print(f"LM peer: {args.steps} steps, batch {args.batch_size} x {args.seq_len}, d_model "
          f"{args.d_model}, {args.layers} layers, {args.heads} heads, {args.dtype}")  # fmt: skip
    print(f"held-out loss  plugrad {ours.held_out * BITS:.4f} bits/char   torch "
          f"{theirs.held_out * BITS:.4f} bits/char   ratio torch/plugrad {ratio:.4f}")  # fmt: skip
    print(f"training loss  largest per-step gap {gap:.2e} bits/char; last step plugrad "
          f"{ours.losses[-1] * BITS:.4f}, torch {theirs.losses[-1] * BITS:.4f}")  # fmt: skip
    print(f"time per step (after the first)  plugrad {ours.seconds_per_step * 1e3:.1f} ms   torch "
          f"{theirs.seconds_per_step * 1e3:.1f} ms   ratio plugrad/torch "
          f"{ours.seconds_per_step / theirs.seconds_per_step:.2f}")  # fmt: skip
    return 0 if 0.95 <= ratio <= 1.05 else 1


if __name__ == "__main__":
    sys.exit(main())

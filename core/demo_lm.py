"""`plugrad demo --model lm`: a character-level Transformer language model trained on Python's
own standard-library sources (no download), reporting held-out bits per character against the
text's unigram entropy, a sample of generated text, and time per step.

plugrad demo --model lm [--steps N] [--seq-len T] [--batch-size B] [--device NAME] [--seed S]
                        [--d-model E] [--layers L] [--heads H] [--lr LR] [--prompt TEXT]
                        [--temperature TAU] [--sample-chars N]

Everything that decides what the model sees (the corpus, the vocabulary, the batch order, the
learning-rate schedule) is a plain function of its arguments here, so that the torch peer
(benchmarks/tools/lm_peer.py) and the tests can train a twin on the same data in the same order.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import sysconfig
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # plugrad itself loads on first use, so `plugrad demo --help` stays quick
    from plugrad.nn import Module
    from plugrad.optim import Optimizer
    from plugrad.optim.lr_scheduler import LRScheduler

# The vocabulary: tab, newline and printable ASCII; every other character (the rare non-ASCII
# in docstrings, form feeds, carriage returns) becomes one shared symbol, shown as "?".
OTHER = 0
ALPHABET = "\t\n" + "".join(chr(c) for c in range(32, 127))
VOCAB_SIZE = 1 + len(ALPHABET)
_CODES = np.full(0x110000, OTHER, dtype=np.uint8)  # every code point; 1 byte each, not 8
_CODES[[ord(c) for c in ALPHABET]] = np.arange(1, VOCAB_SIZE)
_CHARS = np.array(["?", *ALPHABET])
HELD_OUT_EVERY = 10  # every tenth source file (in name order) is held out, none of it trained on


@dataclass(frozen=True)
class Corpus:
    """The encoded text: train and held_out int64 (n,) arrays of vocabulary ids."""

    train: np.ndarray
    held_out: np.ndarray
    train_files: int
    held_out_files: int
    root: Path


def encode(text: str) -> np.ndarray:
    """int64 (len(text),) vocabulary ids."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    return _CODES[codes].astype(np.int64)


def decode(ids: Sequence[int] | np.ndarray) -> str:
    """The text of ids (any shape, read flat); the shared symbol comes back as "?"."""
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if ids.size and (ids.min() < 0 or ids.max() >= VOCAB_SIZE):
        raise ValueError(f"decode: ids must lie in [0, {VOCAB_SIZE}), got {ids.min()}..{ids.max()}")
    return "".join(_CHARS[ids])


def load_corpus(root: Path | None = None, max_chars: int | None = None) -> Corpus:
    """The top-level *.py files of the standard library (or of root), in name order, read as
    UTF-8; file i is held out when i % 10 == 9. max_chars caps the training text (the held-out
    text at a tenth of it), read in the same order, so a cap gives a prefix of the full corpus."""
    root = Path(sysconfig.get_paths()["stdlib"]) if root is None else Path(root)
    files = sorted(root.glob("*.py"))
    if len(files) < HELD_OUT_EVERY:
        raise FileNotFoundError(
            f"load_corpus: found {len(files)} *.py files in {root}; the LM demo needs at least "
            f"{HELD_OUT_EVERY} (pass a directory of Python sources)"
        )
    parts: dict[bool, list[str]] = {False: [], True: []}
    sizes = {False: 0, True: 0}
    caps = {False: max_chars, True: None if max_chars is None else max(max_chars // 10, 1)}
    for i, path in enumerate(files):
        held = i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1
        cap = caps[held]
        if cap is not None and sizes[held] >= cap:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if cap is not None:
            text = text[: cap - sizes[held]]
        parts[held].append(text)
        sizes[held] += len(text)
    train, held_out = encode("".join(parts[False])), encode("".join(parts[True]))
    return Corpus(train, held_out, len(parts[False]), len(parts[True]), root)


def unigram_entropy(ids: np.ndarray) -> float:
    """Entropy in bits/char of the ids' character frequencies: what the best model that ignores
    context (a fixed distribution over characters) scores on this text."""
    counts = np.bincount(np.asarray(ids).reshape(-1), minlength=VOCAB_SIZE)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def batch_starts(n_tokens: int, seq_len: int, batch_size: int, steps: int, seed: int) -> np.ndarray:
    """int64 (steps, batch_size): where each training window starts, uniform over the text and
    drawn from NumPy's PCG64 with seed, so every framework reads the same windows in order."""
    if n_tokens <= seq_len + 1:
        raise ValueError(f"the training text has {n_tokens} characters; need more than "
                         f"seq_len + 1 = {seq_len + 1}")  # fmt: skip
    rng = np.random.Generator(np.random.PCG64(seed))
    return rng.integers(0, n_tokens - seq_len - 1, size=(steps, batch_size), dtype=np.int64)


def windows(ids: np.ndarray, starts: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and next-character targets, int64 (*starts.shape, seq_len) each."""
    index = np.asarray(starts)[..., None] + np.arange(seq_len)
    return ids[index], ids[index + 1]


def held_out_windows(
    ids: np.ndarray, seq_len: int, max_chars: int
) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive non-overlapping windows (n, seq_len) over the first max_chars characters of
    the held-out text: every scored character is scored once."""
    n = min((len(ids) - 1) // seq_len, max(max_chars // seq_len, 1))
    if n < 1:
        raise ValueError(f"the held-out text has {len(ids)} characters; need more than "
                         f"seq_len + 1 = {seq_len + 1}")  # fmt: skip
    return windows(ids, np.arange(n) * seq_len, seq_len)


def lr_factor(step: int, steps: int, warmup: int) -> float:
    """The learning-rate multiplier at step (0-based): linear warmup over warmup steps, then a
    cosine down to a tenth. A plain function, so torch's LambdaLR can run the same schedule."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(steps - warmup, 1)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


@dataclass(frozen=True)
class Training:
    """The optimiser's settings, shared with the torch peer."""

    lr: float = 1e-2
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.01
    clip: float = 1.0
    warmup: int = 50

    def warmup_steps(self, steps: int) -> int:
        """Warm-up length for a run of steps: at most a tenth of it, at least one step."""
        return max(1, min(self.warmup, steps // 10))


@dataclass(frozen=True)
class LMConfig:
    """The model's size; seq_len is also the longest context it can read."""

    seq_len: int = 64
    d_model: int = 64
    layers: int = 2
    heads: int = 4
    feedforward: int = 256

    def check(self) -> None:
        for name in ("seq_len", "d_model", "layers", "heads", "feedforward"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.replace('_', '-')} must be at least 1")
        if self.d_model % self.heads:
            raise ValueError(f"d-model ({self.d_model}) must be a multiple of heads ({self.heads})")


def build_lm(config: LMConfig, device: object = None, dtype: object = None) -> Module:
    """The demo's model, an nn.Module: ids (N, T) int64 -> logits (N, T, VOCAB_SIZE), T <= seq_len.

    Token and learned position embeddings, `layers` pre-norm causal TransformerEncoderLayers
    (GELU, no dropout: the corpus is large next to the model, and no dropout keeps plugrad and
    torch twins comparable step for step), a final LayerNorm and a linear head."""
    from plugrad import arange, nn
    from plugrad.autograd.tensor import Tensor

    config.check()
    like = {"device": device, "dtype": dtype}

    class CharTransformer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.seq_len = config.seq_len
            self.tokens = nn.Embedding(VOCAB_SIZE, config.d_model, **like)
            self.positions = nn.Embedding(config.seq_len, config.d_model, **like)
            self.layers = nn.ModuleList(
                nn.TransformerEncoderLayer(
                    config.d_model,
                    config.heads,
                    config.feedforward,
                    dropout=0.0,
                    activation="gelu",
                    batch_first=True,
                    norm_first=True,
                    **like,
                )
                for _ in range(config.layers)
            )
            self.norm = nn.LayerNorm(config.d_model, **like)
            self.head = nn.Linear(config.d_model, VOCAB_SIZE, **like)

        def forward(self, ids: Tensor) -> Tensor:  # (N, T) int64 -> (N, T, V)
            if ids.ndim != 2 or ids.shape[1] > self.seq_len:
                raise ValueError(f"expected ids (N, T) with T <= {self.seq_len}, got shape "
                                 f"{tuple(ids.shape)}")  # fmt: skip
            x = self.tokens(ids) + self.positions(arange(ids.shape[1], device=ids.device))
            for layer in self.layers:
                x = layer(x, is_causal=True)  # the layer builds the (T, T) causal mask
            return self.head(self.norm(x))

    return CharTransformer()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plugrad demo --model lm",
        description="Train a character-level Transformer language model on the Python standard "
        "library's sources; report held-out bits per character, the text's unigram entropy, a "
        "generated sample and time per step.",
    )
    add = parser.add_argument
    add("--model", choices=("lm",), default="lm", help="this demo's model (lm)")
    add("--device", default=None, help="training device (default: the default device)")
    add("--steps", type=int, default=1000, help="training steps (default 1000)")
    add("--seq-len", type=int, default=64, help="context length in characters (default 64)")
    add("--batch-size", type=int, default=32, help="windows per step (default 32)")
    add("--d-model", type=int, default=64, help="embedding width (default 64)")
    add("--layers", type=int, default=2, help="Transformer layers (default 2)")
    add("--heads", type=int, default=4, help="attention heads (default 4)")
    add("--lr", type=float, default=1e-2, help="AdamW peak learning rate (default 1e-2)")
    add("--seed", type=int, default=0, help="seed for init, batch order and sampling")
    add("--eval-chars", type=int, default=32768,
        help="held-out characters scored (default 32768)")  # fmt: skip
    add("--max-chars", type=int, default=None,
        help="cap on training characters read (default: all the files)")  # fmt: skip
    add("--prompt", default="def ", help="text the sample continues (default 'def ')")
    add("--temperature", type=float, default=0.7,
        help="sampling temperature; 0 takes the likeliest character (default 0.7)")  # fmt: skip
    add("--sample-chars", type=int, default=300, help="characters to generate (default 300)")
    return parser


def optimizer_for(model: Module, hp: Training, steps: int) -> tuple[Optimizer, LRScheduler]:
    """(AdamW, LambdaLR) over the model's parameters: hp's settings, lr_factor's schedule."""
    from plugrad.optim import AdamW
    from plugrad.optim.lr_scheduler import LambdaLR

    opt = AdamW(model.parameters(), lr=hp.lr, betas=hp.betas, weight_decay=hp.weight_decay)
    warmup = hp.warmup_steps(steps)
    return opt, LambdaLR(opt, lambda s: lr_factor(s, steps, warmup))


def train_step(
    model: Module,
    opt: Optimizer,
    schedule: LRScheduler,
    x: np.ndarray,
    y: np.ndarray,
    clip: float,
    device: object,
) -> float:
    """One step on inputs x and targets y, int64 (N, T): mean cross-entropy, backward, gradient
    norm clipped to clip, AdamW, schedule. Returns the loss in nats per character."""
    import plugrad
    from plugrad.nn import functional as F
    from plugrad.nn.utils import clip_grad_norm_

    xb, yb = plugrad.tensor(x, device=device), plugrad.tensor(y, device=device)
    loss = F.cross_entropy(model(xb).reshape(-1, VOCAB_SIZE), yb.reshape(-1))
    opt.zero_grad()
    loss.backward()
    clip_grad_norm_(model.parameters(), clip)
    opt.step()
    schedule.step()
    return loss.item()  # waits for the device, so a timed step holds all of its work


def evaluate(
    model: Module, x: np.ndarray, y: np.ndarray, device: object, batch_size: int = 64
) -> float:
    """Mean cross-entropy in nats per character of targets y (n, T) given inputs x (n, T)."""
    import plugrad
    from plugrad.nn import functional as F

    was_training = model.training
    model.eval()
    total = 0.0
    with plugrad.no_grad():
        for i in range(0, len(x), batch_size):
            xb = plugrad.tensor(x[i : i + batch_size], device=device)
            yb = plugrad.tensor(y[i : i + batch_size], device=device)
            logits = model(xb)
            total += F.cross_entropy(logits.reshape(-1, VOCAB_SIZE), yb.reshape(-1),
                                     reduction="sum").item()  # fmt: skip
    model.train(was_training)
    return total / y.size


def generate(
    model: Module, prompt: str, n: int, temperature: float, device: object, seed: int
) -> str:
    """prompt followed by n generated characters: each drawn from softmax(logits / temperature)
    over the last seq_len characters, or the likeliest with temperature 0."""
    import plugrad
    from plugrad.nn import functional as F

    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    generator = plugrad.Generator(seed, device=device)
    ids = list(encode(prompt)) or [int(encode("\n")[0])]
    was_training = model.training
    model.eval()
    with plugrad.no_grad():
        for _ in range(n):
            context = plugrad.tensor([ids[-model.seq_len :]], device=device)
            logits = model(context)[0, -1]
            if temperature == 0:
                ids.append(int(logits.argmax().item()))
            else:
                probs = F.softmax(logits / temperature, dim=-1)
                ids.append(int(plugrad.multinomial(probs, 1, generator=generator).item()))
    model.train(was_training)
    return decode(ids)


def _check(args: argparse.Namespace) -> str | None:
    for name in ("steps", "seq_len", "batch_size", "eval_chars"):
        if getattr(args, name) < 1:
            return f"--{name.replace('_', '-')} must be at least 1"
    if args.sample_chars < 0 or args.temperature < 0 or args.lr <= 0:
        return "--sample-chars and --temperature must be >= 0 and --lr > 0"
    if args.max_chars is not None and args.max_chars < 10 * (args.seq_len + 2):
        return f"--max-chars must be at least 10 * (seq-len + 2) = {10 * (args.seq_len + 2)}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the LM demo; returns the process exit status (2 for bad options)."""
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    problem = _check(args)
    config = LMConfig(args.seq_len, args.d_model, args.layers, args.heads, 4 * args.d_model)
    try:
        config.check()
    except ValueError as error:
        problem = problem or f"--{error}"
    if problem:
        print(f"plugrad demo: {problem}", file=sys.stderr)
        return 2
    import plugrad

    try:
        device = plugrad.device(args.device)
    except ValueError as error:  # an unknown name (also through PLUGRAD_DEVICE)
        print(f"plugrad demo: {error}", file=sys.stderr)
        return 2
    return _train(args, config, device)


def _train(args: argparse.Namespace, config: LMConfig, device: object) -> int:
    from tqdm import tqdm

    import plugrad

    corpus = load_corpus(max_chars=args.max_chars)
    plugrad.manual_seed(args.seed)
    model = build_lm(config, device)
    n_params = sum(p.numel() for p in model.parameters())
    hp = Training(lr=args.lr)
    opt, schedule = optimizer_for(model, hp, args.steps)
    starts = batch_starts(len(corpus.train), config.seq_len, args.batch_size, args.steps, args.seed)
    x_val, y_val = held_out_windows(corpus.held_out, config.seq_len, args.eval_chars)
    unigram = unigram_entropy(y_val)
    bits = 1.0 / math.log(2.0)
    say = functools.partial(print, flush=True)  # lines as they come, also into a pipe or a file
    say(f"plugrad demo: lm ({n_params} parameters: {config.layers} layers, d_model "
          f"{config.d_model}, {config.heads} heads, context {config.seq_len}) on device "
          f"{device.name}")  # fmt: skip
    say(f"text: Python {sys.version.split()[0]} standard library ({corpus.root}), "
          f"{len(corpus.train):,} train characters from {corpus.train_files} files, "
          f"{y_val.size:,} held-out characters scored from {corpus.held_out_files} other files; "
          f"vocabulary {VOCAB_SIZE}")  # fmt: skip

    show = sys.stderr.isatty()
    log_every = max(1, args.steps // 5)
    bar = tqdm(range(args.steps), desc="training", file=sys.stderr, disable=not show,
               leave=False, unit="step")  # fmt: skip
    train_time, window = 0.0, []
    for step in bar:
        start = time.perf_counter()
        xb, yb = windows(corpus.train, starts[step], config.seq_len)
        value = train_step(model, opt, schedule, xb, yb, hp.clip, device)
        train_time += time.perf_counter() - start
        window.append(value)
        bar.set_postfix(bpc=f"{value * bits:.3f}", refresh=False)
        if (step + 1) % log_every == 0 or step + 1 == args.steps:
            bar.clear()
            held = evaluate(model, x_val, y_val, device)
            say(f"step {step + 1:>5}/{args.steps}  train {np.mean(window) * bits:.3f} bits/char"
                  f"  held-out {held * bits:.3f} bits/char  {train_time / (step + 1) * 1e3:.1f} "
                  f"ms/step")  # fmt: skip
            window = []
    bar.close()
    held = evaluate(model, x_val, y_val, device)
    say(f"held-out loss: {held * bits:.3f} bits/char ({held:.4f} nats) on {y_val.size:,} "
          f"characters; unigram entropy of that text: {unigram:.3f} bits/char")  # fmt: skip
    say(
        f"time per step: {train_time / args.steps * 1e3:.1f} ms on {device.name} "
        f"({train_time:.1f} s training, batch {args.batch_size} x {config.seq_len} characters)"
    )
    how = "greedy" if args.temperature == 0 else f"temperature {args.temperature}"
    sample = generate(model, args.prompt, args.sample_chars, args.temperature, device, args.seed)
    say(f"sample ({how}, prompt {args.prompt!r}):\n{sample}")
    return 0

"""`plugrad demo --model lm` (plugrad.demo_lm): the corpus and vocabulary, the batch order, a
tiny training run that reports bits/char, the unigram entropy, a sample and time per step, and
the options it refuses."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import plugrad
from plugrad import demo_lm as lm
from plugrad.demo import main

TINY = ["--model", "lm", "--steps", "3", "--seq-len", "16", "--batch-size", "4", "--d-model",
        "16", "--heads", "2", "--layers", "1", "--max-chars", "20000", "--eval-chars", "256",
        "--sample-chars", "24"]  # fmt: skip


def test_tiny_run_reports_bits_per_char_and_a_sample(capsys):
    assert main(TINY) == 0  # through the digits demo's entry point, as `plugrad demo` does
    out = capsys.readouterr().out
    held = float(re.search(r"held-out loss: (\d+\.\d+) bits/char", out).group(1))
    unigram = float(re.search(r"unigram entropy of that text: (\d+\.\d+) bits/char", out).group(1))
    assert 0 < held < 8 and 3.0 < unigram < math.log2(lm.VOCAB_SIZE)
    assert re.search(r"time per step: \d+\.\d+ ms on \S+", out)
    sample = out.split("sample (temperature 0.7, prompt 'def '):\n", 1)[1]
    assert sample.startswith("def ") and len(sample.rstrip("\n")) >= len("def ") + 1


def test_greedy_sampling_is_deterministic_and_seeded_sampling_repeats():
    plugrad.manual_seed(0)
    model = lm.build_lm(lm.LMConfig(seq_len=8, d_model=8, layers=1, heads=2, feedforward=16))
    greedy = lm.generate(model, "import", 12, 0.0, None, seed=0)
    assert greedy == lm.generate(model, "import", 12, 0.0, None, seed=1)
    assert len(greedy) == len("import") + 12 and greedy.startswith("import")
    drawn = lm.generate(model, "x", 20, 1.0, None, seed=3)  # longer than the context: cropped
    assert drawn == lm.generate(model, "x", 20, 1.0, None, seed=3)
    with pytest.raises(ValueError, match="temperature"):
        lm.generate(model, "x", 1, -1.0, None, seed=0)


def test_vocabulary_round_trip_and_unigram_entropy():
    text = "def f(x):\n\treturn x  # ok\n"
    assert lm.decode(lm.encode(text)) == text
    assert lm.decode(lm.encode("é\r")) == "??" and (lm.encode("é\r") == lm.OTHER).all()
    assert lm.unigram_entropy(lm.encode("ab" * 50)) == pytest.approx(1.0)
    assert lm.unigram_entropy(lm.encode("aaaa")) == 0.0
    with pytest.raises(ValueError, match="ids must lie"):
        lm.decode([lm.VOCAB_SIZE])


def test_corpus_split_and_batch_order_are_deterministic(tmp_path):
    corpus = lm.load_corpus(max_chars=5000)
    assert len(corpus.train) == 5000 and len(corpus.held_out) == 500
    assert corpus.train.dtype == np.int64
    starts = lm.batch_starts(len(corpus.train), 16, 4, 3, seed=7)
    assert starts.shape == (3, 4) and (starts == lm.batch_starts(5000, 16, 4, 3, seed=7)).all()
    x, y = lm.windows(corpus.train, starts[0], 16)
    assert x.shape == y.shape == (4, 16) and (x[:, 1:] == y[:, :-1]).all()
    xv, yv = lm.held_out_windows(corpus.held_out, 16, 100)
    assert xv.shape == (6, 16) and (xv.reshape(-1)[1:] == yv.reshape(-1)[:-1]).all()
    assert [lm.lr_factor(s, 100, 10) for s in (0, 9)] == [0.1, 1.0]
    assert lm.lr_factor(99, 100, 10) == pytest.approx(0.1, abs=1e-3)
    (tmp_path / "one.py").write_text("x = 1\n")
    with pytest.raises(FileNotFoundError, match="needs at least 10"):
        lm.load_corpus(tmp_path)


def test_model_rejects_a_context_longer_than_its_positions():
    model = lm.build_lm(lm.LMConfig(seq_len=4, d_model=8, layers=1, heads=2, feedforward=16))
    assert model(plugrad.tensor([[1, 2, 3]])).shape == (1, 3, lm.VOCAB_SIZE)
    with pytest.raises(ValueError, match="T <= 4"):
        model(plugrad.tensor([[1, 2, 3, 4, 5]]))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--steps", "0"], "--steps must be at least 1"),
        (["--d-model", "30", "--heads", "4"], "multiple of heads"),
        (["--max-chars", "10"], "--max-chars must be at least"),
        (["--device", "no-such-device"], "no-such-device"),
    ],
)
def test_bad_options_exit_2_with_a_reason(capsys, extra, message):
    assert main(["--model", "lm", *extra]) == 2
    assert message in capsys.readouterr().err


def test_help_of_both_demos_points_at_the_lm(capsys):
    with pytest.raises(SystemExit) as lm_help:
        main(["--model", "lm", "--help"])
    assert lm_help.value.code == 0 and "--seq-len" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "plugrad demo --model lm --help" in capsys.readouterr().out

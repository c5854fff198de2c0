"""`plugrad demo` (plugrad.demo.main): it trains, reports accuracy and time per epoch, saves a
checkpoint and shows that a reload on another device predicts the same."""

from __future__ import annotations

import re

import pytest

import plugrad
from plugrad.demo import main


def test_demo_short_run_reports_and_reloads(tmp_path, capsys):
    path = tmp_path / "digits.safetensors"
    assert main(["--epochs", "1", "--checkpoint", str(path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"held-out accuracy: \d+\.\d+%", out)
    assert re.search(r"time per epoch: \d+\.\d+ s on \S+", out)
    assert "predictions agree on 100.00%" in out
    assert path.exists() and set(plugrad.load(path)) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    if len(plugrad.available_devices()) > 1:
        assert "reloaded on" in out and "trained on" in out
    else:
        assert "the only installed device" in out


@pytest.mark.parametrize("model", ["mlp-bn", "linear"])
def test_demo_other_models(tmp_path, capsys, model):
    assert main(["--epochs", "1", "--model", model, "--checkpoint", str(tmp_path / "m.st")]) == 0
    assert "agree on 100.00%" in capsys.readouterr().out


def test_demo_default_run_reaches_95_percent(tmp_path, capsys):
    """The issue's bar: at least 95% held-out accuracy with the default settings."""
    device = "numpy_ref" if "numpy_ref" in plugrad.available_devices() else None
    argv = ["--checkpoint", str(tmp_path / "d.st")] + (["--device", device] if device else [])
    assert main(argv) == 0
    accuracy = float(re.search(r"held-out accuracy: (\d+\.\d+)%", capsys.readouterr().out).group(1))
    assert accuracy >= 95.0


def test_demo_cnn_one_epoch(tmp_path, capsys):
    """The conv model trains (one epoch, ~97%; ten reach the issue's 98%: see the report in
    issue 13) and reloads on another device with the same predictions."""
    assert main(["--epochs", "1", "--model", "cnn", "--checkpoint", str(tmp_path / "c.st")]) == 0
    out = capsys.readouterr().out
    assert float(re.search(r"held-out accuracy: (\d+\.\d+)%", out).group(1)) >= 95.0
    assert "agree on 100.00%" in out


def test_demo_rejects_bad_options(capsys):
    assert main(["--epochs", "0"]) == 2
    with pytest.raises(SystemExit):
        main(["--model", "resnet"])
    assert "invalid choice" in capsys.readouterr().err

"""plugrad.save / plugrad.load: safetensors files, exact round trips on every device, nested
state, interoperability, atomic writes, and clear errors for corrupt files."""

from __future__ import annotations

import json
import math
import os
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import plugrad
import plugrad.nn as nn
import plugrad.optim as optim
from plugrad.serialization import CheckpointError


def sample_state(device):
    rng = np.random.default_rng(0)
    base = plugrad.tensor(rng.standard_normal((4, 6)), device=device)
    return {
        "w32": plugrad.tensor(rng.standard_normal((3, 5)), dtype=plugrad.float32, device=device),
        "w64": plugrad.tensor(rng.standard_normal((2, 2, 2)), dtype=plugrad.float64, device=device),
        "idx": plugrad.tensor(rng.integers(-(2**62), 2**62, 7), device=device),
        "mask": plugrad.tensor(rng.integers(0, 2, (2, 3)).astype(bool), device=device),
        "scalar": plugrad.tensor(3.25, device=device),
        "count": plugrad.tensor(7, device=device),
        "empty": plugrad.zeros(0, 3, device=device),
        "strided": base.T[::2],  # a non-contiguous view
        "special": plugrad.tensor([math.inf, -math.inf, math.nan, -0.0], device=device),
        "grad": plugrad.ones(2, requires_grad=True, device=device),
    }


def assert_same(a: plugrad.Tensor, b: plugrad.Tensor) -> None:
    assert a.shape == b.shape and a.dtype is b.dtype
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    x, y = a.detach().numpy(), b.detach().numpy()
    assert x.tobytes() == np.ascontiguousarray(y).tobytes() or x.size == 0


@pytest.mark.parametrize("target", plugrad.available_devices())
def test_round_trip_is_exact_across_devices(device, target, tmp_path):
    state = sample_state(device)
    path = tmp_path / "state.safetensors"
    plugrad.save(state, path)
    loaded = plugrad.load(path, device=target)
    assert set(loaded) == set(state)
    for key, value in state.items():
        assert loaded[key].device is plugrad.device(target)
        assert not loaded[key].requires_grad
        assert_same(value, loaded[key])


def test_load_defaults_to_the_default_device(tmp_path):
    plugrad.save({"a": plugrad.ones(2, device="numpy_ref")}, tmp_path / "a.safetensors")
    assert plugrad.load(tmp_path / "a.safetensors")["a"].device is plugrad.get_default_device()


def test_module_state_dict_round_trip(device, tmp_path):
    plugrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2)).to(device)
    x = plugrad.randn(5, 4, device=device)
    model(x)
    plugrad.save(model.state_dict(), tmp_path / "m.safetensors")
    plugrad.manual_seed(1)
    other = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2)).to(device)
    other.load_state_dict(plugrad.load(tmp_path / "m.safetensors", device=device))
    model.eval(), other.eval()
    np.testing.assert_array_equal(model(x).detach().numpy(), other(x).detach().numpy())


def test_nested_state_round_trips(device, tmp_path):
    model = nn.Linear(3, 2).to(device)
    opt = optim.Adam(model.parameters(), betas=(0.8, 0.9))
    model(plugrad.randn(4, 3, device=device)).sum().backward()
    opt.step()
    obj = {"model": model.state_dict(), "opt": opt.state_dict(), "epoch": 3, "best": math.inf,
           "nan": math.nan, "note": "ok", "none": None, "flags": [True, 1.5, (1, 2)]}  # fmt: skip
    plugrad.save(obj, tmp_path / "ckpt.safetensors")
    back = plugrad.load(tmp_path / "ckpt.safetensors", device=device)
    assert back["epoch"] == 3 and back["best"] == math.inf and math.isnan(back["nan"])
    assert back["note"] == "ok" and back["none"] is None and back["flags"] == [True, 1.5, (1, 2)]
    assert back["opt"]["param_groups"][0]["betas"] == (0.8, 0.9)
    assert set(back["opt"]["state"]) == {0, 1} and back["opt"]["state"][0]["step"] == 1
    assert_same(back["opt"]["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    for key, value in model.state_dict().items():
        assert_same(back["model"][key], value)


def test_files_are_plain_safetensors(tmp_path):
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    state = {"weight": plugrad.randn(3, 2), "steps": plugrad.tensor(4)}
    plugrad.save(state, tmp_path / "a.safetensors")
    read = load_file(str(tmp_path / "a.safetensors"))
    np.testing.assert_array_equal(read["weight"], state["weight"].numpy())
    assert read["steps"].shape == () and read["steps"] == 4
    with safe_open(str(tmp_path / "a.safetensors"), framework="numpy") as f:
        assert "plugrad.structure" not in (f.metadata() or {})
    save_file({"x": np.arange(6, dtype=np.int32).reshape(2, 3), "h": np.ones(2, np.float16),
               "u": np.arange(3, dtype=np.uint8)}, str(tmp_path / "b.safetensors"))  # fmt: skip
    loaded = plugrad.load(tmp_path / "b.safetensors")
    assert loaded["x"].dtype is plugrad.int64 and loaded["x"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert loaded["h"].dtype is plugrad.float32 and loaded["u"].tolist() == [0, 1, 2]


def test_torch_reads_and_writes_the_same_files(tmp_path):
    torch = pytest.importorskip(
        "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
    )
    from safetensors.torch import load_file, save_file

    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    plugrad.save(model.state_dict(), tmp_path / "ours.safetensors")
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    theirs.load_state_dict(load_file(str(tmp_path / "ours.safetensors")))
    np.testing.assert_array_equal(
        theirs[0].weight.detach().numpy(), model[0].weight.detach().numpy()
    )
    state = {k: v for k, v in theirs.state_dict().items()}
    state["half"] = torch.tensor([1.5, -2.0], dtype=torch.bfloat16)
    save_file(state, str(tmp_path / "theirs.safetensors"))
    back = plugrad.load(tmp_path / "theirs.safetensors")
    assert back["half"].tolist() == [1.5, -2.0]
    model.load_state_dict({k: v for k, v in back.items() if k != "half"})
    assert model[1].num_batches_tracked.shape == ()


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    plugrad.save({"a": plugrad.ones(3)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match="can't save a object"):
        plugrad.save({"a": plugrad.zeros(3), "bad": object()}, path)

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        plugrad.save({"a": plugrad.zeros(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.safetensors"]
    plugrad.save({"a": plugrad.zeros(3)}, path)
    assert plugrad.load(path)["a"].tolist() == [0.0, 0.0, 0.0]


def test_save_errors(tmp_path):
    with pytest.raises(TypeError, match="mapping"):
        plugrad.save([plugrad.ones(2)], tmp_path / "x")
    with pytest.raises(TypeError, match="keys must be str or int"):
        plugrad.save({(1, 2): plugrad.ones(2)}, tmp_path / "x")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plugrad.save({"a": plugrad.ones(2)}, tmp_path / "missing" / "x")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        plugrad.load(tmp_path / "nothing")


def _good_file(tmp_path) -> bytes:
    plugrad.save({"w": plugrad.randn(4, 4), "b": plugrad.ones(4), "n": plugrad.tensor(3)},
                 tmp_path / "good.safetensors")  # fmt: skip
    return (tmp_path / "good.safetensors").read_bytes()


def test_truncated_files_raise_a_clear_error(tmp_path):
    data = _good_file(tmp_path)
    bad = tmp_path / "bad.safetensors"
    for cut in sorted({0, 3, 8, 9, 20, len(data) // 2, len(data) - 1}):
        bad.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="truncated or corrupt"):
            plugrad.load(bad)


def _with_header(data: bytes, edit) -> bytes:
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    edit(header)
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data[8 + n :]


@pytest.mark.parametrize("edit,message", [
    (lambda h: h["w"].update(data_offsets=[0, 10**9]), "needs 64 bytes"),
    (lambda h: h["w"].update(shape=[4, -4]), "invalid shape"),
    (lambda h: h["w"].update(dtype="C64"), "dtype C64"),
    (lambda h: h["w"].pop("shape"), "lacks dtype"),
    (lambda h: h.update(__metadata__={"plugrad.structure": "{not json"}), "not valid JSON"),
    (lambda h: h.update(__metadata__={"plugrad.structure": '{"t": "zz"}'}), "missing tensor"),
    (lambda h: h["b"].update(data_offsets=h["w"]["data_offsets"][:1] * 2), "needs 16 bytes"),
])  # fmt: skip
def test_corrupt_headers_raise_a_clear_error(tmp_path, edit, message):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(_with_header(_good_file(tmp_path), edit))
    with pytest.raises(CheckpointError, match=message):
        plugrad.load(bad)


def test_garbage_and_huge_header_lengths(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(struct.pack("<Q", 2**63) + b"{}")
    with pytest.raises(CheckpointError, match="does not fit"):
        plugrad.load(bad)
    bad.write_bytes(struct.pack("<Q", 4) + b"\xff\xfe{]")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        plugrad.load(bad)
    bad.write_bytes(struct.pack("<Q", 2) + b"[]")
    with pytest.raises(CheckpointError, match="not a JSON object"):
        plugrad.load(bad)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(position=st.integers(0, 10_000), value=st.integers(0, 255))
def test_any_single_byte_corruption_loads_or_raises_checkpoint_error(tmp_path, position, value):
    data = bytearray(_good_file(tmp_path))
    data[position % len(data)] = value
    bad = tmp_path / "fuzz.safetensors"
    bad.write_bytes(bytes(data))
    try:
        loaded = plugrad.load(bad)
    except CheckpointError:
        return
    assert set(loaded) <= {"w", "b", "n"} or loaded  # a flip inside the data is still a file


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(position=st.integers(0, 10_000), value=st.integers(0, 255))
def test_corrupting_a_nested_checkpoint_loads_or_raises_checkpoint_error(tmp_path, position, value):
    path = tmp_path / "nested.safetensors"
    if not path.exists():
        model = nn.Linear(2, 2)
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        model(plugrad.ones(1, 2)).sum().backward()
        opt.step()
        plugrad.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": 1}, path)
    data = bytearray(path.read_bytes())
    data[position % len(data)] = value
    bad = tmp_path / "fuzz.safetensors"
    bad.write_bytes(bytes(data))
    try:
        plugrad.load(bad)
    except CheckpointError:
        pass


def test_structure_with_bad_types_is_rejected(tmp_path):
    data = _good_file(tmp_path)
    bad = tmp_path / "bad.safetensors"
    for structure in [
        '{"d": [[["k"], {"v": 1}]]}',
        '{"t": 5}',
        '{"v": [1]}',
        '{"q": 1}',
        '{"l": 3}',
    ]:
        bad.write_bytes(
            _with_header(
                data, lambda h, s=structure: h.update(__metadata__={"plugrad.structure": s})
            )
        )
        with pytest.raises(CheckpointError):
            plugrad.load(bad)
    bad.write_bytes(_with_header(data, lambda h: h["w"].update(dtype=["F32"])))
    with pytest.raises(CheckpointError, match="invalid dtype"):
        plugrad.load(bad)

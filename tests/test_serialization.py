"""plugrad.save / plugrad.load: safetensors files, exact round trips on every device, nested
state, interoperability, atomic writes, and clear errors for corrupt files."""

from __future__ import annotations

import json
import math
import os
import stat
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
    held = plugrad.get_default_device().backend.dtypes  # else widened exactly (tested below)
    assert loaded["x"].dtype is (plugrad.int32 if "int32" in held else plugrad.int64)
    assert loaded["h"].dtype is (plugrad.float16 if "float16" in held else plugrad.float32)
    assert loaded["x"].tolist() == [[0, 1, 2], [3, 4, 5]] and loaded["u"].tolist() == [0, 1, 2]


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


# --- every dtype, and the files other readers see -------------------------------------------
EXTREMES = {
    "float32": [0.0, -0.0, 1.5, np.finfo(np.float32).max, np.finfo(np.float32).tiny, 1e-45,
                math.inf, -math.inf, math.nan],
    "float64": [0.0, -0.0, 1.5, np.finfo(np.float64).max, 5e-324, math.inf, -math.inf, math.nan],
    "int64": [0, -1, 2**63 - 1, -(2**63), 12345],
    "int32": [0, -1, 2**31 - 1, -(2**31), 12345],
    "int16": [0, -1, 2**15 - 1, -(2**15), 1234],
    "int8": [0, -1, 127, -128, 12],
    "uint8": [0, 1, 255, 128, 12],
    "float16": [0.0, -0.0, 1.5, 65504.0, 6e-8, math.inf, -math.inf, math.nan],
    "bfloat16": [0.0, -0.0, 1.5, 3.3895e38, 1e-38, math.inf, -math.inf, math.nan],
    "bool": [True, False, True],
}  # fmt: skip


def _declares(device: str, dtype: plugrad.dtypes.DType) -> bool:
    return dtype.name in plugrad.backend.get_device(device).backend.dtypes


def test_every_plugrad_dtype_has_extreme_values_listed():
    assert set(EXTREMES) == set(plugrad.dtypes.ALL)  # a new dtype must join the tests below


@pytest.mark.parametrize("dtype", list(plugrad.dtypes.ALL.values()), ids=str)
def test_every_dtype_round_trips_bit_exactly(device, dtype, tmp_path):
    values = np.array(EXTREMES[dtype.name], dtype=dtype.numpy)
    flipped = values[::-1].reshape(1, -1)
    if not _declares(device, dtype):
        # saved where the dtype exists, loaded onto a device without it: the narrowest wider
        # dtype of the same kind that the device has, every value exact
        plugrad.save({"v": plugrad.tensor(values, dtype=dtype, device="numpy_ref")},
                     tmp_path / "d.safetensors")  # fmt: skip
        loaded = plugrad.load(tmp_path / "d.safetensors", device=device)["v"]
        assert loaded.dtype.is_floating == dtype.is_floating
        assert loaded.dtype.itemsize > dtype.itemsize and loaded.device.name == device
        np.testing.assert_array_equal(loaded.numpy(), values.astype(loaded.dtype.numpy))
        return
    state = {"v": plugrad.tensor(values, dtype=dtype, device=device),
             "m": plugrad.tensor(flipped, dtype=dtype, device=device)}  # fmt: skip
    plugrad.save(state, tmp_path / "d.safetensors")
    loaded = plugrad.load(tmp_path / "d.safetensors", device=device)
    for key in state:
        assert_same(state[key], loaded[key])


FOUR = ("float32", "float64", "int64", "bool")


@pytest.mark.parametrize("dtype", [d for n, d in plugrad.dtypes.ALL.items() if n not in FOUR],
                         ids=str)  # fmt: skip
def test_a_device_without_the_dtype_loads_it_widened_exactly(make_device, dtype, tmp_path):
    """Saved where the dtype exists, loaded onto a device declaring only float32, float64,
    int64 and bool (as a third-party backend may): the narrowest wider dtype of its kind."""
    make_device("four_dtypes", FOUR)
    values = np.array(EXTREMES[dtype.name], dtype=dtype.numpy)
    plugrad.save({"v": plugrad.tensor(values, dtype=dtype, device="numpy_ref")},
                 tmp_path / "d.safetensors")  # fmt: skip
    loaded = plugrad.load(tmp_path / "d.safetensors", device="four_dtypes")["v"]
    assert loaded.dtype.name == ("float32" if dtype.is_floating else "int64")
    np.testing.assert_array_equal(loaded.numpy(), values.astype(loaded.dtype.numpy))


@pytest.mark.parametrize("dtype", list(plugrad.dtypes.ALL.values()), ids=str)
def test_torch_reads_every_dtype_plugrad_writes(dtype, tmp_path):
    torch = pytest.importorskip(
        "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
    )
    from safetensors.torch import load_file

    values = np.array(EXTREMES[dtype.name], dtype=dtype.numpy)
    state = {"v": plugrad.tensor(values, dtype=dtype, device="numpy_ref"),
             "s": plugrad.tensor(values[0], device="numpy_ref")}  # fmt: skip
    plugrad.save(state, tmp_path / "d.safetensors")
    read = load_file(str(tmp_path / "d.safetensors"))
    assert read["v"].dtype is getattr(torch, dtype.name) and read["s"].shape == ()
    stored = read["v"].view(torch.int16) if dtype.name == "bfloat16" else read["v"]  # no NumPy bf16
    assert stored.numpy().tobytes() == values.tobytes()


def test_bool_bytes_other_than_0_and_1_load_as_true(device, tmp_path):
    """A safetensors writer may store any nonzero byte for True; plugrad keeps bools 0 or 1."""
    from safetensors.numpy import load_file, save_file

    raw = np.array([0, 1, 2, 255], dtype=np.uint8)
    save_file({"b": raw.view(np.bool_)}, str(tmp_path / "b.safetensors"))
    loaded = plugrad.load(tmp_path / "b.safetensors", device=device)["b"]
    assert loaded.tolist() == [False, True, True, True]
    assert (loaded == plugrad.tensor(True, device=device)).tolist() == [False, True, True, True]
    plugrad.save({"b": loaded}, tmp_path / "again.safetensors")
    assert load_file(str(tmp_path / "again.safetensors"))["b"].view(np.uint8).tolist() == [
        0,
        1,
        1,
        1,
    ]


# --- the name the format reserves --------------------------------------------------------
def test_a_tensor_named___metadata___is_stored_escaped_and_restored(device, tmp_path):
    from safetensors.numpy import load_file

    state = {"__metadata__": plugrad.ones(2, device=device), "w": plugrad.zeros(3, device=device),
             "__metadata___": plugrad.full((1,), 7.0, device=device)}  # fmt: skip
    path = tmp_path / "m.safetensors"
    plugrad.save(state, path)
    loaded = plugrad.load(path, device=device)
    assert list(loaded) == list(state)
    for key in state:
        assert_same(state[key], loaded[key])
    # Other readers see a valid file: the reserved name is escaped, every other name is kept.
    assert set(load_file(str(path))) == {"__metadata____", "w", "__metadata___"}


def test_metadata_named_values_inside_nested_state_round_trip(tmp_path):
    obj = {"__metadata__": {"note": "kept", "t": plugrad.ones(1)}, "epoch": 2}
    plugrad.save(obj, tmp_path / "n.safetensors")
    back = plugrad.load(tmp_path / "n.safetensors")
    assert back["__metadata__"]["note"] == "kept" and back["__metadata__"]["t"].tolist() == [1.0]


# --- where files are written -------------------------------------------------------------
def _files(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_save_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "links").mkdir()
    target = tmp_path / "real" / "ckpt.safetensors"
    link = tmp_path / "links" / "ckpt.safetensors"
    link.symlink_to("../real/ckpt.safetensors")  # dangling until the first save
    chain = tmp_path / "links" / "latest"
    chain.symlink_to("ckpt.safetensors")  # a link to the link
    plugrad.save({"a": plugrad.ones(2)}, link)
    plugrad.save({"a": plugrad.zeros(3)}, chain)
    assert link.is_symlink() and os.readlink(link) == "../real/ckpt.safetensors"
    assert chain.is_symlink() and os.readlink(chain) == "ckpt.safetensors"
    assert target.is_file() and not target.is_symlink()
    assert plugrad.load(target)["a"].tolist() == [0.0, 0.0, 0.0]
    assert _files(tmp_path / "real") == ["ckpt.safetensors"]  # no temporary left behind
    assert _files(tmp_path / "links") == ["ckpt.safetensors", "latest"]


def test_save_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "p.safetensors"
    plugrad.save({"a": plugrad.ones(1)}, path)
    os.chmod(path, 0o640)
    plugrad.save({"a": plugrad.zeros(1)}, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_symlink_loop_is_refused(tmp_path):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(OSError, match="symbolic links"):
        plugrad.save({"a": plugrad.ones(1)}, tmp_path / "a")
    assert (tmp_path / "a").is_symlink() and (tmp_path / "b").is_symlink()
    assert _files(tmp_path) == ["a", "b"]


def test_save_and_load_refuse_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match=r"is a FIFO \(named pipe\), not a regular file"):
        plugrad.save({"a": plugrad.ones(1)}, fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and _files(tmp_path) == ["pipe"]
    with pytest.raises(OSError, match="FIFO"):  # refused before opening: no blocking read
        plugrad.load(fifo)


def test_save_and_load_refuse_a_directory_also_through_a_symlink(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "to_d").symlink_to("d")
    for path in (tmp_path / "d", tmp_path / "to_d"):
        with pytest.raises(IsADirectoryError, match="is a directory, not a regular file"):
            plugrad.save({"a": plugrad.ones(1)}, path)
        with pytest.raises(IsADirectoryError, match="is a directory"):
            plugrad.load(path)
    assert (tmp_path / "to_d").is_symlink() and _files(tmp_path / "d") == []


def test_save_refuses_a_device_node_before_writing_anything(tmp_path, monkeypatch):
    """/dev/null (also through a symlink) is refused before anything is opened or renamed. To
    make sure the test itself can never replace the device node, even run as root against a
    broken plugrad, every call that could create or rename a file fails during it."""
    devnull = os.stat(os.devnull)
    if not stat.S_ISCHR(devnull.st_mode):
        pytest.skip(f"{os.devnull} is not a character device on this system")
    (tmp_path / "null").symlink_to(os.devnull)

    def forbidden(*args, **kwargs):
        raise AssertionError("plugrad.save went on to write a file")

    for path in (os.devnull, tmp_path / "null"):
        with monkeypatch.context() as guard:
            for name in ("open", "replace", "rename", "link", "unlink", "remove", "mkfifo"):
                guard.setattr(os, name, forbidden)
            with pytest.raises(OSError, match="is a character device, not a regular file"):
                plugrad.save({"a": plugrad.ones(1)}, path)
    after = os.stat(os.devnull)
    assert (after.st_ino, after.st_rdev, after.st_mode) == (
        devnull.st_ino, devnull.st_rdev, devnull.st_mode,
    )  # fmt: skip
    assert (tmp_path / "null").is_symlink() and _files(tmp_path) == ["null"]
    with pytest.raises(OSError, match="character device"):
        plugrad.load(os.devnull)


# --- hostile headers ---------------------------------------------------------------------
def _raw_file(header_text: str, data: bytes = b"") -> bytes:
    raw = header_text.encode()
    return struct.pack("<Q", len(raw)) + raw + data


@pytest.mark.parametrize("header,message", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"w": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested too deeply"),
    ('{"w": {"dtype": "F32", "shape": [' + "9" * 5000 + '], "data_offsets": [0, 4]}}',
     "not valid JSON"),  # more digits than Python converts
    ('{"w": {"dtype": "F32", "shape": [18446744073709551616], "data_offsets": [0, 0]}}',
     "invalid shape"),
    ('{"w": {"dtype": "F32", "shape": [0, 4611686018427387904, 4], "data_offsets": [0, 0]}}',
     "overflows int64"),
    ('{"w": {"dtype": "F32", "shape": [1099511627776, 1099511627776], "data_offsets": [0, 4]}}',
     "overflows int64"),
    ('{"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}', "invalid shape"),
    ('{"w": {"dtype": "F32", "shape": [1.0], "data_offsets": [0, 4]}}', "invalid shape"),
    ('{"w": {"dtype": "F32", "shape": [true], "data_offsets": [0, 4]}}', "invalid shape"),
    ('{"w": {"dtype": "F32", "shape": [' + ", ".join(["1"] * 65) + '], "data_offsets": [0, 4]}}',
     "invalid shape"),
    ('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}}', "needs 4 bytes"),
    ('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}', "needs 4 bytes"),
    ('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 1e400]}}', "invalid data_offsets"),
    ('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, ' + "9" * 4000 + "]}}",
     "needs 4 bytes"),
    ('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "__metadata__": []}',
     "must map strings to strings"),
])  # fmt: skip
def test_hostile_headers_raise_checkpoint_error(tmp_path, header, message):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(_raw_file(header, data=b"\0\0\0\0"))
    with pytest.raises(CheckpointError, match=message) as caught:
        plugrad.load(bad)
    assert len(str(caught.value)) < 500  # a 4,000-digit number is not repeated back


def _with_structure(tmp_path, structure: str) -> bytes:
    data = _good_file(tmp_path)
    return _with_header(data, lambda h: h.update(__metadata__={"plugrad.structure": structure}))


@pytest.mark.parametrize("structure,message", [
    ('{"l": ' * 50_000 + "[]" + "}" * 50_000, "nested too deeply"),  # beyond the JSON parser
    ('{"l": [' * 200 + "]}" * 200, "nested more than 100 deep"),  # beyond plugrad's limit
    ('{"v": ' + "9" * 5000 + "}", "not valid JSON"),
])  # fmt: skip
def test_hostile_structure_metadata_raises_checkpoint_error(tmp_path, structure, message):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(_with_structure(tmp_path, structure))
    with pytest.raises(CheckpointError, match=message):
        plugrad.load(bad)


def test_nesting_that_cannot_be_saved_is_refused_at_save(tmp_path):
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contain itself"):
        plugrad.save({"loop": loop}, tmp_path / "x")
    deep: dict = {"t": plugrad.ones(1)}
    for _ in range(200):
        deep = {"d": deep}
    with pytest.raises(ValueError, match="nested more than 100 deep"):
        plugrad.save(deep, tmp_path / "x")
    assert _files(tmp_path) == []
    for _ in range(200 - 90):  # 90 levels still save and load
        deep = deep["d"]
    plugrad.save(deep, tmp_path / "x")
    back = plugrad.load(tmp_path / "x")
    for _ in range(90):
        back = back["d"]
    assert back["t"].tolist() == [1.0]


# --- habits from torch -------------------------------------------------------------------
def test_map_location_is_torchs_name_for_device(tmp_path, make_device):
    other = make_device("second_numpy")
    path = tmp_path / "a.safetensors"
    plugrad.save({"a": plugrad.ones(2)}, path)
    assert plugrad.load(path, map_location="second_numpy")["a"].device is other
    assert plugrad.load(path, map_location=other)["a"].device is other
    # a dict with one target: every tensor goes there, whatever it was saved from
    many_to_one = {"cuda:0": "second_numpy", "cuda:1": "second_numpy"}
    assert plugrad.load(path, map_location=many_to_one)["a"].device is other
    with pytest.raises(ValueError, match="different devices.*records no device"):
        plugrad.load(path, map_location={"cuda:0": "second_numpy", "cuda:1": "numpy_ref"})
    with pytest.raises(ValueError, match="no device"):
        plugrad.load(path, map_location={})
    with pytest.raises(TypeError, match="function remaps torch storages.*map_location='cpu'"):
        plugrad.load(path, map_location=lambda storage, location: storage)
    with pytest.raises(TypeError, match="both device= and map_location="):
        plugrad.load(path, device="numpy_ref", map_location="numpy_ref")
    with pytest.raises(TypeError, match="map_location must be a device name.*builtins.int"):
        plugrad.load(path, map_location=0)
    with pytest.raises(ValueError, match="unknown device 'nosuch'"):
        plugrad.load(path, map_location="nosuch")


def _assert_refused_as_pickle(path, kind: str) -> None:
    with pytest.raises(CheckpointError) as caught:
        plugrad.load(path)
    message = str(caught.value)
    assert kind in message and "never unpickles" in message and "corrupt" not in message
    assert "from safetensors.torch import save_file" in message


def test_pytorch_pickles_are_recognised_and_never_unpickled(tmp_path):
    import pickle
    import zipfile

    marker = tmp_path / "unpickled"

    class Payload:  # unpickling this creates `marker`
        def __reduce__(self):
            return (marker.touch, ())

    legacy = tmp_path / "legacy.pt"
    legacy.write_bytes(pickle.dumps({"w": Payload()}, protocol=2))
    _assert_refused_as_pickle(legacy, "Python pickle")
    with zipfile.ZipFile(tmp_path / "model.pt", "w") as archive:  # torch.save's layout
        archive.writestr("model/data.pkl", pickle.dumps(Payload()))
        archive.writestr("model/version", "3\n")
    _assert_refused_as_pickle(tmp_path / "model.pt", "PyTorch pickle (torch.save's zip format)")
    assert not marker.exists()
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(CheckpointError, match="is a zip archive, not a safetensors checkpoint"):
        plugrad.load(tmp_path / "other.zip")


def test_files_torch_save_writes_are_refused_with_how_to_convert(tmp_path):
    torch = pytest.importorskip(
        "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
    )
    state = torch.nn.Linear(3, 2).state_dict()
    torch.save(state, tmp_path / "new.pt")
    torch.save(state, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    _assert_refused_as_pickle(tmp_path / "new.pt", "PyTorch pickle")
    _assert_refused_as_pickle(tmp_path / "old.pt", "Python pickle")
    # the conversion the message gives works, and plugrad reads the result
    from safetensors.torch import save_file

    save_file(torch.load(tmp_path / "new.pt", weights_only=True), tmp_path / "new.safetensors")
    loaded = plugrad.load(tmp_path / "new.safetensors")
    np.testing.assert_array_equal(loaded["weight"].numpy(), state["weight"].numpy())


def test_saving_a_module_or_optimizer_says_to_save_its_state_dict(tmp_path):
    model = nn.Linear(2, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"save model\.state_dict\(\) instead"):
        plugrad.save(model, tmp_path / "m")
    with pytest.raises(TypeError, match=r"save opt\.state_dict\(\) instead"):
        plugrad.save(opt, tmp_path / "o")
    with pytest.raises(TypeError, match=r"save its \.state_dict\(\) instead"):
        plugrad.save(optim.lr_scheduler.StepLR(opt, step_size=1), tmp_path / "s")
    with pytest.raises(TypeError, match=r"can't save a Linear at model.*model\.state_dict\(\)"):
        plugrad.save({"model": model, "epoch": 1}, tmp_path / "c")
    with pytest.raises(TypeError, match=r"name it: plugrad\.save\(\{'weight': t\}, path\)"):
        plugrad.save(plugrad.ones(2), tmp_path / "t")
    assert _files(tmp_path) == []

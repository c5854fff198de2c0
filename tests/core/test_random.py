"""Generators and the random functions: one seed, one stream, on every device.

The oracle is the reference stream (plugrad.random_stream) and the per-call seed rule of its
docstring: a function's output is compared with the reference values for the seed its call
must have received.
"""

from __future__ import annotations

import numpy as np
import pytest

import plugrad
from plugrad import nn
from plugrad import random_stream as rs
from plugrad.data import transforms as T

DEVICES = plugrad.available_devices()


def first_seed(seed: int) -> int:
    """The seed of the first call of a generator seeded with `seed`."""
    return rs.call_seed(seed, 1)


def calls(generator: plugrad.Generator) -> int:
    return int(generator.get_state().numpy()[1])


# --- the Generator ------------------------------------------------------------------------
def test_manual_seed_and_initial_seed():
    g = plugrad.Generator()
    assert g.manual_seed(42) is g and g.initial_seed() == 42
    assert plugrad.Generator(-1).initial_seed() == 2**64 - 1  # wraps as torch does
    assert plugrad.manual_seed(7) is plugrad.default_generator
    assert plugrad.initial_seed() == 7
    value = g.seed()
    assert g.initial_seed() == value and 0 <= value < 2**64


def test_next_seed_follows_the_documented_rule():
    g = plugrad.Generator(99)
    assert [g.next_seed() for _ in range(3)] == [rs.call_seed(99, k) for k in (1, 2, 3)]


BAD_SEEDS = [(1.5, TypeError), (True, TypeError), (2**64, ValueError), (-(2**63) - 1, ValueError)]


@pytest.mark.parametrize(("seed", "error"), BAD_SEEDS)
def test_bad_seeds_are_refused(seed, error):
    with pytest.raises(error, match="seed"):
        plugrad.Generator(seed)


def test_generator_device_must_exist():
    plugrad.Generator(0, device="numpy_ref")
    with pytest.raises(ValueError, match="unknown device 'nosuch'"):
        plugrad.Generator(0, device="nosuch")


def test_state_round_trip_replays_the_stream():
    g = plugrad.Generator(2**64 - 5)
    g.next_seed()
    state = g.get_state()
    assert state.dtype is plugrad.int64 and state.shape == (2,)
    first = plugrad.rand(5, generator=g).numpy().copy()
    g.set_state(state)
    np.testing.assert_array_equal(plugrad.rand(5, generator=g).numpy(), first)
    assert g.set_state([2**64 - 5, 1]) is g
    np.testing.assert_array_equal(plugrad.rand(5, generator=g).numpy(), first)


def test_state_survives_save_and_load_on_another_device(tmp_path):
    g = plugrad.Generator(12345)
    plugrad.randn(3, generator=g)
    path = tmp_path / "rng.safetensors"
    plugrad.save({"rng": g.get_state(), "epoch": 3}, path)
    restored = plugrad.Generator(0).set_state(plugrad.load(path, device="numpy_ref")["rng"])
    assert restored.initial_seed() == 12345 and calls(restored) == 1
    np.testing.assert_array_equal(plugrad.rand(4, generator=restored).numpy(),
                                  plugrad.rand(4, generator=g).numpy())  # fmt: skip


@pytest.mark.parametrize(
    ("state", "error", "match"),
    [
        (plugrad.tensor([1.0, 2.0]), ValueError, "int64 tensor of shape"),
        (plugrad.tensor([1, 2, 3]), ValueError, "shape"),
        ((1, -1), ValueError, "call count"),
        ((1.5, 0), TypeError, "seed"),
        ("abc", TypeError, "get_state"),
    ],
)
def test_bad_states_are_refused(state, error, match):
    with pytest.raises(error, match=match):
        plugrad.Generator(0).set_state(state)


def test_get_and_set_rng_state():
    plugrad.manual_seed(3)
    state = plugrad.get_rng_state()
    a = plugrad.rand(4).numpy().copy()
    plugrad.set_rng_state(state)
    np.testing.assert_array_equal(plugrad.rand(4).numpy(), a)


def test_fork_rng_restores_the_default_generator():
    import plugrad.random as random_module

    assert plugrad.random is random_module
    plugrad.manual_seed(5)
    with plugrad.random.fork_rng():
        plugrad.manual_seed(1000)
        plugrad.rand(3)
    fresh = plugrad.rand(3, generator=plugrad.Generator(5))
    np.testing.assert_array_equal(plugrad.rand(3).numpy(), fresh.numpy())
    with pytest.raises(RuntimeError), plugrad.random.fork_rng(devices=["c_cpu"]):
        plugrad.rand(3)
        raise RuntimeError("restored even on an error")
    assert calls(plugrad.default_generator) == 1
    with plugrad.random.fork_rng(enabled=False):
        plugrad.rand(3)
    assert calls(plugrad.default_generator) == 2


# --- one call, one seed --------------------------------------------------------------------
DRAWS = {
    "rand": lambda g: plugrad.rand(3, generator=g),
    "randn": lambda g: plugrad.randn(3, generator=g),
    "randint": lambda g: plugrad.randint(0, 9, (3,), generator=g),
    "randperm": lambda g: plugrad.randperm(5, generator=g),
    "bernoulli": lambda g: plugrad.bernoulli(0.5, (3,), generator=g),
    "bernoulli_tensor": lambda g: plugrad.bernoulli(plugrad.full((3,), 0.5), generator=g),
    "rand_like": lambda g: plugrad.rand_like(plugrad.zeros(3), generator=g),
    "randn_like": lambda g: plugrad.randn_like(plugrad.zeros(3), generator=g),
    "randint_like": lambda g: plugrad.randint_like(plugrad.zeros(3), 0, 4, generator=g),
    "empty": lambda g: plugrad.rand(0, generator=g),
    "dropout": lambda g: nn.functional.dropout(plugrad.ones(3), 0.5, generator=g),
    "Dropout": lambda g: nn.Dropout(0.5, generator=g)(plugrad.ones(3)),
    "uniform_": lambda g: nn.init.uniform_(plugrad.empty(3), generator=g),
    "normal_": lambda g: nn.init.normal_(plugrad.empty(3), generator=g),
    "xavier_uniform_": lambda g: nn.init.xavier_uniform_(plugrad.empty(3, 2), generator=g),
    "xavier_normal_": lambda g: nn.init.xavier_normal_(plugrad.empty(3, 2), generator=g),
    "kaiming_uniform_": lambda g: nn.init.kaiming_uniform_(plugrad.empty(3, 2), generator=g),
    "kaiming_normal_": lambda g: nn.init.kaiming_normal_(plugrad.empty(3, 2), generator=g),
    "random_split": lambda g: plugrad.data.random_split(
        plugrad.data.TensorDataset(plugrad.zeros(4)), [2, 2], generator=g
    ),
    "flip": lambda g: T.RandomFlipHorizontal(generator=g)(plugrad.zeros(2, 2)),
    "crop": lambda g: T.RandomCrop(2, padding=1, generator=g)(plugrad.zeros(3, 3)),
}


@pytest.mark.parametrize("name", list(DRAWS))
def test_every_random_function_takes_one_seed_from_its_generator(name):
    plugrad.manual_seed(0)
    g = plugrad.Generator(8)
    DRAWS[name](g)
    assert calls(g) == 1, "each call draws exactly one seed"
    assert calls(plugrad.default_generator) == 0, "the default generator was not touched"


def test_a_generator_that_is_not_ours_is_refused():
    with pytest.raises(TypeError, match="plugrad.Generator, got int"):
        plugrad.rand(2, generator=5)
    dataset = plugrad.data.TensorDataset(plugrad.zeros(4))
    with pytest.raises(TypeError, match="plugrad.Generator, got object"):
        plugrad.data.DataLoader(dataset, shuffle=True, generator=object())
    with pytest.raises(TypeError, match="plugrad.Generator, got Generator"):
        T.RandomCrop(2, generator=np.random.default_rng(0))


def test_dropout_draws_nothing_when_it_cannot_drop():
    g = plugrad.Generator(1)
    nn.functional.dropout(plugrad.ones(3), 0.0, generator=g)
    nn.functional.dropout(plugrad.ones(3), 1.0, generator=g)
    nn.functional.dropout(plugrad.ones(3), 0.5, training=False, generator=g)
    assert calls(g) == 0


# --- the same numbers on every device ------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_manual_seed_then_rand_gives_the_reference_bits_on_every_device(device, dtype):
    plugrad.manual_seed(2024)
    got = plugrad.rand(4, 5, dtype=dtype, device=device).numpy()
    expected = rs.draw("uniform", (4, 5), (0.0, 1.0), first_seed(2024), dtype)
    assert got.tobytes() == expected.tobytes()


def test_rand_gives_identical_bits_on_every_installed_device():
    draws = {}
    for name in DEVICES:
        plugrad.manual_seed(11)
        draws[name] = plugrad.rand(1000, device=name).numpy().tobytes()
    assert len(set(draws.values())) == 1, list(draws)


@pytest.mark.parametrize("device", DEVICES)
def test_randn_is_within_two_ulp_of_the_reference(device):
    got = plugrad.randn(3000, dtype="float64", device=device, generator=plugrad.Generator(4))
    expected = rs.draw("normal", (3000,), (0.0, 1.0), first_seed(4))
    assert np.all(np.abs(got.numpy() - expected) <= 2 * np.spacing(np.abs(expected)))


@pytest.mark.parametrize("device", DEVICES)
def test_randint_is_low_plus_the_high_word_of_w_times_the_range(device):
    low, high = -7, 1000
    got = plugrad.randint(low, high, (50,), device=device, generator=plugrad.Generator(6))
    w = rs.word64(50, first_seed(6))
    assert got.dtype is plugrad.int64
    assert got.numpy().tolist() == [low + ((int(x) * (high - low)) >> 64) for x in w]


def test_randint_covers_the_whole_int64_range():
    low, high = -(2**63), 2**63 - 1
    got = plugrad.randint(low, high, (2000,), generator=plugrad.Generator(1)).numpy()
    w = rs.word64(2000, first_seed(1))
    assert got.tolist() == [low + ((int(x) * (high - low)) >> 64) for x in w]
    assert got.min() < -(2**61) and got.max() > 2**61
    assert plugrad.randint(5, size=(3,), dtype="float64").dtype is plugrad.float64


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [((3, 3), ValueError, "low < high"), ((0.5, 3), TypeError, "low must be an integer"),
     ((0, 2**63), ValueError, "fit int64")],
)  # fmt: skip
def test_randint_refuses_bad_bounds(args, error, match):
    with pytest.raises(error, match=match):
        plugrad.randint(*args, size=(2,))


def test_rand_and_randn_refuse_integer_dtypes():
    with pytest.raises(TypeError, match="rand draws floating-point numbers; got dtype int64"):
        plugrad.rand(3, dtype="int64")
    with pytest.raises(TypeError, match="randn"):
        plugrad.randn(3, dtype="bool")


@pytest.mark.parametrize("device", DEVICES)
def test_randperm_is_the_stable_argsort_of_the_words(device):
    got = plugrad.randperm(40, device=device, generator=plugrad.Generator(2)).numpy()
    np.testing.assert_array_equal(got, rs.permutation(40, first_seed(2)))
    assert plugrad.randperm(5, dtype="float32").dtype is plugrad.float32


@pytest.mark.parametrize("device", DEVICES)
def test_bernoulli_with_a_tensor_p_matches_the_kernel_with_that_scalar(device):
    p = plugrad.full((6, 7), 0.3, device=device)
    from_tensor = plugrad.bernoulli(p, generator=plugrad.Generator(9))
    from_scalar = plugrad.bernoulli(0.3, (6, 7), device=device, generator=plugrad.Generator(9))
    np.testing.assert_array_equal(from_tensor.numpy(), from_scalar.numpy())
    u = rs.draw("uniform", (6, 7), (0.0, 1.0), first_seed(9))
    ramp = plugrad.tensor(np.linspace(0, 1, 42).reshape(6, 7), dtype="float32", device=device)
    got = plugrad.bernoulli(ramp, generator=plugrad.Generator(9)).numpy()
    np.testing.assert_array_equal(got, (u < ramp.numpy().astype(np.float64)).astype(np.float32))


@pytest.mark.parametrize("device", DEVICES)
def test_init_draws_its_interval_in_one_call(device):
    t = plugrad.empty(20, 30, dtype="float32", device=device)
    nn.init.uniform_(t, -0.5, 0.25, generator=plugrad.Generator(3))
    expected = rs.draw("uniform", (20, 30), (-0.5, 0.25), first_seed(3), "float32")
    assert t.numpy().tobytes() == expected.tobytes()


def test_dropout_masks_follow_their_generator_not_the_global_one():
    x = plugrad.ones(200, dtype="float64")
    a = nn.Dropout(0.4, generator=plugrad.Generator(1))(x).numpy()
    plugrad.manual_seed(77)
    b = nn.Dropout(0.4, generator=plugrad.Generator(1))(x).numpy()
    np.testing.assert_array_equal(a, b)
    keep = rs.draw("bernoulli", (200,), (0.6,), first_seed(1))
    np.testing.assert_array_equal(a, keep / 0.6)

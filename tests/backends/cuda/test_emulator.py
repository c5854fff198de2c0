"""The emulated runtime runs CUDA kernels as CUDA would, and catches what a GPU would silently
get wrong: a missing __syncthreads shows up when a block's threads run in reverse order, and a
barrier that not every thread reaches is an error naming the kernel, never a hang."""

from __future__ import annotations

import numpy as np
import pytest

from plugrad_cuda.emulated import EmulatedRuntime
from plugrad_cuda.launch import Geometry, LaunchError, Params, i64, ptr

KERNELS = r"""
#include "pg_common.cuh"

/* out[t] = x[t] + x[t - 1], through shared memory: correct only with the barrier */
#define SHIFT_SUM(name, BARRIER)                                                      \
    extern "C" __global__ void name(const float *x, float *out) {                     \
        __shared__ float s[256];                                                       \
        int t = threadIdx.x;                                                           \
        s[t] = x[t];                                                                   \
        BARRIER;                                                                       \
        out[t] = s[t] + (t > 0 ? s[t - 1] : 0.0f);                                     \
    }                                                                                  \
    PG_REGISTER_KERNEL(name)
SHIFT_SUM(shift_sum_synced, __syncthreads())
SHIFT_SUM(shift_sum_missing_barrier, (void)0)

extern "C" __global__ void barrier_in_half_the_block(float *out) {
    if (threadIdx.x < 16) __syncthreads();
    out[threadIdx.x] = 1.0f;
}
PG_REGISTER_KERNEL(barrier_in_half_the_block)

extern "C" __global__ void barriers_at_two_sites(float *out) {
    if (threadIdx.x % 2) {
        __syncthreads();
    } else {
        __syncthreads();
    }
    out[threadIdx.x] = 1.0f;
}
PG_REGISTER_KERNEL(barriers_at_two_sites)

extern "C" __global__ void shuffle_in_half_a_warp(float *out) {
    float v = threadIdx.x;
    if (threadIdx.x < 16) v = __shfl_xor_sync(0xffffffffu, v, 1);
    out[threadIdx.x] = v;
}
PG_REGISTER_KERNEL(shuffle_in_half_a_warp)

/* every shuffle flavour at one width: out[kind * n + t] */
extern "C" __global__ void shuffles(const float *x, float *out, pg_i64 width) {
    int t = blockIdx.x * blockDim.x + threadIdx.x, n = blockDim.x * gridDim.x, w = (int)width;
    float v = x[t];
    out[t] = __shfl_down_sync(0xffffffffu, v, 3, w);
    out[n + t] = __shfl_up_sync(0xffffffffu, v, 2, w);
    out[2 * n + t] = __shfl_xor_sync(0xffffffffu, v, 5, w);
    out[3 * n + t] = __shfl_sync(0xffffffffu, v, 7, w);
}
PG_REGISTER_KERNEL(shuffles)

/* a block sum through pg::block_reduce; dynamic shared memory holds the input */
struct Add { __device__ float operator()(float a, float b) const { return a + b; } };
extern "C" __global__ void block_sums(const float *x, float *out) {
    float *s = pg::dynamic_shared<float>();
    int t = threadIdx.x;
    s[t] = x[blockIdx.x * blockDim.x + t];
    __syncthreads();
    float v = pg::block_reduce(s[blockDim.x - 1 - t], Add(), 0.0f);
    if (t == 0) out[blockIdx.x] = v;
}
PG_REGISTER_KERNEL(block_sums)

/* registered as barrier-free (threads as a plain loop) but synchronising: an error */
extern "C" __global__ void mislabelled_barrier(float *out) {
    __syncthreads();
    out[threadIdx.x] = 1.0f;
}
PG_REGISTER_KERNEL_NO_SYNC(mislabelled_barrier)

extern "C" __global__ void mislabelled_shuffle(float *out) {
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}
PG_REGISTER_KERNEL_NO_SYNC(mislabelled_shuffle)

extern "C" __global__ void count_with_atomics(const pg_i64 *bins, int *counts, pg_i64 n) {
    for (pg_i64 i = pg::global_thread(); i < n; i += pg::grid_threads())
        atomicAdd(&counts[bins[i]], 1);
}
PG_REGISTER_KERNEL_NO_SYNC(count_with_atomics)
"""


@pytest.fixture(scope="module")
def runtime():
    return EmulatedRuntime({"emulator_tests.cu": KERNELS})


@pytest.fixture(scope="module")
def portable_runtime():
    """The same scheduler built with the portable ucontext switch instead of the x86-64 one."""
    return EmulatedRuntime({"emulator_tests.cu": KERNELS}, defines=("PG_EMU_UCONTEXT",))


class Device:
    """Device arrays for the tests: upload, allocate, read back."""

    def __init__(self, runtime) -> None:
        self.runtime = runtime
        self.live: list[int] = []

    def put(self, array: np.ndarray) -> int:
        address = self.runtime.malloc(array.nbytes)
        self.live.append(address)
        self.runtime.upload(address, np.ascontiguousarray(array))
        return address

    def get(self, address: int, like: np.ndarray) -> np.ndarray:
        host = np.empty_like(like)
        self.runtime.download(host, address)
        return host

    def run(self, name, grid, block, *values, shared=0, reverse=False):
        self.runtime.reverse_threads = reverse
        try:
            self.runtime.launch(name, self.runtime.function(name),
                                Geometry(grid, block, shared), Params(values))  # fmt: skip
        finally:
            self.runtime.reverse_threads = False


@pytest.fixture
def device(runtime):
    dev = Device(runtime)
    yield dev
    for address in dev.live:
        runtime.free(address)


def shift_sum(device, name, x, reverse):
    out = device.put(np.zeros(256, np.float32))
    device.run(name, (1, 1, 1), (256, 1, 1), ptr(device.put(x)), ptr(out), reverse=reverse)
    return device.get(out, x)


def expected_shift_sum(x):
    return x + np.concatenate([[0.0], x[:-1]]).astype(np.float32)


def test_the_barrier_makes_shared_memory_writes_visible_in_either_order(device):
    rng = np.random.default_rng(0)
    for reverse in (False, True):
        x = rng.uniform(-1, 1, 256).astype(np.float32)
        np.testing.assert_array_equal(
            shift_sum(device, "shift_sum_synced", x, reverse), expected_shift_sum(x)
        )


def test_a_missing_barrier_shows_up_when_threads_run_in_reverse(device):
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 256).astype(np.float32)
    # In thread order each thread's neighbour already wrote: the bug hides ...
    forward = shift_sum(device, "shift_sum_missing_barrier", x, reverse=False)
    np.testing.assert_array_equal(forward, expected_shift_sum(x))
    # ... and in reverse order every thread but one reads its neighbour's stale value.
    x = rng.uniform(-1, 1, 256).astype(np.float32)
    reversed_ = shift_sum(device, "shift_sum_missing_barrier", x, reverse=True)
    wrong = np.flatnonzero(reversed_ != expected_shift_sum(x))
    assert len(wrong) == 255 and 0 not in wrong


@pytest.mark.parametrize(
    ("kernel", "message"),
    [
        ("barrier_in_half_the_block", "exited"),
        ("barriers_at_two_sites", "divergent __syncthreads"),
        ("shuffle_in_half_a_warp", "exited while lanes of its warp wait"),
    ],
)
def test_a_barrier_not_every_thread_reaches_is_an_error_naming_the_kernel(device, kernel, message):
    out = device.put(np.zeros(32, np.float32))
    with pytest.raises(LaunchError, match=message) as error:
        device.run(kernel, (1, 1, 1), (32, 1, 1), ptr(out))
    assert kernel in str(error.value) and "block (0,0,0)" in str(error.value)
    assert "grid (1, 1, 1) block (32, 1, 1)" in str(error.value)


@pytest.mark.parametrize("kernel", ["mislabelled_barrier", "mislabelled_shuffle"])
def test_a_kernel_registered_without_sync_that_synchronises_is_an_error(device, kernel):
    out = device.put(np.zeros(32, np.float32))
    with pytest.raises(LaunchError, match=f"{kernel}.*PG_REGISTER_KERNEL_NO_SYNC"):
        device.run(kernel, (1, 1, 1), (32, 1, 1), ptr(out))


def test_the_runtime_works_after_a_failed_launch(device):
    out = device.put(np.zeros(32, np.float32))
    with pytest.raises(LaunchError):
        device.run("barrier_in_half_the_block", (1, 1, 1), (32, 1, 1), ptr(out))
    x = np.arange(256, dtype=np.float32)
    np.testing.assert_array_equal(shift_sum(device, "shift_sum_synced", x, False),
                                  expected_shift_sum(x))  # fmt: skip


def reference_shuffles(x, width):
    n = len(x)
    lane = np.arange(n) % 32
    seg = lane % width
    base = np.arange(n) - seg
    down = np.where(seg + 3 < width, np.arange(n) + 3, np.arange(n))
    up = np.where(seg >= 2, np.arange(n) - 2, np.arange(n))
    xor_lane = lane ^ 5
    xor_src = np.where(xor_lane < (lane // width + 1) * width, np.arange(n) - lane + xor_lane,
                       np.arange(n))  # fmt: skip
    idx = base + (7 % width)
    return np.concatenate([x[down], x[up], x[xor_src], x[idx]])


@pytest.mark.parametrize("width", [32, 16, 8])
@pytest.mark.parametrize("reverse", [False, True])
def test_warp_shuffles_match_cuda_semantics(device, width, reverse):
    x = np.random.default_rng(width).uniform(-5, 5, 128).astype(np.float32)
    out = device.put(np.zeros(4 * 128, np.float32))
    device.run("shuffles", (2, 1, 1), (64, 1, 1), ptr(device.put(x)), ptr(out), i64(width),
               reverse=reverse)  # fmt: skip
    np.testing.assert_array_equal(device.get(out, np.zeros(512, np.float32)),
                                  reference_shuffles(x, width))  # fmt: skip


@pytest.mark.parametrize("threads", [32, 256, 1024])
def test_block_reduce_with_dynamic_shared_memory(device, threads):
    x = np.random.default_rng(threads).integers(-50, 50, 3 * threads).astype(np.float32)
    out = device.put(np.zeros(3, np.float32))
    device.run("block_sums", (3, 1, 1), (threads, 1, 1), ptr(device.put(x)), ptr(out),
               shared=4 * threads, reverse=True)  # fmt: skip
    np.testing.assert_array_equal(device.get(out, np.zeros(3, np.float32)),
                                  x.reshape(3, threads).sum(axis=1))  # fmt: skip


def test_atomics_count_every_update(device):
    bins = np.random.default_rng(3).integers(0, 7, 10_000).astype(np.int64)
    counts = device.put(np.zeros(7, np.int32))
    device.run("count_with_atomics", (4, 1, 1), (128, 1, 1), ptr(device.put(bins)), ptr(counts),
               i64(len(bins)))  # fmt: skip
    np.testing.assert_array_equal(device.get(counts, np.zeros(7, np.int32)),
                                  np.bincount(bins, minlength=7))  # fmt: skip


def test_launch_geometry_is_checked(device):
    out = device.put(np.zeros(32, np.float32))
    with pytest.raises(LaunchError, match="at most 1024 threads"):
        device.run("barrier_in_half_the_block", (1, 1, 1), (2048, 1, 1), ptr(out))


def test_the_portable_context_switch_runs_the_same_kernels(portable_runtime):
    device = Device(portable_runtime)
    x = np.arange(256, dtype=np.float32)
    np.testing.assert_array_equal(shift_sum(device, "shift_sum_synced", x, True),
                                  expected_shift_sum(x))  # fmt: skip
    out = device.put(np.zeros(32, np.float32))
    with pytest.raises(LaunchError, match="divergent"):
        device.run("barriers_at_two_sites", (1, 1, 1), (32, 1, 1), ptr(out))

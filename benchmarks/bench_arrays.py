"""Array-level timings per plugrad device: elementwise, reductions, matmul, conv2d, overhead;
matmul and add in float16 and bfloat16 next to float32."""

from . import common

DEVICES = common.devices()


class Elementwise(common.SlowBenchmark):
    """16M-element float32: `x + y` and `x.exp()`."""

    params = [DEVICES, ["add", "exp"]]
    param_names = ["device", "op"]

    def setup(self, device, op):
        self.run = common.elementwise("plugrad", device, op=op)

    def time_op(self, device, op):
        self.run()


class Reductions(common.SlowBenchmark):
    """Sum of a 4096x4096 float32 matrix over axis 0, axis 1 and all axes."""

    params = [DEVICES, ["0", "1", "all"]]
    param_names = ["device", "axis"]

    def setup(self, device, axis):
        self.run = common.reduction("plugrad", device, axis=None if axis == "all" else int(axis))

    def time_sum(self, device, axis):
        self.run()


class Order(common.SlowBenchmark):
    """Stable sort of 1024x4096 float32 along each axis; cumsum of 4096x4096 along each."""

    params = [DEVICES, ["sort_rows", "sort_axis0", "cumsum_axis0", "cumsum_axis1"]]
    param_names = ["device", "case"]

    def setup(self, device, case):
        self.run = common.CASE_BY_KEY[case].build("plugrad", device)

    def time_op(self, device, case):
        self.run()


class Matmul(common.SlowBenchmark):
    """Square float32 matmul."""

    params = [DEVICES, list(common.MATMUL_SIZES)]
    param_names = ["device", "n"]

    def setup(self, device, n):
        self.run = common.matmul("plugrad", device, n=n)

    def time_matmul(self, device, n):
        self.run()


class _Dtypes(common.SlowBenchmark):
    """A workload in each floating dtype, timed, and its time over float32's (`track_`, median
    of interleaved samples in the same process). A dtype the device lacks is skipped."""

    params = [DEVICES, list(common.FLOAT_DTYPES)]
    param_names = ["device", "dtype"]
    timeout = 600

    def build(self, device, dtype):
        raise NotImplementedError

    def setup(self, device, dtype):
        self.run = self.build(device, dtype)
        self.float32 = None if dtype == "float32" else self.build(device, "float32")

    def _vs_float32(self):
        if self.float32 is None:
            return 1.0
        return common.median_ratio(self.run, self.float32, repeats=5, budget=10.0)


class MatmulDtypes(_Dtypes):
    """1024x1024 matmul in float32, float16 and bfloat16 (c_cpu: stored in 16 bits, computed
    in float32)."""

    def build(self, device, dtype):
        return common.matmul("plugrad", device, n=common.DTYPE_MATMUL_N, dtype=dtype)

    def time_matmul(self, device, dtype):
        self.run()

    def track_vs_float32(self, device, dtype):
        return self._vs_float32()

    track_vs_float32.unit = "time / float32 time"


class AddDtypes(_Dtypes):
    """`x + y` of 4M elements in float32, float16 and bfloat16: memory-bound, so 16-bit storage
    halves the bytes moved."""

    def build(self, device, dtype):
        n = common.DTYPE_ELEMENTWISE_N
        return common.elementwise("plugrad", device, op="add", n=n, dtype=dtype)

    def time_add(self, device, dtype):
        self.run()

    def track_vs_float32(self, device, dtype):
        return self._vs_float32()

    track_vs_float32.unit = "time / float32 time"


class Conv2d(common.SlowBenchmark):
    """conv2d, input 32x64x32x32, 128 filters 3x3, padding 1: forward, and forward+backward."""

    params = [DEVICES, ["forward", "forward+backward"]]
    param_names = ["device", "pass"]

    def setup(self, device, which):
        self.run = common.conv2d("plugrad", device, backward=which != "forward")

    def time_conv2d(self, device, which):
        self.run()


class Overhead:
    """Per-op overhead: 100 times `x + y` on 8-element tensors (the time is for all 100),
    without autograd, with it (a graph node each), and each followed by its backward."""

    params = [DEVICES, ["nograd", "grad", "backward"]]
    param_names = ["device", "mode"]

    def setup(self, device, mode):
        self.run = common.tiny_op("plugrad", device, mode=mode)

    def time_tiny_add_x100(self, device, mode):
        run = self.run
        for _ in range(100):
            run()

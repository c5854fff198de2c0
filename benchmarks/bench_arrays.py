"""Array-level timings per plugrad device: elementwise, reductions, matmul, conv2d, overhead."""

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

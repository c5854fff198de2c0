"""Ratios against NumPy and torch measured in the same process: plugrad time / peer time
(median of interleaved repeats; below 1 means plugrad is faster)."""

from . import common

DEVICES = common.devices()


class _Ratio:
    peer = ""
    unit = "plugrad time / peer time"
    timeout = 600

    def setup(self, device, case):
        spec = common.CASE_BY_KEY[case]
        self.ours = spec.build("plugrad", device)
        self.theirs = spec.build(self.peer)

    def _ratio(self):
        # Up to 3 rounds, fewer for slow workloads (numpy_ref's conv2d takes seconds).
        return common.median_ratio(self.ours, self.theirs, repeats=3, budget=5.0)


class RatioVsNumPy(_Ratio):
    params = [DEVICES, common.cases_with_peer("numpy")]
    param_names = ["device", "case"]
    peer = "numpy"

    def track_vs_numpy(self, device, case):
        return self._ratio()


class RatioVsTorch(_Ratio):
    params = [DEVICES, common.cases_with_peer("torch")]
    param_names = ["device", "case"]
    peer = "torch"

    def track_vs_torch(self, device, case):
        return self._ratio()

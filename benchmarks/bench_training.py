"""Training on digits-sized data (batch 64, SGD, cross-entropy): time and peak memory."""

from . import common

DEVICES = common.devices()


class _Training:
    rounds = 1
    repeat = (1, 5, 10.0)
    warmup_time = 0.0
    timeout = 300
    model = "mlp"
    steps: int | None = 1

    def setup(self, device):
        self.run = common.training("plugrad", device, model=self.model, steps=self.steps)


class MLPStep(_Training):
    """One step of Linear(64,128)-ReLU-Linear(128,10)."""

    params = [DEVICES]
    param_names = ["device"]

    def time_step(self, device):
        self.run()

    def peakmem_step(self, device):
        self.run()


class MLPEpoch(_Training):
    """One epoch (1797 samples, 29 batches) of the same MLP."""

    params = [DEVICES]
    param_names = ["device"]
    steps = None

    def time_epoch(self, device):
        self.run()


class CNNStep(_Training):
    """One step of Conv(1,16,3)-ReLU-Conv(16,32,3)-ReLU-Flatten-Linear(2048,10) on 8x8 images."""

    params = [DEVICES]
    param_names = ["device"]
    model = "cnn"

    def time_step(self, device):
        self.run()

    def peakmem_step(self, device):
        self.run()

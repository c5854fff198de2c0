"""Training steps of an MLP, a CNN, a transformer block and an LSTM, and an epoch of the digits
demo's CNN: time and peak memory."""

from . import common

DEVICES = common.devices()


class _Training(common.SlowBenchmark):
    params = [DEVICES]
    param_names = ["device"]
    model = "mlp"
    steps: int | None = 1

    def setup(self, device):
        self.run = common.training("plugrad", device, model=self.model, steps=self.steps)


class MLPStep(_Training):
    """One step of Linear(64,128)-ReLU-Linear(128,10)."""

    def time_step(self, device):
        self.run()

    def peakmem_step(self, device):
        self.run()


class MLPEpoch(_Training):
    """One epoch (1797 samples, 29 batches) of the same MLP."""

    steps = None

    def time_epoch(self, device):
        self.run()


class CNNStep(_Training):
    """One step of Conv(1,16,3)-ReLU-Conv(16,32,3)-ReLU-Flatten-Linear(2048,10) on 8x8 images."""

    model = "cnn"

    def time_step(self, device):
        self.run()

    def peakmem_step(self, device):
        self.run()


class TransformerStep(_Training):
    """One step of a pre-norm transformer block (4-head self-attention, GELU MLP) on 8
    sequences of 32 x 64, MSE loss."""

    model = "transformer"

    def time_step(self, device):
        self.run()

    def peakmem_step(self, device):
        self.run()


class CNNEpoch(_Training):
    """One epoch of the digits demo's CNN (plugrad.demo.build_model("cnn"): two conv-BN-ReLU-
    pool blocks, dropout, a linear head) with the demo's AdamW and cosine schedule, batch 32,
    45 batches."""

    model = "digits_cnn"
    steps = None

    def time_epoch(self, device):
        self.run()


class LSTMStep(_Training):
    """One SGD step of a 2-layer nn.LSTM (input 128, hidden 256) on 32 sequences of 35, MSE on
    its outputs."""

    model = "lstm"

    def time_step(self, device):
        self.run()

    def peakmem_step(self, device):
        self.run()

"""A small ResNet on scikit-learn's 8x8 digits, with plugrad.nn's convolution family.

python examples/resnet_digits.py [--epochs 8] [--device c_cpu]

Two stages of basic residual blocks (conv-BN-ReLU-conv-BN plus the identity, or a strided 1x1
conv where the shape changes), global average pooling and a linear head, as torchvision's
ResNet; trained with AdamW and a cosine schedule, then scored on the held-out images.
"""

from __future__ import annotations

import argparse
import time

import plugrad
from plugrad import nn
from plugrad.autograd.tensor import Tensor
from plugrad.data import DataLoader
from plugrad.data.datasets import load_digits
from plugrad.optim import AdamW
from plugrad.optim.lr_scheduler import CosineAnnealingLR


class BasicBlock(nn.Module):
    """(N, cin, H, W) -> (N, cout, H / stride, W / stride): relu(F(x) + shortcut(x))."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


def resnet(width: int = 16, classes: int = 10) -> nn.Module:
    """(N, 64) digit pixels -> (N, classes) logits."""
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, width, 3, padding=1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        BasicBlock(width, width),
        BasicBlock(width, 2 * width, stride=2),  # 8x8 -> 4x4
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(2 * width, classes),
    )


def train(epochs: int = 8, device: object = None, seed: int = 0) -> float:
    """Train on the digits' training split; returns the held-out accuracy."""
    plugrad.manual_seed(seed)
    device = plugrad.device(device)
    train_set, test_set = load_digits("train", device=device), load_digits("test", device=device)
    loader = DataLoader(train_set, batch_size=32, shuffle=True)
    model = resnet().to(device)
    opt = AdamW(model.parameters(), lr=1e-2, weight_decay=1e-4)
    schedule = CosineAnnealingLR(opt, T_max=epochs * len(loader))
    loss_fn = nn.CrossEntropyLoss()
    x_test, y_test = test_set.tensors
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
        model.eval()
        with plugrad.no_grad():
            accuracy = (model(x_test).argmax(1) == y_test).sum().item() / len(test_set)
        print(f"epoch {epoch}/{epochs}  loss {loss.item():.4f}  held-out acc {accuracy:.2%}  "
              f"{time.perf_counter() - start:.2f} s")  # fmt: skip
    return accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    print(f"held-out accuracy: {train(args.epochs, args.device):.2%}")

"""DistributedDataParallel, SyncBatchNorm and DistributedSampler on N ranks, each against one
process that trains on the ranks' batches put together (tests/distributed/test_ddp.py)."""

from __future__ import annotations

import numpy as np
from recorder import Recorder, register_staged_device

import plugrad
import plugrad.distributed as dist
from plugrad import nn
from plugrad.data import DistributedSampler
from plugrad.data.datasets import load_digits
from plugrad.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group()
rank, size = dist.get_rank(), dist.get_world_size()
rec = Recorder(rank)
F64 = plugrad.float64
X, Y = (t.numpy() for t in load_digits("train").tensors)
PER_RANK = 16


def mlp(seed: int, device: str) -> nn.Module:
    plugrad.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)).to(device).double()


def batch(step: int, device: str, ranks: range | None = None) -> tuple:
    """The global batch of a step (ranks=None), or the part of it the given ranks hold."""
    ranks = range(size) if ranks is None else ranks
    rows = np.concatenate([np.arange(PER_RANK) + PER_RANK * (step * size + r) for r in ranks])
    rows %= len(X)
    return (plugrad.tensor(X[rows], dtype=F64, device=device),
            plugrad.tensor(Y[rows], device=device))  # fmt: skip


def mine(step: int, device: str) -> tuple:
    return batch(step, device, range(rank, rank + 1))


def max_diff(a: nn.Module, b: nn.Module) -> float:
    return max(float((p - q).abs().amax()) for p, q in zip(a.parameters(), b.parameters()))


def same_on_every_rank(tensors: list) -> float:
    """The largest difference between this rank's values and any other rank's."""
    flat = plugrad.cat([t.detach().reshape(-1) for t in tensors])
    everyone = plugrad.zeros(size, flat.numel(), dtype=flat.dtype, device=flat.device)
    dist.all_gather_into_tensor(everyone, flat)
    return float((everyone - flat).abs().amax())


OPTIMIZERS = {
    "sgd": lambda ps: plugrad.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-3),
    "adamw": lambda ps: plugrad.optim.AdamW(ps, lr=1e-3),
}
loss_fn = nn.CrossEntropyLoss()

for device in ("c_cpu", "numpy_ref"):
    for name, make_opt in OPTIMIZERS.items():
        with rec.check(f"train-20-steps-{name}-{device}"):
            reference = mlp(0, device)
            model = DDP(mlp(0 if rank == 0 else 100 + rank, device), bucket_cap_mb=0.01)
            assert len(model.reducer.buckets) >= 2, "small buckets: several all-reduces overlap"
            ref_opt, opt = make_opt(reference.parameters()), make_opt(model.parameters())
            for step in range(20):
                ref_opt.zero_grad()
                loss_fn(reference(batch(step, device)[0]), batch(step, device)[1]).backward()
                ref_opt.step()
                opt.zero_grad()
                x, y = mine(step, device)
                loss_fn(model(x), y).backward()
                opt.step()
            assert max_diff(model.module, reference) < 1e-6, max_diff(model.module, reference)
            assert same_on_every_rank(list(model.parameters())) < 1e-12

    with rec.check(f"no_sync-accumulation-equals-one-big-step-{device}"):
        reference, model = mlp(1, device), DDP(mlp(1, device), bucket_cap_mb=0.01)
        micro = 3
        x_all = plugrad.cat([batch(s, device)[0] for s in range(micro + 1)])
        y_all = plugrad.cat([batch(s, device)[1] for s in range(micro + 1)])
        loss_fn(reference(x_all), y_all).backward()
        for s in range(micro + 1):
            x, y = mine(s, device)
            if s < micro:
                with model.no_sync():
                    (loss_fn(model(x), y) / (micro + 1)).backward()
            else:
                (loss_fn(model(x), y) / (micro + 1)).backward()
        for p, q in zip(model.module.parameters(), reference.parameters()):
            assert float((p.grad - q.grad).abs().amax()) < 1e-12
        opts = [plugrad.optim.SGD(m.parameters(), lr=0.1) for m in (reference, model)]
        for o in opts:
            o.step()
        assert max_diff(model.module, reference) < 1e-12


with rec.check("train-on-a-device-staged-through-host-memory"):
    device = register_staged_device()  # gradients go to MPI through host copies
    reference = mlp(0, device)
    model = DDP(mlp(0 if rank == 0 else 9, device), bucket_cap_mb=0.01)
    opts = [plugrad.optim.SGD(m.parameters(), lr=0.05, momentum=0.9) for m in (reference, model)]
    for step in range(5):
        for o in opts:
            o.zero_grad()
        loss_fn(reference(batch(step, device)[0]), batch(step, device)[1]).backward()
        x, y = mine(step, device)
        loss_fn(model(x), y).backward()
        for o in opts:
            o.step()
    assert max_diff(model.module, reference) < 1e-6, max_diff(model.module, reference)


class Heads(nn.Module):
    """a: used on every rank; b: only on rank 0; c: never."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.c = nn.Linear(4, 2), nn.Linear(4, 2), nn.Linear(4, 2)

    def forward(self, x: plugrad.Tensor, use_b: bool) -> plugrad.Tensor:
        out = self.a(x)
        return out + self.b(x) if use_b else out


def heads(seed: int) -> Heads:
    plugrad.manual_seed(seed)
    return Heads().double()


def head_input(r: int, step: int) -> plugrad.Tensor:
    return plugrad.tensor(np.random.default_rng(10 * step + r).normal(size=(5, 4)), dtype=F64)


with rec.check("find_unused_parameters-averages-what-was-used"):
    model = DDP(heads(2), find_unused_parameters=True)
    for step in range(2):  # twice: the second pass starts from a clean state
        model.zero_grad()
        (model(head_input(rank, step), use_b=rank == 0) ** 2).sum().backward()
        reference = heads(2)
        reference.load_state_dict(model.module.state_dict())
        for r in range(size):
            (reference(head_input(r, step), use_b=r == 0) ** 2).sum().backward()
        for n in ("a.weight", "a.bias", "b.weight", "b.bias"):
            got = model.module.get_parameter(n).grad
            want = reference.get_parameter(n).grad / size
            assert float((got - want).abs().amax()) < 1e-12, n
        assert model.module.c.weight.grad is None, "no rank used c: its grad stays None"

with rec.check("unused-parameter-without-the-flag-is-reported"):
    model = DDP(heads(3))
    (model(head_input(rank, 0), use_b=False) ** 2).sum().backward()
    try:
        model(head_input(rank, 1), use_b=False)
    except RuntimeError as error:
        assert "b.weight" in str(error) and "find_unused_parameters=True" in str(error), error
    else:
        raise AssertionError("a parameter without a gradient went unnoticed")

with rec.check("second-backward-through-one-forward-raises"):
    model = DDP(mlp(4, "c_cpu"))
    loss = loss_fn(model(mine(0, "c_cpu")[0]), mine(0, "c_cpu")[1])
    loss.backward(retain_graph=True)
    try:
        loss.backward()
    except RuntimeError as error:
        assert "second backward" in str(error), error
    else:
        raise AssertionError("a second backward through one forward was accepted")

with rec.check("parameters-and-buffers-come-from-rank-0"):
    plugrad.manual_seed(rank)
    module = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)).double()
    with plugrad.no_grad():
        module[1].running_mean.fill_(float(rank))
    versions = [p._version for p in module.parameters()]
    model = DDP(module)
    assert same_on_every_rank(list(module.parameters()) + list(module.buffers())) == 0
    if rank:
        assert all(p._version > v for p, v in zip(module.parameters(), versions))
    with plugrad.no_grad():
        module[1].running_mean.fill_(float(rank) + 5)
    model.eval()
    with plugrad.no_grad():
        model(head_input(rank, 0))
    assert float(module[1].running_mean.amax()) == 5.0, "buffers are rank 0's before forward"

with rec.check("different-models-are-named"):
    plugrad.manual_seed(0)
    try:
        DDP(nn.Linear(4, 3 if rank == 1 else 2))
    except ValueError as error:
        assert "weight" in str(error) and "(3, 4)" in str(error) and "(2, 4)" in str(error), error
    else:
        raise AssertionError("models of different shapes on different ranks were accepted")

with rec.check("comm-stats-of-the-last-backward"):
    model = DDP(mlp(5, "c_cpu"), bucket_cap_mb=0.0009)  # b2+W2, b1, W1
    x, y = mine(0, "c_cpu")
    loss_fn(model(x), y).backward()
    stats = model.comm_stats
    assert stats.buckets == len(model.reducer.buckets) >= 3
    assert stats.bytes == 8 * sum(p.numel() for p in model.parameters())
    assert stats.backward > 0 and 0 <= stats.overlapped <= stats.backward + 1e-9
    assert 0 <= stats.overlap_share <= 1 and stats.exposed >= 0


class RegisteredBackwards(nn.Module):
    """The layer used last is registered first: reverse registration order is wrong."""

    def __init__(self) -> None:
        super().__init__()
        self.last = nn.Linear(8, 3)
        self.first = nn.Linear(4, 8)

    def forward(self, x: plugrad.Tensor) -> plugrad.Tensor:
        return self.last(self.first(x).relu())


with rec.check("buckets-follow-the-observed-gradient-order"):
    plugrad.manual_seed(7)
    reference = RegisteredBackwards().double()
    model = DDP(RegisteredBackwards().double(), bucket_cap_mb=1e-6)  # one parameter each
    model.module.load_state_dict(reference.state_dict())
    names = [n for n, _ in model.module.named_parameters()]
    before = [names[b.members[0]] for b in model.reducer.buckets]
    assert before[0].startswith("first."), before
    opts = [plugrad.optim.SGD(m.parameters(), lr=0.1) for m in (reference, model)]
    for step in range(3):
        for o in opts:
            o.zero_grad()
        for r in range(size):
            ((reference(head_input(r, step)) ** 2).sum() / size).backward()
        (model(head_input(rank, step)) ** 2).sum().backward()
        for o in opts:
            o.step()
    after = [names[b.members[0]] for b in model.reducer.buckets]
    assert [n.split(".")[0] for n in after] == ["last", "last", "first", "first"], after
    assert max_diff(model.module, reference) < 1e-12


def bn_net(cls: type, seed: int) -> nn.Module:
    plugrad.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 16), cls(16), nn.ReLU(), nn.Linear(16, 10)).double()


with rec.check("sync_batchnorm-equals-batchnorm-on-the-global-batch"):
    reference = bn_net(nn.BatchNorm1d, 6)
    net = nn.SyncBatchNorm.convert_sync_batchnorm(bn_net(nn.BatchNorm1d, 6))
    assert isinstance(net[1], nn.SyncBatchNorm)
    model = DDP(net)
    opts = [plugrad.optim.SGD(m.parameters(), lr=0.1) for m in (reference, model)]
    for step in range(5):
        for o in opts:
            o.zero_grad()
        loss_fn(reference(batch(step, "c_cpu")[0]), batch(step, "c_cpu")[1]).backward()
        x, y = mine(step, "c_cpu")
        loss_fn(model(x), y).backward()
        for o in opts:
            o.step()
    assert max_diff(net, reference) < 1e-6, max_diff(net, reference)
    for b, c in zip(net.buffers(), reference.buffers()):
        assert float((b.double() - c.double()).abs().amax()) < 1e-9


with rec.check("distributed_sampler-shards-cover-the-data-set-once-per-epoch"):
    for n, drop_last in ((12 * size, False), (12 * size + 1, False), (12 * size + 1, True)):
        sampler = DistributedSampler(range(n), drop_last=drop_last, seed=3)
        orders = []
        for epoch in range(2):
            sampler.set_epoch(epoch)
            mine_idx = plugrad.tensor(list(sampler))
            assert len(mine_idx) == len(sampler)
            everyone = plugrad.zeros(size * len(sampler), dtype=plugrad.int64)
            dist.all_gather_into_tensor(everyone, mine_idx)
            seen = sorted(everyone.tolist())
            if n % size == 0:
                assert seen == list(range(n)), "each index exactly once"
            elif drop_last:
                assert len(set(seen)) == len(seen) == n - n % size
            else:
                assert set(seen) == set(range(n)) and len(seen) - n == size - n % size
            orders.append(everyone.tolist())
        assert orders[0] != orders[1], "set_epoch gives a new shuffle"

dist.barrier()
rec.write()

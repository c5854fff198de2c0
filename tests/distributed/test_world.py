"""The default process group's state outside a job, and a script run without a launcher (a
world of one)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import needs_mpi

import plugrad
import plugrad.distributed as dist
from plugrad import nn


def test_rank_and_collectives_before_init_say_what_to_call():
    assert not dist.is_initialized()
    for call in (dist.get_rank, dist.get_world_size, lambda: dist.all_reduce(plugrad.ones(1))):
        with pytest.raises(RuntimeError, match="init_process_group"):
            call()
    with pytest.raises(RuntimeError, match="init_process_group"):
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2))


def test_unknown_backend_and_init_method_are_refused():
    with pytest.raises(ValueError, match="unknown process-group backend 'nccl'"):
        dist.init_process_group("nccl")
    with pytest.raises(ValueError, match="init_method"):
        dist.init_process_group(init_method="tcp://10.0.0.1:23456")
    assert not dist.is_initialized()


def test_sync_batchnorm_without_a_group_is_batchnorm():
    plugrad.manual_seed(0)
    x = plugrad.randn(8, 3, dtype=plugrad.float64)
    sync, plain = nn.SyncBatchNorm(3).double(), nn.BatchNorm1d(3).double()
    np.testing.assert_allclose(sync(x).detach().numpy(), plain(x).detach().numpy())
    np.testing.assert_allclose(sync.running_var.numpy(), plain.running_var.numpy())
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(nn.Linear(3, 3), plain))
    assert isinstance(converted[1], nn.SyncBatchNorm) and converted[1].weight is plain.weight


SINGLE = """
import plugrad, plugrad.distributed as dist
from plugrad import nn
from plugrad.nn.parallel import DistributedDataParallel
dist.init_process_group()
assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
plugrad.manual_seed(0)
plain = nn.Linear(4, 2).double()
model = DistributedDataParallel(nn.Linear(4, 2).double())
model.module.load_state_dict(plain.state_dict())
x = plugrad.randn(5, 4, dtype=plugrad.float64)
for m in (plain, model):
    (m(x) ** 2).sum().backward()
assert plugrad.allclose(plain.weight.grad, model.module.weight.grad, rtol=0, atol=1e-15)
print("world of one ok")
"""


@needs_mpi
def test_a_script_run_without_a_launcher_is_a_world_of_one():
    result = subprocess.run([sys.executable, "-c", SINGLE], capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "world of one ok" in result.stdout

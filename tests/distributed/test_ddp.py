"""DistributedDataParallel on 2 and 3 MPI ranks: 20 steps of the digits MLP (float64) end
where one process training on the concatenated global batches ends, on c_cpu and numpy_ref;
no_sync accumulation, unused parameters, buffers, SyncBatchNorm and DistributedSampler. The
checks themselves are in ranks/ddp.py."""

from __future__ import annotations

import pytest
from conftest import needs_mpi, run_checks

pytestmark = needs_mpi


@pytest.fixture(scope="module", params=[2, 3], ids=lambda n: f"{n}ranks")
def outcomes(request, tmp_path_factory):
    return run_checks("ddp.py", request.param, tmp_path_factory.mktemp("ddp"))


@pytest.mark.parametrize("device", ["c_cpu", "numpy_ref"])
@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_twenty_steps_match_one_process_on_the_global_batch(outcomes, device, optimizer):
    outcomes.assert_ok(f"train-20-steps-{optimizer}-{device}")


@pytest.mark.parametrize("device", ["c_cpu", "numpy_ref"])
def test_no_sync_accumulation_equals_one_big_step(outcomes, device):
    outcomes.assert_ok(f"no_sync-accumulation-equals-one-big-step-{device}")


def test_training_on_a_device_that_is_not_a_host_backend(outcomes):
    outcomes.assert_ok("train-on-a-device-staged-through-host-memory")


def test_find_unused_parameters(outcomes):
    outcomes.assert_ok("find_unused_parameters-averages-what-was-used")


def test_an_unused_parameter_without_the_flag_is_reported(outcomes):
    outcomes.assert_ok("unused-parameter-without-the-flag-is-reported")


def test_a_second_backward_through_one_forward_raises(outcomes):
    outcomes.assert_ok("second-backward-through-one-forward-raises")


def test_parameters_and_buffers_come_from_rank_0(outcomes):
    outcomes.assert_ok("parameters-and-buffers-come-from-rank-0")


def test_different_models_on_different_ranks_are_named(outcomes):
    outcomes.assert_ok("different-models-are-named")


def test_buckets_are_rebuilt_in_the_order_gradients_came(outcomes):
    outcomes.assert_ok("buckets-follow-the-observed-gradient-order")


def test_comm_stats(outcomes):
    outcomes.assert_ok("comm-stats-of-the-last-backward")


def test_sync_batchnorm_equals_batchnorm_on_the_global_batch(outcomes):
    outcomes.assert_ok("sync_batchnorm-equals-batchnorm-on-the-global-batch")


def test_distributed_sampler_shards_cover_the_data_set_once_per_epoch(outcomes):
    outcomes.assert_ok("distributed_sampler-shards-cover-the-data-set-once-per-epoch")

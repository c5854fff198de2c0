"""Collectives on 2 and 3 MPI ranks, each against NumPy on every dtype and device (c_cpu,
numpy_ref, and a device that is not a host backend, so that tensors are staged through host
memory). The checks themselves are in ranks/collectives.py."""

from __future__ import annotations

import pytest
from conftest import needs_mpi, run_checks

import plugrad
from plugrad import dtypes as dt

pytestmark = needs_mpi
DEVICES = ("c_cpu", "numpy_ref", "staged")


def _declared(device: str) -> list[dt.DType]:
    """The dtypes a device's backend declares, which the ranks run (staged is numpy_ref)."""
    backend = plugrad.backend.get_device("numpy_ref" if device == "staged" else device).backend
    return [d for d in dt.ALL.values() if d.name in backend.dtypes]


@pytest.fixture(scope="module", params=[2, 3], ids=lambda n: f"{n}ranks")
def outcomes(request, tmp_path_factory):
    return run_checks("collectives.py", request.param, tmp_path_factory.mktemp("collectives"))


def test_all_reduce_every_op_on_every_dtype_and_device(outcomes):
    # sum, product, min, max and avg (floating) or band/bor/bxor (integer, bool)
    count = outcomes.assert_ok("all_reduce-")
    expected = 0
    for device in DEVICES:
        dtypes = _declared(device)
        expected += sum(5 if d.is_floating else 7 for d in dtypes) + len(dtypes)
    assert count == expected


@pytest.mark.parametrize(
    "family",
    ["broadcast-", "all_gather-", "all_gather_into_tensor-", "reduce_scatter_tensor-", "gather-",
     "scatter-", "send-recv-ring-", "irecv-from-", "barrier", "objects-"],
)  # fmt: skip
def test_collective_family_matches_numpy(outcomes, family):
    outcomes.assert_ok(family)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "uint8", "float16"])
def test_dtypes_without_mpi_arithmetic_reach_mpi_as_numpy_buffers(outcomes, dtype):
    # reduced by MPI (integers) or by a NumPy ufunc in a user-defined MPI op (float16)
    for family in ("sum", "max", "gather"):
        outcomes.assert_ok(f"process-group-{family}-{dtype}")


def test_every_dtype_was_covered(outcomes):
    for device in DEVICES:
        for dtype in _declared(device):
            outcomes.assert_ok(f"broadcast-{device}-{dtype.name}")


@pytest.mark.parametrize("what", ["dtype", "shape", "op"])
def test_mismatched_arguments_across_ranks_are_caught_and_named(outcomes, what):
    outcomes.assert_ok(f"mismatched-{what}-is-named")


def test_recv_into_another_shape_names_both(outcomes):
    outcomes.assert_ok("recv-of-another-shape-is-named")


def test_bad_arguments_raise_with_the_fix(outcomes):
    outcomes.assert_ok("bad-arguments-raise-locally")


def test_wait_times_out_naming_the_call(outcomes):
    outcomes.assert_ok("wait-timeout-names-the-call")


def test_world_state(outcomes):
    outcomes.assert_ok("world")

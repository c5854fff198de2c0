"""SyncBatchNorm: batch normalization whose statistics cover the batches of all ranks.

In training, each channel's mean and variance are those of the global batch (the ranks'
batches together): sums and counts are all-reduced, and so are their gradients in backward,
so the result equals BatchNorm over the concatenated batch in one process. In eval mode, or
without a process group of more than one rank, it is BatchNorm.
"""

from __future__ import annotations

from plugrad.autograd.function import Function, FunctionCtx
from plugrad.autograd.grad_mode import no_grad
from plugrad.autograd.tensor import Tensor, cat
from plugrad.distributed import world
from plugrad.distributed.collectives import all_reduce
from plugrad.distributed.process_group import ProcessGroup

from .module import Module
from .normalization import BatchNorm1d


class _AllReduceSum(Function):
    """Sum over ranks; its gradient is the sum over ranks of the incoming gradients."""

    @staticmethod
    def forward(ctx: FunctionCtx, x: Tensor, group: ProcessGroup) -> Tensor:
        ctx.group = group
        out = x.clone()
        all_reduce(out, group=group)
        return out

    @staticmethod
    def backward(ctx: FunctionCtx, grad: Tensor) -> tuple[Tensor, None]:
        out = grad.clone()
        all_reduce(out, group=ctx.group)
        return out, None


class SyncBatchNorm(BatchNorm1d):
    """BatchNorm over (N, C, *) with statistics all-reduced across the ranks of
    `process_group` (default: the default group) in training."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        process_group: ProcessGroup | None = None,
        device: object = None,
        dtype: object = None,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        object.__setattr__(self, "process_group", process_group)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        if input.ndim < 2 or input.shape[1] != self.num_features:
            raise ValueError(
                f"SyncBatchNorm({self.num_features}) expects input of shape (N, "
                f"{self.num_features}, *), got {input.shape}"
            )
        group = self.process_group
        if group is None and world.is_initialized():
            group = world.default_group()
        if not self.training or group is None or group.size == 1:
            return self._normalize(input)
        channels = self.num_features
        axes = (0,) + tuple(range(2, input.ndim))
        shape = (1, channels) + (1,) * (input.ndim - 2)
        local_count = input.numel() // channels
        counted = Tensor([float(local_count)], dtype=input.dtype, device=input.device)
        totals = _AllReduceSum.apply(cat([input.sum(axes), counted]), group)
        count = float(totals[channels].item())
        if count <= 1:
            raise ValueError(
                f"SyncBatchNorm needs more than one value per channel over all ranks, got {count:g}"
            )
        mean = (totals[:channels] / count).reshape(shape)
        centered = input - mean
        var = _AllReduceSum.apply((centered * centered).sum(axes), group) / count
        if self.training and self.track_running_stats:
            self._update_running(mean.detach().reshape(channels), var.detach(), count)
        out = centered * (var.reshape(shape) + self.eps).rsqrt()
        if self.weight is not None:
            out = out * self.weight.reshape(shape)
        if self.bias is not None:
            out = out + self.bias.reshape(shape)
        return out

    def _update_running(self, mean: Tensor, var: Tensor, count: float) -> None:
        with no_grad():
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.item())
            else:
                factor = self.momentum
            self.running_mean.mul_(1.0 - factor).add_(mean * factor)
            self.running_var.mul_(1.0 - factor).add_(var * (count / (count - 1)) * factor)

    @classmethod
    def convert_sync_batchnorm(
        cls, module: Module, process_group: ProcessGroup | None = None
    ) -> Module:
        """`module` with every BatchNorm1d replaced by a SyncBatchNorm holding the same
        parameters and buffers (the module itself when it is one)."""
        if isinstance(module, BatchNorm1d) and not isinstance(module, SyncBatchNorm):
            converted = cls.__new__(cls)
            Module.__init__(converted)
            converted.__dict__.update(
                {k: v for k, v in module.__dict__.items() if k not in ("_hooks",)}
            )
            object.__setattr__(converted, "process_group", process_group)
            return converted
        for name, child in list(module._modules.items()):
            if child is not None:
                replaced = cls.convert_sync_batchnorm(child, process_group)
                if replaced is not child:
                    module._modules[name] = replaced
        return module

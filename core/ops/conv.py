"""2-D convolution (cross-correlation, NCHW) on the backend's conv kernels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import arguments
from ..amp.casting import autocast_op
from ..ndarray import NDArray
from .base import Op

if TYPE_CHECKING:
    from ..autograd.tensor import Tensor

Pair = tuple[int, int]


def output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


class ConvArguments:
    """conv2d's stride, padding, dilation and groups, checked as torch checks them.

    padding is ints, 'valid' (none) or 'same' (the output keeps the input's size; stride 1
    only). 'same' pads dilation * (kernel - 1) in all, half before; when that is odd the extra
    row and column go after (bottom, right), as torch does, through `extra`."""

    def __init__(
        self, fn: str, kernel: tuple[int, ...] | None, stride: object, padding: object,
        dilation: object, groups: object,
    ) -> None:  # fmt: skip
        self.stride = arguments.int_tuple(fn, "stride", stride, 2, minimum=1)
        self.dilation = arguments.int_tuple(fn, "dilation", dilation, 2, minimum=1)
        self.groups = arguments.integer(fn, "groups", groups, minimum=1)
        self.extra: Pair = (0, 0)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(
                    f"{fn}(): padding must be 'same', 'valid', an int or a pair of ints, got "
                    f"{padding!r}"
                )
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(
                    f"{fn}(): padding='same' is not supported for strided convolutions (stride "
                    f"{self.stride}); use stride=1, or give the padding as ints"
                )
            self.padding: Pair = (0, 0)
            if padding == "same" and kernel is not None:
                total = [d * (k - 1) for d, k in zip(self.dilation, kernel)]
                self.padding = (total[0] // 2, total[1] // 2)
                self.extra = (total[0] % 2, total[1] % 2)
        else:
            self.padding = arguments.int_tuple(  # type: ignore[assignment]
                fn, "padding", padding, 2, minimum=0, alternatives="'same', 'valid', "
            )


@autocast_op("conv2d")
def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """Cross-correlation over NCHW input with (O, C/groups, KH, KW) weights. padding: ints,
    'valid' (none) or 'same' (the output keeps the input's H and W), as in torch."""
    from ..autograd.tensor import Tensor, pad

    if not isinstance(x, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(
            f"conv2d(): input and weight must be Tensors, got {type(x).__name__} and "
            f"{type(weight).__name__}"
        )
    kernel = weight.shape[2:] if weight.ndim == 4 else None
    args = ConvArguments("conv2d", kernel, stride, padding, dilation, groups)
    if any(args.extra):  # 'same' with an even extent: one more row/column after, as torch
        x = pad(x, (0, args.extra[1], 0, args.extra[0]))
    out = Conv2d(args.stride, args.padding, args.dilation, args.groups)(x, weight)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return out


class Conv2d(Op):
    saved = (0, 1)

    def __init__(self, stride: Pair, padding: Pair, dilation: Pair, groups: int) -> None:
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups

    def _args(self) -> tuple[Pair, Pair, Pair, int]:
        return self.stride, self.padding, self.dilation, self.groups

    def compute(self, x: NDArray, w: NDArray) -> NDArray:
        x._same_device(w)
        if x.ndim != 4 or w.ndim != 4:
            raise ValueError(
                f"conv2d expects input (N, C, H, W) and weight (O, C/groups, KH, KW), "
                f"got {x.shape} and {w.shape}"
            )
        n, c, h, wd = x.shape
        o, cg, kh, kw = w.shape
        if kh <= 0 or kw <= 0:
            raise ValueError(f"conv2d: the kernel size must be at least 1x1, got weight {w.shape}")
        if c != cg * self.groups or o % self.groups:
            raise ValueError(
                f"conv2d with groups={self.groups}: input has {c} channels and weight {w.shape} "
                f"expects {cg * self.groups}; out channels {o} must divide by groups"
            )
        oh = output_size(h, kh, self.stride[0], self.padding[0], self.dilation[0])
        ow = output_size(wd, kw, self.stride[1], self.padding[1], self.dilation[1])
        if oh <= 0 or ow <= 0:
            raise ValueError(
                f"conv2d: input {x.shape} is too small for kernel {(kh, kw)} with padding "
                f"{self.padding} and dilation {self.dilation}"
            )
        if not x.dtype.is_floating or x.dtype != w.dtype:
            raise TypeError(
                f"conv2d needs floating input and weight of one dtype, got {x.dtype.name} and "
                f"{w.dtype.name}"
            )
        x, w = x.compact(), w.compact()
        out = NDArray.empty((n, o, oh, ow), x.dtype, x.device)
        x.backend.conv2d(x.strided(), w.strided(), out.strided(), *self._args())
        return out

    def gradient(self, g: Tensor, node: Tensor) -> tuple[Tensor | None, Tensor | None]:
        x, w = node._inputs
        return (
            Conv2dBackwardInput(x.shape, self)(g, w) if x.requires_grad else None,
            Conv2dBackwardWeight(w.shape, self)(x, g) if w.requires_grad else None,
        )


class Conv2dBackwardInput(Op):
    """d conv / d x as an op of (grad_out, w), so that second derivatives exist."""

    saved = (0, 1)

    def __init__(self, x_shape: tuple[int, ...], conv: Conv2d) -> None:
        self.x_shape, self.conv = x_shape, conv

    def compute(self, g: NDArray, w: NDArray) -> NDArray:
        g, w = g.compact(), w.compact()
        out = NDArray.empty(self.x_shape, g.dtype, g.device)
        g.backend.conv2d_backward_input(g.strided(), w.strided(), out.strided(), *self.conv._args())
        return out

    def gradient(self, gg: Tensor, node: Tensor) -> tuple[Tensor, Tensor]:
        g, w = node._inputs
        # The map is bilinear in (g, w): conv(gg, w) for g, and the weight gradient for w.
        return self.conv(gg, w), Conv2dBackwardWeight(w.shape, self.conv)(gg, g)


class Conv2dBackwardWeight(Op):
    """d conv / d w as an op of (x, grad_out)."""

    saved = (0, 1)

    def __init__(self, w_shape: tuple[int, ...], conv: Conv2d) -> None:
        self.w_shape, self.conv = w_shape, conv

    def compute(self, x: NDArray, g: NDArray) -> NDArray:
        x, g = x.compact(), g.compact()
        out = NDArray.empty(self.w_shape, x.dtype, x.device)
        x.backend.conv2d_backward_weight(
            x.strided(), g.strided(), out.strided(), *self.conv._args()
        )
        return out

    def gradient(self, gw: Tensor, node: Tensor) -> tuple[Tensor, Tensor]:
        x, g = node._inputs
        return Conv2dBackwardInput(x.shape, self.conv)(g, gw), self.conv(x, gw)

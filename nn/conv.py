"""Conv1d, Conv2d and ConvTranspose2d: learned cross-correlations (and their adjoint), on
the backend's conv2d kernels."""

from __future__ import annotations

from plugrad import arguments
from plugrad.autograd.tensor import Tensor, conv2d
from plugrad.factory import empty
from plugrad.ops.conv import ConvArguments

from . import init
from .module import Module
from .parameter import Parameter


class Conv2d(Module):
    """(N, in_channels, H, W) -> (N, out_channels, OH, OW).

    weight is (out_channels, in_channels / groups, KH, KW) and bias (out_channels,), both
    initialized as torch does: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in/groups * KH * KW.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        device: object = None,
        dtype: object = None,
    ) -> None:
        super().__init__()
        in_channels = arguments.integer("Conv2d", "in_channels", in_channels, minimum=1)
        out_channels = arguments.integer("Conv2d", "out_channels", out_channels, minimum=1)
        self.kernel_size = arguments.int_tuple("Conv2d", "kernel_size", kernel_size, 2, 1)
        args = ConvArguments("Conv2d", self.kernel_size, stride, padding, dilation, groups)
        if in_channels % args.groups or out_channels % args.groups:
            raise ValueError(
                f"Conv2d: in_channels ({in_channels}) and out_channels ({out_channels}) must "
                f"both divide by groups ({args.groups})"
            )
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, args.groups
        self.stride, self.dilation = args.stride, args.dilation
        self.padding = padding if isinstance(padding, str) else args.padding
        shape = (out_channels, in_channels // self.groups, *self.kernel_size)
        self.weight = Parameter(empty(*shape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh weights from the default initialization."""
        init._default_layer_init(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                      self.groups)  # fmt: skip

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        return text + ("" if self.bias is not None else ", bias=False")


class Conv1d(Module):
    """(N, in_channels, L) -> (N, out_channels, OL); weight (out, in / groups, K)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int],
        stride: int | tuple[int] = 1,
        padding: int | tuple[int] | str = 0,
        dilation: int | tuple[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: object = None,
        dtype: object = None,
    ) -> None:
        super().__init__()
        _check_padding_mode("Conv1d", padding_mode)
        (k,) = arguments.int_tuple("Conv1d", "kernel_size", kernel_size, 1, 1)
        self.stride = arguments.int_tuple("Conv1d", "stride", stride, 1, 1)
        self.dilation = arguments.int_tuple("Conv1d", "dilation", dilation, 1, 1)
        self.padding = padding if isinstance(padding, str) else arguments.int_tuple(
            "Conv1d", "padding", padding, 1, 0, "'same', 'valid', ")  # fmt: skip
        _check_groups("Conv1d", in_channels, out_channels, groups)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = (k,)
        self.weight = Parameter(empty(out_channels, in_channels // groups, k, dtype=dtype,
                                      device=device))  # fmt: skip
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        init._default_layer_init(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        from . import functional as F

        return F.conv1d(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)  # fmt: skip

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )


class ConvTranspose2d(Module):
    """(N, in_channels, H, W) -> (N, out_channels, OH, OW), the adjoint of Conv2d; weight is
    (in_channels, out_channels / groups, KH, KW), as torch (fan_in from weight.shape[1:])."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        output_padding: int | tuple[int, int] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | tuple[int, int] = 1,
        padding_mode: str = "zeros",
        device: object = None,
        dtype: object = None,
    ) -> None:
        super().__init__()
        fn = "ConvTranspose2d"
        _check_padding_mode(fn, padding_mode)
        self.kernel_size = arguments.int_tuple(fn, "kernel_size", kernel_size, 2, 1)
        self.stride = arguments.int_tuple(fn, "stride", stride, 2, 1)
        self.padding = arguments.int_tuple(fn, "padding", padding, 2, 0)
        self.output_padding = arguments.int_tuple(fn, "output_padding", output_padding, 2, 0)
        self.dilation = arguments.int_tuple(fn, "dilation", dilation, 2, 1)
        _check_groups(fn, in_channels, out_channels, groups)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        shape = (in_channels, out_channels // groups, *self.kernel_size)
        self.weight = Parameter(empty(*shape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        init._default_layer_init(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        from . import functional as F

        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)  # fmt: skip

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )


def _check_groups(fn: str, in_channels: int, out_channels: int, groups: int) -> None:
    arguments.integer(fn, "in_channels", in_channels, minimum=1)
    arguments.integer(fn, "out_channels", out_channels, minimum=1)
    groups = arguments.integer(fn, "groups", groups, minimum=1)
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"{fn}: in_channels ({in_channels}) and out_channels ({out_channels}) must both "
            f"divide by groups ({groups})"
        )


def _check_padding_mode(fn: str, padding_mode: str) -> None:
    if padding_mode != "zeros":
        raise ValueError(
            f"{fn}: padding_mode {padding_mode!r} is not available; only 'zeros' is (pad the "
            "input with F.pad beforehand for other modes)"
        )

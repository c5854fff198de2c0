"""Differentiable ops: each has compute() on NDArrays and gradient() in Tensors."""

"""Mixed precision for every model family: ``config.model.dtype`` (computation) and ``config.model.param_dtype``
(storage of the parameters, hence of the optimizer's moments).

A family whose module declares ``dtype`` itself (the transformers, the RNNs, the seq2seq models) places the
casts where it knows best (its logits and softmax in float32). Every other module is used through
``with_precision(cls)``: the same module with the missing fields added, whose ``apply`` computes in ``dtype``
the way a mixed-precision policy does (DeepMind's jmp, Haiku's mixed precision): the parameters and the
floating-point inputs are cast to ``dtype`` on the way in, the floating-point outputs back to float32 on the way
out, so losses, metrics and the optimizer see float32. The parameters keep their float32 master copy (the casts
are inside the differentiated function, so their gradients arrive in float32), their names and their shapes:
a bf16 run's checkpoint is a float32 run's. flax's normalisation layers reduce in float32 whatever their
inputs (``force_float32_reductions``), so the norms stay float32.

``param_dtype`` (``"float32"`` by default) stores the parameters in that type from ``init`` on: ``"bfloat16"``
is pure bf16 training, with bf16 optimizer moments.
"""

import dataclasses
import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

COMPUTE_DTYPES = ("float32", "bfloat16", "float16", "float64")  # float64: reference runs (x64 enabled)
PARAM_DTYPES = ("float32", "bfloat16")


def _cast_floats(tree: Any, dtype: Any) -> Any:
  return jax.tree.map(lambda a: a.astype(dtype) if hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jnp.floating)
                      else a, tree)


def _own_fields(cls: type) -> set[str]:
  return {f.name for f in dataclasses.fields(cls)}


@functools.cache
def with_precision(cls: type[nn.Module]) -> type[nn.Module]:
  """``cls`` with the fields ``dtype`` and ``param_dtype`` it lacks (both ``"float32"`` by default), computing
  and storing as they say (see the module docstring). A class that has both is returned as it is."""
  fields = _own_fields(cls)
  native_dtype, native_params = "dtype" in fields, "param_dtype" in fields
  if (native_dtype and native_params) or not issubclass(cls, nn.Module):  # a GAN's pair declares both itself
    return cls
  namespace: dict[str, Any] = {"__module__": cls.__module__, "__qualname__": cls.__qualname__,
                               "__doc__": cls.__doc__, "__annotations__": {}, "_precision_of": cls}
  if not native_dtype:
    namespace["__annotations__"]["dtype"] = Any
    namespace["dtype"] = "float32"
  if not native_params:
    namespace["__annotations__"]["param_dtype"] = Any
    namespace["param_dtype"] = "float32"

  def init(self, *args, **kwargs):
    variables = super(subclass, self).init(*args, **kwargs)
    stored = jnp.dtype(self.param_dtype)
    if native_params or stored == jnp.float32 or "params" not in variables:
      return variables
    return {**variables, "params": _cast_floats(variables["params"], stored)}

  def apply(self, variables, *args, **kwargs):
    compute = jnp.dtype(self.dtype)
    if native_dtype or compute == jnp.float32:
      return super(subclass, self).apply(variables, *args, **kwargs)
    if "params" in variables:
      variables = {**variables, "params": _cast_floats(variables["params"], compute)}
    passed = {k: v for k, v in kwargs.items() if k in ("rngs", "method", "mutable", "capture_intermediates")}
    inputs = _cast_floats({k: v for k, v in kwargs.items() if k not in passed}, compute)
    out = super(subclass, self).apply(variables, *_cast_floats(args, compute), **inputs, **passed)
    return _cast_floats(out, jnp.float32)

  namespace["init"] = init
  if not native_dtype:
    namespace["apply"] = apply
  subclass = type(cls.__name__, (cls,), namespace)
  return subclass


def family(model: Any) -> type:
  """The model's own class: ``with_precision``'s subclass answers with the class it extends."""
  cls = model if isinstance(model, type) else type(model)
  return cls.__dict__.get("_precision_of", cls)


def check(model_config: Any) -> None:
  """``ValueError`` naming the field when ``config.model.dtype``/``param_dtype`` is not a type bigjax trains in."""
  for field, allowed in (("dtype", COMPUTE_DTYPES), ("param_dtype", PARAM_DTYPES)):
    value = model_config.get(field, "float32")
    if str(value) not in allowed:
      raise ValueError(f"config.model.{field}={value!r}: expected one of {', '.join(allowed)}")

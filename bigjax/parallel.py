"""Device mesh, parameter sharding rules, multi-host start-up, host batches -> global arrays.

One code path from one CPU to a pod: ``jax.jit`` with explicit shardings over a named mesh with axes
``data`` (batch only), ``fsdp`` (batch AND parameters) and ``tensor`` (parameters only).
"""

import dataclasses
import re
from typing import Any, Sequence

import flax.linen as nn
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

MESH_AXES = ("data", "fsdp", "tensor")
# The batch is split over every axis that holds whole model replicas or parameter shards.
BATCH_AXES = ("data", "fsdp")


class ShardingError(ValueError):
  """A mesh or sharding rule that cannot be applied; the message names the axis or parameter."""


def initialize_distributed(coordinator_address: str | None = None, num_processes: int | None = None,
                           process_id: int | None = None) -> None:
  """``jax.distributed.initialize``; on TPU VMs and SLURM all three arguments may be None (auto-detected)."""
  jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                             process_id=process_id)


# Dense bf16 peak of one device, TFLOP/s, from the vendors' data sheets (NVIDIA's without sparsity; a TPU v4 or
# v5p "device" is one chip of 2 TensorCores, as jax counts them). MFU is measured against this whatever the run's
# dtype: the usual convention, so a float32 run shows how much of the chip's bf16 capacity it leaves unused.
# Matched in order against jax's device_kind, lower-cased.
PEAK_TFLOPS = (
    ("h100 pcie", 756.0),
    ("h100", 989.0),      # SXM / HBM3
    ("h200", 989.0),
    ("a100", 312.0),
    ("tpu v4", 275.0),
    ("tpu v5 lite", 197.0),  # v5e
    ("tpu v5e", 197.0),
    ("tpu v5p", 459.0),
    ("tpu v5", 459.0),    # v5p reports itself as "TPU v5"
)


def peak_tflops(device_kind: str) -> float | None:
  """The device's dense bf16 peak in TFLOP/s, or None for a device not in ``PEAK_TFLOPS`` (a CPU, say)."""
  kind = device_kind.lower()
  return next((peak for name, peak in PEAK_TFLOPS if name in kind), None)


def mesh_shape(mesh_config: Any, num_devices: int) -> dict[str, int]:
  """Axis sizes from ``config.mesh`` (one of them may be -1: it takes the devices left over)."""
  sizes = {axis: int(mesh_config[axis]) for axis in MESH_AXES}
  fill = [a for a, s in sizes.items() if s == -1]
  if len(fill) > 1:
    raise ShardingError(f"config.mesh: at most one axis may be -1, got {fill}")
  for axis, size in sizes.items():
    if size == 0 or size < -1:
      raise ShardingError(f"config.mesh.{axis}={size} must be a positive size or -1")
  known = int(np.prod([s for s in sizes.values() if s != -1]))
  if fill:
    if num_devices % known:
      raise ShardingError(f"config.mesh: {num_devices} devices cannot be split into {sizes}")
    sizes[fill[0]] = num_devices // known
  if int(np.prod(list(sizes.values()))) != num_devices:
    raise ShardingError(f"config.mesh {sizes} needs {int(np.prod(list(sizes.values())))} devices, "
                        f"but {num_devices} are available")
  return sizes


def make_mesh(mesh_config: Any, devices: Sequence[jax.Device] | None = None) -> Mesh:
  devices = list(jax.devices() if devices is None else devices)
  sizes = mesh_shape(mesh_config, len(devices))
  shape = tuple(sizes[a] for a in MESH_AXES)
  if devices == jax.devices():
    return jax.make_mesh(shape, MESH_AXES, axis_types=(jax.sharding.AxisType.Auto,) * len(MESH_AXES))
  return Mesh(np.asarray(devices).reshape(shape), MESH_AXES)


def path_str(path: tuple) -> str:
  """``(DictKey('params'), DictKey('Dense_0'), DictKey('kernel'))`` -> ``'params/Dense_0/kernel'``."""
  parts = []
  for key in path:
    for attr in ("key", "name", "idx"):
      if hasattr(key, attr):
        parts.append(str(getattr(key, attr)))
        break
    else:
      parts.append(str(key))
  return "/".join(parts)


def _axis_size(mesh: Mesh, axes: Any) -> int:
  if axes is None:
    return 1
  axes = (axes,) if isinstance(axes, str) else tuple(axes)
  return int(np.prod([mesh.shape[a] for a in axes]))


def leaf_spec(name: str, shape: tuple[int, ...], mesh: Mesh, rules: Sequence[tuple[str, Sequence]],
              fsdp_min_size: int) -> P:
  """PartitionSpec of one array named ``name`` (a '/'-joined tree path).

  The first rule whose regex matches (``re.search``) gives the spec, one entry per dimension, counted
  from the last (so ``('fsdp', 'tensor')`` on a ``[in, out]`` kernel and on a ``[h, w, in, out]`` conv
  kernel both shard ``in`` over fsdp and ``out`` over tensor). Without a matching rule, arrays of at
  least ``fsdp_min_size`` elements shard their largest fsdp-divisible dimension over ``fsdp``
  (ZeRO-3 style); everything else is replicated.
  """
  for pattern, spec in rules:
    if re.search(pattern, name):
      spec = tuple(spec)
      if len(spec) > len(shape):
        spec = spec[len(spec) - len(shape):]
      full = (None,) * (len(shape) - len(spec)) + spec
      for dim, axes in zip(shape, full):
        if dim % _axis_size(mesh, axes):
          raise ShardingError(f"sharding rule {pattern!r} -> {spec} does not divide {name} of shape {shape}: "
                              f"dimension {dim} over mesh axes {axes} of size {_axis_size(mesh, axes)}")
      return P(*full)
  fsdp = mesh.shape["fsdp"]
  if fsdp > 1 and int(np.prod(shape, dtype=np.int64)) >= fsdp_min_size:
    for dim in sorted(range(len(shape)), key=lambda d: -shape[d]):
      if shape[dim] % fsdp == 0:
        spec = [None] * len(shape)
        spec[dim] = "fsdp"
        return P(*spec)
  return P()


def logical_spec(name: str, shape: tuple[int, ...], names: Sequence[str | None], mesh: Mesh,
                 logical_rules: Sequence[tuple[str, Any]]) -> P:
  """PartitionSpec of an array whose dimensions carry logical ``names`` (``("embed", "mlp")``).

  ``logical_rules`` map a logical name to mesh axes (``("mlp", "tensor")``, ``("embed", "fsdp")``); a name
  without a rule, or mapped to None, is replicated. A mesh axis is used at most once per array (the first
  dimension that asks for it gets it), as flax's logical partitioning does.
  """
  table = {logical: axes for logical, axes in logical_rules}
  used: set[str] = set()
  spec = []
  for dim, logical in zip(shape, names):
    axes = table.get(logical) if logical is not None else None
    axes_tuple = () if axes is None else ((axes,) if isinstance(axes, str) else tuple(axes))
    if any(a in used for a in axes_tuple):
      axes, axes_tuple = None, ()
    if axes_tuple and dim % _axis_size(mesh, axes_tuple):
      raise ShardingError(f"logical rule {logical!r} -> {axes} does not divide {name} of shape {shape}: "
                          f"dimension {dim} over mesh axes {axes_tuple} of size {_axis_size(mesh, axes_tuple)}")
    used.update(axes_tuple)
    spec.append(axes if axes_tuple else None)
  return P(*spec)


@dataclasses.dataclass(frozen=True)
class AxisNames:
  """Logical names of one array's dimensions; a pytree leaf (a plain tuple would be a pytree node)."""
  names: tuple[str | None, ...]


def logical_names(boxed_tree: Any) -> Any:
  """The tree with each ``nn.LogicallyPartitioned`` leaf replaced by its ``AxisNames``, every other by None.

  Its paths equal those of ``nn.meta.unbox(boxed_tree)``, so it lines up with the unboxed state.
  """
  is_box = lambda x: isinstance(x, nn.LogicallyPartitioned)
  return jax.tree.map(lambda x: AxisNames(tuple(x.names)) if is_box(x) else None, boxed_tree, is_leaf=is_box)


def tree_shardings(tree: Any, mesh: Mesh, rules: Sequence[tuple[str, Sequence]] = (),
                   fsdp_min_size: int = 2**14, logical_names: Any = None,
                   logical_rules: Sequence[tuple[str, Any]] = ()) -> Any:
  """NamedSharding for every leaf of ``tree`` (arrays or ShapeDtypeStructs).

  A leaf with logical axis names (``logical_names``, a tree like ``tree`` holding a names tuple or None
  per leaf) is placed by ``logical_rules``; any other leaf by the path-regex ``rules`` and auto-FSDP.
  Optimizer moments live under paths ending in the parameter's own path and keep its logical names, so
  both ways place them like their parameter; scalars (step, Adam's count) are replicated.
  """
  if logical_names is None:
    names_by_path = {}
  else:
    flat, _ = jax.tree_util.tree_flatten_with_path(logical_names, is_leaf=lambda x: isinstance(x, AxisNames))
    names_by_path = {path_str(path): leaf.names for path, leaf in flat}

  def one(path, leaf):
    name = path_str(path)
    if name in names_by_path:
      spec = logical_spec(name, tuple(leaf.shape), names_by_path[name], mesh, logical_rules)
    else:
      spec = leaf_spec(name, tuple(leaf.shape), mesh, rules, fsdp_min_size)
    return NamedSharding(mesh, spec)
  return jax.tree_util.tree_map_with_path(one, tree)


def batch_sharding(mesh: Mesh, leading_dims: int = 0) -> NamedSharding:
  """Examples split over ``data`` x ``fsdp``; ``leading_dims`` unsharded axes in front (e.g. steps)."""
  return NamedSharding(mesh, P(*([None] * leading_dims), BATCH_AXES))


def batch_shards(mesh: Mesh) -> int:
  return _axis_size(mesh, BATCH_AXES)


def host_to_global(host_batch: dict[str, np.ndarray], mesh: Mesh, leading_dims: int = 0) -> dict[str, jax.Array]:
  """Assemble every process's local batch into one global array sharded over the batch axes.

  Each process passes only its own examples (its slice of the global batch, in process order).
  """
  sharding = batch_sharding(mesh, leading_dims)
  return {k: jax.make_array_from_process_local_data(sharding, v) for k, v in host_batch.items()}


def replicate(tree: Any, mesh: Mesh) -> Any:
  """A pytree of host arrays, the same in every process, as global arrays with a full copy on each device."""
  sharding = NamedSharding(mesh, P())
  return jax.tree.map(lambda a: jax.make_array_from_callback(np.shape(a), sharding, lambda index: np.asarray(a)[index]),
                      tree)

"""``python -m bigjax.preflight --config=configs/x.py --devices=N [--config.mesh.data=...]``: compile before you launch.

Builds the run's state abstractly and compiles its train and eval steps ahead of time
(``jit(...).lower(...).compile()``) for the target mesh on N devices, then prints the mesh, where
the largest parameters live, and the compiled memory per device. Nothing is trained or written.
A mesh that does not divide the batch, a sharding rule that does not divide a parameter, or a
step that needs more than ``--device_memory_gb`` per device fails here, on the laptop, not on the pod.

Without accelerators the N devices are CPU devices (``--xla_force_host_platform_device_count``):
the partitioning, and so the per-device parameter, optimizer and batch memory, is the target's;
temporaries and generated code are what XLA's CPU backend needs and only approximate a TPU's or GPU's.

Exit codes: 0 fits, 1 does not fit in --device_memory_gb, 2 bad config or data.
"""

import os
import sys

from absl import app, flags
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file[:variant].", lock_config=True)
_DEVICES = flags.DEFINE_integer("devices", None, "Devices to compile for (default: those present).")
_MEMORY = flags.DEFINE_float("device_memory_gb", 0.0, "Fail if the step needs more per device (0: no limit).")
_TOP = flags.DEFINE_integer("show_params", 8, "How many of the largest parameters to list with their sharding.")
flags.mark_flags_as_required(["config"])


def _gb(n: float) -> str:
  return f"{n / 2**30:.3f} GiB"


def main(argv: list[str]) -> int:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if _DEVICES.value:  # must precede the first jax import
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               f" --xla_force_host_platform_device_count={_DEVICES.value}").strip()
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np
  from bigjax import data, parallel, program
  from bigjax.configs import ConfigError

  config = _CONFIG.value
  try:
    if _DEVICES.value and jax.device_count() != _DEVICES.value:
      raise ConfigError(f"--devices={_DEVICES.value} but {jax.device_count()} {jax.default_backend()} "
                              f"devices are present; on an accelerator host, omit --devices")
    plan = program.plan(config)
    # No pre-trained parts: they change the first parameters or the sample scoring, not the compiled steps.
    built = program.build(config, plan.family, plan.model, plan.mesh, program.example_spec(plan.train_ds.arrays),
                          plan.sched, program.example_spec(plan.eval_ds.arrays))
  except (ConfigError, data.DataError, parallel.ShardingError) as error:
    print(f"preflight: {error}", file=sys.stderr)
    return 2

  print(f"config:   {config.model.name}, {built.num_params:,} parameters, global batch {config.data.batch_size} "
        f"x {plan.sched.steps_per_call} steps per call")
  print(f"mesh:     {dict(plan.mesh.shape)} over {jax.device_count()} {jax.devices()[0].device_kind} devices; "
        f"{config.data.batch_size // parallel.batch_shards(plan.mesh)} examples per device per step")
  print(f"compiled: train + eval steps in {built.compile_time:.1f} s")
  leaves = jax.tree_util.tree_leaves_with_path(built.abstract_state.params)
  leaves.sort(key=lambda kv: -int(np.prod(kv[1].shape)))
  print(f"\n| parameter | shape | sharding | per device |\n|---|---|---|---:|")
  for path, leaf in leaves[:_TOP.value]:
    shard = leaf.sharding.shard_shape(leaf.shape)
    print(f"| {parallel.path_str(path)} | {list(leaf.shape)} | {leaf.sharding.spec} | "
          f"{int(np.prod(shard)) * leaf.dtype.itemsize:,} B |")
  memory = built.memory
  print("\n| train step, per device | bytes |\n|---|---:|")
  for name, value in memory.items():
    print(f"| {name.replace('_size_in_bytes', '')} | {value:,} |")
  needed = (memory.get("argument_size_in_bytes", 0) + memory.get("output_size_in_bytes", 0)
            + memory.get("temp_size_in_bytes", 0) - memory.get("alias_size_in_bytes", 0))
  print(f"| **total (arguments + outputs + temporaries - aliased)** | **{needed:,}** ({_gb(needed)}) |")
  if _MEMORY.value and needed > _MEMORY.value * 2**30:
    print(f"\npreflight: the train step needs {_gb(needed)} per device, more than --device_memory_gb="
          f"{_MEMORY.value}; shard more (config.mesh.fsdp, config.sharding.rules) or lower config.data.batch_size",
          file=sys.stderr)
    return 1
  return 0


if __name__ == "__main__":
  app.run(lambda argv: sys.exit(main(argv)))

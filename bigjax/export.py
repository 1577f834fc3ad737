"""``bigjax export --workdir=DIR [--out=PATH]``: a trained run's inference function, serialised for serving.

The run's newest checkpoint (the parameters it evaluated: its average where it kept one) and its task's
``Predictor`` (``bigjax.tasks``: a classifier's logits, a language model's next-token logits, a recommender's pair
scores, a GAN generator's images) become one file, ``<workdir>/export.npz`` by default: a NumPy zip of arrays,
readable with ``allow_pickle=False`` and nothing of bigjax:

  ``function``          uint8: ``jax.export``'s serialisation of ``f(variables, inputs) -> outputs``, lowered for
                        ``platforms`` (CPU, CUDA and TPU by default) with a symbolic batch size ``b``: any batch works
                        (and any length ``t`` of a language model's tokens, up to a Transformer's ``max_len``)
  ``meta``              JSON text: ``inputs`` ``{name: {"shape": ["b", ...], "dtype"}}`` and their ``constraints``,
                        ``outputs`` (shape and meaning), ``variables`` (the names below), ``platforms``, the run
                        (workdir, step, model, task, config, git revision) and, for text, its ``vocab``
                        (``vocab.json``: token ids)
  ``variables/<path>``  the variables ``f`` reads, one array per leaf, named by its path (``variables/Dense_0/kernel``;
                        a GAN's averaged generator: ``variables/params/...``, ``variables/batch_stats/...``); a
                        recommender's data (its users' histories, item features) is part of ``function``

Serving needs jax (a version that reads the serialisation: the same or newer) and NumPy::

  with np.load("export.npz", allow_pickle=False) as f:
    function = jax.export.deserialize(bytearray(f["function"]))
    meta = json.loads(str(f["meta"]))
    variables = {name: f[name] for name in meta["variables"]}
  logits = function.call(variables, {"image": images})   # images: [b, 28, 28, 1] float32

or, with bigjax, ``bigjax.export.load("export.npz")(image=images)``. The parameters stay apart from the function, so
they can be read, swapped or placed on devices without touching it.
"""

import dataclasses
import json
import os
import pathlib
import time
from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from bigjax import evaluate, program, runs
from bigjax.configs import ConfigError

FORMAT = "bigjax.export/1"
PLATFORMS = ("cpu", "cuda", "tpu")


def variable_names(tree: Any, prefix: str = "variables") -> list[str]:
  """``prefix/<path>`` of each leaf of ``tree``, in its flattening order (``variables/Dense_0/kernel``)."""
  leaves_with_paths, _ = jax.tree_util.tree_flatten_with_path(tree)
  names = [f"{prefix}/{jax.tree_util.keystr(path, simple=True, separator='/')}" for path, _ in leaves_with_paths]
  if len(set(names)) != len(names):
    raise ValueError(f"two variables share a name among {names}")
  return names


def export_workdir(workdir: str | pathlib.Path, out: str | pathlib.Path | None = None, *, step: int | None = None,
                   platforms: Sequence[str] = PLATFORMS) -> pathlib.Path:
  """Writes the inference function of the run in ``workdir`` (at its newest checkpoint, or ``step``) with its
  variables to ``out`` (default ``<workdir>/export.npz``; module docstring) and returns its path."""
  workdir, config = evaluate.run_dir(workdir)
  step, choice = evaluate.chosen_step(workdir, step)
  model, family, train_ds = runs.fitted_model(config)
  example = program.example_spec(train_ds.arrays)
  _, _, params = runs.restore_params(workdir, model, example, step=step)
  task = program.make_task(config, family, model, optax.identity())
  if task.predict is None:
    raise ConfigError(f"{workdir}: task {config.task.name!r} has no inference function to export (tasks.Predictor)")

  served = jax.device_get(task.predict.variables(params))
  names = variable_names(served)
  treedef = jax.tree.structure(served)
  values = dict(zip(names, jax.tree.leaves(served)))

  def function(variables: dict[str, jax.Array], inputs: dict[str, jax.Array]) -> jax.Array:
    return task.predict.apply(jax.tree.unflatten(treedef, [variables[n] for n in names]), inputs)

  inputs = task.predict.inputs(example)
  scope = jax.export.SymbolicScope(task.predict.constraints)  # one scope: "b" is the same size in every input
  dims = lambda shape: jax.export.symbolic_shape(", ".join(map(str, ("b", *shape))), scope=scope)
  input_specs = {k: jax.ShapeDtypeStruct(dims(shape), dtype) for k, (shape, dtype) in inputs.items()}
  variable_specs = {k: jax.ShapeDtypeStruct(np.shape(v), np.asarray(v).dtype) for k, v in values.items()}
  exported = jax.export.export(jax.jit(function), platforms=tuple(platforms))(variable_specs, input_specs)

  output = exported.out_avals[0]
  vocab = workdir / "vocab.json"
  meta = {
      "format": FORMAT,
      "inputs": {k: {"shape": ["b", *shape], "dtype": np.dtype(dtype).name} for k, (shape, dtype) in inputs.items()},
      "constraints": list(task.predict.constraints),
      "outputs": {"shape": [d if isinstance(d, int) else str(d) for d in output.shape], "dtype": output.dtype.name,
                  "meaning": task.predict.outputs},
      "variables": names,
      "platforms": list(exported.platforms),
      "workdir": str(workdir.absolute()),
      "step": step,
      "checkpoint": choice,
      "model": config.model.name,
      "task": config.task.name,
      "config": json.loads(config.to_json_best_effort(sort_keys=True)),
      "git_revision": runs.git_revision(),
      "jax_version": jax.__version__,
      "time": time.time(),
      "vocab": json.loads(vocab.read_text()) if vocab.exists() else None,
  }
  path = pathlib.Path(out) if out else workdir / "export.npz"
  if jax.process_index() == 0:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:  # a file object: np.savez would add ".npz" to a name
      np.savez(f, function=np.frombuffer(bytes(exported.serialize()), np.uint8), meta=np.array(json.dumps(meta)),
               **{k: np.asarray(v) for k, v in values.items()})
    os.replace(tmp, path)  # atomic: a server never reads half a file
  return path


@dataclasses.dataclass(frozen=True)
class Served:
  """An exported model: ``served(inputs)`` or ``served(name=array, ...)`` -> outputs, running ``function``
  (``jax.export.Exported``) on ``variables`` (on the default device). ``meta``: the file's ``meta``."""
  function: Any
  variables: dict[str, jax.Array]
  meta: dict[str, Any]

  def __call__(self, inputs: Mapping[str, Any] | None = None, /, **named: Any) -> jax.Array:
    inputs = {**(inputs or {}), **named}
    expected = self.meta["inputs"]
    if set(inputs) != set(expected):
      reads = ", ".join(f"{k} {v}" for k, v in expected.items())
      raise ValueError(f"inputs {sorted(inputs)}; this model reads {reads}")
    return self.function.call(self.variables, {k: jnp.asarray(v, expected[k]["dtype"]) for k, v in inputs.items()})


def load(path: str | pathlib.Path) -> Served:
  """The model ``export_workdir`` wrote to ``path``, ready to call."""
  with np.load(path, allow_pickle=False) as f:
    meta = json.loads(str(f["meta"]))
    if meta.get("format") != FORMAT:
      raise ValueError(f"{path} is not a bigjax export ({FORMAT}); its format: {meta.get('format')!r}")
    function = jax.export.deserialize(bytearray(f["function"].tobytes()))
    variables = {name: jax.device_put(f[name]) for name in meta["variables"]}
  return Served(function, variables, meta)

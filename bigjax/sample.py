"""``python -m bigjax.sample --workdir=DIR``: text from a trained language model's latest checkpoint.

Reads the run's ``config.json``, ``vocab.json`` and newest checkpoint, then samples with the task's
``generate`` (KV cache for a Transformer, carried state for an RNN)::

  python -m bigjax.sample --workdir=runs/shakespeare_char_gpt_cpu --prompt="ROMEO:" --num_tokens=500 \\
      --temperature=0.8 --top_k=20 --seed=0

Exit codes: 0 done, 2 the workdir holds no language model (or no checkpoint, or a prompt the vocabulary
cannot encode).
"""

import argparse
import json
import pathlib
import sys

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from bigjax import program, runs
from bigjax.configs import ConfigError
from bigjax.data import text
from bigjax.tasks import language_model


class SampleError(Exception):
  """A workdir or prompt that cannot be sampled from; the message says why."""


def load_run(workdir: pathlib.Path):
  """``(model, params, tokenizer)`` of the run in ``workdir``, from its newest readable checkpoint."""
  try:
    config = ml_collections.ConfigDict(json.loads((workdir / "config.json").read_text()))
    vocab_json = (workdir / "vocab.json").read_text()
  except FileNotFoundError as error:
    raise SampleError(f"{workdir} is not a language-model run: {error.filename} not found")
  if config.task.name != "language_model":
    raise SampleError(f"{workdir} trained task {config.task.name!r}, not a language model")
  tokenizer = text.CharTokenizer.from_json(vocab_json)
  model, _ = program.validate(config)
  model = model.clone(vocab_size=len(tokenizer))
  example = {"tokens": ((config.data.seq_len + 1,), np.dtype(np.int32))}
  try:
    _, model, params = runs.restore_params(workdir, model, example)
  except ConfigError as error:
    raise SampleError(str(error)) from None
  return model, params, tokenizer


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="python -m bigjax.sample", description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--prompt", default="\n", help="text to continue (default: a newline)")
  parser.add_argument("--num_tokens", type=int, default=500)
  parser.add_argument("--temperature", type=float, default=0.8, help="0: greedy")
  parser.add_argument("--top_k", type=int, default=0, help="sample among the k most likely tokens (0: all)")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args(argv)
  try:
    model, params, tokenizer = load_run(pathlib.Path(args.workdir))
    try:
      prompt = jnp.asarray(tokenizer.encode(args.prompt))[None]
    except ValueError as error:
      raise SampleError(f"--prompt: {error}")
    out = language_model.generate(model, params, prompt, args.num_tokens, jax.random.PRNGKey(args.seed),
                                  temperature=args.temperature, top_k=args.top_k, window=True)
  except (SampleError, ValueError) as error:
    print(f"bigjax.sample: error: {error}", file=sys.stderr)
    return 2
  print(tokenizer.decode(np.asarray(out[0])))
  return 0


if __name__ == "__main__":
  sys.exit(main())

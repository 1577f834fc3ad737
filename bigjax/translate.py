"""``python -m bigjax.translate --workdir=DIR``: a trained text-to-text run applied to new text.

Reads the run's ``config.json``, ``vocab.json`` (its SentencePiece model) and newest checkpoint, then decodes each
input line (beam search by default as the run scored; ``--beam=1`` greedy) and prints one output line per
input line::

  python -m bigjax.translate --workdir=runs/transformer_multi30k --text="Ein Hund läuft im Schnee."
  python -m bigjax.translate --workdir=runs/transformer_multi30k --input=sentences.de > sentences.en

Exit codes: 0 done, 2 the workdir holds no text-to-text run (or no checkpoint), an input longer than the model
reads (a run that cut its sources, ``data.cut``, reads a long input's beginning instead), or an unreadable
``--input``.
"""

import argparse
import json
import pathlib
import sys

import jax
import ml_collections
import numpy as np

from bigjax import program, runs
from bigjax.configs import ConfigError
from bigjax.data import subword
from bigjax.tasks import seq2seq


class TranslateError(Exception):
  """A workdir or input that cannot be translated; the message says why."""


def load_run(workdir: pathlib.Path):
  """``(config, model, params, tokenizer)`` of the text-to-text run in ``workdir``, newest checkpoint."""
  try:
    config = ml_collections.ConfigDict(json.loads((workdir / "config.json").read_text()))
    vocab_json = (workdir / "vocab.json").read_text()
  except FileNotFoundError as error:
    raise TranslateError(f"{workdir} is not a text-to-text run: {error.filename} not found") from None
  if config.task.name != "seq2seq":
    raise TranslateError(f"{workdir} trained task {config.task.name!r}, not seq2seq")
  tokenizer = subword.SubwordTokenizer.from_json(vocab_json)
  model, _ = program.validate(config)
  model = model.clone(vocab_size=len(tokenizer))
  length = config.data.max_len
  example = {"source": ((source_width(config),), np.dtype(np.int32)), "target": ((length + 1,), np.dtype(np.int32))}
  try:
    _, model, params = runs.restore_params(workdir, model, example)
  except ConfigError as error:
    raise TranslateError(str(error)) from None
  return config, model, params, tokenizer


def source_width(config) -> int:
  """The pieces of a source the run's model reads (``data.source_len``, else ``data.max_len``)."""
  return config.data.get("source_len", 0) or config.data.max_len


def translate_lines(lines: list[str], config, model, params, tokenizer, beam: int, alpha: float,
                    batch_size: int = 64) -> list[str]:
  """Each line decoded as the run's task decodes its evaluated split."""
  length, width = config.data.max_len, source_width(config)
  ids = tokenizer.encode_batch(lines, eos=True)
  too_long = [i for i, row in enumerate(ids) if len(row) > width]
  if too_long and config.data.get("cut", False):  # as the run read its texts: their beginnings, then </s>
    ids = [row if len(row) <= width else row[:width - 1] + row[-1:] for row in ids]
  elif too_long:
    raise TranslateError(f"input line {too_long[0] + 1} has {len(ids[too_long[0]])} pieces; the model reads at "
                         f"most {width} (config.data.source_len, else max_len)")
  source = np.zeros((len(ids), width), np.int32)
  for i, row in enumerate(ids):
    source[i, :len(row)] = row
  generate = jax.jit(lambda p, s: seq2seq.translate(model, p, s, beam, alpha, length))
  out = np.concatenate([np.asarray(generate(params, source[i:i + batch_size]))
                        for i in range(0, len(source), batch_size)]) if len(source) else np.zeros((0, length))
  return [tokenizer.decode(row) for row in out]


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="python -m bigjax.translate", description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True)
  source = parser.add_mutually_exclusive_group(required=True)
  source.add_argument("--text", help="one sentence (or text) to translate")
  source.add_argument("--input", help="a UTF-8 file, one input per line")
  parser.add_argument("--beam", type=int, default=None, help="beam size (default: the run's task.beam; 1 greedy)")
  parser.add_argument("--length_penalty", type=float, default=None, help="alpha (default: the run's)")
  args = parser.parse_args(argv)
  try:
    config, model, params, tokenizer = load_run(pathlib.Path(args.workdir))
    if args.text is not None:
      lines = [args.text]
    else:
      try:
        lines = pathlib.Path(args.input).read_text(encoding="utf-8").splitlines()
      except (OSError, UnicodeDecodeError) as error:
        raise TranslateError(f"--input={args.input}: cannot be read ({error})") from None
    beam = config.task.beam if args.beam is None else args.beam
    alpha = config.task.length_penalty if args.length_penalty is None else args.length_penalty
    if beam < 1 or alpha < 0:
      raise TranslateError(f"--beam={beam} must be >= 1 and --length_penalty={alpha} >= 0")
    outputs = translate_lines(lines, config, model, params, tokenizer, beam, alpha)
  except TranslateError as error:
    print(f"bigjax.translate: error: {error}", file=sys.stderr)
    return 2
  for line in outputs:
    print(line)
  return 0


if __name__ == "__main__":
  sys.exit(main())

"""Text to text (translation): teacher-forced cross-entropy with label smoothing, scored by what the model writes.

Batches are ``{"source": int32 [b, m], "target": int32 [b, l + 1]}`` (``bigjax.data.translation``; + ``"mask"``
in evaluation): <s> target </s> padding, so the model (``models.seq2seq.Transformer``) reads ``target[:, :-1]``
and is scored on ``target[:, 1:]``; padding (id 0) is never scored. Packed training rows (``data.pack``) add
``source_segments`` and ``target_segments``: the model keeps the pairs apart, and a prediction across two pairs
is not scored (``scored``).

Training (``loss``): cross-entropy against the one-hot target smoothed by ``task.label_smoothing`` (Szegedy et
al. 2016; 0.1 in Vaswani et al. 2017), averaged over the batch's target tokens. Evaluation, batch by batch:
the unsmoothed ``loss`` per target token, its ``perplexity`` and the next-token ``accuracy`` (teacher-forced).
Then on the split whole (``evaluate_split``): each source decoded (``task.beam`` 1: greedy; more: beam search
with length penalty ``task.length_penalty``, ``bigjax.models.decoding``), the pieces turned back into text by the
run's vocabulary, and scored against the references (the data's whole "reference" texts where it has them,
else "target") by sacreBLEU (``bleu``) and chrF (``chrf``), or with ``task.metric="rouge"`` (summaries) by
ROUGE-1/2/L F1 averaged over the documents with bootstrap intervals (``rouge1``, ``rouge1_low``, ...); the text
``samples`` shows the first sources, references and outputs, with the scores' signatures.
"""

import inspect
import math
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from bigjax import tasks
from bigjax.evals import text_generation
from bigjax.models import decoding

BOS, EOS, PAD = 2, 3, 0
SHOWN = 5  # examples in the samples text
METRICS = ("bleu", "rouge")
ROUGE_SIGNATURE = "ROUGE-1/2/L F1, rouge-score with Porter stemming, mean over documents, bootstrap 95% interval"


def init(model: nn.Module, rng: jax.Array, batch: dict[str, jnp.ndarray]) -> Any:
  return model.init({"params": rng}, batch["source"], batch["target"][:, :-1])["params"]


def token_losses(logits: jnp.ndarray, targets: jnp.ndarray, smoothing: float) -> tuple[jnp.ndarray, jnp.ndarray]:
  """``[b, l, v], [b, l] -> (smoothed, nll) [b, l]``: cross-entropy against the target smoothed by ``smoothing``
  (1 - smoothing on the target, smoothing / v everywhere, optax's rule), and the plain negative log-likelihood."""
  nll = optax.softmax_cross_entropy_with_integer_labels(logits, targets)
  if not smoothing:
    return nll, nll
  labels = optax.smooth_labels(jax.nn.one_hot(targets, logits.shape[-1]), smoothing)
  return optax.softmax_cross_entropy(logits, labels), nll


def scored(batch: dict[str, jnp.ndarray]) -> jnp.ndarray:
  """``[b, l]``: which predictions of ``target[:, 1:]`` count: a real token, and in packed rows one of the same
  pair as the token it is predicted from (not the next pair's <s> predicted from this one's </s>)."""
  target = batch["target"]
  if "target_segments" not in batch:
    return target[:, 1:] != PAD
  segments = batch["target_segments"]
  return (segments[:, 1:] == segments[:, :-1]) & (segments[:, 1:] != 0)


def packing(batch: dict[str, jnp.ndarray]) -> dict[str, jnp.ndarray]:
  """The model's segment arguments of a packed batch (``data.pack``); none for a plain one."""
  if "target_segments" not in batch:
    return {}
  return {"src_segments": batch["source_segments"], "tgt_segments": batch["target_segments"][:, :-1]}


def loss(model: nn.Module, params: Any, batch: dict[str, jnp.ndarray], rng: jax.Array,
         task_config: Any) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
  target = batch["target"]
  logits = model.apply({"params": params}, batch["source"], target[:, :-1], train=True, rngs={"dropout": rng},
                       **packing(batch))
  smoothed, nll = token_losses(logits, target[:, 1:], task_config.label_smoothing)
  real = scored(batch)
  tokens = jnp.maximum(real.sum(), 1)
  value = jnp.where(real, smoothed, 0.0).sum() / tokens
  return value, {"loss": value, "nll": jnp.where(real, nll, 0.0).sum() / tokens,
                 "accuracy": jnp.where(real, jnp.argmax(logits, -1) == target[:, 1:], False).sum() / tokens}


def evaluate(model: nn.Module, params: Any, batch: dict[str, jnp.ndarray], task_config: Any) -> dict[str, jnp.ndarray]:
  """Sums over the real examples' target tokens; ``finalize`` divides them by the token count."""
  target = batch["target"]
  logits = model.apply({"params": params}, batch["source"], target[:, :-1], train=False)
  _, nll = token_losses(logits, target[:, 1:], 0.0)
  real = (target[:, 1:] != PAD) & (batch["mask"] > 0)[:, None]
  return {"nll_sum": jnp.where(real, nll, 0.0).sum(), "tokens": real.sum().astype(jnp.float32),
          "correct": jnp.where(real, jnp.argmax(logits, -1) == target[:, 1:], False).sum().astype(jnp.float32),
          "count": (batch["mask"] > 0).sum().astype(jnp.float32)}


def finalize(means: dict[str, float]) -> dict[str, float]:
  """Per-example means of the sums -> per-token ``loss`` (nats), ``perplexity`` and ``accuracy``."""
  tokens = max(means["tokens"], 1e-12)
  value = means["nll_sum"] / tokens
  return {"loss": value, "perplexity": math.exp(min(value, 700.0)), "accuracy": means["correct"] / tokens}


def translate(model: nn.Module, params: Any, source: jnp.ndarray, beam: int, alpha: float, max_len: int
              ) -> jnp.ndarray:
  """``source [b, m]`` -> generated ids ``[b, max_len]`` (up to and including </s>, then 0): encoded once, then
  decoded over the model's cache (a Transformer's keys and values, an RNN's state), greedily (``beam`` 1) or by
  beam search. Any model with ``encode`` and ``decode`` as ``models.seq2seq.Transformer``'s. Pure; jit it."""
  kind = type(model)
  if beam > 1:
    source = jnp.repeat(source, beam, axis=0)  # example-major rows, as beam_search wants its cache
  memory = model.apply({"params": params}, source, method=kind.encode)
  rows = source.shape[0]
  _, variables = model.apply({"params": params}, jnp.zeros((rows, max_len), jnp.int32), memory, source,
                             decode=True, method=kind.decode, mutable=["cache"])

  def step(tokens, cache):
    logits, new = model.apply({"params": params, "cache": cache}, tokens, memory, source, decode=True,
                              method=kind.decode, mutable=["cache"])
    return logits[:, -1], new["cache"]

  batch = rows // beam
  if beam == 1:
    return decoding.greedy(step, variables["cache"], batch, BOS, EOS, max_len)
  return decoding.beam_search(step, variables["cache"], batch, beam, alpha, BOS, EOS, max_len)[0]


def samples_text(sources: list[str], references: list[str], outputs: list[str], signatures: list[str]) -> str:
  """Markdown: a table of the first sources, references and outputs, and the scores' signatures."""
  cell = lambda text: text.replace("|", "\\|")  # noqa: E731
  rows = ["| source | reference | output |", "|---|---|---|"]
  rows += [f"| {cell(s)} | {cell(r)} | {cell(o)} |" for s, r, o in zip(sources, references, outputs)]
  return "\n".join(rows + ["", *(f"`{signature}`" for signature in signatures)])


def make(config: Any, model: nn.Module, optimizer: Any, context: tasks.Context = tasks.Context()) -> tasks.Task:
  t = config.task
  if not 0 <= t.label_smoothing < 1:
    raise ValueError(f"config.task.label_smoothing={t.label_smoothing} must lie in [0, 1)")
  if t.beam < 1:
    raise ValueError(f"config.task.beam={t.beam} must be >= 1 (1: greedy)")
  if t.length_penalty < 0:
    raise ValueError(f"config.task.length_penalty={t.length_penalty} must be >= 0")
  if config.data.get("pack", False) and "src_segments" not in inspect.signature(type(model).__call__).parameters:
    raise ValueError(f"config.data.pack=True: {type(model).__name__} does not read packed rows (a Transformer does); "
                     f"set it to False")
  metric = t.get("metric", "bleu")
  if metric not in METRICS:
    raise ValueError(f"config.task.metric={metric!r} must be one of {', '.join(METRICS)}")
  vocab = context.vocab
  max_len = config.data.max_len
  generate = jax.jit(lambda params, source: translate(model, params, source, t.beam, t.length_penalty, max_len))

  def score_split(params: Any, arrays: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
    sources, targets = np.asarray(arrays["source"]), np.asarray(arrays["target"])
    size = config.data.eval_batch_size
    ids = np.concatenate([np.asarray(generate(params, sources[i:i + size])) for i in range(0, len(sources), size)])
    outputs = [vocab.decode(row) for row in ids]
    references = [vocab.decode(row) for row in np.asarray(arrays["reference"])] if "reference" in arrays else \
        [vocab.decode(row[1:]) for row in targets]  # the whole texts, however much of them "target" holds
    shown = [vocab.decode(row) for row in sources[:SHOWN]]
    if metric == "rouge":
      text = samples_text(shown, references[:SHOWN], outputs[:SHOWN], [ROUGE_SIGNATURE])
      return text_generation.rouge_metrics(outputs, references), {"samples": text}
    bleu, bleu_signature = text_generation.corpus_bleu(outputs, references)
    chrf, chrf_signature = text_generation.corpus_chrf(outputs, references)
    text = samples_text(shown, references[:SHOWN], outputs[:SHOWN], [f"BLEU {bleu_signature}", f"chrF {chrf_signature}"])
    return {"bleu": bleu, "chrf": chrf}, {"samples": text}

  return tasks.supervised(model, t, optimizer, init=init, loss=loss, evaluate=evaluate, finalize=finalize,
                          evaluate_split=score_split if vocab is not None else None)


parts = tasks.no_parts

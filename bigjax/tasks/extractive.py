"""Extractive summarisation: which of an article's sentences belong in its summary, scored by ROUGE.

Batches are ``{"sentences": int32 [b, S, T], "labels": int32 [b, S] (1 in the summary, 0 not, -1 no
sentence), "pieces" [b, P], "spans" [b, S, 2], "summary": int32 [b, L]}`` (``bigjax.data.summaries``; + ``"mask"``
in evaluation); the model
(``models.summariser.SentenceScorer``) gives a logit per sentence.

Training (``loss``): sigmoid cross-entropy of each real sentence's logit against its label, averaged over the
batch's sentences. Evaluation, batch by batch: that ``loss`` and the sentence ``accuracy`` at p = 1/2, per
sentence. Then on the split whole (``evaluate_split``): each article's summary is its sentences with
p >= ``task.threshold`` (at least its best one), quoted whole (``spans``) in article order, joined by spaces;
scored against the reference
summary by ROUGE-1/2/L F1 (``bigjax.evals.text_generation``), means over articles (``rouge1``, ...) with their
percentile bootstrap 95% intervals (``rouge1_low``, ``rouge1_high``, ...), and the text ``samples``.
"""

from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from bigjax import tasks
from bigjax.evals import text_generation

SHOWN = 2  # articles in the samples text


def init(model: nn.Module, rng: jax.Array, batch: dict[str, jnp.ndarray]) -> Any:
  return model.init({"params": rng}, batch["sentences"], train=False)["params"]


def sentence_losses(logits: jnp.ndarray, labels: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
  """``[b, S]`` -> per-sentence sigmoid cross-entropy (0 where there is no sentence) and which are real."""
  real = labels >= 0
  return jnp.where(real, optax.sigmoid_binary_cross_entropy(logits, jnp.maximum(labels, 0).astype(logits.dtype)),
                   0.0), real


def loss(model: nn.Module, params: Any, batch: dict[str, jnp.ndarray], rng: jax.Array,
         task_config: Any) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
  logits = model.apply({"params": params}, batch["sentences"], train=True, rngs={"dropout": rng})
  losses, real = sentence_losses(logits, batch["labels"])
  count = jnp.maximum(real.sum(), 1)
  value = losses.sum() / count
  correct = jnp.where(real, (logits >= 0) == (batch["labels"] == 1), False)
  return value, {"loss": value, "accuracy": correct.sum() / count}


def evaluate(model: nn.Module, params: Any, batch: dict[str, jnp.ndarray], task_config: Any) -> dict[str, jnp.ndarray]:
  logits = model.apply({"params": params}, batch["sentences"], train=False)
  losses, real = sentence_losses(logits, batch["labels"])
  real = real & (batch["mask"] > 0)[:, None]
  return {"loss_sum": jnp.where(real, losses, 0.0).sum(), "sentences": real.sum().astype(jnp.float32),
          "correct": jnp.where(real, (logits >= 0) == (batch["labels"] == 1), False).sum().astype(jnp.float32),
          "count": (batch["mask"] > 0).sum().astype(jnp.float32)}


def finalize(means: dict[str, float]) -> dict[str, float]:
  sentences = max(means["sentences"], 1e-12)
  return {"loss": means["loss_sum"] / sentences, "accuracy": means["correct"] / sentences}


def choose(probabilities: np.ndarray, labels: np.ndarray, threshold: float) -> list[int]:
  """Indices (article order) of the real sentences with p >= ``threshold``, or the most probable one."""
  real = np.flatnonzero(labels >= 0)
  if not len(real):
    return []
  chosen = [int(i) for i in real if probabilities[i] >= threshold]
  return chosen or [int(real[np.argmax(probabilities[real])])]


def make(config: Any, model: nn.Module, optimizer: Any, context: tasks.Context = tasks.Context()) -> tasks.Task:
  t = config.task
  if not 0 < t.threshold < 1:
    raise ValueError(f"config.task.threshold={t.threshold} must lie in (0, 1)")
  vocab = context.vocab
  probabilities = jax.jit(lambda p, x: jax.nn.sigmoid(model.apply({"params": p}, x, train=False)))

  def score_split(params: Any, arrays: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
    sentences, labels = np.asarray(arrays["sentences"]), np.asarray(arrays["labels"])
    pieces, spans = np.asarray(arrays["pieces"]), np.asarray(arrays["spans"])
    size = config.data.eval_batch_size
    probs = np.concatenate([np.asarray(probabilities(params, sentences[i:i + size]))
                            for i in range(0, len(sentences), size)])
    outputs = []
    for article, span, p, label in zip(pieces, spans, probs, labels):
      outputs.append(" ".join(vocab.decode(article[span[j, 0]:span[j, 1]]) for j in choose(p, label, t.threshold)))
    references = [vocab.decode(row) for row in np.asarray(arrays["summary"])]
    metrics = text_generation.rouge_metrics(outputs, references)
    text = "\n\n".join(f"**output** {o}\n\n**reference** {r}" for o, r in zip(outputs[:SHOWN], references[:SHOWN]))
    return metrics, {"samples": text}

  return tasks.supervised(model, t, optimizer, init=init, loss=loss, evaluate=evaluate, finalize=finalize,
                          evaluate_split=score_split if vocab is not None else None)


parts = tasks.no_parts

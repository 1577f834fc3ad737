"""Language modelling: next-token cross-entropy, bits per character, perplexity, and sampling.

Batches are ``{"tokens": int32 [b, T + 1]}`` (+ ``"mask": [b]`` for evaluation): the model reads
``tokens[:, :-1]`` and is scored on predicting ``tokens[:, 1:]``. The model is a ``transformer.Decoder``
(``tokens -> logits``) or an ``rnn.RNNLanguageModel`` (``tokens -> (logits, carry)``).

Losses are in nats per token; ``bpc`` is the same in bits (``loss / ln 2``, bits per character for a
character model) and ``perplexity`` is ``exp(loss)`` of the mean loss over all evaluated tokens.

``generate`` samples with a KV cache (Decoder: one token per step through ``decode=True``) or with the
carried recurrent state (RNN): each new token costs one position, never a recomputation of the prefix.
"""

import math
from typing import Any

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from bigjax import tasks

LN2 = math.log(2.0)


def _is_recurrent(model: nn.Module) -> bool:
  return hasattr(model, "initial_carry")


def logits_of(model: nn.Module, params: Any, tokens: jnp.ndarray, *, train: bool = False,
              rng: jax.Array | None = None) -> jnp.ndarray:
  """``[b, t] int32 -> [b, t, vocab]`` float32 logits, whatever the model family."""
  out = model.apply({"params": params}, tokens, train=train, rngs={"dropout": rng} if train else {})
  logits = out[0] if _is_recurrent(model) else out  # an RNN also returns its final carry
  chex.assert_rank(logits, 3)
  return logits.astype(jnp.float32)


def init(model: nn.Module, rng: jax.Array, batch: dict[str, jnp.ndarray]) -> Any:
  return model.init({"params": rng}, batch["tokens"][:, :-1], train=False)["params"]


def loss(model: nn.Module, params: Any, batch: dict[str, jnp.ndarray], rng: jax.Array,
         task_config: Any) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
  tokens = batch["tokens"]
  chex.assert_rank(tokens, 2)
  logits = logits_of(model, params, tokens[:, :-1], train=True, rng=rng)
  value = optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, 1:]).mean()
  return value, {"loss": value, "bpc": value / LN2}


def evaluate(model: nn.Module, params: Any, batch: dict[str, jnp.ndarray], task_config: Any) -> dict[str, jnp.ndarray]:
  """Sums over every predicted token of the real (mask 1) examples; the loop divides by ``count``."""
  tokens = batch["tokens"]
  logits = logits_of(model, params, tokens[:, :-1])
  targets = tokens[:, 1:]
  valid = jnp.broadcast_to((batch["mask"] > 0)[:, None], targets.shape)
  # where(), not a product: a NaN in a padding row must not leak into the sums.
  per_token = jnp.where(valid, optax.softmax_cross_entropy_with_integer_labels(logits, targets), 0.0)
  hits = jnp.where(valid, (jnp.argmax(logits, -1) == targets).astype(jnp.float32), 0.0)
  return {"loss": per_token.sum(), "accuracy": hits.sum(), "count": valid.sum().astype(jnp.float32)}


def finalize_metrics(means: dict[str, float]) -> dict[str, float]:
  """Adds what is not a mean over tokens: bits per token and the perplexity of the mean loss."""
  return {**means, "bpc": means["loss"] / LN2, "perplexity": math.exp(min(means["loss"], 700.0))}


def predict(model: nn.Module, params: Any, inputs: dict[str, jnp.ndarray]) -> jnp.ndarray:
  """``{"tokens": [b, t] int32}`` -> ``[b, t, vocab]`` float32 logits of the token after each position."""
  return logits_of(model, params, inputs["tokens"])


def predict_inputs(example: dict[str, tuple]) -> dict[str, tuple]:
  """Token ids of any length ``t`` (up to a Decoder's ``max_len``), of the type of the training batches'."""
  _, dtype = example["tokens"]
  return {"tokens": (("t",), dtype)}


parts = tasks.no_parts


def make(config: Any, model: nn.Module, optimizer: Any, context: tasks.Context = tasks.Context()) -> tasks.Task:
  predictor = tasks.Predictor(lambda params, inputs: predict(model, params, inputs), predict_inputs,
                              outputs="logits [b, t, vocab] float32: at position i, of the token after tokens[:, i]",
                              constraints=() if _is_recurrent(model) else (f"t <= {model.max_len}",))
  return tasks.supervised(model, config.task, optimizer, init=init, loss=loss, evaluate=evaluate,
                          finalize=finalize_metrics, predict=predictor)


# ====================================================================================== sampling

def sample_token(logits: jnp.ndarray, rng: jax.Array, temperature: float = 1.0, top_k: int = 0) -> jnp.ndarray:
  """``[b, vocab] -> [b]`` int32: argmax at temperature 0, else a draw from softmax(logits / temperature)
  restricted to the ``top_k`` most likely tokens (0: all)."""
  if temperature == 0:
    return jnp.argmax(logits, axis=-1).astype(jnp.int32)
  logits = logits / temperature
  if top_k:
    kth = jax.lax.top_k(logits, top_k)[0][:, -1:]
    logits = jnp.where(logits < kth, -jnp.inf, logits)
  return jax.random.categorical(rng, logits, axis=-1).astype(jnp.int32)


def generate(model: nn.Module, params: Any, prompt: jnp.ndarray, num_tokens: int, rng: jax.Array, *,
             temperature: float = 1.0, top_k: int = 0, window: bool = False) -> jnp.ndarray:
  """``prompt [b, p] int32`` followed by ``num_tokens`` sampled tokens: ``[b, p + num_tokens]``.

  Every position is computed once: the prompt fills the KV cache (or the recurrent state) in one pass,
  then each new token is one step of the cache (state). A Decoder has no positions beyond its
  ``max_len``: longer text needs ``window=True``, which restarts the cache from the last ``max_len // 2``
  tokens whenever it is full (so each token sees between ``max_len // 2`` and ``max_len - 1`` tokens of
  context; nanoGPT instead recomputes the last ``max_len`` tokens for every new one).
  """
  chex.assert_rank(prompt, 2)
  if prompt.shape[1] < 1:
    raise ValueError("generate needs a prompt of at least one token")
  if _is_recurrent(model) or prompt.shape[1] + num_tokens <= model.max_len:
    return _generate(model, params, prompt, num_tokens, rng, temperature, top_k)
  if not window:
    raise ValueError(f"prompt {prompt.shape[1]} + {num_tokens} new tokens exceed the model's "
                     f"max_len={model.max_len}; pass window=True to slide a window over the context")
  keep, seq, chunk = model.max_len // 2, prompt, 0
  while seq.shape[1] < prompt.shape[1] + num_tokens:
    context = seq[:, -(model.max_len - 1 if chunk == 0 else keep):]
    n = min(model.max_len - context.shape[1], prompt.shape[1] + num_tokens - seq.shape[1])
    new = _generate(model, params, context, n, jax.random.fold_in(rng, chunk), temperature, top_k)
    seq, chunk = jnp.concatenate([seq, new[:, context.shape[1]:]], axis=1), chunk + 1
  return seq


def _generate(model, params, prompt, num_tokens, rng, temperature, top_k):
  """``generate`` within one cache (or with the carried state)."""
  batch, length = prompt.shape
  if _is_recurrent(model):
    logits, carry = model.apply({"params": params}, prompt, train=False)

    def step(state, rng):
      carry, logits = state
      token = sample_token(logits, rng, temperature, top_k)
      logits, carry = model.apply({"params": params}, token[:, None], train=False, carry=carry)
      return (carry, logits[:, -1]), token
  else:
    total = length + num_tokens
    cache = model.init(jax.random.PRNGKey(0), jnp.zeros((batch, total), jnp.int32), decode=True)["cache"]
    logits, updated = model.apply({"params": params, "cache": cache}, prompt, decode=True, mutable=["cache"])
    carry = updated["cache"]

    def step(state, rng):
      cache, logits = state
      token = sample_token(logits, rng, temperature, top_k)
      logits, updated = model.apply({"params": params, "cache": cache}, token[:, None], decode=True,
                                    mutable=["cache"])
      return (updated["cache"], logits[:, -1]), token

  _, new = jax.lax.scan(step, (carry, logits[:, -1]), jax.random.split(rng, num_tokens))
  return jnp.concatenate([prompt, new.T.astype(prompt.dtype)], axis=1)

"""Linear models of sparse features: multinomial logistic regression on TF-IDF (or bag-of-words) rows."""

import chex
import flax.linen as nn
import jax.numpy as jnp


class BagLogistic(nn.Module):
  """Logits of a sparse row: ``logits[c] = sum_j weights[j] * W[ids[j], c] + b[c]``, i.e. ``x @ W + b`` for the
  row ``x`` the bag holds. Trained with softmax cross-entropy this is multinomial logistic regression; an L2
  penalty on ``W`` (not ``b``) comes from ``config.optim.weight_decay`` (decay of matrices only).

  Input ``{"bag_ids": int32 [batch, m], "bag_weights": float32 [batch, m]}`` (padding: any id with weight 0),
  output logits ``[batch, num_classes]``. ``W`` and ``b`` start at zero, the usual start of a convex problem.
  """

  num_classes: int = 2
  num_features: int = 0  # the vectoriser's vocabulary; 0 takes the data's

  @nn.compact
  def __call__(self, bags: dict[str, jnp.ndarray], *, train: bool = False) -> jnp.ndarray:
    del train  # no dropout: the regulariser is the L2 penalty
    ids, weights = bags["bag_ids"], bags["bag_weights"]
    chex.assert_rank([ids, weights], 2)
    chex.assert_equal_shape([ids, weights])
    if self.num_features < 1:
      raise ValueError(f"BagLogistic.num_features={self.num_features}: set config.model.num_features to the "
                       f"vectoriser's vocabulary, or 0 to take the data's")
    kernel = self.param("kernel", nn.initializers.zeros, (self.num_features, self.num_classes), jnp.float32)
    bias = self.param("bias", nn.initializers.zeros, (self.num_classes,), jnp.float32)
    return jnp.einsum("bm,bmc->bc", weights.astype(jnp.float32), jnp.take(kernel, ids, axis=0)) + bias

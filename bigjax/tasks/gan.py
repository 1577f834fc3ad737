"""Generative adversarial networks: two players, two optimizer states, updated alternately in one jitted step.

The model is a pair from ``bigjax/models/gan.py`` (``generator()``, ``discriminator()``). The train state holds
``params = {"generator": variables, "discriminator": variables}``, each player's flax variables (``"params"``
and, with batch norm, ``"batch_stats"``), and ``opt_state = {"generator": ..., "discriminator": ...}``: the
optimizer of ``config.optim`` (Radford et al.: Adam 2e-4, b1 0.5 for both) with one state per player. Both
live in the loop's checkpoints, so a resumed run continues both players exactly.

One step (``make_update``), on real images ``x`` (``[b, 28, 28, 1]`` in [0, 1], scaled to [-1, 1]) and noise z:
  1. ``fake = G(z)`` in train mode, once; its batch statistics update G's running averages.
  2. Discriminator step: ``loss_D(D(x), D(fake))`` with ``fake`` held constant; D's running averages take the
     real pass then the fake pass (each pass normalised by its own batch, as in Radford et al.'s code).
  3. Generator step: ``loss_G(D'(fake))`` through the updated D' in train mode, whose running averages are left
     as they were: the generator step changes nothing of the discriminator, and the discriminator step nothing
     of the generator. The gradient reaches G's parameters through the pull-back of step 1's forward pass.

Losses (``config.task.loss``), on logits r = D(x), f = D(fake):
  ``non_saturating`` (Goodfellow et al. 2014): D: -log s(r) - log(1 - s(f)); G: -log s(f).
  ``hinge`` (Lim & Ye 2017; Miyato et al. 2018): D: relu(1 - r) + relu(1 + f); G: -f.
  ``least_squares`` (Mao et al. 2017, a=0, b=c=1): D: (r - 1)^2 / 2 + f^2 / 2; G: (f - 1)^2 / 2.

Generator average (``config.task.generator_ema = d``): after each step ``params["generator_ema"]`` (parameters
and batch-norm averages) becomes ``d * itself + (1 - d) * generator``; samples are scored and drawn from it
(Yazici et al. 2019, "The unusual effectiveness of averaging in GAN training"; Karras et al. 2018). With
``d = 0`` it is the live generator. It is part of the checkpointed state, so a resume continues it exactly.

InfoGAN's code (``config.model.code_classes = K`` > 0, Chen et al. 2016; ``bigjax/models/gan.py``): the noise
carries a one-hot code c and the discriminator a head with logits of Q(c | image). Both players' losses add
``config.task.code_weight`` (InfoGAN's lambda, 1 for discrete codes) times the cross-entropy of Q on the fake
batch against c: the discriminator's step trains the head (and its trunk) on the fixed fakes, the generator's
step makes its samples' codes recoverable; ``ln K`` minus it is the logged lower bound ``code_mi`` on I(c; G(z, c)).

Two time-scales (``config.task.discriminator_lr_scale = k``, Heusel et al. 2017): the discriminator's updates
are ``k`` times what ``config.optim`` gives, i.e. its learning rate (and schedule) times ``k`` for Adam or SGD.

Evaluation: ``evaluate`` gives the discriminator's mean probability on the evaluated split's real images;
``sample_scorer`` (the task's ``evaluate_split``, so the final test reading compares with the test images) scores ``config.task.eval_samples`` generated images with the fixed classifier of
``config.task.evaluator_workdir`` (``bigjax/evals/gan.py``; the loop loads it, see ``parts``) and returns a grid
of the fixed noise batch's samples for the loop's writer.
"""

from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

from bigjax import tasks
from bigjax.evals import gan as gan_metrics
from bigjax.models import gan as gan_models

LOSSES = ("non_saturating", "hinge", "least_squares")
PLAYERS = ("generator", "discriminator")  # the trained variable trees; "generator_ema" is their running average
GRID = 64  # samples in the grid written at each evaluation (8 x 8), the first of the fixed noise


def discriminator_loss(real_logits: jnp.ndarray, fake_logits: jnp.ndarray, loss: str) -> jnp.ndarray:
  """``[b], [b] -> []``: the discriminator's loss, mean over the batch (see the module docstring)."""
  if loss == "non_saturating":
    return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))
  if loss == "hinge":
    return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))
  if loss == "least_squares":
    return 0.5 * jnp.mean((real_logits - 1.0) ** 2) + 0.5 * jnp.mean(fake_logits ** 2)
  raise ValueError(f"config.task.loss={loss!r} is not a GAN loss; choose one of {LOSSES}")


def generator_loss(fake_logits: jnp.ndarray, loss: str) -> jnp.ndarray:
  """``[b] -> []``: the generator's loss, mean over the batch."""
  if loss == "non_saturating":
    return jnp.mean(jax.nn.softplus(-fake_logits))
  if loss == "hinge":
    return -jnp.mean(fake_logits)
  if loss == "least_squares":
    return 0.5 * jnp.mean((fake_logits - 1.0) ** 2)
  raise ValueError(f"config.task.loss={loss!r} is not a GAN loss; choose one of {LOSSES}")


def to_model_range(images: jnp.ndarray) -> jnp.ndarray:
  return images * 2.0 - 1.0


def to_data_range(images: jnp.ndarray) -> jnp.ndarray:
  return (images + 1.0) / 2.0


def init(model: Any, rng: jax.Array, batch: dict[str, jnp.ndarray]) -> dict[str, Any]:
  g_rng, d_rng = jax.random.split(rng)
  z = jnp.zeros((1, model.latent_size), jnp.float32)
  generator = model.generator().init({"params": g_rng}, z, train=False)
  return {"generator": generator,
          "generator_ema": jax.tree.map(jnp.copy, generator),  # starts at the generator (own buffers: donated apart)
          "discriminator": model.discriminator().init({"params": d_rng}, batch["image"], train=False)}


def init_opt_state(tx: optax.GradientTransformation, params: dict[str, Any]) -> dict[str, Any]:
  return {player: tx.init(params[player]["params"]) for player in PLAYERS}


def _split(variables):
  """flax variables -> (params, the other collections, names of those collections)."""
  state = {k: v for k, v in variables.items() if k != "params"}
  return variables["params"], state, list(state)


def _logits(out):
  """A discriminator's output -> (logits ``[b]``, code logits ``[b, K]`` or None)."""
  return out if isinstance(out, tuple) else (out, None)


def code_cross_entropy(code_logits: jnp.ndarray, code: jnp.ndarray) -> jnp.ndarray:
  """``[b, K], [b, K] one-hot -> []``: mean -log Q(c | x), InfoGAN's mutual-information term (module docstring)."""
  return -jnp.mean(jnp.sum(code * jax.nn.log_softmax(code_logits), axis=-1))


def sample(model: Any, generator_variables: Any, z: jnp.ndarray) -> jnp.ndarray:
  """``[n, latent] -> [n, 28, 28, 1]`` in [0, 1]: the generator in inference mode (batch-norm running averages)."""
  return to_data_range(model.generator().apply(generator_variables, z, train=False))


def make_player_steps(model: Any, task_config: Any, tx: optax.GradientTransformation):
  """``(generate, discriminator_step, generator_step)``, the three parts of one update (module docstring).

  ``generate(params, z) -> (fake, pull_back, generator_state)``; ``discriminator_step(params, opt_state, real,
  fake, real_rng, fake_rng, code=None)`` (dropout keys of the two passes) and ``generator_step(params, opt_state,
  fake, pull_back, generator_state, rng, code=None)`` each return ``(params, opt_state, metrics)`` with the whole
  ``{"generator", "discriminator"}`` trees, the other player's entries passed through untouched. ``code`` is the
  fake batch's one-hot code (``gan_models.code_of``), required when the model draws one.
  """
  generator, discriminator = model.generator(), model.discriminator()
  loss_name = task_config.loss
  if loss_name not in LOSSES:
    raise ValueError(f"config.task.loss={loss_name!r} is not a GAN loss; choose one of {LOSSES}")
  d_scale = float(task_config.discriminator_lr_scale)
  if not d_scale > 0.0:
    raise ValueError(f"config.task.discriminator_lr_scale={d_scale} must be > 0")
  code_weight = float(task_config.code_weight)
  if not code_weight >= 0.0:
    raise ValueError(f"config.task.code_weight={code_weight} must be >= 0")
  classes = getattr(model, "code_classes", 0)

  def code_term(code_logits, code):
    if code is None:
      if classes:
        raise ValueError(f"the model draws a {classes}-class code: pass the fake batch's code to both steps")
      return jnp.zeros(())
    return code_cross_entropy(code_logits, code)

  def generate(params, z):
    g_params, g_state, g_mutable = _split(params["generator"])
    apply = lambda p: generator.apply({"params": p, **g_state}, z, train=True, mutable=g_mutable)
    return jax.vjp(apply, g_params, has_aux=True)

  def discriminate(d_params, d_state, images, rng):
    mutable = [k for k in d_state]
    return discriminator.apply({"params": d_params, **d_state}, images, train=True, mutable=mutable,
                               rngs={"dropout": rng})

  def discriminator_step(params, opt_state, real, fake, real_rng, fake_rng, code=None):
    d_params, d_state, _ = _split(params["discriminator"])

    def d_loss_fn(p):  # fake is a constant here; the running averages take the real pass, then the fake one
      real_out, state = discriminate(p, d_state, real, real_rng)
      fake_out, state = discriminate(p, state, fake, fake_rng)
      (real_logits, _), (fake_logits, code_logits) = _logits(real_out), _logits(fake_out)
      d_loss = discriminator_loss(real_logits, fake_logits, loss_name) + code_weight * code_term(code_logits, code)
      return d_loss, (state, real_logits, fake_logits)
    (d_loss, (state, real_logits, fake_logits)), grads = jax.value_and_grad(d_loss_fn, has_aux=True)(d_params)
    updates, d_opt = tx.update(grads, opt_state["discriminator"], d_params)
    if d_scale != 1.0:
      updates = jax.tree.map(lambda u: d_scale * u, updates)
    new = {"params": optax.apply_updates(d_params, updates), **state}
    metrics = {"d_loss": d_loss, "d_grad_norm": optax.tree.norm(grads),
               "d_real": jnp.mean(jax.nn.sigmoid(real_logits)), "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits))}
    return {**params, "discriminator": new}, {**opt_state, "discriminator": d_opt}, metrics

  def generator_step(params, opt_state, fake, pull_back, generator_state, rng, code=None):
    d_params, d_state, _ = _split(params["discriminator"])
    g_params = params["generator"]["params"]

    def g_loss_fn(images):  # D in train mode (batch statistics); its updated running averages are dropped
      fake_logits, code_logits = _logits(discriminate(d_params, d_state, images, rng)[0])
      xent = code_term(code_logits, code)
      return generator_loss(fake_logits, loss_name) + code_weight * xent, xent
    (g_loss, xent), fake_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(fake)
    (grads,) = pull_back(fake_grads)
    updates, g_opt = tx.update(grads, opt_state["generator"], g_params)
    new = {"params": optax.apply_updates(g_params, updates), **generator_state}
    metrics = {"g_loss": g_loss, "g_grad_norm": optax.tree.norm(grads)}
    if classes:
      metrics["code_mi"] = jnp.log(float(classes)) - xent
    return {**params, "generator": new}, {**opt_state, "generator": g_opt}, metrics

  return generate, discriminator_step, generator_step


def make_update(model: Any, task_config: Any, tx: optax.GradientTransformation):
  """``(params, opt_state, batch, rng) -> (params, opt_state, metrics, finite)``: a D step then a G step."""
  generate, discriminator_step, generator_step = make_player_steps(model, task_config, tx)
  decay = float(task_config.generator_ema)
  if not 0.0 <= decay < 1.0:
    raise ValueError(f"config.task.generator_ema={decay} must be in [0, 1) (0: sample the live generator)")

  def update(params, opt_state, batch, rng):
    real = to_model_range(batch["image"])
    chex.assert_rank(real, 4)
    z_rng, real_rng, fake_rng, g_rng = jax.random.split(rng, 4)
    z = gan_models.latent(model, z_rng, real.shape[0])
    code = gan_models.code_of(model, z)
    fake, pull_back, generator_state = generate(params, z)  # once: both steps see the same fake batch
    chex.assert_equal_shape([fake, real])
    params, opt_state, d_metrics = discriminator_step(params, opt_state, real, fake, real_rng, fake_rng, code)
    params, opt_state, g_metrics = generator_step(params, opt_state, fake, pull_back, generator_state, g_rng, code)
    params = {**params, "generator_ema": jax.tree.map(lambda e, g: decay * e + (1.0 - decay) * g,
                                                      params["generator_ema"], params["generator"])}
    metrics = {**d_metrics, **g_metrics}
    finite = jnp.all(jnp.stack([jnp.isfinite(v) for v in metrics.values()]))
    return params, opt_state, metrics, finite

  return update


def evaluate(model: Any, params: Any, batch: dict[str, jnp.ndarray], task_config: Any) -> dict[str, jnp.ndarray]:
  """Sums over real eval images: the discriminator's probability that they are real (inference mode)."""
  logits, _ = _logits(model.discriminator().apply(params["discriminator"], to_model_range(batch["image"]),
                                                  train=False))
  valid = batch["mask"] > 0
  return {"d_real": jnp.where(valid, jax.nn.sigmoid(logits), 0.0).sum(), "count": valid.sum().astype(jnp.float32)}


def predict(model: Any, generator_variables: Any, inputs: dict[str, jnp.ndarray]) -> jnp.ndarray:
  """``{"noise": [b, latent_dim] float32}`` (+ ``"code": [b] int32`` in ``[0, code_classes)`` where the model draws a
  code) -> ``[b, 28, 28, 1]`` images in [0, 1]: ``sample`` of the latent ``gan_models.latent`` would draw."""
  z = inputs["noise"]
  classes = getattr(model, "code_classes", 0)
  if classes:
    z = jnp.concatenate([z, jax.nn.one_hot(inputs["code"], classes, dtype=z.dtype)], axis=1)
  return sample(model, generator_variables, z)


def predict_inputs(model: Any) -> dict[str, tuple]:
  """The generator's noise, and its code where it has one."""
  inputs = {"noise": ((model.latent_dim,), np.dtype(np.float32))}
  if getattr(model, "code_classes", 0):
    inputs["code"] = ((), np.dtype(np.int32))
  return inputs


def evaluator_hint(config: Any) -> str:
  """How to make the evaluator ``config`` lacks: the exact command. A smoke run (``config_base.smoke``, which
  evaluates on a prefix: ``config.data.eval_examples > 0``) is pointed first at the evaluator's own smoke variant,
  seconds to train, and then at the full one that results need; a full run only at the full one."""
  workdir = config.task.evaluator_workdir
  command = "python -m bigjax.main --config=configs/mnist_gan_evaluator.py{} --workdir=" + workdir
  other = "or point config.task.evaluator_workdir at a trained classifier's workdir"
  if config.data.eval_examples > 0:
    return (f"train it first: {command.format(':smoke')} (12 steps, seconds: enough to try this smoke run; for "
            f"results, the full evaluator: {command.format('')}, 3 epochs; {other})")
  return f"train it first: {command.format('')} ({other})"


def parts(config: Any) -> dict[str, tasks.PartSpec]:
  """The fixed classifier that scores samples: the run in ``config.task.evaluator_workdir``."""
  return {"evaluator": tasks.PartSpec("config.task.evaluator_workdir", config.task.evaluator_workdir,
                                      hint=evaluator_hint(config))}


def make_classify(classifier: Any, classifier_params: Any, layer: str):
  """Jitted ``images [n, 28, 28, 1] in [0, 1] -> (features [n, d] of ``layer``, class probabilities [n, k])``."""
  @jax.jit
  def classify(images):
    logits, state = classifier.apply({"params": classifier_params}, images, train=False,
                                     capture_intermediates=lambda module, _: module.name == layer)
    if layer not in state["intermediates"]:
      raise ValueError(f"config.task.evaluator_features={layer!r} names no layer of the evaluator "
                       f"{type(classifier).__name__}; its layers: {sorted(classifier_params)}")
    features = state["intermediates"][layer]["__call__"][0]
    return features.reshape(features.shape[0], -1), jax.nn.softmax(logits)
  return classify


def sample_scorer(model: Any, config: Any, evaluator: tasks.Part, train_arrays: Any):
  """``(params, split_arrays) -> ({name: float}, {"samples": grid})``: scores generated samples with the fixed
  evaluator against the real images of the split evaluated (the validation split while training, the test split
  once at the end).

  Once per split: the evaluator's features of its images (the reference) and of the first
  ``config.task.eval_samples`` training images, whose distance to the reference is the real data's floor
  (same sample size as the generated set, as the Fréchet distance is biased by it). At each evaluation:
  ``fid`` of ``eval_samples`` samples from a fixed noise set, ``fid_ratio = fid / fid_floor``, ``confident``
  (fraction with top probability >= 0.9), ``class_entropy``, and a grid of the first 64 samples (uint8
  ``[h, w]``), which the loop's writer saves as ``<workdir>/samples/step_*.png`` and a TensorBoard image.
  """
  tc = config.task
  layer = tc.evaluator_features
  chunk = config.data.eval_batch_size
  n = tc.eval_samples
  if n < 2 or n > len(train_arrays["image"]):
    raise ValueError(f"config.task.eval_samples={n} must be in [2, {len(train_arrays['image'])}] (training images)")

  classify = make_classify(evaluator.model, evaluator.params, layer)

  def classify_all(images_of_chunk, count):
    feats, probs = zip(*(jax.device_get(classify(images_of_chunk(i))) for i in range(0, count, chunk)))
    return np.concatenate(feats)[:count], np.concatenate(probs)[:count]

  def pad(images, i):
    part = images[i:i + chunk]
    return np.concatenate([part, np.zeros((chunk - len(part), *part.shape[1:]), part.dtype)]) if len(part) < chunk else part

  train_stats = gan_metrics.gaussian_stats(classify_all(lambda i: pad(train_arrays["image"], i), n)[0])
  references: dict[int, tuple[Any, ...]] = {}  # id of a split's images -> (images, reference stats, floor, probs)

  def reference_of(real: np.ndarray):
    if id(real) not in references:  # the images are kept in the entry, so their id is not reused
      real_features, real_probs = classify_all(lambda i: pad(real, i), len(real))
      stats = gan_metrics.gaussian_stats(real_features)
      references[id(real)] = (real, stats, gan_metrics.frechet_distance(*train_stats, *stats), real_probs)
    return references[id(real)][1:]

  noise = gan_models.latent(model, jax.random.fold_in(jax.random.PRNGKey(config.seed), 2**31 - 1),
                            -(-n // chunk) * chunk)
  generate = jax.jit(lambda variables, z: sample(model, variables, z))

  def score(params, split_arrays) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    reference, floor, real_probs = reference_of(split_arrays["image"])
    generator_variables = params["generator_ema"]
    images = []
    feats, probs = classify_all(lambda i: images.append(jax.device_get(generate(generator_variables,
                                                                                noise[i:i + chunk]))) or images[-1], n)
    fid = gan_metrics.frechet_distance(*gan_metrics.gaussian_stats(feats), *reference)
    metrics = {"fid": fid, "fid_floor": floor, "fid_ratio": fid / max(floor, 1e-12),
               "confident": gan_metrics.confident_fraction(probs), "class_entropy": gan_metrics.class_entropy(probs),
               "real_confident": gan_metrics.confident_fraction(real_probs),
               "real_class_entropy": gan_metrics.class_entropy(real_probs)}
    return metrics, {"samples": gan_metrics.image_grid(np.concatenate(images)[:GRID])}

  return score


def make(config: Any, model: Any, optimizer: optax.GradientTransformation,
         context: tasks.Context = tasks.Context()) -> tasks.Task:
  """Two players updated alternately (``make_update``); samples scored by ``context.parts["evaluator"]``."""
  tc = config.task
  score = None
  if "evaluator" in context.parts:
    score = sample_scorer(model, config, context.parts["evaluator"], context.train_arrays)
  predictor = tasks.Predictor(lambda variables, inputs: predict(model, variables, inputs),
                              lambda example: predict_inputs(model), variables=lambda params: params["generator_ema"],
                              outputs="images [b, 28, 28, 1] float32 in [0, 1], of the generator's running average")
  return tasks.Task(init=lambda rng, batch: init(model, rng, batch),
                    init_opt_state=lambda params: init_opt_state(optimizer, params),
                    update=make_update(model, tc, optimizer),
                    evaluate=lambda params, batch: evaluate(model, params, batch, tc),
                    evaluate_split=score, own_average=True, predict=predictor)

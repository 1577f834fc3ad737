"""How a trained DCGAN's samples score under each way of drawing them: the generator's running average or the live
generator, batch norm from running averages or from each 500-sample batch, and the noise scaled down (truncation);
and what the unconfident samples are (``unconfident_two_class_blends``: blends of two digits).

  python experiments/gan/sampling_modes.py --workdir runs/gan/mnist_dcgan_24ep --json experiments/gan/sampling_modes.json
  python experiments/gan/sampling_modes.py --workdir runs/gan/mnist_dcgan_32ep --json experiments/gan/sampling_modes_32ep.json

Reads the run's newest checkpoint and the evaluator of its config (nothing is written there); draws 10,000 samples
from noise seed 1 (not the run's fixed noise batch) and scores them as ``bigjax/tasks/gan.py`` does.
"""

import argparse
import json

import jax
import numpy as np

from bigjax import program, runs
from bigjax.evals import gan as gan_metrics
from bigjax.models import gan as gan_models
from bigjax.tasks import gan


def two_class_blends(probs: np.ndarray, threshold: float = 0.9) -> float:
  """Among the samples below ``threshold``, the fraction whose two likeliest classes hold >= ``threshold`` of the
  probability: blends of two digits rather than shapes of none."""
  top = np.sort(probs, axis=-1)[:, ::-1]
  unconfident = top[:, 0] < threshold
  return float(np.mean(top[unconfident, 0] + top[unconfident, 1] >= threshold)) if unconfident.any() else 0.0


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True, help="a trained GAN run")
  parser.add_argument("--json", help="write the scores here")
  parser.add_argument("--samples", type=int, default=10000)
  args = parser.parse_args()
  config, model, params = runs.restore_params(args.workdir)
  evaluator = runs.load_part(gan.parts(config)["evaluator"])
  classifier, classifier_params = evaluator.model, evaluator.params
  classify = gan.make_classify(classifier, classifier_params, config.task.evaluator_features)
  chunk = 500

  test = program.load_split(config.data, config.data.eval_split).arrays["image"]
  reference = gan_metrics.gaussian_stats(
      np.concatenate([jax.device_get(classify(test[i:i + chunk]))[0] for i in range(0, len(test), chunk)]))
  generator = model.generator()
  running = jax.jit(lambda v, z: generator.apply(v, z, train=False))
  batch = jax.jit(lambda v, z: generator.apply(v, z, train=True, mutable=["batch_stats"])[0])
  z = gan_models.latent(model, jax.random.PRNGKey(1), args.samples)
  noise_only = np.arange(model.latent_size) < model.latent_dim  # truncation scales the noise, never a code

  def score(variables, draw, scale=1.0):
    out = [jax.device_get(classify(gan.to_data_range(draw(variables, np.where(noise_only, scale, 1.0) * z[i:i + chunk]))))
           for i in range(0, args.samples, chunk)]
    features, probs = np.concatenate([o[0] for o in out]), np.concatenate([o[1] for o in out])
    return {"fid": gan_metrics.frechet_distance(*gan_metrics.gaussian_stats(features), *reference),
            "confident": gan_metrics.confident_fraction(probs), "class_entropy": gan_metrics.class_entropy(probs),
            "unconfident_two_class_blends": two_class_blends(probs)}

  results = {}
  for which in ("generator_ema", "generator"):
    results[f"{which}/running_bn"] = score(params[which], running)
    results[f"{which}/batch_bn"] = score(params[which], batch)
  for scale in (0.8, 0.6):
    results[f"generator_ema/running_bn/z_times_{scale}"] = score(params["generator_ema"], running, scale)
  for name, r in results.items():
    print(f"{name:42s} fid {r['fid']:7.2f}  confident {r['confident']:.4f}  class entropy {r['class_entropy']:.4f}")
  if args.json:
    with open(args.json, "w") as f:
      json.dump({"workdir": args.workdir, "git_revision": runs.git_revision(),
                 "results": results}, f, indent=1)


if __name__ == "__main__":
  main()

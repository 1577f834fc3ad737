"""What an InfoGAN code (``config.model.code_classes = K``) came to mean: for each code value, the evaluator's
classes of the samples drawn with it, and how well code and class determine each other.

  python experiments/gan/code_purity.py --workdir runs/gan/infogan_recipe --json experiments/gan/code_purity_mnist_dcgan.json

Reads the run's newest checkpoint and the evaluator of its config (nothing is written there); draws ``--samples``
latents per code value from noise seed 1 (not the run's fixed noise batch), generates from the generator's
running average as the run scores it, and reports: the [K, 10] table of predicted classes; purity (the fraction
of samples whose class is the most common class of their code); the normalised mutual information between code
and class (0: unrelated, 1: each determines the other); and, per code, the fraction confident >= 0.9.
"""

import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np

from bigjax import runs
from bigjax.evals import gan as gan_metrics
from bigjax.tasks import gan


def normalised_mutual_information(table: np.ndarray) -> float:
  """``[codes, classes]`` counts -> I(code; class) / sqrt(H(code) H(class)), in nats."""
  joint = table / table.sum()
  pc, pk = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
  nz = joint > 0
  mi = float(np.sum(joint[nz] * np.log(joint[nz] / (pc @ pk)[nz])))
  entropy = lambda p: float(-np.sum(p[p > 0] * np.log(p[p > 0])))
  return mi / max(np.sqrt(entropy(pc) * entropy(pk)), 1e-12)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True, help="a GAN run trained with config.model.code_classes > 0")
  parser.add_argument("--json", help="write the table and scores here")
  parser.add_argument("--samples", type=int, default=1000, help="per code value")
  args = parser.parse_args()
  config, model, params = runs.restore_params(args.workdir)
  classes = getattr(model, "code_classes", 0)
  if not classes:
    raise SystemExit(f"{args.workdir}: its model draws no code (config.model.code_classes=0)")
  evaluator = runs.load_part(gan.parts(config)["evaluator"])
  classifier, classifier_params = evaluator.model, evaluator.params
  classify = gan.make_classify(classifier, classifier_params, config.task.evaluator_features)
  generate = jax.jit(lambda v, z: gan.sample(model, v, z))
  noise = jax.random.normal(jax.random.PRNGKey(1), (args.samples, model.latent_dim), jnp.float32)
  table, confident = [], []
  for c in range(classes):
    code = jnp.broadcast_to(jax.nn.one_hot(c, classes, dtype=jnp.float32), (args.samples, classes))
    z = jnp.concatenate([noise, code], axis=1)  # the layout of gan_models.latent, with the code fixed to c
    probs = np.concatenate([jax.device_get(classify(generate(params["generator_ema"], z[i:i + 500])))[1]
                            for i in range(0, args.samples, 500)])
    table.append(np.bincount(probs.argmax(1), minlength=probs.shape[1]))
    confident.append(gan_metrics.confident_fraction(probs))
  table = np.stack(table)
  result = {"workdir": args.workdir, "git_revision": runs.git_revision(), "samples_per_code": args.samples,
            "classes_by_code": table.tolist(), "purity": float(table.max(1).sum() / table.sum()),
            "nmi": normalised_mutual_information(table), "confident_by_code": confident,
            "majority_class_by_code": table.argmax(1).tolist()}
  for c, row in enumerate(table):
    print(f"code {c}: classes {row.tolist()}  confident {confident[c]:.3f}")
  print(f"purity {result['purity']:.4f}  NMI {result['nmi']:.4f}  "
        f"distinct majority classes {len(set(result['majority_class_by_code']))}")
  if args.json:
    with open(args.json, "w") as f:
      json.dump(result, f, indent=1)


if __name__ == "__main__":
  main()

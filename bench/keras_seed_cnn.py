"""The seed's Keras MNIST CNN, written as the seed writes it, timed.

Model: Conv2D(32, 3x3, relu) -> MaxPooling2D(2) -> Flatten -> Dense(10, softmax),
Adam (Keras defaults: lr 1e-3, eps 1e-7), sparse categorical cross-entropy,
`fit(x_train, y_train, epochs, batch_size=32)` then `evaluate(x_test, y_test)`.
Data: `bigjax.data.images.load('mnist', ...)`, the files and [0, 1] scaling bigjax trains on.

Measures (data loading excluded, as in bigjax's `wall_time_s`):
  wall_time_s   fit + evaluate, tracing of Keras's tf.functions included
  fit_time_s    fit only
  steps_per_s   train steps / fit_time_s
  steady_steps_per_s  steps/s over epochs 2.. (first epoch holds the tracing);
                equals steps_per_s when there is only one epoch

  python bench/keras_seed_cnn.py                       # the seed run: 10 epochs
  python bench/keras_seed_cnn.py --epochs 1 --json /tmp/keras.json
"""

import argparse
import json
import math
import os
import platform
import sys
import time
import warnings

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TF's oneDNN/CPU-feature banners

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo root
# bigjax's own reader, so every bench trains on the very arrays bigjax does (no jax import).
from bigjax import data as bigjax_data  # pylint: disable=wrong-import-position
from bigjax.data import images as bigjax_images  # pylint: disable=wrong-import-position


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--epochs", type=int, default=10)
  p.add_argument("--batch-size", type=int, default=32)
  p.add_argument("--seed", type=int, default=0, help="keras.utils.set_random_seed (init and shuffling)")
  p.add_argument("--verbose", type=int, default=2, choices=(0, 2), help="Keras fit verbosity: 2 = one line per epoch")
  p.add_argument("--json", metavar="OUT", help="write the results as JSON to this path")
  return p.parse_args(argv)


def build_seed_model(keras):
  """The seed's model, layer for layer."""
  with warnings.catch_warnings():
    # Keras 3 prefers keras.Input, but `input_shape=` is how the seed writes it; same model.
    warnings.simplefilter("ignore", UserWarning)
    model = keras.models.Sequential([
        keras.layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ])
  model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
  return model


def main(argv=None):
  args = parse_args(argv)
  try:
    import keras  # pylint: disable=import-outside-toplevel
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
  except ImportError as e:
    sys.exit(f"keras_seed_cnn: Keras/TensorFlow not installed ({e}); "
             "pip install tensorflow-cpu keras")

  train = bigjax_images.load("mnist", "train")
  test = bigjax_images.load("mnist", "test")
  keras.utils.set_random_seed(args.seed)
  model = build_seed_model(keras)

  epoch_ends = []

  class EpochClock(keras.callbacks.Callback):
    """Epoch-level only: a per-batch hook would add Python work to every step."""

    def on_epoch_end(self, epoch, logs=None):
      epoch_ends.append(time.perf_counter())

  t0 = time.perf_counter()
  history = model.fit(train.images, train.labels, epochs=args.epochs, batch_size=args.batch_size,
                      verbose=args.verbose, callbacks=[EpochClock()])
  t_fit = time.perf_counter()
  test_loss, test_accuracy = model.evaluate(test.images, test.labels, verbose=0)
  t_end = time.perf_counter()

  steps_per_epoch = math.ceil(len(train.labels) / args.batch_size)
  steps = steps_per_epoch * args.epochs
  fit_time = t_fit - t0
  if len(epoch_ends) > 1:
    steady = steps_per_epoch * (len(epoch_ends) - 1) / (epoch_ends[-1] - epoch_ends[0])
  else:
    steady = steps / fit_time

  results = {
      "framework": "keras",
      "versions": {"keras": keras.__version__, "tensorflow": tf.__version__,
                   "keras_backend": keras.backend.backend(), "python": platform.python_version()},
      "epochs": args.epochs,
      "batch_size": args.batch_size,
      "seed": args.seed,
      "steps": steps,
      "wall_time_s": t_end - t0,
      "fit_time_s": fit_time,
      "eval_time_s": t_end - t_fit,
      "epoch_times_s": [b - a for a, b in zip([t0] + epoch_ends[:-1], epoch_ends)],
      "steps_per_s": steps / fit_time,
      "steady_steps_per_s": steady,
      "train_accuracy_last_epoch": float(history.history["accuracy"][-1]),
      "test_accuracy": float(test_accuracy),
      "test_loss": float(test_loss),
      "threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                  "inter_op": tf.config.threading.get_inter_op_parallelism_threads()},
      "data": f"bigjax.data.images.load('mnist') from {bigjax_data.default_data_dir() / 'mnist'}",
  }
  print(json.dumps(results, indent=2))
  if args.json:
    with open(args.json, "w") as f:
      json.dump(results, f, indent=2)


if __name__ == "__main__":
  main()

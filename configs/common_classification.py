"""Classification's field beyond the loop's (bigjax/tasks/classification.py reads it): every image and sentence
classification config adds it."""

import ml_collections


def add_fields(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  c.task.random_shift = 0         # > 0: translate training images by up to this many pixels
  return c

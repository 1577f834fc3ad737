"""The referee's rule, in one place: nothing is chosen on a test split.

A run evaluates ``config.data.eval_split`` while it trains (its curves; the split anything is chosen on) and,
where ``config.data.test_split`` names one, the final parameters on that split once, after the last step.
Whatever picks among evaluations (a pre-trained part's best checkpoint, a sweep's best point, a report's
best epoch) reads a validation metric; given a test metric it raises ``SelectionError``, so a number chosen
on test cannot enter a table. A metric is named ``<split>/<name>`` (``validation/accuracy``); a split is a
test split when it is named ``test`` (``test``, ``test2016``, ``test_clean``) or is the run's ``test_split``.
"""

import re

# "test", "test2016", "test-clean", "test_matched": the names datasets give their held-out test sets.
_TEST_NAME = re.compile(r"^test([_\-]?\w*)?$")


class SelectionError(ValueError):
  """Something would be chosen by a test-split metric."""


def is_test_split(split: str, test_split: str = "") -> bool:
  return bool(_TEST_NAME.match(split)) or (bool(test_split) and split == test_split)


def split_of(metric: str) -> str:
  """``"validation"`` of ``"validation/accuracy"``; ``""`` for a metric without a split (``wall_time_s``)."""
  return metric.split("/", 1)[0] if "/" in metric else ""


def check_selectable(metric: str, what: str, test_split: str = "") -> str:
  """``metric``, unless it reads a test split: then ``SelectionError`` naming ``what`` would be chosen by it."""
  split = split_of(metric)
  if split and is_test_split(split, test_split):
    raise SelectionError(f"{what} would be chosen by {metric!r}, a metric of the test split {split!r}; choose on "
                         f"a validation split (config.data.eval_split=validation, config.data.test_split={split}) "
                         f"and read the test split once, at the end")
  return metric


def check_splits(train_split: str, eval_split: str, test_split: str) -> None:
  """A config's three splits: the test split, when named, is neither trained on nor evaluated during training."""
  if not test_split:
    return
  if test_split in (train_split, eval_split):
    role = "train_split" if test_split == train_split else "eval_split"
    raise SelectionError(f"config.data.test_split={test_split!r} is also config.data.{role}: the test split is read "
                         f"once, after training; evaluate on a validation split while training")
  if is_test_split(eval_split, test_split):
    raise SelectionError(f"config.data.eval_split={eval_split!r} is a test split, and config.data.test_split="
                         f"{test_split!r} another: evaluate on a validation split while training")

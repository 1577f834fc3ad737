"""scripts/social_cv.py: per fold, the run of lowest validation RMSE; refusals (a test metric, a sweep without
every fold, an existing cv.json) leave nothing written and exit 2."""

import importlib.util
import json

import pytest

from conftest import REPO

spec = importlib.util.spec_from_file_location("social_cv", REPO / "scripts" / "social_cv.py")
social_cv = importlib.util.module_from_spec(spec)
spec.loader.exec_module(social_cv)


def fake_sweep(root, folds=range(5)):
  """Finished-run records as the loop writes them (results.json with config and final metrics), two a fold."""
  for fold in folds:
    for reg, rmse in ((0.1, 0.90 + fold / 100), (1.0, 0.85 + fold / 100)):
      run = root / f"data.fold={fold},model.reg={reg}"
      run.mkdir(parents=True)
      (run / "results.json").write_text(json.dumps({"config": {"data": {"fold": fold}, "model": {"reg": reg}},
                                                    "final_metrics": {"validation/rmse": rmse}, "wall_time_s": 1.0}))


def test_each_fold_chooses_its_lowest_validation_rmse(tmp_path):
  fake_sweep(tmp_path)
  by_fold = social_cv.fold_runs(tmp_path)
  assert sorted(by_fold) == [0, 1, 2, 3, 4] and all(len(runs) == 2 for runs in by_fold.values())
  best, values = social_cv.choose(by_fold[3], "validation/rmse")
  assert best.name == "data.fold=3,model.reg=1.0" and values == {"data.fold=3,model.reg=0.1": 0.93,
                                                                  "data.fold=3,model.reg=1.0": 0.88}
  folds = [{"test": {f"test/{m}": v for m in social_cv.REPORTED}} for v in (1.0, 2.0, 3.0)]
  assert social_cv.summary(folds)["test/rmse"] == {"mean": 2.0, "std": 1.0, "values": [1.0, 2.0, 3.0]}


@pytest.mark.parametrize("case", ["test metric", "missing fold", "existing record"])
def test_refusals_exit_2_and_write_nothing(tmp_path, capsys, case):
  fake_sweep(tmp_path, folds=range(4) if case == "missing fold" else range(5))
  if case == "existing record":
    (tmp_path / "cv.json").write_text("{}")
  args = [str(tmp_path)] + (["--metric=test/rmse"] if case == "test metric" else [])
  assert social_cv.main(args) == 2
  message = capsys.readouterr().err
  assert {"test metric": "a metric of the test split", "missing fold": "folds [0, 1, 2, 3], expected 0-4",
          "existing record": "cv.json exists"}[case] in message
  assert (tmp_path / "cv.json").exists() == (case == "existing record")
  assert not list(tmp_path.glob("*/eval_test.json"))

"""Every experiment config declares its variants: ``VARIANTS = {name: one-line description}``, exactly the names its
``get_config`` accepts, and the same names in its docstring's ``Variants:`` paragraph (``bigjax configs`` lists
them; ``configs.load`` refuses any other)."""

import re

import ml_collections
import pytest

from bigjax import configs

CONFIG_FILES = sorted(f for f in (configs.REPO / "configs").glob("*.py") if not f.name.startswith("common_"))


def variants_paragraph(doc: str) -> str | None:
  """The docstring's ``Variants:`` paragraph, its continuation lines (indented) joined; None when it has none."""
  lines = doc.splitlines()
  for i, line in enumerate(lines):
    if line.startswith("Variants:"):
      paragraph = [line]
      for more in lines[i + 1:]:
        if not more.strip() or not more[0].isspace():
          break
        paragraph.append(more)
      return " ".join(" ".join(paragraph).split())
  return None


def test_variants_paragraph_reads_the_indented_continuation_and_stops_at_the_next_field():
  doc = "Title.\n\nVariants: ``a`` (one);\n          ``b`` (two).\nSweep:    ``get_sweep``.\n"
  assert variants_paragraph(doc) == "Variants: ``a`` (one); ``b`` (two)."
  assert variants_paragraph("Title.\nVariants: none.\n\nMore.") == "Variants: none."
  assert variants_paragraph("Title.\n\nVariant ``cpu``: a recipe.\n") is None


def test_there_are_config_files_and_the_recipe_modules_are_left_out():
  names = {f.stem for f in CONFIG_FILES}
  assert {"digits_mlp", "ml100k_neumf", "ncf_ablation", "text_cnn_mr"} <= names
  assert not any(name.startswith("common_") for name in names)


@pytest.fixture(params=CONFIG_FILES, ids=lambda f: f.stem)
def module(request):
  return configs.load_module(request.param)


def test_variants_is_a_dict_of_names_to_one_line_descriptions(module):
  variants = getattr(module, "VARIANTS", None)
  assert isinstance(variants, dict), f"{module.__file__} declares no VARIANTS dict"
  for name, description in variants.items():
    assert isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9_]+", name), name
    assert isinstance(description, str) and description.strip() == description and description, name
    assert "\n" not in description and len(description) <= 100, f"{name}: not one short line: {description!r}"


def test_get_config_accepts_every_declared_variant(module):
  for name in module.VARIANTS:
    assert isinstance(module.get_config(name), ml_collections.ConfigDict), name


def test_get_config_refuses_an_unknown_variant_naming_the_known_ones(module):
  known = ", ".join(module.VARIANTS)
  # a made-up name, and each known one with a suffix (names parsed in parts: cpu_smoke, f16, ml100k_factors)
  for name in ["no_such_variant"] + [f"{v}_x" for v in module.VARIANTS]:
    with pytest.raises(ValueError) as refused:
      module.get_config(name)
    assert name in str(refused.value) and known in str(refused.value), str(refused.value)


def test_docstring_variants_paragraph_names_exactly_the_declared_variants_in_order(module):
  paragraph = variants_paragraph(module.__doc__ or "")
  assert paragraph is not None, f"{module.__file__}: its docstring has no 'Variants:' paragraph"
  named = re.findall(r"``([^`]+)``", paragraph)
  if module.VARIANTS:
    assert named == list(module.VARIANTS), f"{module.__file__}: {paragraph}"
  else:
    assert paragraph == "Variants: none.", f"{module.__file__}: {paragraph}"


def test_ncf_and_text_cnn_configs_build_on_their_recipes_variants():
  """The variants a shared recipe accepts (``common_ncf.ncf_variant``, ``common_text.kim_cnn``) are declared once
  there; every config that calls the recipe declares them, in the recipe's order, before its own."""
  for file in CONFIG_FILES:
    source = file.read_text()
    for recipe, call in (("common_ncf", "common_ncf.ncf_variant("), ("common_text", "common_text.kim_cnn(")):
      if call in source:
        shared = list(configs.sibling(str(file), recipe).VARIANTS)
        assert list(configs.load_module(file).VARIANTS)[:len(shared)] == shared, file.name

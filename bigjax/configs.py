"""Config files: ``configs/x.py[:variant]`` -> a locked ``ml_collections.ConfigDict``.

The one way bigjax reads a config file by path outside the command line (where ml_collections'
``config_flags`` does it, with ``--config.a.b=v`` overrides): ``bigjax.sweep``, the tests, the benches and
the experiment scripts all call ``load`` or ``load_module``. A config file is plain Python with
``get_config(arg=None) -> ConfigDict`` and, for a sweep, ``get_sweep(arg=None) -> [{dotted key: value}]``;
family recipes shared by several files live beside them in ``configs/common_*.py`` and are read with
``sibling(__file__, "common_x")``.

Relative paths are looked up in the working directory, then in the repository that holds this package, so
``load("configs/mnist_mlp.py:smoke")`` works from anywhere in a checkout.
"""

import importlib.util
import pathlib
import sys
from types import ModuleType

import ml_collections

REPO = pathlib.Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
  """A config value that cannot work; raised before anything is computed or written."""


def split(spec: str) -> tuple[str, str | None]:
  """``configs/x.py:smoke`` -> ``("configs/x.py", "smoke")``; no colon -> variant ``None``."""
  path, sep, variant = str(spec).partition(":")
  return path, (variant if sep else None)


def resolve(path: str | pathlib.Path) -> pathlib.Path:
  """``path`` as given when it exists, else relative to the repository root; ``ConfigError`` if neither."""
  given = pathlib.Path(path)
  for candidate in (given, REPO / given):
    if candidate.is_file():
      return candidate
  raise ConfigError(f"config file {path} not found")


def load_module(path: str | pathlib.Path) -> ModuleType:
  """The Python file at ``path`` (a config, a script) imported as a fresh module named after it."""
  file = resolve(path)
  spec = importlib.util.spec_from_file_location(f"bigjax_config_{file.stem}", file)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def sibling(config_file: str, name: str) -> ModuleType:
  """The module ``name`` beside ``config_file`` (a config's ``__file__``): ``configs/common_*.py`` recipes."""
  key = f"bigjax_config_{name}"
  if key not in sys.modules:  # one copy per process, so its functions compare equal across configs
    sys.modules[key] = load_module(pathlib.Path(config_file).resolve().with_name(f"{name}.py"))
  return sys.modules[key]


def load(spec: str, lock: bool = True) -> ml_collections.ConfigDict:
  """``get_config(variant)`` of ``path[:variant]``, locked (a typo in a field name is then an error)."""
  path, variant = split(spec)
  module = load_module(path)
  if not hasattr(module, "get_config"):
    raise ConfigError(f"{path} defines no get_config(arg=None)")
  config = module.get_config(variant)
  if lock:
    config.lock()
  return config


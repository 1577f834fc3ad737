"""Tests for bigjax.parallel: mesh sizes, sharding rules, auto-FSDP and tree paths.

The rules only read axis sizes, so most tests use a device-free ``AbstractMesh`` in this process.
What needs real devices (make_mesh, placing arrays, assembling a global batch) runs once, in ONE
subprocess with 8 fake CPU devices that prints JSON.
"""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import ml_collections
import pytest
from jax.sharding import AbstractMesh, NamedSharding, PartitionSpec as P

from bigjax import parallel
from bigjax.parallel import ShardingError, leaf_spec, mesh_shape, path_str, tree_shardings


def abstract_mesh(data=1, fsdp=1, tensor=1):
  return AbstractMesh((data, fsdp, tensor), parallel.MESH_AXES)


def mesh_cfg(data=-1, fsdp=1, tensor=1):
  return ml_collections.ConfigDict({"data": data, "fsdp": fsdp, "tensor": tensor})


# ---------------------------------------------------------------------------------- mesh_shape ---

@pytest.mark.parametrize("cfg, devices, expected", [
    ((-1, 1, 1), 8, (8, 1, 1)),
    ((-1, 2, 2), 8, (2, 2, 2)),
    ((2, -1, 1), 8, (2, 4, 1)),
    ((1, 2, -1), 8, (1, 2, 4)),
    ((2, 2, 2), 8, (2, 2, 2)),
    ((-1, 1, 1), 1, (1, 1, 1)),
])
def test_mesh_shape_fills_minus_one(cfg, devices, expected):
  assert mesh_shape(mesh_cfg(*cfg), devices) == dict(zip(parallel.MESH_AXES, expected))
  assert list(mesh_shape(mesh_cfg(*cfg), devices)) == list(parallel.MESH_AXES)


@pytest.mark.parametrize("cfg, devices, match", [
    ((-1, -1, 1), 8, r"at most one axis may be -1, got \['data', 'fsdp'\]"),
    ((-1, 3, 1), 8, "8 devices cannot be split"),
    ((2, 2, 1), 8, "needs 4 devices, but 8 are available"),
    ((4, 4, 1), 8, "needs 16 devices"),
    ((-1, 0, 1), 8, r"config.mesh.fsdp=0 must be a positive size or -1"),
    ((0, 1, 1), 8, r"config.mesh.data=0"),
    ((1, 1, -2), 8, r"config.mesh.tensor=-2"),
])
def test_mesh_shape_errors(cfg, devices, match):
  with pytest.raises(ShardingError, match=match):
    mesh_shape(mesh_cfg(*cfg), devices)


def test_sharding_error_is_value_error():
  assert issubclass(ShardingError, ValueError)


# ------------------------------------------------------------------------------------- path_str ---

@jax.tree_util.register_dataclass
@dataclasses.dataclass
class MomentState:  # a pytree node whose children are reached through GetAttrKey, like optax states
  mu: dict


def test_path_str_of_dicts_lists_and_attributes():
  tree = {"params": {"Dense_0": {"kernel": 1}}, "opt": [MomentState(mu={"b": 2})]}
  paths = [path_str(p) for p, _ in jax.tree_util.tree_leaves_with_path(tree)]
  assert paths == ["opt/0/mu/b", "params/Dense_0/kernel"]
  assert path_str(()) == ""
  assert path_str((jax.tree_util.DictKey(3), jax.tree_util.SequenceKey(1))) == "3/1"


# ------------------------------------------------------------------------------------ leaf_spec ---

def test_rule_specs_count_from_last_dimension():
  mesh = abstract_mesh(2, 2, 2)
  rules = [("kernel", ("fsdp", "tensor"))]
  assert leaf_spec("params/Dense_0/kernel", (8, 6), mesh, rules, 2**14) == P("fsdp", "tensor")
  assert leaf_spec("params/Conv_0/kernel", (3, 3, 8, 6), mesh, rules, 2**14) == P(None, None, "fsdp", "tensor")
  # A spec longer than the array keeps its last entries: a bias [out] gets ('tensor',).
  assert leaf_spec("params/Dense_0/kernel_bias", (6,), mesh, rules, 2**14) == P("tensor")
  assert leaf_spec("step/kernel", (), mesh, rules, 2**14) == P()


def test_first_matching_rule_wins():
  mesh = abstract_mesh(1, 2, 4)
  rules = [("Dense_0/kernel", (None, "tensor")), ("kernel", ("fsdp", None)), (".*", ())]
  assert leaf_spec("params/Dense_0/kernel", (6, 8), mesh, rules, 1) == P(None, "tensor")
  assert leaf_spec("params/Dense_1/kernel", (6, 8), mesh, rules, 1) == P("fsdp", None)
  # The catch-all rule replicates, and a matched rule turns auto-FSDP off even for large leaves.
  assert leaf_spec("params/Dense_1/bias", (1 << 16,), mesh, rules, 1) == P(None)
  # re.search: the rule may match anywhere, so optimizer moments follow their parameter.
  assert leaf_spec("opt_state/0/mu/Dense_0/kernel", (6, 8), mesh, rules, 1) == P(None, "tensor")


def test_rule_with_several_axes_on_one_dimension():
  mesh = abstract_mesh(2, 2, 2)
  spec = leaf_spec("w", (8, 3), mesh, [("w", (("data", "fsdp"), None))], 1)
  assert spec == P(("data", "fsdp"), None)
  with pytest.raises(ShardingError, match=r"dimension 6 over mesh axes \('data', 'fsdp'\) of size 4"):
    leaf_spec("w", (6, 3), mesh, [("w", (("data", "fsdp"), None))], 1)


@pytest.mark.parametrize("shape, spec, dim, axis, size", [
    ((8, 6), ("fsdp", "tensor"), 6, "tensor", 4),
    ((3, 3, 5, 8), ("fsdp", "tensor"), 5, "fsdp", 2),
    ((7,), ("fsdp",), 7, "fsdp", 2),
])
def test_non_dividing_rule_names_parameter_and_axis(shape, spec, dim, axis, size):
  mesh = abstract_mesh(1, 2, 4)
  with pytest.raises(ShardingError) as info:
    leaf_spec("params/Block_3/Dense_1/kernel", shape, mesh, [("Dense_1", spec)], 1)
  message = str(info.value)
  assert "params/Block_3/Dense_1/kernel" in message
  assert f"dimension {dim} over mesh axes {axis} of size {size}" in message
  assert str(shape) in message


def test_auto_fsdp_shards_largest_divisible_dimension():
  mesh = abstract_mesh(2, 4, 1)
  min_size = 64
  assert leaf_spec("a", (16, 32), mesh, (), min_size) == P(None, "fsdp")
  assert leaf_spec("a", (32, 16), mesh, (), min_size) == P("fsdp", None)
  # The largest dimension (30) does not divide by 4: the next largest that does is taken.
  assert leaf_spec("a", (3, 30, 8), mesh, (), min_size) == P(None, None, "fsdp")
  # Ties go to the first dimension.
  assert leaf_spec("a", (3, 3, 16, 16), mesh, (), min_size) == P(None, None, "fsdp", None)
  # No dimension divides: replicated.
  assert leaf_spec("a", (9, 15), mesh, (), min_size) == P()


def test_auto_fsdp_min_size_and_scalars():
  mesh = abstract_mesh(1, 4, 1)
  assert leaf_spec("a", (8, 8), mesh, (), 64) == P("fsdp", None)    # exactly min size: sharded
  assert leaf_spec("a", (8, 7), mesh, (), 64) == P()                # below: replicated
  assert leaf_spec("bias", (32,), mesh, (), 2**14) == P()           # small leaf
  assert leaf_spec("count", (), mesh, (), 2**14) == P()             # scalar
  assert leaf_spec("count", (), mesh, (), 0) == P()                 # scalar even with min size 0
  # Without an fsdp axis nothing is auto-sharded.
  assert leaf_spec("a", (1 << 10, 1 << 10), abstract_mesh(4, 1, 2), (), 1) == P()


def test_auto_fsdp_dimension_product_does_not_overflow():
  # 2^20 * 2^20 * 4 elements overflow int32 if counted in it.
  assert leaf_spec("a", (1 << 20, 1 << 20, 4), abstract_mesh(1, 4, 1), (), 2**14) == P("fsdp", None, None)


def test_tree_shardings_over_params_and_optimizer_state():
  mesh = abstract_mesh(1, 2, 2)
  params = {"Conv_0": {"kernel": jax.ShapeDtypeStruct((3, 3, 4, 8), jnp.float32),
                       "bias": jax.ShapeDtypeStruct((8,), jnp.float32)},
            "Dense_0": {"kernel": jax.ShapeDtypeStruct((256, 64), jnp.float32),
                        "bias": jax.ShapeDtypeStruct((64,), jnp.float32)}}
  state = {"params": params, "opt": {"mu": params, "count": jax.ShapeDtypeStruct((), jnp.int32)}}
  rules = [("Conv_0/kernel", ("fsdp", "tensor"))]
  shardings = tree_shardings(state, mesh, rules, fsdp_min_size=1024)
  assert jax.tree.structure(shardings) == jax.tree.structure(state)
  specs = {path_str(p): s.spec for p, s in jax.tree_util.tree_leaves_with_path(shardings)}
  for prefix in ("params", "opt/mu"):
    assert specs[f"{prefix}/Conv_0/kernel"] == P(None, None, "fsdp", "tensor")
    assert specs[f"{prefix}/Conv_0/bias"] == P()
    assert specs[f"{prefix}/Dense_0/kernel"] == P("fsdp", None)
    assert specs[f"{prefix}/Dense_0/bias"] == P()
  assert specs["opt/count"] == P()
  assert all(isinstance(s, NamedSharding) and s.mesh == mesh for s in jax.tree.leaves(shardings))


# ----------------------------------------------------------------- 8 fake devices, one process ---

CHILD = textwrap.dedent("""
    import json
    import jax, jax.numpy as jnp, numpy as np, ml_collections
    from jax.sharding import PartitionSpec as P
    from bigjax import parallel

    out = {"devices": jax.device_count()}
    cfg = ml_collections.ConfigDict({"data": -1, "fsdp": 2, "tensor": 2})
    mesh = parallel.make_mesh(cfg)
    out["mesh"] = dict(mesh.shape)
    out["axis_types"] = [str(t) for t in mesh.axis_types]
    sub = parallel.make_mesh(ml_collections.ConfigDict({"data": 1, "fsdp": -1, "tensor": 1}), jax.devices()[:4])
    out["sub_mesh"] = dict(sub.shape)
    out["sub_devices"] = sorted(d.id for d in sub.devices.flat)
    out["sub_axis_types"] = [str(t) for t in sub.axis_types]

    params = {"Conv_0": {"kernel": jnp.arange(3 * 3 * 4 * 8, dtype=jnp.float32).reshape(3, 3, 4, 8),
                         "bias": jnp.arange(8, dtype=jnp.float32)},
              "Dense_0": {"kernel": jnp.arange(256 * 6, dtype=jnp.float32).reshape(256, 6),
                          "bias": jnp.arange(6, dtype=jnp.float32)},
              "step": jnp.zeros((), jnp.int32)}
    rules = [("Conv_0/kernel", ("fsdp", "tensor"))]
    shardings = parallel.tree_shardings(params, mesh, rules, fsdp_min_size=1000)
    placed = jax.device_put(params, shardings)
    doubled = jax.jit(lambda p: jax.tree.map(lambda x: x * 2, p), out_shardings=shardings)(placed)
    out["leaves"] = {}
    for (path, x), (_, y), (_, orig) in zip(jax.tree_util.tree_leaves_with_path(placed),
                                            jax.tree_util.tree_leaves_with_path(doubled),
                                            jax.tree_util.tree_leaves_with_path(params)):
      out["leaves"][parallel.path_str(path)] = {
          "spec": [None if a is None else a for a in x.sharding.spec],
          "shard_shape": list(x.addressable_shards[0].data.shape),
          "num_shards": len(x.addressable_shards),
          "round_trip": bool(np.array_equal(np.asarray(x), np.asarray(orig))),
          "jit_spec_kept": y.sharding.spec == x.sharding.spec,
          "jit_value": bool(np.array_equal(np.asarray(y), 2 * np.asarray(orig)))}
    try:
      parallel.tree_shardings({"Dense_1": {"kernel": jnp.zeros((5, 6))}}, mesh, [("Dense_1", ("fsdp", None))])
      out["error"] = None
    except parallel.ShardingError as e:
      out["error"] = str(e)

    batch = {"image": np.arange(8 * 3, dtype=np.float32).reshape(8, 3)}
    glob = parallel.host_to_global(batch, mesh)["image"]
    out["batch_shards"] = parallel.batch_shards(mesh)
    out["batch_spec"] = [list(a) if isinstance(a, tuple) else a for a in glob.sharding.spec]
    out["batch_shard_shape"] = list(glob.addressable_shards[0].data.shape)
    out["batch_round_trip"] = bool(np.array_equal(np.asarray(glob), batch["image"]))
    print("JSON" + json.dumps(out))
""")


@pytest.fixture(scope="module")
def eight_devices():
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
  proc = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=180)
  assert proc.returncode == 0, proc.stderr[-3000:]
  line = [l for l in proc.stdout.splitlines() if l.startswith("JSON")][-1]
  return json.loads(line[4:])


def test_make_mesh_on_eight_devices(eight_devices):
  out = eight_devices
  assert out["devices"] == 8
  assert out["mesh"] == {"data": 2, "fsdp": 2, "tensor": 2}
  assert all("Auto" in t for t in out["axis_types"] + out["sub_axis_types"]), out
  assert out["sub_mesh"] == {"data": 1, "fsdp": 4, "tensor": 1}
  assert out["sub_devices"] == [0, 1, 2, 3]


def test_tree_shardings_place_real_arrays(eight_devices):
  leaves = eight_devices["leaves"]
  expected = {  # path -> (spec, shard shape) on data=2, fsdp=2, tensor=2
      "Conv_0/kernel": ([None, None, "fsdp", "tensor"], [3, 3, 2, 4]),
      "Conv_0/bias": ([], [8]),
      "Dense_0/kernel": (["fsdp", None], [128, 6]),   # auto-FSDP: 1536 >= 1000 elements, largest dim
      "Dense_0/bias": ([], [6]),
      "step": ([], []),
  }
  assert set(leaves) == set(expected)
  for path, (spec, shard_shape) in expected.items():
    leaf = leaves[path]
    assert leaf["spec"] == spec, path
    assert leaf["shard_shape"] == shard_shape, path
    assert leaf["num_shards"] == 8 and leaf["round_trip"] and leaf["jit_spec_kept"] and leaf["jit_value"], (path, leaf)


def test_non_dividing_rule_on_real_mesh(eight_devices):
  error = eight_devices["error"]
  assert error is not None and "Dense_1/kernel" in error and "dimension 5 over mesh axes fsdp of size 2" in error


def test_host_batch_to_global_array(eight_devices):
  out = eight_devices
  assert out["batch_shards"] == 4
  assert out["batch_spec"] == [["data", "fsdp"]]
  assert out["batch_shard_shape"] == [2, 3]
  assert out["batch_round_trip"]


# ---------------------------------------------------------------------------------- logical axis names ---

def gpt_state_specs(mesh, scan_layers=False):
  """PartitionSpecs of a small GPT's train state placed by the default logical rules on ``mesh``."""
  from bigjax import config_base, optim, program
  from bigjax.models import transformer
  from bigjax.tasks import language_model
  config = config_base.base_config()
  config.optim.name = "adamw"
  model = transformer.Decoder(vocab_size=65, max_len=32, num_layers=2, num_heads=4, embed_dim=32,
                              scan_layers=scan_layers, use_bias=False)
  example = {"tokens": ((33,), jnp.int32)}
  task = language_model.make(config, model, optim.make_optimizer(config.optim, 10)[0])
  _, state = program.abstract_train_state(config, task, mesh, example)
  specs = jax.tree.map(lambda a: a.sharding.spec, state)
  flat = {path_str(p): s for p, s in jax.tree_util.tree_flatten_with_path(specs, is_leaf=lambda x: isinstance(x, P))[0]}
  return flat


def test_transformer_heads_and_mlp_on_tensor_embedding_on_fsdp():
  specs = gpt_state_specs(abstract_mesh(2, 2, 2))
  assert specs["params/layer_0/attn/query/kernel"] == P("fsdp", "tensor", None)   # [embed, heads, kv]
  assert specs["params/layer_0/attn/out/kernel"] == P("tensor", None, "fsdp")     # [heads, kv, embed]
  assert specs["params/layer_1/mlp_in/kernel"] == P("fsdp", "tensor")              # [embed, mlp]
  assert specs["params/layer_1/mlp_out/kernel"] == P("tensor", "fsdp")             # [mlp, embed]
  assert specs["params/wte"] == P(None, "fsdp")                                    # vocab 65 stays whole
  assert specs["params/ln_f/scale"] == P(None)
  # AdamW's moments sit where their parameter sits; scalars are replicated.
  moments = [k for k in specs if k.endswith("layer_0/attn/query/kernel") and k.startswith("opt_state")]
  assert len(moments) == 2 and all(specs[k] == P("fsdp", "tensor", None) for k in moments)
  assert specs["step"] == P()


def test_scanned_layers_keep_the_layer_axis_whole():
  specs = gpt_state_specs(abstract_mesh(2, 2, 2), scan_layers=True)
  assert specs["params/layers/attn/query/kernel"] == P(None, "fsdp", "tensor", None)  # [layers, embed, heads, kv]


def test_logical_rule_that_does_not_divide_names_the_parameter():
  with pytest.raises(ShardingError, match=r"logical rule 'heads' -> tensor does not divide params/layer_0/attn/"
                                          r"\w+/kernel of shape \(32, 4, 8\)"):
    gpt_state_specs(abstract_mesh(1, 1, 8))

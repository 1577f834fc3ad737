"""The one training loop: config -> data -> task(model) -> compiled steps over a mesh -> checkpoints, metrics.

Sections, top to bottom: config & workdir -> mesh & rng -> data -> (``run`` takes the workdir's lock, then
``_train``) program (task, state layout and steps, compiled once; ``bigjax.program``) -> restore (and the logs
cut back to it) -> loop with periodic log, eval, checkpoint, preemption (SIGTERM, Ctrl-C) -> results. The loop
knows no model family: it runs the ``Task`` record the family builds (``bigjax.tasks``), handing it the
pre-trained parts its config names (``bigjax.runs.load_parts``). Imported by ``bigjax.main`` and the tests only.
"""

import json
import re
import logging
import pathlib
import time
from typing import Any

import jax
import ml_collections
import numpy as np
from jax.experimental import multihost_utils

from bigjax import checkpoint, optim, parallel, preemption, program, runs, tasks, writers
from bigjax.configs import ConfigError
from bigjax.data import pipeline


class NonFiniteError(FloatingPointError):
  """Loss or gradient norm became NaN/Inf; the message names the step and the last good checkpoint."""


class Preempted(Exception):
  """SIGTERM or Ctrl-C arrived (``bigjax.preemption``); a checkpoint was saved at ``step`` and the run can be
  resumed from the workdir. ``reason``: "preempted" (SIGTERM) or "interrupted" (Ctrl-C)."""

  def __init__(self, step: int, reason: str = "preempted"):
    super().__init__(f"{reason}: checkpoint saved at step {step}")
    self.step = step
    self.reason = reason


def run(config: ml_collections.ConfigDict, workdir: str | pathlib.Path, command: str = "") -> dict[str, Any]:
  """Trains ``config`` in ``workdir`` (resuming from its latest checkpoint) and returns results.json's dict.

  ``command`` (the command line that started the run) is recorded in results.json. A workdir another live run
  holds is refused (``ConfigError`` naming its pid and host; ``runs.lock_workdir``).
  """
  # ---------------------------------------------------------------- config & workdir
  wall_start = time.perf_counter()
  revision = runs.git_revision()  # the code this process imported: read it before a long run, not after
  program.TRACE_COUNTS.clear()
  if "://" in str(workdir):  # pathlib would quietly turn gs://b/x into the local directory gs:/b/x
    raise ConfigError(f"--workdir={workdir}: bigjax writes its workdir through the filesystem; mount the bucket "
                      f"(gcsfuse, as scripts/launch.py does for gs://) and pass the mounted path")
  workdir = pathlib.Path(workdir)
  _profile_window(config.train.profile_steps)  # a malformed window fails here, before anything loads
  writers.wandb_settings(config)  # so does a W&B writer that cannot start

  # ---------------------------------------------------------------- mesh, data, model (program.plan)
  plan = program.plan(config)
  parts = runs.load_parts(plan.family.parts(config))  # pre-trained runs the task needs, before anything is written
  # One run at a time in a workdir: a second is refused while this one lives (multi-host: process 0 holds it).
  with runs.lock_workdir(workdir, enabled=jax.process_index() == 0):
    return _train(config, workdir, command, plan, parts, wall_start, revision)


def _train(config: ml_collections.ConfigDict, workdir: pathlib.Path, command: str, plan: program.Plan,
           parts: dict[str, tasks.Part], wall_start: float, revision: str) -> dict[str, Any]:
  """``run`` from the workdir on, while this run holds it: program, restore, loop, results."""
  is_main = jax.process_index() == 0
  model, family, mesh, train_ds, sched = plan.model, plan.family, plan.mesh, plan.train_ds, plan.sched
  train_arrays, eval_arrays = train_ds.arrays, plan.eval_ds.arrays
  layout = pipeline.TrainLayout(len(train_ds), config.data.batch_size, sched.steps_per_call,
                                jax.process_index(), jax.process_count())
  rng = jax.random.PRNGKey(config.seed)
  runs.prepare_workdir(workdir, config, len(train_ds))
  if train_ds.vocab is not None:
    runs.save_vocab(workdir / "vocab.json", train_ds.vocab.to_json(), is_main)

  # ---------------------------------------------------------------- program: task, state layout, steps (compiled once)
  built = program.build(config, family, model, mesh, program.example_spec(train_arrays), sched,
                        program.example_spec(eval_arrays),
                        tasks.Context(parts, train_arrays, eval_arrays, train_ds.vocab))
  task, state_sharding, abstract_state = built.task, built.state_sharding, built.abstract_state
  train_call, eval_call, zero_sums = built.train_call, built.eval_call, built.zero_sums

  # ---------------------------------------------------------------- restore
  ckpt = checkpoint.Checkpointer(workdir / "checkpoints", config.train.keep_checkpoints,
                                 config.train.async_checkpoint)
  restored = ckpt.restore_latest(abstract_state)
  num_calls = sched.total_steps // sched.steps_per_call
  train_iter = pipeline.train_iterator(train_arrays, layout, seed=config.seed, num_calls=num_calls,
                                       shuffle=config.data.shuffle,
                                       prefetch=pipeline.resolve_prefetch(config.data.prefetch, jax.default_backend()))
  if restored is None:
    state = built.init_state(rng)
    if task.warm_start is not None:  # e.g. NeuMF starting from trained GMF and MLP runs
      params = jax.device_put(task.warm_start(state.params), state_sharding.params)
      # and the optimizer's state (e.g. a parameter average) starts from them
      state = state.replace(params=params, opt_state=built.init_opt_state(params))
    start_step, restored_sums, earlier_wall_s = 0, {}, 0.0
  else:
    start_step, state, data_state = restored
    # The train metrics summed since the last log, so a run resumed mid-interval logs what an uninterrupted
    # one would (checkpoints written before this was saved hold none: the interval restarts).
    restored_sums = data_state.pop("metric_sums", {})
    # The wall time of the segments before this one (None: a checkpoint written before it was saved).
    earlier_wall_s = data_state.pop("wall_time_s", None)
    if start_step >= sched.total_steps and (workdir / "results.json").exists():
      logging.info("%s holds a finished run (step %d); its results.json is kept as it is", workdir, start_step)
      train_iter.close()
      ckpt.close()
      return json.loads((workdir / "results.json").read_text())
    if data_state.get("next_index") != start_step // sched.steps_per_call:
      raise runs.checkpoint_mismatch(workdir, start_step, data_state)
    train_iter.set_state(data_state)
    logging.info("resumed from checkpoint at step %d", start_step)
  compile_time, memory, num_params = built.compile_time, built.memory, built.num_params
  device_kind = jax.devices()[0].device_kind
  peak = float(config.train.peak_tflops) or parallel.peak_tflops(device_kind)
  job_flops_per_step = built.flops_per_step * jax.device_count()  # XLA counts one device's shard

  eval_host_batches = list(pipeline.eval_batches(eval_arrays, config.data.eval_batch_size,
                                                 jax.process_index(), jax.process_count()))  # padded once

  def evaluate(state, host_batches=eval_host_batches, split: str = config.data.eval_split
               ) -> tuple[dict[str, float], dict[str, Any]]:
    """``({split/name: value}, {name: image})`` of the state: sums over the eval batches made means, the task's
    own finishing (perplexity), and, for a task that generates (GAN), its scored samples."""
    # The parameter average where config.optim.ema_decay keeps one (placed like the parameters), else the live ones.
    params = jax.device_put(optim.eval_params(state.opt_state, state.params), state_sharding.params)
    bar = "eval" if split == config.data.eval_split else split  # the final test reading says so on its bar
    arrays = eval_arrays if split == config.data.eval_split else plan.test_ds.arrays
    means, images = program.evaluate_params(task, eval_call, params, progress.track(host_batches, bar), mesh, arrays)
    return {f"{split}/{k}": v for k, v in means.items()}, images

  def check_finite(state) -> None:
    bad = int(jax.device_get(state.first_bad_step))
    if bad >= 0:
      ckpt.wait()
      raise NonFiniteError(f"non-finite loss or gradient norm at step {bad}; training stopped and the state "
                           f"of step {bad} was not applied. Last good checkpoint: step {ckpt.latest_step()} "
                           f"in {ckpt.directory} (untouched). Lower config.optim.lr or set config.optim.clip_norm.")

  # ---------------------------------------------------------------- loop
  if is_main:  # each step once in the logs: the steps after the checkpoint, logged by the attempt before, go
    writers.truncate_logs(workdir, start_step if restored is not None else -1)
  writer = writers.MetricWriter(workdir, enabled=is_main, wandb=writers.wandb_settings(config))
  progress = writers.Progress(sched.total_steps, config.data.batch_size, start_step, enabled=is_main)
  stop = _PreemptionFlag()
  logging.info("model %s: %d parameters; mesh %s; %d steps (%d per epoch, %d per call); compile %.1fs",
               config.model.name, num_params, dict(mesh.shape), sched.total_steps, sched.steps_per_epoch,
               sched.steps_per_call, compile_time)
  if is_main:
    logging.info("train step: %.4g GFLOP on %d device%s (XLA cost analysis); %s", job_flops_per_step / 1e9,
                 jax.device_count(), "s" * (jax.device_count() > 1),
                 f"peak {peak:g} TFLOP/s per device ({device_kind}): perf/mfu logged" if peak else
                 f"no known peak for {device_kind!r}: perf/tflops_per_s logged, no perf/mfu")
  profile = _profile_window(config.train.profile_steps)
  profiling = False
  step = start_step
  sums = zero_sums()
  if restored_sums:
    if set(restored_sums) != set(sums):
      raise runs.checkpoint_mismatch(workdir, start_step, {"metric_sums": restored_sums})
    replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    sums = {k: jax.device_put(np.float32(v), replicated) for k, v in restored_sums.items()}

  def evaluate_and_write(state, step: int, host_batches=eval_host_batches, split: str = config.data.eval_split,
                         what: str = "step") -> dict[str, float]:
    metrics, images = evaluate(state, host_batches, split)
    if split != config.data.eval_split:  # the final test reading's samples sit beside, not over, the last curve's
      images = {f"{split}/{name}": image for name, image in images.items()}
    writer.write(step, metrics)
    writer.write_outputs(step, images)
    if is_main:
      logging.info("%s %d: %s", what, step, "  ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items())))
    return metrics

  eval_metrics: dict[str, float] = {}
  train_metrics: dict[str, float] = {}
  train_start = time.perf_counter()
  try:
    if start_step == 0 and config.train.eval_at_start:  # the model before any update: a fresh init or a warm start
      eval_metrics = evaluate_and_write(state, 0)
      progress.restart_clock(0)
    while step < sched.total_steps:
      if profile and not profiling and profile[0] <= step < profile[1]:
        jax.profiler.start_trace(str(workdir / "tensorboard"))  # TensorBoard's profile plugin reads it there
        profiling = True
      batch = parallel.host_to_global(next(train_iter), mesh, leading_dims=1)
      with jax.transfer_guard("disallow"):  # every host<->device copy in the hot path must be explicit
        state, sums = train_call(state, sums, batch)
      step += sched.steps_per_call
      if profiling and step >= profile[1]:
        jax.block_until_ready(state)
        jax.profiler.stop_trace()
        profiling = False
        logging.info("profiled steps %d:%d into %s", *profile, workdir / "tensorboard" / "plugins" / "profile")
      progress.update(step)
      done = step == sched.total_steps
      at_log = step % sched.log_every == 0 or done
      at_eval = step % sched.eval_every == 0 or done
      at_checkpoint = step % sched.checkpoint_every == 0 or done
      preempted = not done and stop.is_set(at_boundary=step % sched.log_every == 0)
      if at_log or at_eval or at_checkpoint or preempted:
        check_finite(state)  # one device->host sync per boundary; never log, evaluate or save a bad state
      if at_log:
        host_sums = jax.device_get(sums)
        sums = zero_sums()
        n = max(float(host_sums.pop("steps")), 1.0)
        train_metrics = {f"train/{k}": float(v) / n for k, v in host_sums.items()}
        rates = progress.report(step, train_metrics)
        if job_flops_per_step:
          rates["perf/tflops_per_s"] = rates["perf/steps_per_s"] * job_flops_per_step / 1e12
          if peak:
            rates["perf/mfu"] = rates["perf/tflops_per_s"] / (peak * jax.device_count())
        writer.write(step, {**train_metrics, **rates, "train/epoch": step / sched.steps_per_epoch})
      if at_eval:
        eval_metrics = evaluate_and_write(state, step)
      if at_checkpoint or preempted:
        partial = {k: float(v) for k, v in jax.device_get(sums).items()}  # float32 -> float -> float32 is exact
        ckpt.save(step, state, {**train_iter.get_state(), "metric_sums": partial,
                                 "wall_time_s": (earlier_wall_s or 0.0) + time.perf_counter() - wall_start})
      if at_eval or at_checkpoint:
        progress.restart_clock(step)  # the next logged rate counts training steps only
      if preempted:
        ckpt.wait()
        raise Preempted(step, preemption.reason() or "preempted")
    check_finite(state)  # also covers a run resumed from its final checkpoint
    if not eval_metrics:  # resumed from the final checkpoint of a run that died before writing results
      eval_metrics, _ = evaluate(state)
    test_metrics: dict[str, float] = {}
    if plan.test_ds is not None:  # read once, on the final parameters, after everything was chosen on eval_split
      test_batches = list(pipeline.eval_batches(plan.test_ds.arrays, config.data.eval_batch_size,
                                                jax.process_index(), jax.process_count()))
      test_metrics = evaluate_and_write(state, step, test_batches, config.data.test_split, "test, once, at step")
    jax.block_until_ready(state)
    train_time = time.perf_counter() - train_start
    ckpt.wait()
  finally:
    if profiling:  # stopped early (preempted, an error): the trace so far is still written
      jax.profiler.stop_trace()
    stop.restore()
    progress.close()
    train_iter.close()
    ckpt.close()
    writer.close()

  # ---------------------------------------------------------------- results
  segment_wall_s = time.perf_counter() - wall_start
  results = {
      "final_metrics": {**train_metrics, **eval_metrics, **test_metrics},
      "command": command,
      "config": json.loads(config.to_json_best_effort(sort_keys=True)),
      "seed": config.seed,
      "git_revision": revision,
      "jax_version": jax.__version__,
      "device_kind": jax.devices()[0].device_kind,
      "platform": jax.devices()[0].platform,
      "device_count": jax.device_count(),
      "process_count": jax.process_count(),
      "mesh": dict(mesh.shape),
      "num_params": num_params,
      "steps": sched.total_steps,
      "resumed_from_step": start_step,
      # every segment of a resumed run (the last one alone when an earlier checkpoint did not keep its time)
      "wall_time_s": (earlier_wall_s or 0.0) + segment_wall_s,
      "segment_wall_time_s": segment_wall_s,
      "wall_time_complete": earlier_wall_s is not None,
      "compile_time_s": compile_time,
      "train_time_s": train_time,
      "train_steps_per_s": (sched.total_steps - start_step) / max(train_time, 1e-9),
      "compiled_memory": memory,
      "flops_per_step": job_flops_per_step,
      "device_peak_tflops": peak,
      "trace_counts": dict(program.TRACE_COUNTS),
  }
  if is_main:
    writers.write_json(workdir / "results.json", results)
  if jax.process_count() > 1:  # no process reports "done" (e.g. to a multi-host sweep) before results.json exists
    multihost_utils.sync_global_devices("bigjax: results.json written")
  return results


def _profile_window(spec: str) -> tuple[int, int] | None:
  """``train.profile_steps`` ``"a:b"`` -> ``(a, b)``: trace the steps from a up to b; ``""`` -> None."""
  if not spec:
    return None
  match = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", str(spec))
  if not match or int(match.group(1)) >= int(match.group(2)):
    raise ConfigError(f"config.train.profile_steps={spec!r} must be 'A:B' with step A < step B, "
                              f"e.g. '100:110', or '' for no trace")
  return int(match.group(1)), int(match.group(2))


class _PreemptionFlag:
  """Set by SIGTERM, or Ctrl-C on the command line (``bigjax.preemption``); the loop then saves a checkpoint and
  stops. A run started from Python installs the SIGTERM handler only: its caller keeps Ctrl-C.

  With several processes, all of them agree through a collective before the next step, so every
  process saves the same step.
  """

  def __init__(self):
    self._installed_here = not preemption.installed()  # main.py installs it before jax loads
    preemption.install(interrupt=False)

  def is_set(self, at_boundary: bool) -> bool:
    """Single process: checked every call. Several: only at log boundaries, where all agree by a collective."""
    local = preemption.REQUESTED.is_set()
    if jax.process_count() == 1:
      return local
    if not at_boundary:
      return False
    return bool(np.any(multihost_utils.process_allgather(np.array(local))))

  def restore(self) -> None:
    if self._installed_here:
      preemption.uninstall()

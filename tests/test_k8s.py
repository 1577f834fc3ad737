"""`scripts/launch.py k8s`: its Indexed Job and headless Service validate against the Kubernetes schema
(kubernetes-validate, strict: no unknown fields), and the environment and command each pod gets, run here as
2 local processes, start jax.distributed and train to the parameters of one process over the same 2 devices.

The one thing a laptop cannot give is the cluster DNS name of pod 0 (``NAME-0.NAME``), so the test points
JAX_COORDINATOR_ADDRESS at 127.0.0.1 and leaves everything else as the manifest says.
"""

import copy
import json
import re
import signal
import socket
import subprocess
import sys
import time

import kubernetes_validate
import numpy as np
import pytest
import yaml

from conftest import REPO, cli_command, cli_env, exported_params, read_metrics

LAUNCH = REPO / "scripts" / "launch.py"
K8S_VERSION = "1.30.0"


def manifest(*args: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
  proc = subprocess.run([sys.executable, str(LAUNCH), "k8s", "--dry-run", *args], capture_output=True, text=True,
                        cwd=REPO, timeout=60)
  return proc, (list(yaml.safe_load_all(proc.stdout)) if proc.returncode == 0 else [])


GPU_JOB = ("--name=mnist-cnn", "--image=ghcr.io/me/bigjax:1", "--processes=4", "--gpus-per-process=8",
           "--pvc=runs", "--mount-path=/shared", "--config=configs/mnist_cnn.py", "--workdir=/shared/runs/cnn",
           "--config.optim.lr=3e-4")


def test_manifest_validates_and_wires_pods_to_the_coordinator():
  proc, docs = manifest(*GPU_JOB)
  assert proc.returncode == 0, proc.stderr
  assert [d["kind"] for d in docs] == ["Service", "Job"]
  for doc in docs:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
  service, job = docs
  pod = job["spec"]["template"]["spec"]
  assert service["spec"]["clusterIP"] == "None"  # headless: one DNS record per pod
  assert service["spec"]["selector"].items() <= job["spec"]["template"]["metadata"]["labels"].items()
  assert pod["subdomain"] == service["metadata"]["name"] == job["metadata"]["name"] == "mnist-cnn"
  assert job["spec"]["completionMode"] == "Indexed" and job["spec"]["completions"] == job["spec"]["parallelism"] == 4
  (container,) = pod["containers"]
  env = {e["name"]: e for e in container["env"]}
  assert env["JAX_COORDINATOR_ADDRESS"]["value"] == "mnist-cnn-0.mnist-cnn:1234"  # pod 0 of the Indexed Job
  assert "job-completion-index" in env["JOB_COMPLETION_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"]
  assert container["resources"]["limits"]["nvidia.com/gpu"] == 8
  assert container["command"][-5:] == ["--config.optim.lr=3e-4", "--multihost",
                                       "--coordinator_address=$(JAX_COORDINATOR_ADDRESS)", "--num_processes=4",
                                       "--process_id=$(JOB_COMPLETION_INDEX)"]
  assert "--preempted_exit_code=75" in container["command"]
  # A pod that stopped early with a checkpoint (exit 75), or that the cluster disrupted, is replaced without
  # spending the backoff limit; a failure (exit 1) is not ignored.
  rules = job["spec"]["podFailurePolicy"]["rules"]
  assert pod["restartPolicy"] == "Never"  # what a pod failure policy requires
  assert [r["action"] for r in rules] == ["Ignore", "Ignore"]
  assert rules[0]["onExitCodes"] == {"containerName": container["name"], "operator": "In", "values": [75]}
  assert rules[1]["onPodConditions"] == [{"type": "DisruptionTarget", "status": "True"}]
  assert container["volumeMounts"][0]["mountPath"] == "/shared"
  assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "runs"
  # The validator is not a rubber stamp: a misspelt field or a wrong type fails.
  bad = copy.deepcopy(job)
  bad["spec"]["template"]["spec"]["subdomian"] = bad["spec"]["template"]["spec"].pop("subdomain")
  with pytest.raises(kubernetes_validate.ValidationError, match="subdomian"):
    kubernetes_validate.validate(bad, K8S_VERSION, strict=True)
  bad = copy.deepcopy(job)
  bad["spec"]["completions"] = "4"
  with pytest.raises(kubernetes_validate.ValidationError, match="integer"):
    kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def expand(text: str, env: dict[str, str]) -> str:
  """Kubernetes' ``$(VAR)`` expansion of a container's command from its env."""
  return re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), text)


def test_pod_environment_starts_two_processes_that_train_like_one(tmp_path):
  overrides = ("--config.mesh.data=2", "--config.train.log_every_steps=4")
  proc, docs = manifest("--name=digits", "--image=bigjax:dev", "--processes=2", f"--repo-dir={REPO}",
                        f"--python={sys.executable}", f"--pvc=runs", f"--mount-path={tmp_path}",
                        f"--config={REPO / 'configs' / 'digits_mlp.py'}:smoke", f"--workdir={tmp_path / 'k8s'}",
                        *overrides)
  assert proc.returncode == 0, proc.stderr
  (container,) = docs[1]["spec"]["template"]["spec"]["containers"]
  port = free_port()
  procs = []
  for index in range(2):  # what the Job controller and the downward API give pod `index`
    env = {**cli_env(1), "JOB_COMPLETION_INDEX": str(index)}
    for item in container["env"]:
      if "value" in item:
        env[item["name"]] = item["value"]
    assert env["JAX_COORDINATOR_ADDRESS"] == "digits-0.digits:1234"
    env["JAX_COORDINATOR_ADDRESS"] = f"127.0.0.1:{port}"  # the cluster DNS name of pod 0, here
    command = [expand(arg, env) for arg in container["command"]]
    procs.append(subprocess.Popen(command, env=env, cwd=container["workingDir"], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True))
  outputs = [p.communicate(timeout=300)[0] for p in procs]
  for p, out in zip(procs, outputs):
    assert p.returncode == 0, out[-3000:]
  results = json.loads((tmp_path / "k8s" / "results.json").read_text())
  assert results["process_count"] == 2 and results["device_count"] == 2
  one = subprocess.run(cli_command("digits_mlp.py:smoke", tmp_path / "one", *overrides), env=cli_env(2), cwd=REPO,
                       capture_output=True, text=True, timeout=300)
  assert one.returncode == 0, one.stderr[-3000:]
  mine, reference = exported_params(tmp_path / "k8s", 2), exported_params(tmp_path / "one", 2)
  assert mine.keys() == reference.keys() and mine
  for key in mine:
    assert np.array_equal(mine[key], reference[key]), key


def test_a_preempted_pod_exits_with_the_code_its_job_restarts_and_the_new_pod_resumes(tmp_path):
  """The pod's own command, SIGTERM'd mid-run as an eviction would: it saves a checkpoint and exits 75, which
  the Job's policy ignores (so the pod is not counted as finished), and the same command again resumes."""
  overrides = ("--config.train.num_epochs=20", "--config.train.log_every_steps=4",
               "--config.train.checkpoint_every_steps=8")
  proc, docs = manifest("--name=digits", "--image=bigjax:dev", f"--repo-dir={REPO}", f"--python={sys.executable}",
                        f"--config={REPO / 'configs' / 'digits_mlp.py'}", f"--workdir={tmp_path / 'run'}",
                        *overrides)
  assert proc.returncode == 0, proc.stderr
  job = docs[1]
  (container,) = job["spec"]["template"]["spec"]["containers"]
  env = {**cli_env(1), **{e["name"]: e["value"] for e in container["env"] if "value" in e}, "JOB_COMPLETION_INDEX": "0"}
  command = [expand(arg, env) for arg in container["command"]]
  pod = subprocess.Popen(command, env=env, cwd=container["workingDir"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
  deadline = time.time() + 120
  while time.time() < deadline and pod.poll() is None:
    try:
      steps = [m["step"] for m in read_metrics(tmp_path / "run")]
    except (FileNotFoundError, json.JSONDecodeError):
      steps = []
    if steps and max(steps) >= 40:
      pod.send_signal(signal.SIGTERM)
      break
    time.sleep(0.01)
  output = pod.communicate(timeout=120)[0]
  ignored = job["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"]
  assert pod.returncode in ignored, output[-3000:]
  assert "checkpoint saved at step" in output and not (tmp_path / "run" / "results.json").exists()
  replacement = subprocess.run(command, env=env, cwd=container["workingDir"], capture_output=True, text=True,
                               timeout=300)
  assert replacement.returncode == 0, replacement.stderr[-3000:]
  assert json.loads((tmp_path / "run" / "results.json").read_text())["resumed_from_step"] >= 40


@pytest.mark.parametrize("args, message", [
    (("--name=Bad_Name",), "must be a lower-case DNS label"),
    (("--name=ok", "--processes=2"), "pods must share it"),
    (("--name=ok", "--pvc=runs", "--mount-path=/data"), "is not under --mount-path=/data"),
    (("--name=ok", "--sweep"), "not offered for k8s"),
])
def test_bad_k8s_input_exits_2_with_one_line(args, message):
  proc, _ = manifest("--image=bigjax:dev", "--config=configs/digits_mlp.py", "--workdir=/shared/runs/x", *args)
  assert proc.returncode == 2 and message in proc.stderr and proc.stdout == "", proc.stderr
  assert len(proc.stderr.strip().splitlines()) == 1

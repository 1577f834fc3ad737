"""``python -m bigjax.report ROOT [ROOT ...]``: every results.json under the roots -> one Markdown table.

One row per run: the run's directory, its final eval metrics, steps, wall and compile time, device,
git revision and the command that produced it, so each number in a RESULTS.md can be regenerated.
"""

import argparse
import json
import pathlib
import sys


def find_results(roots: list[str]) -> list[tuple[pathlib.Path, dict]]:
  runs = []
  for root in roots:
    for path in sorted(pathlib.Path(root).rglob("results.json")):
      try:
        runs.append((path.parent, json.loads(path.read_text())))
      except json.JSONDecodeError as error:
        raise SystemExit(f"{path} is not valid JSON ({error}); was the run interrupted while writing it?")
  return runs


def _short_revision(revision: str) -> str:
  return f"`{revision[:12]}{'-dirty' if revision.endswith('-dirty') else ''}`"


def markdown_table(runs: list[tuple[pathlib.Path, dict]], metrics: list[str]) -> str:
  header = ["run", *metrics, "steps", "wall time", "compile", "device", "git revision", "command"]
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for workdir, r in runs:
    final = r.get("final_metrics", {})
    values = [f"{100 * final[m]:.2f}%" if m.endswith("accuracy") and m in final
              else (f"{final[m]:.4f}" if m in final else "–") for m in metrics]
    device = f"{r.get('device_count', '?')}x {r.get('device_kind', '?')}"
    lines.append("| " + " | ".join([
        workdir.name, *values, str(r.get("steps", "?")), f"{r.get('wall_time_s', float('nan')):.0f} s",
        f"{r.get('compile_time_s', float('nan')):.1f} s", device, _short_revision(r.get('git_revision', '?')),
        f"`{r.get('command', '')}`"]) + " |")
  return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("roots", nargs="+", help="directories searched for results.json")
  parser.add_argument("--metrics", default="test/accuracy,test/loss", help="comma-separated final metrics")
  args = parser.parse_args(argv)
  runs = find_results(args.roots)
  if not runs:
    print(f"no results.json under {args.roots}", file=sys.stderr)
    return 1
  print(markdown_table(runs, args.metrics.split(",")))
  return 0


if __name__ == "__main__":
  sys.exit(main())

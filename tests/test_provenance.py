"""A number cited from a record that cannot be regenerated exactly carries a mark wherever it is cited (issue 23,
point 5): ``†`` when the record's git revision ends in -dirty or is unknown, ``‡`` when it holds no command.

bigjax.report marks what it renders (RESULTS.md files); README.md's Results and the config docstrings quote
numbers by hand, and test_quoted_numbers.py maps each to its record: here every such number must carry its
record's marks, and a number from a clean record none.

Where a mark goes: directly after the number where test_quoted_numbers.py allows it, else after the words it
anchors the number with ("NDCG@10 {:.4f} after"), at the latest at the end of the number's clause. The first mark
after the number counts, unless a clause ends first (``|``, ``;``, ``(``, ``)``, or ``,`` ``.`` before a space)
outside the quoted text of records with the same marks, or a number quoted from a record with other marks comes
first. So "0.6416 / 0.3796†" marks both numbers of a pair whose records both carry ``†``.
"""

import ast
import json
import pathlib
import re

import pytest

import test_quoted_numbers as quoted
from bigjax import report

REPO = quoted.REPO
MARKS = report.DIRTY + report.NO_COMMAND

# Config docstrings that quote marked records but that other changes are rewriting now; each adds the marks when
# it lands, and then must leave this list (the xfail is strict).
PENDING = {
}


# ---------------------------------------------------------------- bigjax.report

def write_run(root: pathlib.Path, name: str, revision: str | None, command: str | None = "python -m bigjax.main"):
  (root / name).mkdir(parents=True)
  results = {"final_metrics": {"test/accuracy": 0.9}, "wall_time_s": 12.0, "steps": 10}
  results.update({k: v for k, v in (("git_revision", revision), ("command", command)) if v is not None})
  (root / name / "results.json").write_text(json.dumps(results))
  (root / name / "metrics.jsonl").write_text(json.dumps({"step": 10, "time": 1.0, "validation/loss": 0.5}) + "\n")


def render(tmp_path: pathlib.Path, body: str) -> str:
  (tmp_path / "T.md").write_text(body)
  return report.render_template(tmp_path / "T.md", None)


def test_a_template_citing_a_dirty_record_marks_each_number_and_ends_with_the_footnote(tmp_path):
  write_run(tmp_path / "runs", "dirty", "0123456789abcdef-dirty")
  out = render(tmp_path, "acc {{value runs/dirty test/accuracy}}, {{value runs/dirty wall_time_s .0f}} s, "
                         "{{mean runs test/accuracy}}, {{min runs/dirty validation/loss}}, "
                         "{{at runs/dirty validation/loss 10 .2f}}; rev {{value runs/dirty git_revision}}\n"
                         "{{curve runs/dirty validation/loss}}\n")
  body, note = out.split("\n\n")
  assert body.splitlines()[0] == ("acc 90.00%†, 12† s, 90.00% ± – (1 runs)†, 0.5000 (step 10)†, 0.50†; "
                                  "rev 0123456789abcdef-dirty")  # text (the revision itself) is not marked
  assert body.splitlines()[-1] == "| 10 | 0.2 | 0.5000† |"
  assert note.startswith("† recorded from a working tree with uncommitted changes (its revision ends in -dirty)")
  assert "‡" not in out


def test_a_template_citing_only_clean_records_has_no_marks_and_no_footnote(tmp_path):
  write_run(tmp_path / "runs", "clean", "0123456789abcdef")
  (tmp_path / "bench.json").write_text(json.dumps({"runs": [{"wall_time_s": 3.25}]}))  # records no revision
  out = render(tmp_path, "{{value runs/clean test/accuracy}} {{value bench.json runs.0.wall_time_s .1f}}\n"
                         "{{report runs --runs-only --metrics=test/accuracy}}\n")
  assert out.startswith("90.00% 3.2\n")
  assert not set(MARKS) & set(out) and "uncommitted" not in out


def test_no_command_unknown_revision_and_a_dirty_bench_file_are_marked(tmp_path):
  write_run(tmp_path / "runs", "bare", None, command="")
  write_run(tmp_path / "runs", "unknown", "unknown")
  (tmp_path / "bench.json").write_text(json.dumps({"git_revision": "abc-dirty", "x": 1.5}))
  out = render(tmp_path, "{{value runs/bare test/accuracy}} {{value runs/unknown test/accuracy}} "
                         "{{value bench.json x}}\n")
  assert out.splitlines()[0] == "90.00%†‡ 90.00%† 1.5†"
  assert "\n† recorded from a working tree" in out and "\n‡ the record holds no command" in out


def test_report_tables_mark_the_revision_and_the_means_of_marked_runs(tmp_path, capsys):
  write_run(tmp_path, "a", "0123456789abcdef")
  write_run(tmp_path, "b", "fedcba9876543210-dirty", command=None)
  assert report.main([str(tmp_path), "--metrics=test/accuracy"]) == 0
  out = capsys.readouterr().out
  assert "| 90.00% ± 0.00%†‡ | 2 | 12 s†‡ |" in out  # a and b form one point
  assert "| `0123456789ab` |" in out and "| `fedcba987654-dirty`†‡ |" in out
  assert out.endswith("‡ the record holds no command: how it was produced is not recorded; rerun to clear.\n")


# ---------------------------------------------------------------- README.md and config docstrings

def _marks(how: str, source: str) -> str:
  """The marks of the record(s) a test_quoted_numbers quote reads."""
  path = REPO / source
  if how in ("json", "ratio"):
    return report.json_marks(json.loads(path.read_text()))
  if how in ("mean", "meanstd", "runsmin", "runsmax"):
    return report.merge_marks(*(report.record_marks(r) for _, r in report.find_results([str(path)])))
  return report.record_marks(json.loads((path / "results.json").read_text()))


def _number(quote: tuple) -> tuple[str, str]:
  """``(quoted text, the number alone)``: the template's text around its one ``{...}`` is literal."""
  text = quoted._quote(*quote)
  template = quote[3]
  prefix, suffix = template[:template.index("{")], template[template.rindex("}") + 1:]
  return text, text[len(prefix):len(text) - len(suffix)]


def _breaks(text: str, i: int) -> bool:
  return text[i] in "|;()" or (text[i] in ",." and (i + 1 == len(text) or text[i + 1].isspace()))


def _find(text: str, quote: tuple) -> tuple[int, int, int]:
  """Where the quote stands in ``text``, marks ignored: ``(start, end, end of its number)`` as indices of ``text``."""
  kept = [i for i, c in enumerate(text) if c not in MARKS]
  plain = "".join(text[i] for i in kept)
  q, number = _number(quote)
  start = plain.find(q)
  assert start >= 0, f"{q!r} not found (test_quoted_numbers.py checks that it is there)"
  number_end = start + q.index(number) + len(number)
  return kept[start], kept[start + len(q) - 1] + 1, kept[number_end - 1] + 1


def carried(text: str, quote: tuple, same: list[tuple], other_numbers: set[str]) -> str:
  """The marks ``text`` gives the number of ``quote`` (see the module docstring). ``same`` are the quotes in
  ``text`` from records with the same marks (``quote`` among them): a clause break inside one of them does not end
  the search; ``other_numbers`` are the numbers quoted from records with other marks, which do."""
  spans = [_find(text, q)[:2] for q in same]
  i = _find(text, quote)[2]
  while i < len(text):
    if text[i] in MARKS:
      return re.match(f"[{MARKS}]+", text[i:]).group(0)
    if _breaks(text, i) and not any(a <= i < b for a, b in spans):
      return ""
    token = re.match(r"\d+(?:[.,]\d+)*%?", text[i:]) if not text[i - 1].isdigit() else None
    if token and token.group(0).rstrip("%") in other_numbers:
      return ""
    i += len(token.group(0)) if token else 1
  return ""


def _check(text: str, quotes: list[tuple], where: str) -> set[str]:
  """Asserts each quote's number in ``text`` carries exactly its record's marks; returns the marks used."""
  marks = [_marks(q[0], q[1]) for q in quotes]
  used = set()
  for quote, mark in zip(quotes, marks):
    same = [other for other, m in zip(quotes, marks) if m == mark]
    others = {_number(other)[1].rstrip("%") for other, m in zip(quotes, marks) if m != mark}
    got = carried(text, quote, same, others)
    assert got == mark, (f"{where}: {_number(quote)[1]} ({quote[1]}, {quote[2]}) carries {got or 'no mark'!r}, its "
                         f"record {mark or 'none'!r}" + (": rerun it, or mark it" if mark else ""))
    used.update(mark)
  return used


def _footnoted(lines: list[str], marks: set[str], where: str):
  for mark in marks:
    assert any(line.strip().startswith(mark + " ") for line in lines), (
        f"{where} uses {mark} without a line saying what it means")


def test_readme_results_numbers_carry_their_records_marks():
  section = quoted._results_section()
  rows = {}
  for line in section.splitlines():
    if line.startswith("|") and quoted._cells(line)[0].replace("`", "") in quoted.RESULTS_ROWS:
      rows[quoted._cells(line)[0].replace("`", "")] = line
  lines = section.splitlines()
  for config, row in quoted.RESULTS_ROWS.items():
    text = " | ".join(quoted._cells(rows[config])[1:-1])  # the command, last, is not a result
    used = _check(text, row["quotes"], f"README.md's {config} row")
    # The table's footnote: the first lines after the table that are not table rows, up to the next table.
    end = next(i for i in range(lines.index(rows[config]), len(lines)) if not lines[i].startswith("|"))
    after = []
    for line in lines[end:]:
      if line.startswith("|"):
        break
      after.append(line)
    _footnoted(after, used, f"README.md's table with the {config} row")
  used = _check(" ".join(section.split()), quoted.RESULTS_PROSE, "README.md's Results prose")
  _footnoted(lines, used, "README.md's Results")


@pytest.mark.parametrize("config", [
    pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=PENDING[c])) if c in PENDING else c
    for c in sorted(quoted.CONFIG_RESULTS)])
def test_config_docstring_numbers_carry_their_records_marks(config):
  doc = ast.get_docstring(ast.parse((REPO / "configs" / f"{config}.py").read_text()))
  used = _check(" ".join(doc.split()), quoted.CONFIG_RESULTS[config], f"configs/{config}.py's docstring")
  _footnoted(doc.splitlines(), used, f"configs/{config}.py's docstring")

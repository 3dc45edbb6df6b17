"""README's results section is the generated results/summary.md, not typed numbers."""

from pathlib import Path

import pytest

from lcsbench.analysis.summary import BEGIN, END, splice
from lcsbench.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_readme_shows_the_generated_summary(capsys):
    args = ["readme", "--check", "--readme", str(ROOT / "README.md"), "--summary", str(ROOT / "results/summary.md")]
    ablations = ROOT / "results/summary/ablations.md"
    if ablations.is_file():
        assert main([*args, "--ablations", str(ablations)]) == 0
    else:  # `snakemake ablations` has not run every ablation: README shows none of them
        assert main(args) == 0
        readme = (ROOT / "README.md").read_text()
        assert "<!-- ablations:begin -->\n<!-- ablations:end -->" in readme


def test_splice_replaces_only_the_marked_section():
    text = f"head\n{BEGIN}\nold 0.5\n{END}\ntail\n"
    assert splice(text, "new 0.7\n") == f"head\n{BEGIN}\nnew 0.7\n{END}\ntail\n"
    with pytest.raises(ValueError, match="markers"):
        splice("no markers", "x")


def test_check_fails_when_readme_differs(tmp_path, capsys):
    readme, summary = tmp_path / "README.md", tmp_path / "summary.md"
    readme.write_text(f"{BEGIN}\ntyped 0.9\n{END}\n")
    summary.write_text("generated 0.7\n")
    assert main(["readme", "--check", "--readme", str(readme), "--summary", str(summary)]) == 2
    assert "differ from" in capsys.readouterr().err
    assert main(["readme", "--readme", str(readme), "--summary", str(summary)]) == 0
    # the ablation section has its own markers
    ablations = tmp_path / "ablations.md"
    ablations.write_text("ablation 0.1\n")
    assert main(["readme", "--readme", str(readme), "--summary", str(summary), "--ablations", str(ablations)]) == 2
    readme.write_text(readme.read_text() + "<!-- ablations:begin -->\n<!-- ablations:end -->\n")
    assert main(["readme", "--readme", str(readme), "--summary", str(summary), "--ablations", str(ablations)]) == 0
    assert "ablation 0.1" in readme.read_text()
    assert main(["readme", "--check", "--readme", str(readme), "--summary", str(summary)]) == 0

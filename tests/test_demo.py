"""`zoo demo`: proves and checks through the API and writes its certificates only where it is told."""

from __future__ import annotations

from prover import zoo_cli


def test_demo_writes_checked_certificates_to_out(tmp_path, capsys):
    out = tmp_path / "demo"
    assert zoo_cli.main(["demo", "--strategy", "cubic", "--out", str(out), "--device", "cpu"]) == 0
    table = capsys.readouterr().out
    assert "max4-v64-d32-seed123" in table and "cubic" in table and "VALID" in table
    assert sorted(path.name for path in out.iterdir()) == ["cubic.cert"]


def test_demo_unknown_strategy_is_one_line_error(tmp_path, capsys):
    assert zoo_cli.main(["demo", "--strategy", "telepathy", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == "zoo: error: unknown strategy 'telepathy' (see prove --list-strategies)"

import subprocess
import sys

from defectbook.cli import main


def test_help_lists_commands(capsys):
    try:
        main(["--help"])
    except SystemExit as e:
        assert e.code == 0
    out = capsys.readouterr().out
    for cmd in ("data", "evaluate", "reproduce", "book", "toc"):
        assert cmd in out


def test_bad_input_is_one_line_error(capsys, isolated):
    assert main(["evaluate", "--method", "nosuch", "--profile", "smoke"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("defectbook: error:") and len(err.splitlines()) == 1


def test_unknown_profile_rejected():
    r = subprocess.run([sys.executable, "-m", "defectbook.cli", "reproduce", "--profile", "fast"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "invalid choice: 'fast'" in r.stderr

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


def test_every_option_has_help_and_the_description_is_plain_text():
    import argparse

    from defectbook.cli import parser

    def walk(p, path):
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, path + [name])
            elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
                yield " ".join(path), action

    missing = [f"{where}: {a.option_strings or a.dest}" for where, a in walk(parser(), ["defectbook"])
               if not a.help]
    assert not missing, f"options without help: {missing}"
    text = parser().format_help()
    assert "``" not in text and "::" not in text, "--help shows reST markup"
    subs = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert "(default: cpu)" in subs.choices["reproduce"].format_help(), "defaults are shown"

"""Run the `mxemu` entry point in-process and capture what it prints (shared by the CLI tests)."""
import contextlib
import io

from emulator import cli


def run_cli(argv):
    """(exit code, stdout text) of `mxemu ARGV...`."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = cli.main(argv)
    return rc, out.getvalue()

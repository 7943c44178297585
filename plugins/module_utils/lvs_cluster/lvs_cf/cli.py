# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lvs-cf command: check or render lvs.cf files, with the same checks and messages as the
lvs.cluster.lvs_cf module.

Private to lvs.cluster. Standard library only (it runs on routers without Ansible); the entry
command is the launcher files/bin/lvs-cluster called as lvs-cf.
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from .errors import LvsCfError
from .shells import InternalError, canonical_text, format_warning

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3

DESCRIPTION = """\
Check or render lvs.cf files (the LVS router configuration of lvs.cluster, compatible with
Red Hat Piranha) with the same parser and checks as the lvs.cluster.lvs_cf Ansible module.
"""

EPILOG = """\
exit status: 0 valid (warnings, if any, on stderr as FILE:LINE: warning: ...),
1 invalid (the error, with its line, on stderr), 2 usage error or unreadable file,
3 internal error. FILE may be - for standard input.

As the validate command of an Ansible template:
  validate: /usr/sbin/lvs-cf check %s
"""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="lvs-cf",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    check = commands.add_parser(
        "check",
        help="check files; print warnings and errors",
        description="Check lvs.cf files; exit 0 if all are valid, 1 if one is not.",
    )
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("--strict", action="store_true", help="treat warnings as errors (exit 1)")
    render = commands.add_parser(
        "render",
        help="print the canonical rendering of a file",
        description="Print the canonical rendering of an lvs.cf file on standard output.",
    )
    render.add_argument("file", metavar="FILE")
    return parser


def _say(stream, line):
    stream.write(line + "\n")


def _read(name, stdin):
    if name == "-":
        return stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read()
    with open(name, "rb") as handle:
        return handle.read()


def _process(name, stdin, stderr):
    """(exit status, canonical text or None, number of warnings) for one file."""
    source = "<stdin>" if name == "-" else name
    try:
        data = _read(name, stdin)
    except OSError as err:
        _say(stderr, f"lvs-cf: cannot read {source}: {err.strerror or err}")
        return EXIT_USAGE, None, 0
    try:
        _config, text, warnings = canonical_text(content=data, source=source)
    except LvsCfError as err:
        _say(stderr, str(err))
        return EXIT_INVALID, None, 0
    except InternalError as err:
        _say(stderr, f"lvs-cf: {err}")
        return EXIT_INTERNAL, None, 0
    for warning in warnings:
        _say(stderr, format_warning(warning))
    return EXIT_OK, text, len(warnings)


def main(argv=None, stdin=None, stdout=None, stderr=None):
    """Run lvs-cf with argv (without the program name); return the exit status."""
    stdin = stdin if stdin is not None else sys.stdin
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            args = parser.parse_args(argv)
    except SystemExit as exit_:  # usage error (2) or --help (0)
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE

    if args.command == "render":
        status, text, _warnings = _process(args.file, stdin, stderr)
        if status == EXIT_OK:
            stdout.write(text)
        return status

    worst = EXIT_OK
    for name in args.files:
        status, _text, warnings = _process(name, stdin, stderr)
        if status == EXIT_OK and warnings and args.strict:
            status = EXIT_INVALID
        worst = max(worst, status)
    return worst

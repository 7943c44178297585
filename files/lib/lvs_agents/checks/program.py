# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``send_program`` checks: ``%h``/``%p`` are replaced by the address and port, also inside
words (``http://%h:%p/``, which Piranha did not do); run without a shell; the exit status is
authoritative: a timeout (the program is killed) or a non-zero exit is a failure, exit 0 is
healthy when there is no ``expect`` or the output, less one trailing newline, equals it (or
matches it with ``use_regex``). Piranha counted a timed-out checker as healthy."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal

from .probe import ProbeState
from .spec import READ_LIMIT, CheckSpec


async def bounded_output(process: asyncio.subprocess.Process, limit: int = READ_LIMIT
                         ) -> bytes:
    """The first ``limit`` bytes the program writes; the rest is read and dropped (so it never
    blocks on a full pipe) until it exits. A program that streams without end costs no memory:
    its check's timeout ends it."""
    kept = b""
    if process.stdout is not None:
        while True:
            chunk = await process.stdout.read(65536)
            if not chunk:
                break
            if len(kept) < limit:
                kept += chunk[:limit - len(kept)]
            # a read served from the buffer does not suspend: without this, a program that
            # writes faster than we read would hold the loop (and its own timeout) forever
            await asyncio.sleep(0)
    await process.wait()
    return kept


def program_argv(command: str, address: str, port: int) -> list[str]:
    """The argv of a ``send_program``: words split on white space, ``%h``/``%p`` replaced
    wherever they appear; no shell, no quoting (as Piranha, which split on spaces)."""
    return [word.replace("%h", address).replace("%p", str(port)) for word in command.split()]


async def program_check(spec: CheckSpec, state: ProbeState) -> str:
    argv = program_argv(spec.send_program or "", spec.address, spec.port)
    if not argv:
        return "send_program is empty"
    state.phase = "send_program"
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL, start_new_session=True)
    except OSError as error:
        return f"cannot run {argv[0]}: {error.strerror or error}"
    try:
        output = await bounded_output(process)
    except asyncio.CancelledError:
        kill_program(process)
        with contextlib.suppress(Exception):  # what is left in the pipe, then the exit
            await asyncio.shield(bounded_output(process, 0))
        raise
    if process.returncode != 0:
        return _exit_reason(argv[0], process.returncode)
    return _program_verdict(spec, output)


def kill_program(process: asyncio.subprocess.Process) -> None:
    """SIGKILL the checker and whatever it started (it leads its own session)."""
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()


def _exit_reason(program: str, code: int | None) -> str:
    if code is not None and code < 0:
        return f"{program} killed by signal {-code}"
    return f"{program} exited with status {code}"


def _program_verdict(spec: CheckSpec, output: bytes) -> str:
    if spec.expect is None:
        return "ok"
    if output.endswith(b"\n"):
        output = output[:-1]
    if spec.use_regex:
        try:
            matched = re.search(spec.expect, output) is not None
        except re.error as error:
            return f"bad regex {spec.expect!r}: {error}"
    else:
        matched = output == spec.expect
    if matched:
        return "ok"
    shown = output[:60].decode("latin-1")
    return f"output {shown!r} does not match {spec.expect.decode('latin-1')!r}"

# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The check engine: one health check of one real server, and a scheduler that runs thousands.

Piranha ran one ``nanny`` process per real server; lvsd must check 1,000 servers a second on a
fraction of one core, so every check runs in-process on the asyncio loop with non-blocking
sockets (no streams, no threads). TCP checks, nearly all of them, are callback state machines
on a private epoll set (no task, future or timer each); UDP checks and programs are tasks.

What a check does (Piranha's nanny, section 4 of the reference, with its flaws fixed):

* TCP (``tcp.py``): connect within the deadline; send ``send`` if set; when ``expect`` is set,
  read until the answer can be decided (not one single ``read()``: a reply split over several
  segments passes), at most 4 KiB: plain ``expect`` is a prefix of the reply, ``*`` is any
  byte, ``use_regex`` searches the regex anywhere in what was read.
* UDP (``udp.py``): send ``send`` (an empty datagram without one) and require a reply, with the
  same ``expect`` semantics (no ``expect``: any reply).
* ``send_program`` (``program.py``): ``%h``/``%p`` are replaced by the address and port, also
  inside words (``http://%h:%p/``, which Piranha did not do); run without a shell; the exit
  status is authoritative: a timeout (the program is killed) or a non-zero exit is a failure,
  exit 0 is healthy when there is no ``expect`` or the output, less one trailing newline,
  equals it (or matches it with ``use_regex``). Piranha counted a timed-out checker as healthy.

One deadline, ``timeout`` seconds after the start, bounds the whole check; the same value is
the period between checks, as in Piranha. A real server checked the same way (equal
``CheckSpec``) in several virtual services is probed once per period, and each of them gets
that verdict (``scheduler``); Piranha and keepalived probed it once per service.

The modules: ``spec`` (what a check is and its verdict), ``probe`` (what the probe kinds
share), ``tcp``, ``udp``, ``program`` (one per kind), ``run`` (a spec to its probe kind, one
check alone), ``scheduler`` (many checks, periodically). The names below are the engine's
interface, used by lvsd, nanny and bench/checks.py.
"""

from __future__ import annotations

from .program import program_argv
from .run import run_check, start_probe
from .scheduler import FailureCallback, ResultCallback, Scheduler
from .spec import HTTP_EXPECT, HTTP_SEND, CheckResult, CheckSpec, decode_escapes

__all__ = ["HTTP_EXPECT", "HTTP_SEND", "CheckResult", "CheckSpec", "FailureCallback",
           "ResultCallback", "Scheduler", "decode_escapes", "program_argv", "run_check",
           "start_probe"]

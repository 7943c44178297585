# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""keepalived's checkers (``TCP_CHECK``, ``HTTP_GET``, ``SSL_GET``, ``MISC_CHECK``) as lvs.cf's one
check per service: ``send``/``expect``, ``send_program``, ``timeout`` and ``fall``
(docs/migrating.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from .keepalived_conf import Statement
from .keepalived_values import plain, read_integer, read_number
from .result import SourceError

# keepalived's defaults (keepalived.conf(5)).
CONNECT_TIMEOUT = 5.0
RETRY = 1
CHECKERS = ("TCP_CHECK", "HTTP_GET", "SSL_GET", "MISC_CHECK")
IGNORED_CHECK_KEYS = {"connect_ip"}


class Report(Protocol):
    """Where a construct the role cannot carry is reported (``_Importer.unsupported``)."""

    def __call__(self, statement: Statement, reason: str,
                 construct: str | None = None) -> None: ...


@dataclass(frozen=True)
class Check:
    """One real server's check, as lvs.cf can say it (per service)."""

    send: str | None = None
    expect: str | None = None
    use_regex: bool = False
    send_program: str | None = None
    timeout: float = CONNECT_TIMEOUT
    fall: int = RETRY + 1

    def variables(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.send_program is not None:
            out["send_program"] = self.send_program
        if self.send is not None:
            out["send"] = self.send
        if self.expect is not None:
            out["expect"] = self.expect
        if self.use_regex:
            out["use_regex"] = True
        return out


def read_check(checker: Statement, defaults: dict[str, Statement], port: int | None,
               on_port_80: bool, report: Report) -> Check:
    """One checker block (with the service's defaults) as lvs.cf can say it; what it cannot
    say goes to ``report``."""
    settings = dict(defaults)
    urls: list[Statement] = []
    program: Statement | None = None
    for child in checker.block or []:
        if child.keyword == "url":
            urls.append(child)
        elif child.keyword == "misc_path" and child.args:
            program = child
        elif child.keyword in ("connect_timeout", "retry", "nb_get_retry",
                               "delay_before_retry", "misc_timeout", "connect_port"):
            settings[child.keyword] = child
        elif child.keyword in IGNORED_CHECK_KEYS:
            report(child, "lvsd checks the real server's own address")
        else:
            report(child, "no lvs.cf equivalent")
    timeout_key = "misc_timeout" if checker.keyword == "MISC_CHECK" else "connect_timeout"
    timeout = read_number(settings[timeout_key], settings[timeout_key].args[0]) \
        if timeout_key in settings else CONNECT_TIMEOUT
    retry_statement = settings.get("retry") or settings.get("nb_get_retry")
    retry = read_integer(retry_statement, retry_statement.args[0], 0, 1000) \
        if retry_statement else RETRY
    if "delay_before_retry" in settings:
        report(settings["delay_before_retry"], "lvsd retries at the service's "
               "check period (timeout), not after a delay of its own")
    connect_port = settings.get("connect_port")
    if connect_port is not None and port is not None and \
            read_integer(connect_port, connect_port.args[0], 0, 65535) != port:
        report(connect_port, "lvsd checks the real server's own port")
    base = Check(timeout=timeout, fall=retry + 1)
    if checker.keyword == "MISC_CHECK":
        if program is None:
            raise SourceError("MISC_CHECK without misc_path", file=checker.file,
                              line=checker.line)
        return Check(send_program=" ".join(program.args), timeout=timeout,
                     fall=retry + 1)
    if checker.keyword == "TCP_CHECK":
        if on_port_80:  # lvs.cf checks port 80 by HTTP unless told to send something
            return Check(send="\\r\\n", timeout=timeout, fall=retry + 1)
        return base
    if len(urls) > 1:
        report(urls[1], "lvs.cf has one check per service: only the first url "
               "is imported")
    path, codes = "/", ["200"]
    if urls:
        for child in urls[0].block or []:
            if child.keyword == "path" and child.args:
                path = child.args[0]
            elif child.keyword == "status_code" and child.args:
                codes = status_codes(child)
            else:
                report(child, "no lvs.cf equivalent")
    code_pattern = status_pattern(codes)
    if checker.keyword == "SSL_GET":
        return Check(send_program=("/usr/bin/curl -ks -o /dev/null -w %{http_code} "
                                   f"--max-time {plain(timeout)} https://%h:%p{path}"),
                     expect=f"^({code_pattern})$", use_regex=True, timeout=timeout,
                     fall=retry + 1)
    return Check(send=f"GET {path} HTTP/1.0\\r\\n\\r\\n",
                 expect=f"^HTTP/1\\.[01] ({code_pattern})[ \\r]", use_regex=True,
                 timeout=timeout, fall=retry + 1)


def one_check(statement: Statement, checks: list[tuple[Statement, Check | None]],
              delay_loop: float, report: Report) -> dict[str, Any]:
    """The service's check variables: the first real server's check; every server whose
    check differs, or has none, goes to ``report``."""
    present = [(server, check) for server, check in checks if check is not None]
    if not present:
        if checks:
            report(statement, "keepalived does not check these real servers; "
                   "lvsd checks every server (a TCP connect to its port, an HTTP "
                   "request on port 80)", "real_server without a checker")
        return {}
    first_server, first = present[0]
    for server, check in present[1:]:
        if check != first:
            report(server, "lvs.cf has one check per service: this real server's "
                   f"check differs from the one of line {first_server.line}, "
                   "which is imported for all")
    for server, check in checks:
        if check is None and present:
            report(server, "no checker: lvsd checks it like the others")
    out = first.variables()
    if first.fall != 1:
        out["fall"] = first.fall
    if first.timeout != delay_loop:
        report(present[0][0], f"lvs.cf's timeout is the check's period and "
               f"deadline: the deadline is delay_loop ({plain(delay_loop)} s), "
               f"not connect_timeout ({plain(first.timeout)} s)",
               "connect_timeout")
    return out


def status_codes(statement: Statement) -> list[str]:
    codes: list[str] = []
    for arg in statement.args:
        for part in arg.split(","):
            low, _dash, high = part.partition("-")
            first = read_integer(statement, low, 100, 599)
            last = read_integer(statement, high, first, 599) if high else first
            codes.extend(str(code) for code in range(first, last + 1))
    return codes


def status_pattern(codes: list[str]) -> str:
    """An alternation of HTTP status codes, a whole hundred written ``2[0-9][0-9]``."""
    wanted = sorted(set(codes))
    parts: list[str] = []
    for hundred in sorted({code[0] for code in wanted}):
        members = [code for code in wanted if code[0] == hundred]
        if len(members) == 100:
            parts.append(f"{hundred}[0-9][0-9]")
        else:
            parts.extend(members)
    return "|".join(parts)

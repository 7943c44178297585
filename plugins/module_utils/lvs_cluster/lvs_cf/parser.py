# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The strict lvs.cf parser: text (or bytes) to ``LvsConfig`` plus warnings.

It accepts every file Piranha 0.8.6 accepts (with the deviations listed in docs/lvs_cf.md:
CRLF is accepted, hostnames are refused, single-quoted strings are unquoted), and reports every
problem as an LvsCfError with file, line, column, block, key and reason. Nothing else escapes
``parse_lvs_cf``, whatever the input.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .errors import LvsCfError, LvsCfWarning
from .lexer import Statement, Token, decode, iter_statements, line_count
from .model import (
    DeviceAddress,
    FailoverService,
    Kind,
    LvsConfig,
    RealServer,
    VirtualService,
    key_fields,
)
from .validate import validate_lvs_cf
from .values import (
    SERVICE_NAME,
    parse_c_integer,
    parse_seconds,
    read_ip,
    read_mask,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time (start-up)
if TYPE_CHECKING:  # an alias evaluated at import would need Python 3.9 on the target
    from typing import Any

    ServiceResolver = Callable[[str], "int | None"]

# Piranha's quoted strings that reached nanny/fos with single quotes still in them.
_QUOTE_SENSITIVE = ("send", "expect", "send_program", "start_cmd", "stop_cmd")


@dataclass(frozen=True)
class ParseResult:
    config: LvsConfig
    warnings: tuple[LvsCfWarning, ...]


def system_service_port(name: str) -> int | None:
    """The TCP port of a service name from the system's services database, or None."""
    import socket  # noqa: PLC0415 - only for a port given by name: not on every start-up

    try:
        return socket.getservbyname(name, "tcp")
    except (OSError, ValueError, TypeError, UnicodeError):
        return None


def parse_lvs_cf(
    text: str | bytes,
    source: str = "lvs.cf",
    *,
    validate: bool = True,
    service_resolver: ServiceResolver | None = None,
) -> ParseResult:
    """Parse lvs.cf ``text`` (str, or bytes in UTF-8) named ``source`` in messages.

    ``service_resolver`` maps a service name used as a ``port``/``heartbeat_port`` to its port
    (default: the system's /etc/services, tcp). With ``validate`` (the default) the model is
    also checked by ``validate_lvs_cf`` and its warnings are included.
    """
    try:
        if isinstance(text, (bytes, bytearray)):
            text = decode(bytes(text), source)
        if not isinstance(text, str):
            raise LvsCfError(f"lvs.cf text expected, got {type(text).__name__}", file=source)
        lexer_warnings: list[LvsCfWarning] = []
        parser = _Parser(source, service_resolver or system_service_port)
        config = parser.parse(iter_statements(text, source, lexer_warnings), line_count(text))
        warnings = lexer_warnings + parser.warnings
        if validate:
            warnings.extend(validate_lvs_cf(config, source))
        return ParseResult(config, tuple(warnings))
    except LvsCfError:
        raise
    except Exception as exc:  # the contract: nothing but LvsCfError escapes, even on a bug
        raise LvsCfError(f"internal error of the lvs.cf parser: {type(exc).__name__}: {exc}",
                         file=str(source)) from exc


class _Block:
    """The keys read so far in one block, with their lines."""

    def __init__(self, kind: str, name: str | None, line: int | None, model: Any) -> None:
        self.kind = kind
        self.name = name
        self.line = line
        self.fields = key_fields(model)
        self.values: dict[str, Any] = {}
        self.key_lines: dict[str, int] = {}

    @property
    def label(self) -> str | None:
        return f"{self.kind} {self.name}" if self.name is not None else None

    def get(self, key: str) -> Any:
        if key in self.values:
            return self.values[key]
        return self.fields[key].default


class _Parser:
    def __init__(self, source: str, resolver: ServiceResolver) -> None:
        self.source = source
        self.resolver = resolver
        self.warnings: list[LvsCfWarning] = []

    # -- messages

    def error(self, reason: str, statement: Statement, token: Token | None = None, *,
              key: str | None = None, block: str | None = None,
              column: int | None = None) -> LvsCfError:
        if column is None:
            column = token.column if token is not None else statement.tokens[0].column
        return LvsCfError(reason, file=self.source, line=statement.line, column=column,
                          key=key, block=block)

    def warn(self, reason: str, line: int | None, key: str | None = None,
             block: str | None = None) -> None:
        self.warnings.append(LvsCfWarning(self.source, line, key, reason, block))

    # -- structure

    def parse(self, statements: Iterator[Statement], lines: int) -> LvsConfig:
        """The model of ``statements`` (consumed as they come) of a file of ``lines`` lines."""
        first = next(statements, None)
        if first is None:
            raise LvsCfError("Empty configuration: the file has no settings",
                             file=self.source, line=max(1, lines))
        top = _Block("global", None, None, LvsConfig)
        virtuals: list[VirtualService] = []
        failovers: list[FailoverService] = []
        statements = itertools.chain((first,), statements)
        for statement in statements:
            head = statement.tokens[0].text
            if head == "virtual":
                virtuals.append(self.virtual(statement, statements))
            elif head == "failover":
                failovers.append(self.failover(statement, statements))
            elif head == "}":
                raise self.error("unknown command '}': no block is open here", statement)
            elif head == "server":
                raise self.error("unknown command 'server': server blocks belong inside a "
                                 "virtual block", statement)
            else:
                self.assign(top, statement)
        return LvsConfig(**top.values, virtuals=tuple(virtuals), failovers=tuple(failovers),
                         key_lines=top.key_lines)

    def block_name(self, statement: Statement) -> str:
        tokens = statement.tokens
        kind = tokens[0].text
        if len(tokens) < 3:
            hint = ""
            if len(tokens) == 2 and tokens[1].text.endswith("{"):
                hint = " (put a blank between the name and '{')"
            raise self.error(f"missing arguments: expected '{kind} NAME {{'{hint}", statement,
                             column=statement.end_column)
        if len(tokens) > 3:
            raise self.error(f"unexpected arguments after '{kind} NAME {{'", statement,
                             tokens[3])
        if tokens[2].text != "{":
            raise self.error(f"missing arguments: '{{' expected after the {kind} name",
                             statement, tokens[2])
        return tokens[1].text

    def close(self, statement: Statement, block: _Block) -> None:
        if len(statement.tokens) > 1:
            raise self.error(_extra_reason(statement.tokens[1], "'}' must be alone on its line"),
                             statement, statement.tokens[1], block=block.label)

    def body(self, block: _Block, opener: Statement,
             statements: Iterator[Statement]) -> Iterator[Statement]:
        """The statements of a block up to its closing brace (which is consumed)."""
        for statement in statements:
            if statement.tokens[0].text == "}":
                self.close(statement, block)
                return
            yield statement
        raise LvsCfError(
            f"unexpected end of file: the block opened on line {opener.line} is not closed "
            "with '}'",
            file=self.source, line=opener.line, column=opener.tokens[0].column,
            block=block.label,
        )

    def virtual(self, opener: Statement, statements: Iterator[Statement]) -> VirtualService:
        block = _Block("virtual", self.block_name(opener), opener.line, VirtualService)
        servers: list[RealServer] = []
        inherited: list[RealServer] = []  # servers that took the virtual's port as it was
        for statement in self.body(block, opener, statements):
            head = statement.tokens[0].text
            if head == "server":
                server = self.server(statement, statements, block)
                servers.append(server)
                if "port" not in server.key_lines:
                    inherited.append(server)
                continue
            self.nested_block_check(statement, block)
            self.assign(block, statement)
            if head == "port":
                self.warn_port_after_servers(block, inherited, statement.line)
        return VirtualService(name=block.name, **block.values, servers=tuple(servers),
                              line=block.line, key_lines=block.key_lines)

    def warn_port_after_servers(self, block: _Block, inherited: list[RealServer],
                                line: int) -> None:
        port = block.get("port")
        stale = [f"{server.name} ({server.port})" for server in inherited if server.port != port]
        if stale:
            self.warn(f"set after server blocks, which keep the port in effect when they were "
                      f"read, as in Piranha: {', '.join(stale)}; move 'port' above the server "
                      "blocks or give the servers their own port", line, "port", block.label)

    def server(self, opener: Statement, statements: Iterator[Statement],
               virtual: _Block) -> RealServer:
        name = self.block_name(opener)
        block = _Block("server", name, opener.line, RealServer)
        label = f"{virtual.label}: server {name}"
        for statement in self.body(block, opener, statements):
            self.nested_block_check(statement, block, label)
            self.assign(block, statement, label)
        values = dict(block.values)
        values.setdefault("port", virtual.get("port"))
        return RealServer(name=name, **values, line=block.line, key_lines=block.key_lines)

    def failover(self, opener: Statement, statements: Iterator[Statement]) -> FailoverService:
        block = _Block("failover", self.block_name(opener), opener.line, FailoverService)
        ignored = _Block("failover", block.name, opener.line, VirtualService)
        for statement in self.body(block, opener, statements):
            head = statement.tokens[0].text
            if head == "server":
                self.server(statement, statements, ignored)
                self.warn("server blocks are ignored in failover blocks", statement.line,
                          None, block.label)
                continue
            self.nested_block_check(statement, block)
            if head not in block.fields and head in ignored.fields:
                self.assign(ignored, statement, block.label)
                self.warn("ignored in failover blocks (Piranha's fos does not use it)",
                          statement.line, head, block.label)
                continue
            self.assign(block, statement)
        return FailoverService(name=block.name, **block.values, line=block.line,
                               key_lines=block.key_lines)

    def nested_block_check(self, statement: Statement, block: _Block,
                           label: str | None = None) -> None:
        head = statement.tokens[0].text
        if head in ("virtual", "failover", "server"):
            raise self.error(
                f"unknown command '{head}': blocks cannot be nested here; is the '}}' of "
                f"{block.kind} '{block.name}' (line {block.line}) missing?",
                statement, block=label or block.label)

    # -- keys

    def assign(self, block: _Block, statement: Statement, label: str | None = None) -> None:
        label = label if label is not None else block.label
        tokens = statement.tokens
        key = tokens[0].text
        if key == "debug" and block.kind == "global":
            self.warn("'debug' is read as 'debug_level' (Piranha documents 'debug' but rejects "
                      "it)", statement.line, key, label)
            key = "debug_level"
        if key not in block.fields:
            raise self.error(self.unknown_key_reason(key, block), statement, key=None,
                             block=label)
        if len(tokens) < 2 or tokens[1].text != "=":
            token = tokens[1] if len(tokens) > 1 else None
            column = statement.end_column if token is None else None
            raise self.error("equal (=) expected after command", statement, token, key=key,
                             block=label, column=column)
        key_field = block.fields[key]
        value = self.read_value(key_field, tokens[2:], statement, key, label)
        if key in block.key_lines:
            self.warn(f"set again; the value from line {block.key_lines[key]} is replaced (the "
                      "last one wins, as in Piranha)", statement.line, key, label)
        block.values[key] = value
        block.key_lines[key] = statement.line

    def unknown_key_reason(self, key: str, block: _Block) -> str:
        reason = f"unknown command '{key}'"
        if "=" in key:
            return reason + " ('=' must be separated by blanks: write 'key = value')"
        if key.lower() in block.fields:
            return reason + " (keys are lower-case)"
        import difflib  # noqa: PLC0415 - only for a mistake: not on every start-up

        close = difflib.get_close_matches(key, list(block.fields), n=1)
        where = "global" if block.kind == "global" else block.kind
        if close:
            return reason + f" (did you mean '{close[0]}'?)"
        return reason + f" (not a {where} key)"

    def read_value(self, key_field: Any, values: tuple[Token, ...], statement: Statement,
                   key: str, label: str | None) -> Any:
        kind = key_field.metadata["kind"]
        if kind == Kind.LIST:
            return self.read_list(values, statement, key, label)
        arity = 2 if kind == Kind.DEVICE_ADDRESS else 1
        if len(values) < arity:
            expected = "IP DEVICE" if arity == 2 else "a value"
            raise self.error(f"missing arguments: {expected} expected after '='", statement,
                             key=key, block=label, column=statement.end_column)
        if len(values) > arity:
            raise self.error(_extra_reason(values[arity]), statement, values[arity], key=key,
                             block=label)
        token = values[0]
        try:
            if kind == Kind.DEVICE_ADDRESS:
                ip = self.read_address(token, statement, key, label)
                device = values[1]
                if device.text == "":
                    raise self.error("missing arguments: empty device name", statement, device,
                                     key=key, block=label)
                return DeviceAddress(ip=ip, device=device.text)
            return self.read_single(kind, key_field, token, statement, key, label)
        except ValueError as err:
            if isinstance(err, LvsCfError):
                raise
            raise self.error(str(err), statement, token, key=key, block=label) from None

    def read_single(self, kind: str, key_field: Any, token: Token, statement: Statement,
                    key: str, label: str | None) -> Any:
        text = token.text
        if kind == Kind.INT:
            value = parse_c_integer(text)
            if value is None:
                hint = " (a real server's port must be numeric)" if label and ": server " in label \
                    and key == "port" else ""
                raise ValueError(f"integer expected, got '{text}'{hint}")
            return value
        if kind == Kind.BOOL:
            value = parse_c_integer(text)
            if value not in (0, 1):
                raise ValueError(f"boolean expected (0 or 1), got '{text}'")
            return bool(value)
        if kind == Kind.PORT:
            return self.read_port(text)
        if kind == Kind.SECONDS:
            seconds = parse_seconds(text)
            if seconds is None:
                raise ValueError(f"integer expected (seconds, fractions allowed), got '{text}'")
            return seconds
        if kind == Kind.ADDRESS:
            return self.read_address(token, statement, key, label)
        if kind == Kind.MASK:
            return read_mask(text)
        if kind == Kind.CHOICE:
            choices = key_field.metadata["choices"]
            if text not in choices:
                raise ValueError(f"invalid argument '{text}' (expected one of "
                                 f"{', '.join(choices)})")
            return text
        if kind == Kind.FLAGS:
            choices = key_field.metadata["choices"]
            flags = text.split(",")
            for flag in flags:
                if flag not in choices:
                    raise ValueError(f"invalid argument '{flag}' (expected a comma-separated "
                                     f"list of {', '.join(choices)})")
            return frozenset(flags)
        if token.quote == "'" and key in _QUOTE_SENSITIVE:
            self.warn("single-quoted: the quotes are removed, but Piranha passed them on as "
                      "part of the value; use double quotes", statement.line, key, label)
        return text

    def read_port(self, text: str) -> int:
        value = parse_c_integer(text)
        if value is not None:
            return value
        if SERVICE_NAME.fullmatch(text):
            port = self.resolver(text)
            if isinstance(port, int) and not isinstance(port, bool):
                return port
            raise ValueError(f"invalid argument: unknown service name '{text}' (give a port "
                             "number or a tcp service name from /etc/services)")
        raise ValueError(f"invalid argument '{text}': a port number or a service name expected")

    def read_address(self, token: Token, statement: Statement, key: str,
                     label: str | None) -> str:
        address, _family, exact = read_ip(token.text)
        if not exact and ":" not in token.text:
            self.warn(f"'{token.text}' is read as {address}, as inet_aton reads it (a leading 0 "
                      "means octal); write the address as a plain dotted quad",
                      statement.line, key, label)
        return address

    def read_list(self, values: tuple[Token, ...], statement: Statement, key: str,
                  label: str | None) -> tuple[str, ...]:
        if not values or values[0].text != "[":
            token = values[0] if values else None
            column = statement.end_column if token is None else None
            raise self.error("list expected: write '[ item item ... ]'", statement, token,
                             key=key, block=label, column=column)
        for index, token in enumerate(values[1:], start=1):
            if token.text == "]":
                if index + 1 < len(values):
                    raise self.error(_extra_reason(values[index + 1]), statement,
                                     values[index + 1], key=key, block=label)
                return tuple(item.text for item in values[1:index])
        raise self.error("list expected: ']' missing", statement, key=key, block=label,
                         column=statement.end_column)


def _extra_reason(token: Token, detail: str = "") -> str:
    if token.text.startswith("#") and token.quote is None:
        return ("unexpected arguments: a comment must be on a line of its own (no comments after "
                "a value)")
    reason = f"unexpected arguments starting with '{token.text}'"
    return f"{reason} ({detail})" if detail else reason

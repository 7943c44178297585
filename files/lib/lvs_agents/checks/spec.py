# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a check is and what it says: ``CheckSpec`` (one check of one server, normalised as
Piranha's nanny did at startup) and ``CheckResult`` (its verdict)."""

from __future__ import annotations

from dataclasses import dataclass

HTTP_SEND = "GET / HTTP/1.0\r\n\r\n"
HTTP_EXPECT = "HTTP"
READ_LIMIT = 4096
_ESCAPES = {"\\": "\\", "r": "\r", "n": "\n", "t": "\t", "'": "'", '"': '"'}


def decode_escapes(text: str) -> str:
    """Piranha's backslash decoding: ``\\\\ \\r \\n \\t \\' \\"``; other pairs (``\\.``) stay,
    so regex escapes get through."""
    out = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in _ESCAPES:
            out.append(_ESCAPES[text[index + 1]])
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


@dataclass(frozen=True)
class CheckSpec:
    """Everything one check needs, normalised as nanny did at startup (section 4.2)."""

    address: str
    port: int
    protocol: str = "tcp"
    timeout: float = 10.0
    send: bytes | None = None
    expect: bytes | None = None
    use_regex: bool = False
    send_program: str | None = None

    @classmethod
    def build(cls, address: str, port: int, *, virtual_port: int, protocol: str = "tcp",
              timeout: float = 10.0, send: str | None = None, expect: str | None = None,
              use_regex: bool = False, send_program: str | None = None,
              decode: bool = True) -> CheckSpec:
        """Apply Piranha's normalisation: the built-in HTTP check on virtual port 80 when
        nothing is configured, ``send`` dropped with a ``send_program``, escapes decoded."""
        send, expect, send_program = send or None, expect or None, send_program or None
        if virtual_port == 80 and send is None and expect is None and send_program is None:
            send, expect = HTTP_SEND, HTTP_EXPECT
        if send_program is not None:
            send = None
        if decode:
            send = decode_escapes(send) if send is not None else None
            expect = decode_escapes(expect) if expect is not None else None
        return cls(address=address, port=port, protocol=protocol, timeout=float(timeout),
                   send=_bytes(send), expect=_bytes(expect), use_regex=use_regex,
                   send_program=send_program)

    @classmethod
    def for_server(cls, virtual: object, address: str, port: int) -> CheckSpec:
        """The check of a real (or sorry) server at ``address:port`` of an lvs.cf ``virtual``."""
        return cls.build(address, port, virtual_port=virtual.port,  # type: ignore[attr-defined]
                         protocol=virtual.protocol,  # type: ignore[attr-defined]
                         timeout=virtual.timeout,  # type: ignore[attr-defined]
                         send=virtual.send, expect=virtual.expect,  # type: ignore[attr-defined]
                         use_regex=virtual.use_regex,  # type: ignore[attr-defined]
                         send_program=virtual.send_program)  # type: ignore[attr-defined]

    def describe(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        kind = "program" if self.send_program else self.protocol
        return f"{kind} {host}:{self.port}"


def _bytes(text: str | None) -> bytes | None:
    # latin-1: one byte per character, as nanny's C strings were
    return None if text is None else text.encode("latin-1", "replace")


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check: ``reason`` is ``ok`` or why it failed."""

    ok: bool
    reason: str
    duration: float

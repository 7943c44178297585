# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the thin shells around the lvs.cf core share: the lvs_cf module, the lvs_cf_parse and
lvs_cf_render filters and the lvs-cf command.

Private to lvs.cluster. Standard library only, no ansible imports: the lvs-cf command runs on
routers that have no Ansible.
"""

from __future__ import annotations

from .errors import LvsCfError
from .model import model_from_dict, model_to_dict
from .parser import parse_lvs_cf
from .render import render_lvs_cf
from .validate import validate_lvs_cf

ERROR_FIELDS = ("file", "line", "column", "block", "key", "reason")


class InternalError(RuntimeError):
    """A bug of lvs.cluster (not of the input): the rendering does not parse back."""


def load(*, content=None, config=None, source=None):
    """The checked model and its warnings, from lvs.cf text (str or bytes) or a model dict.

    Raises LvsCfError (file, line, reason) for text that does not parse or validate, or for a
    dict that is not a valid model (naming the field).
    """
    if (content is None) == (config is None):
        raise ValueError("give exactly one of content and config")
    if content is not None:
        result = parse_lvs_cf(content, source=source or "lvs.cf", validate=True)
        return result.config, list(result.warnings)
    source = source or "config"
    model = model_from_dict(config, source=source)
    return model, list(validate_lvs_cf(model, source))


def canonical_text(*, content=None, config=None, source=None):
    """(model dict, canonical lvs.cf text, warnings) for lvs.cf text or a model dict.

    The rendering is parsed back before it is returned, so nothing that the parser would refuse
    is ever handed out to be written.
    """
    model, warnings = load(content=content, config=config, source=source)
    text = render_lvs_cf(model)
    try:
        parse_lvs_cf(text, source="canonical rendering", validate=True)
    except LvsCfError as err:  # a bug of the renderer, not of the user's input
        raise InternalError(
            f"internal error: the canonical rendering does not parse back: {err}"
        ) from err
    return model_to_dict(model), text, warnings


def error_details(err):
    """The non-empty location fields of an LvsCfError, for a module's failure result."""
    details = {}
    for field in ERROR_FIELDS:
        value = getattr(err, field, None)
        if value is not None and value != "":
            details[field] = value
    return details


def format_warning(warning):
    """A warning as one line: ``FILE:LINE: warning: BLOCK: KEY: REASON`` (parts that are not
    known left out), the form compilers use, so that editors can jump to it."""
    reason = getattr(warning, "reason", None)
    if not reason:
        return str(warning)
    where = getattr(warning, "file", None) or "lvs.cf"
    line = getattr(warning, "line", None)
    if line is not None:
        where = f"{where}:{line}"
    parts = [getattr(warning, "block", None), getattr(warning, "key", None), reason]
    return f"{where}: warning: " + ": ".join(part for part in parts if part)

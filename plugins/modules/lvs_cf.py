#!/usr/bin/python
# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lvs_cf
short_description: Manage, parse and render the Piranha-compatible C(lvs.cf) file
version_added: 1.0.0
description:
  - Writes C(/etc/sysconfig/ha/lvs.cf), the configuration file of the LVS router agents
    (C(pulse), C(lvs), C(nanny)), from a structured model (O(config)) or from text (O(content)),
    always in the canonical form that C(lvs.cluster) renders; the file is validated before it is
    written, so a bad configuration never reaches the disk.
  - Removes the file (O(state=absent)), reads and parses the file on the host
    (O(state=gathered)), or, touching nothing, parses text (O(state=parsed)) or renders a model
    (O(state=rendered)).
  - The model and the file format are described in the collection's C(docs/lvs_cf.md).
  - "Errors name the file (or V(content) / V(config)), the line and the reason, for example
    C(content line 3, column 1: unknown command 'bogus'); bad O(config)
    entries are named by their path in the model, for example
    C(config: virtuals[0].servers[1].weight: integer expected, got 'heavy')."
author:
  - lvs.cluster developers (@lvs-cluster)
options:
  path:
    description:
      - The C(lvs.cf) file on the managed host.
      - Used by O(state=present), O(state=absent) and O(state=gathered).
      - Its directory must exist (the module does not create it).
    type: path
    default: /etc/sysconfig/ha/lvs.cf
  state:
    description:
      - V(present) writes the canonical rendering of O(config) or O(content) to O(path) if the
        file differs (byte for byte), atomically (a temporary file in the same directory is
        renamed over the old one), then applies O(mode), O(owner) and O(group).
      - V(absent) removes O(path) if it exists.
      - V(parsed) parses O(content) and returns the model in RV(config) and the canonical text in
        RV(content); nothing on the host is read or changed.
      - V(rendered) renders O(config) (or re-renders O(content)) and returns the canonical text in
        RV(content); nothing on the host is read or changed.
      - V(gathered) reads and parses O(path) on the host and returns RV(config) and
        RV(content); a missing file is an error.
    type: str
    choices: [present, absent, parsed, rendered, gathered]
    default: present
  config:
    description:
      - The configuration as a structured model, a dictionary as described in the collection's
        C(docs/lvs_cf.md) and as returned in RV(config) by O(state=parsed) and
        O(state=gathered) - the global keys of C(lvs.cf) by their names, C(virtuals) (a list of
        C(virtual) blocks, each with C(name), its keys and C(servers)) and C(failovers).
      - "An C(address IP DEVICE) is C({ip: IP, device: DEVICE}). Keys left out take their
        Piranha defaults."
      - Checked as a whole before anything is written; an unknown key or a bad value fails with
        its path in the model.
      - Mutually exclusive with O(content). One of them is required by O(state=present) and
        O(state=rendered); O(state=absent) and O(state=gathered) take neither.
    type: dict
  content:
    description:
      - The configuration as C(lvs.cf) text.
      - With O(state=present) and O(state=rendered) the text is parsed and validated, and its
        B(canonical rendering) is what is written or returned, so the file on disk is always in
        canonical form (comments and layout of O(content) are not kept).
      - Required by O(state=parsed). Mutually exclusive with O(config).
    type: str
  backup:
    description:
      - Before the file is changed or removed, keep a copy of it next to it with a timestamp in
        its name (RV(backup_file)).
    type: bool
    default: false
  mode:
    description:
      - The permissions of the file, as for M(ansible.builtin.file), applied with
        O(state=present).
      - The file is created C(0600) before this mode is applied, so it is never readable by
        others in between.
    type: raw
    default: '0600'
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  # Not ansible.builtin.action_common_attributes.files: with the FQCN, ansible-core 2.19 does
  # not find the FILES fragment (its descriptions go missing).
  - action_common_attributes.files
  - ansible.builtin.files
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows the text of the file before and after, then changed file attributes.
  platform:
    platforms: posix
  safe_file_operations:
    support: full
  vault:
    support: none
notes:
  - Warnings of the parser and validator (for example a C(port) placed after C(server) blocks)
    are shown as Ansible warnings naming the file and line.
  - O(state=parsed) and O(state=rendered) run on the managed host like any module; run them on
    C(localhost), or use the filters P(lvs.cluster.lvs_cf_parse#filter) and
    P(lvs.cluster.lvs_cf_render#filter) on the controller.
  - 'Ad-hoc, with this collection on the collections path (see the collection''s README):
    C(ansible localhost -m lvs.cluster.lvs_cf
    -a "state=parsed content={{ lookup(''file'', ''lvs.cf'') }}").'
  - The command C(lvs-cf check FILE) (C(files/bin/lvs-cluster lvs-cf) in the collection) runs
    the same checks outside Ansible, for example as the O(ansible.builtin.template#module:validate)
    command of a template.
seealso:
  - plugin: lvs.cluster.lvs_cf_parse
    plugin_type: filter
  - plugin: lvs.cluster.lvs_cf_render
    plugin_type: filter
  - module: ansible.builtin.template
"""

EXAMPLES = r"""
- name: Write lvs.cf from a structured model (identical on both routers)
  lvs.cluster.lvs_cf:
    config:
      service: lvs
      primary: 198.51.100.11
      backup_active: true
      backup: 198.51.100.12
      network: direct
      virtuals:
        - name: web
          active: true
          address: {ip: 198.51.100.50, device: "eth0:1"}
          vip_nmask: 255.255.255.0
          port: 80
          scheduler: wlc
          servers:
            - {name: web01, address: 198.51.100.21, active: true, weight: 100}
            - {name: web02, address: 198.51.100.22, active: true, weight: 100}
    backup: true

- name: Write lvs.cf from text (the canonical rendering of it is written)
  lvs.cluster.lvs_cf:
    content: "{{ lookup('ansible.builtin.file', 'lvs.cf') }}"
    owner: root
    group: root
    mode: '0600'

- name: Read the file on the router as a model
  lvs.cluster.lvs_cf:
    state: gathered
  register: current

- name: Raise the heartbeat dead time in the file read above, keeping everything else
  lvs.cluster.lvs_cf:
    config: "{{ current.config | combine({'deadtime': 10}) }}"


- name: Parse text on the controller (nothing is touched)
  lvs.cluster.lvs_cf:
    state: parsed
    content: |
      service = lvs
      primary = 10.0.0.1
  delegate_to: localhost
  register: parsed

- name: Render a model to text on the controller (nothing is touched)
  lvs.cluster.lvs_cf:
    state: rendered
    config: "{{ parsed.config }}"
  delegate_to: localhost
  register: rendered

- name: Remove the file
  lvs.cluster.lvs_cf:
    state: absent
"""

RETURN = r"""
config:
  description:
    - The configuration as a structured model (see C(docs/lvs_cf.md)), as parsed or as given,
      with every default filled in.
  returned: success, unless O(state=absent)
  type: dict
  sample:
    service: lvs
    primary: 10.254.0.11
    virtuals:
      - name: web
        active: true
        address: {ip: 10.254.0.100, device: "eth0:1"}
        port: 80
        servers:
          - {name: web1, address: 10.254.0.21, active: true, weight: 1, port: 80}
content:
  description: The canonical C(lvs.cf) text (what is, or would be, in the file).
  returned: success, unless O(state=absent)
  type: str
  sample: "service = lvs\nprimary = 10.254.0.11\n"
canonical:
  description: Whether the file read was already byte for byte in canonical form.
  returned: O(state=gathered)
  type: bool
  sample: true
path:
  description: The file on the host.
  returned: O(state=present), O(state=absent) and O(state=gathered)
  type: str
  sample: /etc/sysconfig/ha/lvs.cf
backup_file:
  description: The copy made of the file before it was changed or removed.
  returned: O(backup=true) and the file was changed or removed
  type: str
  sample: /etc/sysconfig/ha/lvs.cf.2412.2026-11-25@14:03:27~
diff:
  description:
    - In diff mode, what changed (or would change) - first the file's text before and after,
      then, if any changed, the file attributes (mode, owner, group).
  returned: diff mode, O(state=present) and O(state=absent)
  type: list
  elements: dict
  sample:
    - before: "keepalive = 2\n"
      after: "keepalive = 3\n"
      before_header: /etc/sysconfig/ha/lvs.cf (content)
      after_header: /etc/sysconfig/ha/lvs.cf (content)
file:
  description: On a parse or validation error, the file (or V(content), V(config)) it is in.
  returned: failure
  type: str
  sample: content
line:
  description: On a parse or validation error, its line number (1-based) when it has one.
  returned: failure
  type: int
  sample: 3
column:
  description: On a parse or validation error, its column (1-based) when known.
  returned: failure
  type: int
  sample: 1
block:
  description: On a parse or validation error, the block it is in, when it is in one.
  returned: failure
  type: str
  sample: virtual web, server web1
key:
  description: On a parse or validation error, the key (or model path) it concerns, when known.
  returned: failure
  type: str
  sample: weight
reason:
  description: On a parse or validation error, the reason alone.
  returned: failure
  type: str
  sample: unknown command
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

from ..module_utils.lvs_cluster.lvs_cf.errors import LvsCfError
from ..module_utils.lvs_cluster.lvs_cf.shells import canonical_text, error_details


def read_file(module, path):
    """The file's bytes, or None when it does not exist."""
    b_path = to_bytes(path, errors="surrogate_or_strict")
    if not os.path.lexists(b_path):
        return None
    if os.path.isdir(b_path):
        module.fail_json(msg=f"{path} is a directory", path=path)
    try:
        with open(b_path, "rb") as handle:
            return handle.read()
    except OSError as err:
        module.fail_json(msg=f"cannot read {path}: {to_native(err)}", path=path)


def write_file(module, path, data):
    """Atomic write: a temporary file in the same directory renamed over the target."""
    b_path = to_bytes(path, errors="surrogate_or_strict")
    directory = os.path.dirname(b_path) or b"."
    fd, b_tmp = tempfile.mkstemp(prefix=b".lvs_cf.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # A new file is created 0600 (atomic_move gives it 0666 & ~umask); the requested mode
        # is applied afterwards, so the file is never more open than both in between.
        umask = os.umask(0o077)
        try:
            module.atomic_move(b_tmp, b_path, unsafe_writes=module.params["unsafe_writes"])
        finally:
            os.umask(umask)
    except Exception as err:  # atomic_move raises plain Exception
        module.fail_json(msg=f"cannot write {path}: {to_native(err)}", path=path)
    finally:
        if os.path.exists(b_tmp):
            os.unlink(b_tmp)


def fail_with(module, err, **extra):
    module.fail_json(msg=str(err), **error_details(err), **extra)


def content_diff(path, before, after):
    return {
        "before": before,
        "after": after,
        "before_header": f"{path} (content)",
        "after_header": f"{path} (content)",
    }


def as_text(data):
    return to_text(data, errors="surrogate_or_replace") if data is not None else ""


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", default="/etc/sysconfig/ha/lvs.cf"),
            state=dict(
                type="str",
                default="present",
                choices=["present", "absent", "parsed", "rendered", "gathered"],
            ),
            config=dict(type="dict"),
            content=dict(type="str"),
            backup=dict(type="bool", default=False),
            mode=dict(type="raw", default="0600"),
        ),
        mutually_exclusive=[("config", "content")],
        required_if=[
            ("state", "present", ("config", "content"), True),
            ("state", "rendered", ("config", "content"), True),
            ("state", "parsed", ("content",)),
        ],
        add_file_common_args=True,
        supports_check_mode=True,
    )
    params = module.params
    state = params["state"]
    path = params["path"]
    result = dict(changed=False)

    if state in ("absent", "gathered") and (
        params["config"] is not None or params["content"] is not None
    ):
        module.fail_json(msg=f"state={state} takes neither config nor content")

    if state == "gathered":
        data = read_file(module, path)
        if data is None:
            module.fail_json(msg=f"{path} does not exist", path=path)
        try:
            config, text, warnings = canonical_text(content=data, source=path)
        except LvsCfError as err:
            fail_with(module, err, path=path)
        for warning in warnings:
            module.warn(str(warning))
        module.exit_json(
            changed=False, path=path, config=config, content=text, canonical=data == to_bytes(text)
        )

    if state == "absent":
        data = read_file(module, path)
        result["path"] = path
        if data is not None:
            result["changed"] = True
            if module._diff:
                result["diff"] = [content_diff(path, as_text(data), "")]
            if not module.check_mode:
                if params["backup"]:
                    result["backup_file"] = module.backup_local(path)
                try:
                    os.unlink(to_bytes(path, errors="surrogate_or_strict"))
                except OSError as err:
                    module.fail_json(msg=f"cannot remove {path}: {to_native(err)}", path=path)
        module.exit_json(**result)

    # present, parsed, rendered: a model and its canonical text, checked before anything else.
    if params["content"] is not None:
        source, kwargs = "content", dict(content=params["content"])
    else:
        source, kwargs = "config", dict(config=params["config"])
    try:
        config, text, warnings = canonical_text(source=source, **kwargs)
    except LvsCfError as err:
        fail_with(module, err)
    for warning in warnings:
        module.warn(str(warning))
    result.update(config=config, content=text)

    if state in ("parsed", "rendered"):
        module.exit_json(**result)

    # state == present
    result["path"] = path
    b_path = to_bytes(path, errors="surrogate_or_strict")
    directory = os.path.dirname(b_path) or b"."
    before = read_file(module, path)
    after = to_bytes(text)
    exists_after = True
    if before != after:
        result["changed"] = True
        if not os.path.isdir(directory):
            if not module.check_mode:
                module.fail_json(
                    msg=f"directory {to_native(directory)} does not exist (create it first)",
                    path=path,
                )
            exists_after = False
        if module._diff:
            result["diff"] = [content_diff(path, as_text(before), text)]
        if not module.check_mode:
            if params["backup"] and before is not None:
                result["backup_file"] = module.backup_local(path)
            write_file(module, path, after)
    if exists_after and (before is not None or not module.check_mode):
        # In check mode a file that does not exist yet has no attributes to compare: it would be
        # created with them.
        attributes = {"before": {}, "after": {}}
        file_args = module.load_file_common_arguments(params)
        result["changed"] = module.set_fs_attributes_if_different(
            file_args, result["changed"], diff=attributes
        )
        if module._diff and attributes["before"] != attributes["after"]:
            attributes["before_header"] = f"{path} (file attributes)"
            attributes["after_header"] = f"{path} (file attributes)"
            result.setdefault("diff", [content_diff(path, text, text)]).append(attributes)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

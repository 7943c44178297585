#!/usr/bin/python
# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: kernel_params
short_description: Set kernel parameters and load kernel modules, now and at boot
version_added: 1.0.0
description:
  - Sets a whole set of kernel parameters (sysctls) and loads a set of kernel modules in one
    task, in the running kernel and persistently - like M(ansible.posix.sysctl) and
    M(community.general.modprobe), but for many at once.
  - The modules (O(modules)) are loaded first with C(modprobe), then every parameter of
    O(sysctls) is read from C(/proc/sys) and those that differ are written, so parameters that
    exist only once their module is loaded (C(net.ipv4.vs.*) with C(ip_vs)) can be set in the
    same task.
  - For the next boot, the parameters are written to O(sysctl_file) (read by
    C(systemd-sysctl)) and the modules to O(modules_file) (read by
    C(systemd-modules-load)). A file is written only when its content differs, atomically.
  - "Every name and value is checked before anything is changed, and every parameter is read
    (after loading the modules) before any is written; an unknown parameter fails the module
    naming it, for example C(sysctls.net.ipv4.vs.expire_nodest_conn: no such kernel
    parameter), with a hint to load its module."
author:
  - lvs.cluster developers (@lvs-cluster)
options:
  sysctls:
    description:
      - The kernel parameters, by dotted name (for example V(net.ipv4.ip_forward)), with the
        value each must have.
      - A value is a string or an integer (V(true) and V(false) are V(1) and V(0)). Values are
        compared with runs of whitespace as one space, so multi-value parameters such as
        C(net.ipv4.tcp_rmem) can be given as V(4096 87380 6291456). A newline in a value is an
        error.
      - As in C(sysctl) and C(sysctl.d), a V(/) in a dotted name stands for a dot within one
        component, for example V(net.ipv4.conf.eth0/100.arp_ignore) for the interface
        C(eth0.100).
      - The parameters are written, and persisted, in the order given.
    type: dict
    default: {}
  modules:
    description:
      - Kernel modules to load now (C(modprobe)) and at boot, in this order.
      - A module counts as loaded when C(/sys/module/<name>) exists (with V(-) as V(_)) or it is
        built into the kernel (C(modules.builtin)).
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) loads the modules, sets the parameters and writes the two files. A file
        whose set is empty is removed, if it exists (there is nothing to persist).
      - V(absent) removes both files if they exist. The live parameters and the loaded modules
        are left as they are - their previous values are not known. O(sysctls) and O(modules)
        are then only checked for syntax.
    type: str
    choices: [present, absent]
    default: present
  sysctl_file:
    description:
      - The file that sets the parameters at boot, a header comment and one C(name = value)
        line per parameter, mode C(0644).
    type: path
    default: /etc/sysctl.d/90-lvs-cluster.conf
  modules_file:
    description:
      - The file that loads the modules at boot, a header comment and one module per line,
        mode C(0644).
    type: path
    default: /etc/modules-load.d/lvs-cluster.conf
  backup:
    description:
      - Before a file is changed or removed, keep a copy of it next to it with a timestamp in
        its name (RV(backup_files)).
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads the live values and the files and reports what would change; it loads
        no module. A parameter of a module that is not loaded yet cannot be read then; it is
        reported as changing from V(null).
  diff_mode:
    support: full
    details:
      - "The diff shows one C(name = value) line per parameter (live before, wanted after), one
        C(module NAME: loaded|not loaded) line per module, then the text of both files."
  platform:
    platforms: linux
notes:
  - Linux only. Needs root (writing C(/proc/sys), C(modprobe), the files under C(/etc)).
  - The directories of O(sysctl_file) and O(modules_file) must exist.
  - O(state=absent) does not restore the parameters nor unload the modules; reboot, or set the
    values wanted with O(state=present) in another file.
seealso:
  - module: ansible.posix.sysctl
  - module: community.general.modprobe
"""

EXAMPLES = r"""
- name: IPVS router - forwarding, IPVS modules and IPVS parameters in one task
  lvs.cluster.kernel_params:
    modules:
      - ip_vs
      - ip_vs_wlc
    sysctls:
      net.ipv4.ip_forward: 1
      net.ipv4.vs.expire_nodest_conn: 1
      net.ipv4.vs.conntrack: 0

- name: Direct-routing real server - do not answer ARP for the VIP held on lo
  lvs.cluster.kernel_params:
    sysctls:
      net.ipv4.conf.all.arp_ignore: 1
      net.ipv4.conf.all.arp_announce: 2
      net.ipv4.conf.lo.arp_ignore: 1
      net.ipv4.conf.lo.arp_announce: 2
    sysctl_file: /etc/sysctl.d/90-lvs-real-server.conf
    backup: true

- name: Report drift from the wanted values, changing nothing
  lvs.cluster.kernel_params:
    sysctls:
      net.ipv4.ip_forward: 1
      net.ipv4.tcp_rmem: 4096 87380 6291456
  check_mode: true
  diff: true
  register: drift

- name: Stop persisting the parameters (the live values are left alone)
  lvs.cluster.kernel_params:
    state: absent
"""

RETURN = r"""
sysctls:
  description: Every parameter of O(sysctls), in order, with its live value before and the
    wanted value.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The dotted name.
      type: str
      sample: net.ipv4.ip_forward
    before:
      description:
        - The live value before the run, whitespace normalised.
        - V(null) in check mode for a parameter whose module is not loaded yet.
      type: str
      sample: "0"
    after:
      description: The wanted value, whitespace normalised.
      type: str
      sample: "1"
    changed:
      description: Whether the value was (or in check mode would be) changed.
      type: bool
      sample: true
  sample:
    - {name: net.ipv4.ip_forward, before: "0", after: "1", changed: true}
modules_loaded:
  description: The modules loaded by this run (in check mode, that would be loaded).
  returned: success
  type: list
  elements: str
  sample: [ip_vs]
files:
  description: The files written or removed (in check mode, that would be).
  returned: success
  type: list
  elements: str
  sample: [/etc/sysctl.d/90-lvs-cluster.conf]
backup_files:
  description: The copies made of the files before they were changed or removed.
  returned: O(backup=true) and a file was changed or removed
  type: list
  elements: str
  sample: [/etc/sysctl.d/90-lvs-cluster.conf.2412.2026-11-25@14:03:27~]
diff:
  description:
    - In diff mode, the live parameters and modules and the text of both files, before and
      after (what changed, or would change, in check mode).
  returned: diff mode
  type: dict
  sample:
    before: "net.ipv4.ip_forward = 0\nmodule ip_vs: not loaded\n# /etc/x.conf (absent)\n"
    after: "net.ipv4.ip_forward = 1\nmodule ip_vs: loaded\n# /etc/x.conf\n..."
    before_header: kernel parameters, modules and files
    after_header: kernel parameters, modules and files
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ..module_utils.lvs_cluster.kernel_params import (
    MODULES_FILE,
    SYSCTL_FILE,
    KernelParamsError,
    kernel_params,
)


def make_modprobe(module):
    """modprobe(name): None when the module was loaded, else the error text."""

    def modprobe(name):
        binary = module.get_bin_path("modprobe", opt_dirs=["/sbin", "/usr/sbin"])
        if not binary:
            return "modprobe was not found"
        code, out, err = module.run_command([binary, "--", name])
        if code != 0:
            return (err or out).strip() or f"exit status {code}"
        return None

    return modprobe


def write_file(module, field, path, text):
    """Atomic write: a temporary file in the same directory, mode 0644, renamed over path."""
    b_path = to_bytes(path, errors="surrogate_or_strict")
    directory = os.path.dirname(b_path) or b"."
    fd, b_tmp = tempfile.mkstemp(prefix=b".kernel_params.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(to_bytes(text, errors="surrogate_or_strict"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(b_tmp, 0o644)
        module.atomic_move(b_tmp, b_path)
        # atomic_move keeps the mode of a file it replaces.
        os.chmod(b_path, 0o644)
    except Exception as err:  # atomic_move raises plain Exception
        module.fail_json(msg=f"{field}: cannot write {path}: {to_native(err)}", changed=True)
    finally:
        if os.path.exists(b_tmp):
            os.unlink(b_tmp)


def remove_file(module, field, path):
    try:
        os.unlink(to_bytes(path, errors="surrogate_or_strict"))
    except FileNotFoundError:
        pass
    except OSError as err:
        module.fail_json(msg=f"{field}: cannot remove {path}: {to_native(err)}", changed=True)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            sysctls=dict(type="dict", default={}),
            modules=dict(type="list", elements="str", default=[]),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            sysctl_file=dict(type="path", default=SYSCTL_FILE),
            modules_file=dict(type="path", default=MODULES_FILE),
            backup=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        outcome = kernel_params(
            sysctls=params["sysctls"],
            modules=params["modules"],
            state=params["state"],
            sysctl_file=params["sysctl_file"],
            modules_file=params["modules_file"],
            modprobe=make_modprobe(module),
            check_mode=module.check_mode,
        )
    except KernelParamsError as err:
        module.fail_json(msg=str(err), **err.details)

    for warning in outcome.warnings:
        module.warn(warning)

    fields = {params["sysctl_file"]: "sysctl_file", params["modules_file"]: "modules_file"}
    backups = []
    changed_files = [state for state in outcome.files if state.changed]
    if not module.check_mode:
        for state in changed_files:
            field = fields.get(state.path, "sysctl_file")
            if params["backup"] and state.before is not None:
                backups.append(module.backup_local(state.path))
            if state.after is None:
                remove_file(module, field, state.path)
            else:
                write_file(module, field, state.path, state.after)

    result = dict(
        changed=outcome.changed,
        sysctls=[state.as_dict() for state in outcome.sysctls],
        modules_loaded=outcome.modules_loaded,
        files=[state.path for state in changed_files],
    )
    if backups:
        result["backup_files"] = backups
    if module._diff:
        diff = outcome.diff()
        diff.update(before_header="kernel parameters, modules and files",
                    after_header="kernel parameters, modules and files")
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: kernel_params
short_description: Set kernel parameters and load kernel modules, now and at boot
version_added: 0.1.0
description:
  - Loads the kernel modules O(modules) that are not loaded yet, then sets each kernel parameter
    of O(sysctls) whose live value differs, and writes them to O(modules_file) and
    O(sysctl_file) so that they hold after a reboot - all in one task, like
    C(ansible.posix.sysctl) for a whole set.
  - Compares with the live kernel (C(/proc/sys), C(/sys/module)), not only with the files, so
    a value changed by hand is reported (check mode, diff) and corrected.
  - Every name and value is checked before anything changes; a name the kernel does not have
    fails the task and names it, for example C(sysctls.net.ipv4.no_such: no such kernel
    parameter).
  - Files are written only when their content differs, atomically (a temporary file in the
    same directory renamed over the old one).
author:
  - lvs.cluster developers (@lvs-cluster)
options:
  sysctls:
    description:
      - Kernel parameters by dotted name (V(net.ipv4.ip_forward)) and value. Values are
        compared with white space normalised, so multi-word values such as
        V(4096 87380 6291456) work.
      - Parameters of a module in O(modules) may be given; the module is loaded first.
    type: dict
    default: {}
  modules:
    description:
      - Kernel modules to load now (C(modprobe)) and at boot (O(modules_file)).
    type: list
    elements: str
    default: []
  sysctl_file:
    description:
      - The C(sysctl.d) file the parameters are written to. Removed when O(sysctls) is empty.
    type: path
    default: /etc/sysctl.d/90-lvs-cluster.conf
  modules_file:
    description:
      - The C(modules-load.d) file the modules are written to. Removed when O(modules) is
        empty.
    type: path
    default: /etc/modules-load.d/lvs-cluster.conf
  backup:
    description:
      - Keep a time-stamped copy of a file before it is replaced or removed.
    type: bool
    default: false
  state:
    description:
      - V(present) applies and persists O(sysctls) and O(modules).
      - V(absent) removes O(sysctl_file) and O(modules_file). Live values and loaded modules
        stay as they are (the values from before are not known) until the next boot.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Modules are not loaded in check mode; a parameter of such a module is reported as
        changing from C(null).
  diff_mode:
    support: full
    details:
      - One line per parameter (live value before, wanted value after), one per module to
        load, then the two files.
  platform:
    platforms: posix
notes:
  - Linux only; needs root.
"""

EXAMPLES = r"""
- name: An IPVS router - forwarding, IPVS settings, ip_vs loaded at boot
  lvs.cluster.kernel_params:
    modules: [ip_vs]
    sysctls:
      net.ipv4.ip_forward: 1
      net.ipv4.vs.expire_nodest_conn: 1
    sysctl_file: /etc/sysctl.d/90-lvs-router.conf
    modules_file: /etc/modules-load.d/lvs-router.conf

- name: A real server for direct routing - no ARP for the VIP on lo
  lvs.cluster.kernel_params:
    sysctls:
      net.ipv4.conf.all.arp_ignore: 1
      net.ipv4.conf.all.arp_announce: 2
    sysctl_file: /etc/sysctl.d/90-lvs-real-server.conf
"""

RETURN = r"""
sysctls:
  description: Each parameter of O(sysctls) - its live value before (V(null) if absent), the
    wanted value, and whether it changed (or would in check mode).
  returned: O(state=present)
  type: list
  elements: dict
  sample:
    - name: net.ipv4.ip_forward
      before: "0"
      after: "1"
      changed: true
modules_loaded:
  description: The modules loaded by this run (in check mode, that would be).
  returned: O(state=present)
  type: list
  elements: str
  sample: [ip_vs]
files:
  description: The files written or removed (in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: [/etc/sysctl.d/90-lvs-cluster.conf]
backup_files:
  description: The backups made with O(backup).
  returned: O(backup) and a file changed
  type: list
  elements: str
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ..module_utils import _kernel_params as kp


def write_file(module, path, content):
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        raise kp.KernelParamsError(f"{path}: the directory {directory} does not exist")
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".kernel_params.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(content)
        os.chmod(temporary, 0o644)
        module.atomic_move(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            sysctls=dict(type="dict", default={}),
            modules=dict(type="list", elements="str", default=[]),
            sysctl_file=dict(type="path", default="/etc/sysctl.d/90-lvs-cluster.conf"),
            modules_file=dict(type="path", default="/etc/modules-load.d/lvs-cluster.conf"),
            backup=dict(type="bool", default=False),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    sysctls = params["sysctls"]

    def modprobe(name):
        command = module.get_bin_path("modprobe", required=True)
        rc, _out, err = module.run_command([command, "--", name])
        if rc != 0:
            raise kp.KernelParamsError(f"modules.{name}: modprobe failed: {err.strip()}")

    try:
        the_plan = kp.plan(sysctls, params["modules"], params["sysctl_file"],
                           params["modules_file"], params["state"], kp.PROC_SYS, kp.SYS_MODULE)
        backups = []
        if not module.check_mode:
            kp.load_modules(the_plan, modprobe)
            kp.refresh(the_plan, sysctls, kp.PROC_SYS)
            kp.write_sysctls(the_plan, kp.PROC_SYS)
            for path, content in the_plan.files.items():
                if params["backup"] and os.path.exists(path):
                    backups.append(module.backup_local(path))
                if content is None:
                    os.unlink(path)
                else:
                    write_file(module, path, content)
    except kp.KernelParamsError as error:
        module.fail_json(msg=str(error))
    except OSError as error:
        module.fail_json(msg=f"{error.filename or ''}: {error.strerror or error}")
    result = dict(changed=the_plan.changed, files=sorted(the_plan.files))
    if params["state"] == "present":
        result["sysctls"] = [change.result() for change in the_plan.sysctls]
        result["modules_loaded"] = list(the_plan.modules)
    if backups:
        result["backup_files"] = backups
    if module._diff:
        result["diff"] = kp.diff(the_plan)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

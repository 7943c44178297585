#!/usr/bin/python
# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lvs_import
short_description: Read a Piranha lvs.cf or a keepalived.conf into the router role's variables
version_added: 1.0.0
description:
  - Reads an existing load balancer's configuration on the managed host - Piranha's C(lvs.cf)
    or the LVS part of C(keepalived.conf), includes too - and returns the
    P(lvs.cluster.router#role) role's variables that reproduce it (RV(router_vars)), and every
    construct the role cannot carry, with its file and line (RV(unsupported)).
  - Changes nothing. A file that cannot be read (malformed, an include that matches nothing)
    fails naming its file and line.
  - The playbook the playbook C(lvs.cluster.import) runs it on every router and writes the result
    as group_vars and host_vars. docs/migrating.md says what maps to what.
author:
  - lvs.cluster developers (@lvs-cluster)
options:
  src:
    description:
      - The file to read on the managed host, for example C(/etc/sysconfig/ha/lvs.cf) or
        C(/etc/keepalived/keepalived.conf).
    type: path
    required: true
  format:
    description:
      - The file's format. V(auto) recognises keepalived.conf by its blocks
        (C(virtual_server), C(vrrp_instance), C(global_defs), C(include)) and reads anything
        else as lvs.cf.
    type: str
    choices: [auto, piranha, keepalived]
    default: auto
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Read the router's keepalived.conf
  lvs.cluster.lvs_import:
    src: /etc/keepalived/keepalived.conf
  register: imported

- name: Stop on what would be lost
  ansible.builtin.assert:
    that: imported.unsupported | length == 0
    fail_msg: "{{ imported.unsupported | map(attribute='construct') | join(', ') }}"

- name: Keep the variables for the router role
  ansible.builtin.copy:
    content: "{{ imported.router_vars | to_nice_yaml }}"
    dest: group_vars/lvs_routers.yml
  delegate_to: localhost
"""

RETURN = r"""
format:
  description: The format read, V(piranha) or V(keepalived).
  returned: success
  type: str
  sample: keepalived
router_vars:
  description:
    - The P(lvs.cluster.router#role) role's variables that reproduce the source
      (C(router_network), C(router_virtual_servers) and the pair's settings); values the
      role's defaults already give are left out.
  returned: success
  type: dict
  sample:
    router_network: direct
    router_virtual_servers:
      - name: vs_10_254_0_100_80
        address: 10.254.0.100
        port: 80
        scheduler: rr
        real_servers:
          - {name: rs_10_254_0_21_80, address: 10.254.0.21}
hosts:
  description:
    - Host variables by the role a router has in the source, V(primary) or V(backup)
      (lvs.cf's C(primary)/C(backup) addresses as C(router_public_address) and
      C(router_private_address)).
  returned: success
  type: dict
  sample: {primary: {router_public_address: 10.254.0.11}}
this_router:
  description:
    - What a keepalived.conf says of the router it was read on - C(state), C(priority),
      C(address) (C(unicast_src_ip)), C(peer) (C(unicast_peer)) - from which the import
      playbook tells primary from backup. Empty for lvs.cf.
  returned: success
  type: dict
  sample: {state: MASTER, priority: 150}
unsupported:
  description: Each construct the role's variables cannot carry, in the order of the source.
  returned: success
  type: list
  elements: dict
  contains:
    file:
      description: The file it is in.
      type: str
    line:
      description: Its line, or null for what concerns the whole file.
      type: int
    construct:
      description: The construct as written.
      type: str
    reason:
      description: Why it is not carried, or what it becomes.
      type: str
  sample:
    - file: /etc/keepalived/keepalived.conf
      line: 12
      construct: authentication
      reason: "replaced: pulse authenticates heartbeats with the key in router_heartbeat_key"
sources:
  description: Every file read, the includes after the file that includes them.
  returned: success
  type: list
  elements: str
  sample: [/etc/keepalived/keepalived.conf, /etc/keepalived/conf.d/web.conf]
"""

from ansible.module_utils.basic import AnsibleModule

from ..module_utils.lvs_cluster.importing.result import SourceError
from ..module_utils.lvs_cluster.importing.source import FORMATS, import_source


def main():
    module = AnsibleModule(
        argument_spec={
            "src": {"type": "path", "required": True},
            "format": {"type": "str", "choices": list(FORMATS), "default": "auto"},
        },
        supports_check_mode=True,
    )
    try:
        result = import_source(module.params["src"], module.params["format"])
    except SourceError as error:
        module.fail_json(msg=str(error), file=error.file, line=error.line)
    module.exit_json(changed=False, **result.as_dict())


if __name__ == "__main__":
    main()

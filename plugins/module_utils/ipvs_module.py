# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPVS core adapted to ``AnsibleModule``: the kernel socket (loading ip_vs when it is
missing) and failures as ``fail_json`` with their field and errno.

The only IPVS code that sees an ``AnsibleModule``; the core (``lvs_cluster/``) imports nothing
from Ansible, since the routers' agents run it without Ansible installed. The modules import it
as ``from ..module_utils import ipvs_module``.
"""

from __future__ import annotations

import errno
import os

from . import simple_spec
from .lvs_cluster.ipvs import netlink as nl
from .lvs_cluster.ipvs import reconcile as rc
from .lvs_cluster.ipvs.options import ParamError

NO_IPVS = "the kernel has no IPVS: load the ip_vs module (modprobe ip_vs)"


def fail(module, err: BaseException, **extra) -> None:
    """fail_json for an error of the core, with its kind and errno where it has them."""
    info = dict(extra)
    if isinstance(err, ParamError):
        info["field"] = err.field
    name = errno_name(err)
    if name:
        info["errno"] = name
    msg = str(err)
    if name == "EPERM":
        msg += " (managing IPVS needs root, or CAP_NET_ADMIN)"
    module.fail_json(msg=msg, **info)


def open_kernel() -> nl.IpvsNetlink:
    """A new IpvsNetlink socket (unit tests replace this with one on a fake kernel)."""
    return nl.IpvsNetlink()


def kernel(module) -> nl.IpvsNetlink:
    """An IpvsNetlink socket; loads ip_vs (modprobe) when the IPVS family is missing.

    The kernel normally loads ip_vs by itself on the first request for the IPVS generic
    netlink family (the module carries that alias); ``modprobe ip_vs`` is the fallback for
    kernels that do not autoload. Fails the module with a clear message otherwise.
    """
    for attempt in (1, 2):
        try:
            return open_kernel()
        except nl.IpvsNetlinkError as err:
            if err.errno != errno.ENOENT:
                fail(module, err)
            if attempt == 2:
                module.fail_json(msg=NO_IPVS, errno="ENOENT")
        except AttributeError:  # no socket.AF_NETLINK: not Linux
            module.fail_json(msg="IPVS is managed over netlink: the target must run Linux")
        except OSError as err:
            module.fail_json(msg=f"cannot open a generic netlink socket: {err}",
                             errno=errno.errorcode.get(err.errno or 0, str(err.errno)))
        if os.path.exists("/proc/net/ip_vs"):
            module.fail_json(msg=NO_IPVS + " (/proc/net/ip_vs exists, but the kernel has no "
                             "IPVS generic netlink family)", errno="ENOENT")
        modprobe = module.get_bin_path("modprobe", opt_dirs=["/sbin", "/usr/sbin"])
        if not modprobe:
            module.fail_json(msg=NO_IPVS + "; modprobe was not found", errno="ENOENT")
        code, _out, err_text = module.run_command([modprobe, "ip_vs"])
        if code != 0:
            module.fail_json(msg=f"{NO_IPVS}; modprobe ip_vs failed: {err_text.strip()}",
                             errno="ENOENT")
    raise AssertionError("unreachable: fail_json exits")


def errno_name(err: BaseException) -> str | None:
    """The symbolic errno of a core error (ApplyError: of the refusal), or None."""
    cause = err.failure if isinstance(err, rc.ApplyError) else err
    code = cause.errno if isinstance(cause, OSError) else None
    return errno.errorcode.get(code, str(code)) if code else None


def unchecked_list(spec: dict, name: str) -> dict:
    """``spec`` with its option ``name`` (a list of dicts) taken as plain dicts by
    AnsibleModule: ``checked_list`` checks them (``simple_spec`` says why)."""
    light = dict(spec)
    light[name] = {rule: value for rule, value in spec[name].items() if rule != "options"}
    return light


def checked_list(module, spec: dict, name: str) -> list:
    """Option ``name`` as AnsibleModule's validation against ``spec`` would leave it: by
    ``simple_spec`` when it can say, else by Ansible's validator (its conversions and its
    errors, failing the module as AnsibleModule does)."""
    raw = module.params[name]
    fast = simple_spec.checked(spec[name]["options"], raw)
    if fast is not None:
        return fast
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator  # noqa: PLC0415
    from ansible.module_utils.errors import UnsupportedError  # noqa: PLC0415

    result = ArgumentSpecValidator({name: spec[name]}).validate({name: raw})
    if result.error_messages:
        msg = result.errors.msg
        if isinstance(result.errors[0], UnsupportedError):
            msg = f"Unsupported parameters for ({module._name}) module: {msg}"
        module.fail_json(msg=msg)
    return result.validated_parameters[name]

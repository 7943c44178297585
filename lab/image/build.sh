#!/usr/bin/env bash
# Build the lab's guest image: Debian (bookworm or trixie) with systemd, sshd, python3, ipvsadm
# and the User-Mode Linux kernel modules (the same lab kernel for every release). Nothing of lvs.cluster's own dependencies is baked in (the
# agents' Python dependencies are pushed as wheels, as on a router without internet); keepalived
# (disabled) is there for the benchmarks' anchor; FRR (disabled) for the scale-out lab's routers
# and its upstream router, and python3-apt for Ansible's apt module (the router role installs FRR
# with it; lab guests have no mirror, so the package must already be there).
#
# usage: build.sh OUTPUT_DIR UML_VERSION MIRROR [DEB_CACHE_DIR [SUITE]]
# SUITE is the Debian release, bookworm (the default) or trixie; every package below exists
# under the same name in both.
# Writes OUTPUT_DIR/rootfs.img and OUTPUT_DIR/id_ed25519{,.pub} (root's login key).
# DEB_CACHE_DIR keeps the downloaded packages, so a rebuild after a recipe change is faster.
# The caller (labctl) keys the cache by the hash of this file, so any change here rebuilds.
set -euo pipefail

out=$1 uml_version=$2 mirror=$3 deb_cache=${4:-} suite=${5:-bookworm}
case "$suite" in bookworm|trixie) ;; *) echo "image: unsupported release $suite" >&2; exit 2 ;; esac
packages=python3,openssh-server,iproute2,ipvsadm,kmod,systemd-sysv,netbase,iputils-ping,procps,curl,keepalived,frr,frr-pythontools,python3-apt
size=2G

work=$(mktemp -d "$out/.build.XXXXXX")
root=$work/root
cleanup() {
  for m in proc sys dev/pts dev; do umount -l "$root/$m" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "image: debootstrap $suite (minbase + $packages)"
cache_args=()
[ -n "$deb_cache" ] && mkdir -p "$deb_cache" && cache_args=(--cache-dir="$deb_cache")
debootstrap "${cache_args[@]}" --variant=minbase --foreign --include="$packages" "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log"; exit 1; }
# No daemon may start on the build host while packages are configured.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
chroot "$root" /debootstrap/debootstrap --second-stage >"$work/second-stage.log" 2>&1 \
  || { tail -20 "$work/second-stage.log"; exit 1; }
rm -f "$root/usr/sbin/policy-rc.d"

echo "image: kernel modules $uml_version"
mkdir -p "$root/lib/modules"
cp -a "/usr/lib/uml/modules/$uml_version" "$root/lib/modules/$uml_version"
depmod -b "$root" "$uml_version"

echo "image: guest configuration"
ssh-keygen -q -t ed25519 -N '' -C lvs-cluster-lab -f "$work/id_ed25519"
install -d -m 0700 "$root/root/.ssh"
install -m 0600 "$work/id_ed25519.pub" "$root/root/.ssh/authorized_keys"

cat >"$root/etc/fstab" <<'FSTAB'
/dev/ubda / ext4 defaults,noatime 0 1
FSTAB
echo lab >"$root/etc/hostname"
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
: >"$root/etc/resolv.conf"
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"

# Per-guest identity comes from the kernel command line (systemd ignores unknown init
# arguments, so a one-shot unit reads /proc/cmdline): lab.host=NAME, one
# lab.nic=DEVICE,NAME,ADDRESS/PREFIX per interface and one lab.route=TO,VIA per static route
# (after the interfaces: the kernel command line keeps their order).
install -m 0755 /dev/stdin "$root/usr/local/sbin/lab-setup" <<'SETUP'
#!/bin/sh
set -e
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    lab.host=*)
      name=${arg#lab.host=}
      echo "$name" >/etc/hostname
      hostname "$name"
      echo "127.0.1.1 $name" >>/etc/hosts ;;
    lab.nic=*)
      spec=${arg#lab.nic=}
      dev=${spec%%,*}; rest=${spec#*,}; ifname=${rest%%,*}; addr=${rest#*,}
      ip link set "$dev" name "$ifname"
      [ -n "$addr" ] && ip addr add "$addr" dev "$ifname"
      ip link set "$ifname" up ;;
    lab.route=*)
      spec=${arg#lab.route=}
      ip route replace "${spec%%,*}" via "${spec#*,}" ;;
  esac
done
SETUP
cat >"$root/etc/systemd/system/lab-setup.service" <<'UNIT'
[Unit]
Description=Lab guest identity and network from the kernel command line
DefaultDependencies=no
After=systemd-remount-fs.service
Before=network-pre.target ssh.service
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/lab-setup

[Install]
WantedBy=sysinit.target
UNIT
chroot "$root" systemctl enable lab-setup.service >/dev/null 2>&1
chroot "$root" systemctl disable keepalived.service >/dev/null 2>&1 || true
chroot "$root" systemctl disable frr.service >/dev/null 2>&1 || true
# Units with no job in a lab guest: consoles (the console is /dev/null), timers, and mounts
# and module loads for hardware UML has not. Booting is CPU-bound, so each one saved counts.
for unit in getty@tty1.service serial-getty@ttyS0.service console-getty.service getty.target \
    apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
    systemd-timesyncd.service systemd-networkd-wait-online.service dpkg-db-backup.timer \
    man-db.timer systemd-tmpfiles-clean.timer modprobe@dm_mod.service modprobe@configfs.service \
    modprobe@efi_pstore.service modprobe@fuse.service modprobe@loop.service \
    modprobe@drm.service sys-fs-fuse-connections.mount sys-kernel-config.mount \
    sys-kernel-debug.mount sys-kernel-tracing.mount dev-hugepages.mount systemd-binfmt.service \
    proc-sys-fs-binfmt_misc.automount systemd-pstore.service systemd-firstboot.service \
    kmod-static-nodes.service systemd-hwdb-update.service systemd-update-utmp.service \
    systemd-update-utmp-runlevel.service systemd-random-seed.service \
    systemd-journal-flush.service; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=16M\n' >"$root/etc/systemd/journald.conf.d/lab.conf"
mkdir -p "$root/etc/ssh/sshd_config.d"
printf 'UseDNS no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n' \
  >"$root/etc/ssh/sshd_config.d/lab.conf"

chroot "$root" apt-get clean
rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin "$root/debootstrap" "$root/var/log/"*.log

echo "image: mkfs.ext4 ($size, sparse)"
mkfs.ext4 -q -F -L lab-root -d "$root" "$work/rootfs.img" "$size"
mv "$work/id_ed25519" "$work/id_ed25519.pub" "$out/"
mv "$work/rootfs.img" "$out/rootfs.img"

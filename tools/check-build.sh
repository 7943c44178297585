#!/usr/bin/env bash
# Build the collection tarball and prove it carries no lab state, virtualenv or cache; then install
# it with ansible-galaxy into an empty temporary collections path and run playbooks from that
# installation only (the source tree on no collections path, run from outside it).
set -euo pipefail
cd "$(dirname "$0")/.."
source_tree=$PWD
out=build/dist
rm -rf "$out"
mkdir -p "$out"
ansible-galaxy collection build --force --output-path "$out" >/dev/null
tarball=$PWD/$(ls "$out"/lvs-cluster-*.tar.gz)
junk=$(tar tzf "$tarball" | grep -E '^(\.venv|\.lab|\.git|\.ci|\.ansible|build|lab|bench|tools|tests/output)(/|$)|(^|/)(__pycache__|\.pytest_cache|\.ruff_cache|\.hypothesis|\.ansible|tests/output)(/|$)' || true)
if [ -n "$junk" ]; then
  echo "check-build: the tarball carries files that are not the collection:" >&2
  head -20 <<<"$junk" >&2  # no pipe: under pipefail, head leaving early would fail echo
  exit 1
fi
echo "check-build: $tarball ($(du -k "$tarball" | cut -f1) KiB, $(tar tzf "$tarball" | wc -l) entries)"

work=$(mktemp -d /tmp/lvs-cluster-check-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
collections=$work/collections
installed=$collections/ansible_collections/lvs/cluster
log=$work/log

# Ansible as a user who has only the tarball: no ANSIBLE_* setting of the caller, no ansible.cfg,
# no collection but the installed one (not even ansible_collections folders on Python's path).
clean_ansible() {
  local unset_vars=()
  local name
  for name in $(compgen -e ANSIBLE_); do unset_vars+=(-u "$name"); done
  (cd "$work" && env "${unset_vars[@]}" ANSIBLE_CONFIG="$work/ansible.cfg" \
    ANSIBLE_COLLECTIONS_PATH="$collections" ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false \
    ANSIBLE_LOCAL_TEMP="$work/tmp" ANSIBLE_REMOTE_TEMP="$work/tmp" "$@")
}

# A playbook run from the installed collection: an FQCN (lvs.cluster.NAME) or a path inside the
# installed collection, then ansible-playbook's arguments. It runs on localhost (connection local,
# the controller's Python) with -vvv; every module it uses must come from the installed copy.
run_installed_playbook() {
  local playbook=$1
  shift
  [[ $playbook == lvs.cluster.* ]] || playbook=$installed/$playbook
  echo "check-build: ansible-playbook ${playbook#"$work"/} $*"
  if ! clean_ansible ansible-playbook -vvv -i "$work/inventory.yml" "$playbook" "$@" >"$log" 2>&1; then
    grep -E '^(fatal|failed|ERROR|\[ERROR\])|"(msg|assertion)"|^TASK ' "$log" | tail -20 >&2 || true
    echo "check-build: $playbook failed (the whole -vvv output was $(wc -l <"$log") lines)" >&2
    return 1
  fi
  grep -E '^(PLAY RECAP|localhost +:)' "$log"
  local modules outside
  modules=$(grep -oE 'Using module file [^ ]+' "$log" | awk '{print $4}' | sort -u)
  outside=$(grep -v "^$installed/" <<<"$modules" \
    | grep -E "/ansible_collections/lvs/cluster/|^$source_tree/(plugins|roles|playbooks)/" || true)
  if ! grep -q "^$installed/plugins/modules/" <<<"$modules" || [ -n "$outside" ]; then
    echo "check-build: $playbook did not take lvs.cluster's modules from the installed copy only:" >&2
    echo "${modules:-(no module file in the -vvv output)}" >&2
    return 1
  fi
  echo "check-build: lvs.cluster modules it ran, all from ${installed#"$work"/}:" \
    "$(sed -n "s|^$installed/plugins/modules/\(.*\)\.py\$|\1|p" <<<"$modules" | tr '\n' ' ')"
}

# The playbooks that must run from the installed collection. One line each; $work is a scratch
# folder removed at exit.
run_installed_playbooks() {
  mkdir -p "$work/smoke"
  run_installed_playbook tests/install/installed_collection.yml -e "install_test_dir=$work/smoke"
  # The import playbook on this host's keepalived.conf fixture: group_vars and host_vars written.
  run_installed_playbook lvs.cluster.import -e import_hosts=localhost -e "import_dir=$work/import" \
    -e "import_src=$installed/tests/unit/fixtures/import/keepalived/dr-http.conf"
  grep -q '^router_network: direct$' "$work/import/group_vars/lvs_routers.yml" || {
    echo "check-build: lvs.cluster.import wrote no router_network: direct" >&2
    exit 1
  }
}

mkdir -p "$collections" "$work/tmp"
: >"$work/ansible.cfg"
cat >"$work/inventory.yml" <<'EOF'
all:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: "{{ ansible_playbook_python }}"
EOF
clean_ansible ansible-galaxy collection install --offline -p "$collections" "$tarball" >"$log" 2>&1 \
  || { cat "$log" >&2; exit 1; }
clean_ansible ansible-galaxy collection verify --offline lvs.cluster >"$log" 2>&1 \
  || { cat "$log" >&2; exit 1; }
listed=$(clean_ansible ansible-galaxy collection list lvs.cluster 2>/dev/null \
  | awk '/^(# |lvs\.cluster )/ {$1 = $1; print}' || true)
version=$(awk '$1 == "version:" {print $2}' galaxy.yml)
if [ "$listed" != "$(printf '# %s\nlvs.cluster %s' "$collections/ansible_collections" "$version")" ]; then
  echo "check-build: ansible-galaxy collection list should show lvs.cluster $version installed" \
    "in $collections only; it shows:" >&2
  echo "$listed" >&2
  exit 1
fi
echo "check-build: installed lvs.cluster $version in $collections (verified; the only lvs.cluster Ansible finds)"
run_installed_playbooks
echo "check-build: the installed collection ran its playbooks"

#!/usr/bin/env bash
# `make demo`: boot the default lab (or reuse it), roll the cluster out with lvs.cluster.site,
# then show the active router's status and IPVS table, a client's requests spread over the real
# servers, and a failover drill with its measured gap. Run it again: the lab is reused, the
# rollout changes nothing, the drill runs again.
set -euo pipefail
cd "$(dirname "$0")/.."
LAB=${LAB_NAME:-lvslab}
labctl=lab/labctl
inventory=(-i ".lab/$LAB/inventory.yml" -i lab/cluster/inventory)
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# Ansible runs on this host (it reaches the guests through the lab namespace), so the router
# role can download the agents' wheels here once; the guests have no internet access.
playbook() { PYTHONWARNINGS=ignore ANSIBLE_CONFIG=".lab/$LAB/ansible.cfg" ansible-playbook "${inventory[@]}" "$@"; }
ssh_to() { local host=$1; shift; LAB_NAME=$LAB "$labctl" ssh "$host" -- "$@"; }

if LAB_NAME=$LAB "$labctl" status >/dev/null 2>&1 && ssh_to lvs1 true 2>/dev/null; then
  say "reusing the running lab '$LAB' (make lab-down removes it)"
else
  say "booting the lab '$LAB': lvs1 lvs2 (routers), web1 web2 (real servers), client"
  LAB_NAME=$LAB "$labctl" up
fi

say "lab web servers (the page of each is its host name)"
playbook lab/cluster/web.yml | sed -n '/^PLAY RECAP/,$p'

say "rollout: ansible-playbook lvs.cluster.site"
start=$SECONDS
playbook lvs.cluster.site | tee ".lab/$LAB/site.log" \
  | sed -n '/^PLAY RECAP/,$p'
echo "rollout took $((SECONDS - start)) s"

say "the routers: lvs-status on each"
for router in lvs1 lvs2; do
  ssh_to "$router" lvs-status | sed "s/^/$router | /"
done
# The first router whose pulse says active (a loop, not `| head -1`: under pipefail, head
# leaving early would kill the loop with SIGPIPE and fail the whole script).
active=""
for router in lvs1 lvs2; do
  if ssh_to "$router" "grep -q '\"state\": \"active\"' /run/lvs-cluster/pulse.json"; then
    active=$router
    break
  fi
done
say "the IPVS table of the active router ($active)"
ssh_to "$active" ipvsadm -Ln

say "20 requests from the client to the VIP http://10.254.0.100/"
# shellcheck disable=SC2016  # expanded on the client, not here
ssh_to client 'for i in $(seq 20); do curl -s --max-time 2 http://10.254.0.100/ || echo failed; done | sort | uniq -c'

say "failover drill: ansible-playbook lvs.cluster.failover_drill"
playbook lvs.cluster.failover_drill | tee ".lab/$LAB/drill.log" \
  | grep -E 'failover drill:|^(PLAY RECAP|[a-z0-9]+ +:)' | sed 's/^ *"msg": //'

say "explore"
cat <<TEXT
  lab/labctl ssh lvs1                      a shell on a router (lvs-status, ipvsadm -Ln, journalctl -u lvs-cluster-pulse)
  ANSIBLE_CONFIG=.lab/$LAB/ansible.cfg .venv/bin/ansible-playbook ${inventory[*]} lvs.cluster.drift --check --diff
                                           report drift between the inventory and the routers
  ssh -F .lab/$LAB/ssh_config -o ControlPath=none -N -L 127.0.0.1:9539:127.0.0.1:9539 lvs1
                                           then open http://127.0.0.1:9539/ : lvs1's status page
                                           (/metrics for Prometheus); Ctrl-C ends the forward
  make demo                                run it all again (the lab is reused)
  make lab-down                            stop the guests and remove the lab
TEXT

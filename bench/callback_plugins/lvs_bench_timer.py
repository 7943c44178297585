# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each task's wall time per host, written as JSON to $LVS_BENCH_TIMER_OUT when the play ends
(bench/run-rollout-time.sh; enable with ANSIBLE_CALLBACKS_ENABLED=lvs_bench_timer)."""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: lvs_bench_timer
type: aggregate
short_description: each task's time, for the rollout benchmark
description: writes every task's wall time and status per host to $LVS_BENCH_TIMER_OUT.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "lvs_bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tasks: list[dict] = []
        self.started: dict[str, float] = {}
        self.names: dict[str, str] = {}
        self.play_start = self.last_start = time.monotonic()

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.started[task._uuid] = self.last_start = time.monotonic()
        self.names[task._uuid] = f"{task.get_path() or ''}|{task.get_name()}"

    v2_playbook_on_handler_task_start = v2_playbook_on_task_start

    def _done(self, result, status):
        uuid = result._task._uuid
        self.tasks.append({"task": self.names.get(uuid, result._task.get_name()),
                           "host": result._host.get_name(), "status": status,
                           "changed": bool(result._result.get("changed")),
                           "end_s": round(time.monotonic() - self.play_start, 3),
                           "since_task_start_s": round(
                               # a handler's result may carry another uuid than its start
                               time.monotonic() - self.started.get(uuid, self.last_start), 3)})

    def v2_runner_on_ok(self, result):
        self._done(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._done(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._done(result, "skipped")

    def v2_playbook_on_stats(self, stats):
        with open(os.environ["LVS_BENCH_TIMER_OUT"], "w") as out:
            json.dump({"total_s": round(time.monotonic() - self.play_start, 3),
                       "tasks": self.tasks}, out)

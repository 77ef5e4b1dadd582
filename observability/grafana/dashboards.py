#!/usr/bin/env python3
"""Writes Agora's Grafana dashboards (dashboards/*.json) from this file.

The JSON files are what Grafana loads (provisioning/dashboards/agora.yml)
and what the tests check (tests/monitoring); this script is how they are
kept: edit the panels below and run

    python3 observability/grafana/dashboards.py          # rewrite the JSON
    python3 observability/grafana/dashboards.py --check  # exit 1 if stale

Python 3 standard library only. Queries use the metric contract in
docs/monitoring.md and the `agora:` series recorded by
observability/prometheus/agora-rules.yml. Template variables used inside
label matchers always use `=~` so that "All" (`.*`) works.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "dashboards")
SCHEMA_VERSION = 37
DS = {"type": "prometheus", "uid": "${datasource}"}
# The leading master's view: joins a master's series with its leadership.
LEADER = 'and on (job, instance) (agora_master_leader{job="agora-master"} == 1)'


def leader(expr, by):
    """Returns `expr` (a master series) from the leading master, by `by`."""
    return "max by (%s) (%s %s)" % (by, expr, LEADER)


def rate(expr, window="$__rate_interval"):
    return "rate(%s[%s])" % (expr, window)


def quantile(q, metric, selector, by):
    return "histogram_quantile(%s, sum by (%s) (rate(%s_bucket{%s}[$__rate_interval])))" % (
        q, ", ".join(by + ["le"]), metric, selector)


def target(expr, legend="", ref="A", fmt=None, instant=False):
    t = {"datasource": DS, "refId": ref, "expr": expr, "legendFormat": legend or "__auto",
         "range": not instant, "instant": instant}
    if fmt:
        t["format"] = fmt
    return t


class Panel:
    def __init__(self, kind, title, targets, unit="short", width=12, height=8,
                 description="", stack=False, min_zero=True, thresholds=None, base="green",
                 extra=None):
        self.kind, self.title, self.unit = kind, title, unit
        self.targets = [t if isinstance(t, dict) else target(*t) for t in targets]
        for i, t in enumerate(self.targets):
            t["refId"] = chr(ord("A") + i)
        self.width, self.height = width, height
        self.description, self.stack, self.min_zero = description, stack, min_zero
        self.thresholds, self.base, self.extra = thresholds, base, extra or {}

    def model(self, panel_id, x, y):
        defaults = {"unit": self.unit}
        if self.min_zero and self.kind == "timeseries":
            defaults["min"] = 0
        if self.kind == "timeseries":
            defaults["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10,
                                  "showPoints": "never", "spanNulls": False,
                                  "stacking": {"mode": "normal" if self.stack else "none",
                                               "group": "A"}}
        steps = [{"color": self.base, "value": None}]
        for value, color in self.thresholds or []:
            steps.append({"color": color, "value": value})
        defaults["thresholds"] = {"mode": "absolute", "steps": steps}
        defaults["color"] = {"mode": "thresholds" if self.kind == "stat" else "palette-classic"}
        p = {
            "id": panel_id,
            "type": self.kind,
            "title": self.title,
            "description": self.description,
            "datasource": DS,
            "gridPos": {"x": x, "y": y, "w": self.width, "h": self.height},
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "targets": self.targets,
        }
        if self.kind == "timeseries":
            p["options"] = {"legend": {"displayMode": "list", "placement": "bottom",
                                       "showLegend": True},
                            "tooltip": {"mode": "multi", "sort": "desc"}}
        elif self.kind == "stat":
            p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                              "values": False},
                            "colorMode": "value", "graphMode": "area", "textMode": "auto",
                            "justifyMode": "auto", "orientation": "auto"}
        elif self.kind == "table":
            p["options"] = {"showHeader": True}
        elif self.kind == "heatmap":
            p["options"] = {"calculate": False, "yAxis": {"unit": self.unit},
                            "color": {"mode": "scheme", "scheme": "Oranges"},
                            "cellGap": 1}
        p.update(self.extra)
        return p


def ts(title, targets, unit="short", **kw):
    return Panel("timeseries", title, targets, unit, **kw)


def stat(title, targets, unit="short", width=4, height=4, **kw):
    return Panel("stat", title, targets, unit, width=width, height=height, **kw)


def datasource_variable():
    return {"name": "datasource", "label": "Data source", "type": "datasource",
            "query": "prometheus", "current": {}, "hide": 0, "refresh": 1, "regex": "",
            "options": []}


def query_variable(name, label, query, multi=True):
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "definition": query, "query": {"query": query, "refId": "PrometheusVariableQueryEditor"},
            "refresh": 2, "sort": 1, "multi": multi, "includeAll": multi,
            "allValue": ".*" if multi else None,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]} if multi else {},
            "hide": 0, "regex": "", "options": []}


MASTER_VAR = query_variable("master", "Master",
                            'label_values(agora_master_leader{job="agora-master"}, instance)')
AGENT_VAR = query_variable("agent", "Agent",
                           'label_values(agora_agent_registered{job="agora-agent"}, instance)')
ROLE_VAR = query_variable("role", "Role",
                          'label_values(agora_allocator_role_weight{job="agora-master"}, role)')
HANDLER_VAR = query_variable("handler", "HTTP handler",
                             'label_values(agora_http_requests_total{job="agora-master"}, handler)')


def dashboard(uid, title, description, panels, variables=(), refresh="30s"):
    x = y = row_height = 0
    models = []
    for i, p in enumerate(panels, start=1):
        if x + p.width > 24:
            x, y, row_height = 0, y + row_height, 0
        models.append(p.model(i, x, y))
        x += p.width
        row_height = max(row_height, p.height)
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["agora"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "refresh": refresh,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts", "type": "dashboard"}]},
        "links": [{"type": "dashboards", "tags": ["agora"], "asDropdown": True,
                   "title": "Agora dashboards", "includeVars": False, "keepTime": True}],
        "templating": {"list": [datasource_variable()] + list(variables)},
        "panels": models,
    }


RESOURCES = [("cpus", "CPUs", "short"), ("memory_bytes", "Memory", "bytes"),
             ("disk_bytes", "Disk", "bytes"), ("gpus", "GPUs", "short")]


def overview():
    panels = [
        stat("Leading masters", [("agora:master_leader:sum", "leading")],
             description="Masters reporting agora_master_leader == 1; should be exactly 1.",
             base="red", thresholds=[(1, "green"), (2, "red")]),
        stat("Masters up", [("agora:master_up:sum", "up")]),
        stat("Active agents", [(leader('agora_master_agents{job="agora-master",state="active"}',
                                       "state"), "active")]),
        stat("Unreachable agents",
             [(leader('agora_master_agents{job="agora-master",state="unreachable"}', "state"),
               "unreachable")], thresholds=[(1, "red")]),
        stat("Connected frameworks",
             [(leader('agora_master_frameworks{job="agora-master",state="connected"}', "state"),
               "connected")]),
        stat("Running tasks",
             [(leader('agora_master_tasks{job="agora-master",state="TASK_RUNNING"}', "state"),
               "running")]),
    ]
    for suffix, name, unit in RESOURCES:
        panels.append(ts("%s: capacity, allocated, used, offered" % name, [
            ("agora:agent_capacity_%s:sum" % suffix, "capacity (agents)"),
            ("agora:agent_allocated_%s:sum" % suffix, "held by running tasks (agents)"),
            ('sum(agora_allocator_role_used_%s{job="agora-master"} %s)' % (suffix, LEADER),
             "used (leader)"),
            ('sum(agora_allocator_role_offered_%s{job="agora-master"} %s)' % (suffix, LEADER),
             "offered (leader)"),
        ], unit=unit, description="Capacity is the sum over the agents' own gauges; used and "
                                  "offered are the leading master's per-role sums."))
    panels += [
        ts("Task launches and failures", [
            ("agora:tasks_launched:rate5m", "launched"),
            ("agora:tasks_failed:rate5m", "failed, lost or error"),
        ], unit="ops"),
        ts("Tasks ended, by state", [("agora:tasks_ended:rate5m", "{{state}}")], unit="ops",
           stack=True),
        ts("Tasks by state (leader)",
           [(leader('agora_master_tasks{job="agora-master"}', "state"), "{{state}}")]),
        ts("Offers", [("agora:offers:rate5m", "{{outcome}}")], unit="ops"),
        ts("Allocation cycle duration", [
            ("agora:allocator_cycle_duration_seconds:p50_rate5m", "p50 {{instance}}"),
            ("agora:allocator_cycle_duration_seconds:p99_rate5m", "p99 {{instance}}"),
            ('agora_allocator_interval_seconds{job="agora-master"}', "interval {{instance}}"),
        ], unit="s", description="p99 above the interval means cycles run back to back "
                                 "(alert AgoraAllocationCycleSlow)."),
        ts("Frameworks by state (leader)",
           [(leader('agora_master_frameworks{job="agora-master"}', "state"), "{{state}}")]),
        ts("Agents by state (leader)",
           [(leader('agora_master_agents{job="agora-master"}', "state"), "{{state}}")]),
        Panel("table", "Running policy and versions", [
            target('agora_policy_info{job="agora-master"} %s' % LEADER, "", fmt="table",
                   instant=True),
            target('agora_build_info{job=~"agora-master|agora-agent"}', "", fmt="table",
                   instant=True),
        ], width=12),
    ]
    return dashboard("agora-overview", "Agora / Cluster overview",
                     "Leadership, agents, frameworks, capacity and use, tasks and allocation "
                     "of an Agora cluster.", panels)


def roles():
    sel = 'job="agora-master",role=~"$role"'
    panels = [
        ts("Dominant share", [('agora:role_dominant_share_ratio:leader{role=~"$role"}',
                               "{{role}}")], unit="percentunit",
           description="A role's largest fraction of any resource of the cluster (DRF)."),
        ts("Weight", [('agora:role_weight:leader{role=~"$role"}', "{{role}}")]),
    ]
    for suffix, name, unit in RESOURCES:
        panels.append(ts("%s allocated, guarantee and limit" % name, [
            (leader("agora_allocator_role_allocated_%s{%s}" % (suffix, sel), "role"),
             "{{role}} allocated"),
            (leader("agora_allocator_role_guarantee_%s{%s}" % (suffix, sel), "role"),
             "{{role}} guarantee"),
            (leader("agora_allocator_role_limit_%s{%s}" % (suffix, sel), "role"),
             "{{role}} limit"),
        ], unit=unit, description="Allocated covers the role and its descendants (offered "
                                  "or used); guarantee and limit only for roles that have "
                                  "them."))
    panels += [
        ts("Share of the cluster's CPUs", [('agora:role_allocated_cpus:share{role=~"$role"}',
                                            "{{role}}")], unit="percentunit"),
        ts("Share of the cluster's memory",
           [('agora:role_allocated_memory_bytes:share{role=~"$role"}', "{{role}}")],
           unit="percentunit"),
        ts("Below guarantee: CPUs", [
            ('agora:role_guarantee_shortfall_cpus:leader{role=~"$role"}', "{{role}}")],
           description="What a role lacks to reach its guarantee (alert "
                       "AgoraRoleBelowGuarantee while it also wants offers)."),
        ts("Below guarantee: memory", [
            ('agora:role_guarantee_shortfall_memory_bytes:leader{role=~"$role"}', "{{role}}")],
           unit="bytes"),
        ts("Frameworks wanting offers", [
            (leader("agora_allocator_role_frameworks_wanting{%s}" % sel, "role"), "{{role}}")]),
        ts("CPUs used and offered", [
            (leader("agora_allocator_role_used_cpus{%s}" % sel, "role"), "{{role}} used"),
            (leader("agora_allocator_role_offered_cpus{%s}" % sel, "role"), "{{role}} offered"),
        ]),
        ts("Frameworks waiting for locality",
           [(leader('agora_allocator_frameworks_waiting{job="agora-master"}', "level"),
             "{{level}}")], description="Delay scheduling: frameworks waiting at each level."),
        ts("Task launches on agents", [('agora:agent_task_launches:rate5m{role=~"$role"}',
                                        "{{role}}")], unit="ops"),
        ts("Tasks' CPU use", [
            ('sum by (role) (%s)' % rate('agora_agent_task_cpu_seconds_total{job="agora-agent",'
                                         'role=~"$role"}'), "{{role}}")], stack=True),
        ts("Tasks' memory", [
            ('sum by (role) (agora_agent_task_memory_bytes{job="agora-agent",role=~"$role"})',
             "{{role}}")], unit="bytes", stack=True),
    ]
    return dashboard("agora-roles", "Agora / Roles and fairness",
                     "Dominant shares, weights, guarantees and limits per role, from the "
                     "leading master's allocator, and what the roles' tasks use on the agents.",
                     panels, [ROLE_VAR])


def agents():
    inst = 'job="agora-agent",instance=~"$agent"'
    panels = [
        ts("Agents by state (master's view)",
           [(leader('agora_master_agents{job="agora-master"}', "state"), "{{state}}")],
           width=8),
        ts("Agents scraped and registered", [
            ('sum(up{job="agora-agent"})', "scraped"),
            ('sum(agora_agent_registered{job="agora-agent"})', "registered"),
        ], width=8),
        ts("Not registered", [("1 - agora_agent_registered{%s}" % inst, "{{instance}}")],
           width=8, description="1 while an agent runs but is not registered with a master "
                                "(0 when registered)."),
        ts("CPUs held by tasks", [('agora:agent_allocated_cpus:ratio{instance=~"$agent"}',
                                   "{{instance}}")], unit="percentunit"),
        ts("Memory held by tasks", [('agora:agent_allocated_memory_bytes:ratio'
                                     '{instance=~"$agent"}', "{{instance}}")],
           unit="percentunit"),
    ]
    for suffix, name, unit in RESOURCES:
        panels.append(ts("%s: capacity and allocated per agent" % name, [
            ("agora_agent_capacity_%s{%s}" % (suffix, inst), "{{instance}} capacity"),
            ("agora_agent_allocated_%s{%s}" % (suffix, inst), "{{instance}} allocated"),
        ], unit=unit, width=6))
    panels += [
        ts("Tasks per agent", [("sum by (instance) (agora_agent_tasks{%s})" % inst,
                                "{{instance}}")], stack=True),
        ts("Sandbox disk", [("agora_agent_sandbox_disk_bytes{%s}" % inst, "{{instance}}")],
           unit="bytes"),
        ts("Status updates pending", [
            ("agora_agent_status_updates_pending{%s}" % inst, "{{instance}} pending"),
        ], width=8),
        ts("Oldest pending status update", [
            ("agora_agent_status_update_oldest_pending_seconds{%s}" % inst, "{{instance}}")],
           unit="s", width=8, thresholds=[(300, "red")],
           description="Above 300 s: alert AgoraStatusUpdatesUnacknowledged."),
        ts("Status update retries", [
            ("sum by (instance) (%s)" % rate("agora_agent_status_update_retries_total{%s}"
                                              % inst), "{{instance}}")], unit="ops", width=8),
        ts("Errors", [
            ("sum by (instance) (%s)" % rate("agora_agent_isolator_errors_total{%s}" % inst),
             "{{instance}} isolator"),
            ("sum by (instance) (%s)" % rate("agora_agent_checkpoint_errors_total{%s}" % inst),
             "{{instance}} checkpoint"),
            ("sum by (instance) (%s)" % rate("agora_agent_foreign_commands_total{%s}" % inst),
             "{{instance}} foreign commands"),
            ("sum by (instance) (%s)" % rate("agora_actor_connections_refused_total{%s}" % inst),
             "{{instance}} connections refused"),
        ], unit="ops"),
        ts("Agent process memory", [
            ("process_resident_memory_bytes{%s}" % inst, "{{instance}} RSS"),
        ], unit="bytes", width=6),
        ts("Agent process CPU", [
            (rate("process_cpu_seconds_total{%s}" % inst), "{{instance}}")],
           unit="percentunit", width=6),
    ]
    return dashboard("agora-agents", "Agora / Agents and racks",
                     "Agents as the master counts them and as each agent reports itself: "
                     "capacity, allocation, tasks, status updates, errors. Racks are only in "
                     "the master's view (/state); per-rack series are not exported yet.",
                     panels, [AGENT_VAR])


def tasks():
    inst = 'job="agora-agent",instance=~"$agent"'
    launch = "agora_agent_task_launch_duration_seconds"
    panels = [
        ts("Launched and failing", [
            ("agora:tasks_launched:rate5m", "launched"),
            ("agora:tasks_failed:rate5m", "failed, lost or error"),
        ], unit="ops", thresholds=[(0.2, "red")]),
        ts("Failed share of ended tasks", [("agora:tasks_failed:ratio_rate5m", "failed")],
           unit="percentunit"),
        ts("Ended, by state", [
            ('sum by (state) (%s)' % rate('agora_master_tasks_ended_total{job="agora-master"}'),
             "{{state}}")], unit="ops", stack=True),
        ts("Known tasks by state (leader)",
           [(leader('agora_master_tasks{job="agora-master"}', "state"), "{{state}}")]),
        ts("Launch latency (run request to TASK_RUNNING)", [
            ("agora:agent_task_launch_duration_seconds:p50_rate5m", "p50"),
            ("agora:agent_task_launch_duration_seconds:p99_rate5m", "p99"),
        ], unit="s"),
        ts("Launch latency p99 per agent", [
            (quantile(0.99, launch, inst, ["instance"]), "{{instance}}")], unit="s"),
        Panel("heatmap", "Launch latency distribution", [
            target("sum by (le) (increase(%s_bucket{%s}[$__rate_interval]))" % (launch, inst),
                   "{{le}}", fmt="heatmap")], unit="s", width=24),
        ts("Launches per role (agents)", [
            ('sum by (role) (%s)' % rate("agora_agent_task_launches_total{%s}" % inst),
             "{{role}}")], unit="ops"),
        ts("Tasks on agents by state", [
            ("sum by (state) (agora_agent_tasks{%s})" % inst, "{{state}}")], stack=True),
        ts("Ended on agents, by state", [
            ("sum by (state) (%s)" % rate("agora_agent_tasks_ended_total{%s}" % inst),
             "{{state}}")], unit="ops"),
        ts("Status updates and invalid messages (masters)", [
            ('sum(%s)' % rate('agora_master_status_updates_total{job="agora-master"}'),
             "status updates"),
            ('sum(%s)' % rate('agora_master_invalid_messages_total{job="agora-master"}'),
             "invalid messages"),
        ], unit="ops"),
        ts("Top frameworks by CPU", [
            ("topk(10, sum by (framework, role) (%s))"
             % rate("agora_agent_task_cpu_seconds_total{%s}" % inst), "{{framework}} ({{role}})")],
           width=8),
        ts("Top frameworks by memory", [
            ("topk(10, sum by (framework, role) (agora_agent_task_memory_bytes{%s}))" % inst,
             "{{framework}} ({{role}})")], unit="bytes", width=8),
        ts("Top frameworks by processes", [
            ("topk(10, sum by (framework, role) (agora_agent_task_processes{%s}))" % inst,
             "{{framework}} ({{role}})")], width=8),
    ]
    return dashboard("agora-tasks", "Agora / Tasks and launch latency",
                     "Task launches, terminal states, launch latency from run request to "
                     "TASK_RUNNING, and what tasks use per framework.", panels, [AGENT_VAR])


def policy():
    m = 'job="agora-master"'
    panels = [
        Panel("table", "Running policy", [
            target('agora_policy_info{%s} %s' % (m, LEADER), "", fmt="table", instant=True)],
            width=12, height=5),
        stat("Since the policy was installed", [
            ('time() - max(agora_policy_last_reload_success_timestamp_seconds{%s} %s)'
             % (m, LEADER), "age")], unit="s", width=6, height=5),
        stat("Shadow divergence", [(leader("agora_policy_shadow_divergence_ratio{%s}" % m,
                                           "job"), "divergence")],
             unit="percentunit", width=6, height=5,
             description="Fraction of offers a shadow candidate would make differently."),
        ts("Reloads", [
            ('sum by (result) (increase(agora_policy_reloads_total{%s}[$__rate_interval]))' % m,
             "{{result}}")], description="Errors: alert AgoraPolicyReloadFailed; GET /policy "
                                         "shows last_failed_apply."),
        ts("Evaluation errors by rule", [
            ('sum by (rule, code) (increase(agora_policy_eval_errors_total{%s}'
             '[$__rate_interval]))' % m, "{{rule}} {{code}}")]),
        ts("Filter rejections", [("agora:policy_filter_rejections:rate5m", "{{filter}}")],
           unit="ops"),
        ts("Locality relaxations", [
            ('sum by (from, to) (%s)'
             % rate('agora_policy_locality_relaxations_total{%s}' % m), "{{from}} → {{to}}")],
           unit="ops"),
        ts("Evaluation time p99 by phase", [
            ("agora:policy_eval_seconds:p99_rate5m", "{{phase}} {{instance}}"),
            (quantile(0.5, "agora_policy_eval_seconds", m, ["phase"]), "{{phase}} p50"),
        ], unit="s"),
        ts("Cost units p99 by stage", [
            (quantile(0.99, "agora_policy_cost_units", m, ["phase"]), "{{phase}}")]),
        ts("Shadow divergence over time", [
            ("agora_policy_shadow_divergence_ratio{%s}" % m, "{{instance}}")],
           unit="percentunit"),
        ts("Frameworks waiting for locality",
           [(leader("agora_allocator_frameworks_waiting{%s}" % m, "level"), "{{level}}")]),
    ]
    return dashboard("agora-policy", "Agora / Allocation policy",
                     "The allocation policy's own metrics: version, reloads, evaluation errors "
                     "and time, cost, filter rejections, locality, shadow divergence.", panels)


def master():
    inst = 'job="agora-master",instance=~"$master"'
    http = 'job="agora-master",instance=~"$master",handler=~"$handler"'
    panels = [
        ts("Leader", [("agora_master_leader{%s}" % inst, "{{instance}}")], width=8,
           description="1 leading (or standalone), 0 standby."),
        ts("Leader epoch", [("agora_master_leader_epoch{%s}" % inst, "{{instance}}")],
           width=8, min_zero=False),
        ts("ZooKeeper connected", [("agora_master_zookeeper_connected{%s}" % inst,
                                    "{{instance}}")], width=8),
        ts("Process CPU", [(rate("process_cpu_seconds_total{%s}" % inst), "{{instance}}")],
           unit="percentunit", width=8),
        ts("Resident and virtual memory", [
            ("process_resident_memory_bytes{%s}" % inst, "{{instance}} RSS"),
            ("process_virtual_memory_bytes{%s}" % inst, "{{instance}} virtual"),
        ], unit="bytes", width=8),
        ts("Uptime", [("time() - process_start_time_seconds{%s}" % inst, "{{instance}}")],
           unit="s", width=8),
        ts("Open file descriptors", [
            ("process_open_fds{%s}" % inst, "{{instance}} open"),
            ("process_max_fds{%s}" % inst, "{{instance}} max"),
        ], width=8),
        ts("Threads", [("process_threads{%s}" % inst, "{{instance}}")], width=8),
        ts("Mailbox lengths", [("agora_actor_mailbox_messages{%s}" % inst,
                                "{{instance}} {{actor}}")], width=8,
           description="Messages waiting for the master and allocator actors."),
        ts("HTTP requests by handler", [
            ("sum by (handler, code) (%s)" % rate("agora_http_requests_total{%s}" % http),
             "{{handler}} {{code}}")], unit="reqps"),
        ts("HTTP latency p99 by handler", [
            (quantile(0.99, "agora_http_request_duration_seconds", http, ["handler"]),
             "{{handler}} p99"),
            (quantile(0.5, "agora_http_request_duration_seconds", http, ["handler"]),
             "{{handler}} p50"),
        ], unit="s"),
        ts("HTTP server errors", [
            # Every route shows, at 0 until it answers a 5xx.
            ('sum by (handler) (%s) or 0 * sum by (handler) (%s)'
             % (rate('agora_http_requests_total{%s,code=~"5.."}' % http),
                rate('agora_http_requests_total{%s}' % http)),
             "{{handler}}")], unit="reqps"),
        ts("Allocation cycles", [
            ('agora:allocator_cycles:rate5m{instance=~"$master"}', "{{instance}}")],
           unit="ops", width=8),
        ts("Invalid and foreign messages, failed authentications, refused connections", [
            (rate("agora_master_invalid_messages_total{%s}" % inst), "{{instance}} invalid"),
            (rate("agora_master_foreign_messages_total{%s}" % inst), "{{instance}} foreign"),
            (rate('agora_master_authentications_total{%s,outcome!="success"}' % inst),
             "{{instance}} authentication {{outcome}}"),
            (rate("agora_actor_connections_refused_total{%s}" % inst), "{{instance}} refused"),
        ], unit="ops", width=8),
        Panel("table", "Build", [
            target("agora_build_info{%s}" % inst, "", fmt="table", instant=True)], width=8),
    ]
    return dashboard("agora-master", "Agora / Master health",
                     "The master processes: leadership, ZooKeeper, CPU, memory, descriptors, "
                     "threads, actor mailboxes and HTTP endpoints.", panels,
                     [MASTER_VAR, HANDLER_VAR])


DASHBOARDS = {
    "agora-overview.json": overview,
    "agora-roles.json": roles,
    "agora-agents.json": agents,
    "agora-tasks.json": tasks,
    "agora-policy.json": policy,
    "agora-master.json": master,
}


def render(build):
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv):
    check = "--check" in argv[1:]
    stale = []
    for name, build in DASHBOARDS.items():
        path = os.path.join(OUT, name)
        text = render(build)
        if check:
            try:
                with open(path, encoding="utf-8") as f:
                    if f.read() != text:
                        stale.append(name)
            except OSError:
                stale.append(name)
        else:
            os.makedirs(OUT, exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    if stale:
        print("stale dashboards (run python3 observability/grafana/dashboards.py): "
              + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

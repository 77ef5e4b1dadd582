#!/usr/bin/env python3
"""Scale benchmark: a real agora-master, a simulated fleet (`agora fleet`)
and the load generator (`agora load`), all on 127.0.0.1 with free ports.

For each agent count it measures, and prints as a Markdown table:
  - the time for all agents to register (from the fleet's start to the
    master counting every agent active), and the master's RSS per agent;
  - with TASKS_PER_AGENT long tasks running on every agent: the master's
    RSS per task, and `/state` latency (whole document, and ?only=agents),
    median of 5 requests, with its size;
  - placements per second and accept->RUNNING p50/p99 through the offer
    cycle (`agora load`, tasks that end at once) for each framework count,
    and the same while a client polls `/state` without pause (so that a
    /state that stalled the master would show here).

  scripts/scale-bench.py [--agents 1000,10000] [--frameworks 10,100]
                         [--tasks-per-agent 10] [--load-tasks 20000]
                         [--bin build/bin] [--json FILE] [--small]
                         [--settle SECONDS] [--repeat 3]
  scripts/scale-bench.py --failover 10000,40000

`--failover` measures instead a leader failover with N simulated agents:
`agora local --masters 2` (a local ZooKeeper server and two agora-master
processes, 2 s sessions), the fleet following the leader through
ZooKeeper; then kill -9 of the leader, and the times from the kill until
the other master leads, and until it counts every agent active again.

`--small` is the version `make test` runs (CTest `scale.small`): 300
agents, 3 tasks each, 600 placements, 2 and 10 frameworks; it checks that
every phase completed and exits non-zero otherwise. Long runs belong here,
not in `make test`: see docs/BENCHMARKS.md ("Scale").
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def get(port, path, timeout=60):
    start = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        body = r.read()
    return time.monotonic() - start, body


def fetch_timed(port, path, timeout=120):
    """Returns the seconds from connecting until the last byte of the
    answer to GET `path`, and the answer's length (headers included): read
    into one reused buffer, as `curl -o /dev/null` does, so the figure is
    the server's and the socket's, not Python's building of a 100 MB bytes
    object."""
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    total = 0
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                  .encode())
        head = b""
        while True:
            n = s.recv_into(view)
            if n == 0:
                break
            if total < 64:
                head += bytes(view[:min(n, 64)])
            total += n
    elapsed = time.monotonic() - start
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"GET {path}: {head[:40]!r}")
    return elapsed, total


def metric(port, name, labels=""):
    """Returns the value of the first series `name{labels...}` of /metrics."""
    _, body = get(port, "/metrics")
    prefix = name + ("{" if labels else " ")
    for line in body.decode().splitlines():
        if line.startswith(prefix) and (not labels or labels in line):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def wait_for(what, fn, timeout, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if fn():
                return True
        except OSError:  # not listening yet, or a request timed out
            pass
        time.sleep(step)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


class Proc:
    def __init__(self, argv, log):
        self.log = open(log, "w")
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                  start_new_session=True)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.p.poll() is None:
            os.killpg(self.p.pid, sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        self.log.close()


def run_load(args, actor_port, tasks, frameworks, duration, timeout):
    out = subprocess.run(
        [f"{args.bin}/agora", "load", f"--master=127.0.0.1:{actor_port}", f"--tasks={tasks}",
         f"--frameworks={frameworks}", f"--task-duration={duration}", "--rate=max",
         "--roles=" + ",".join(f"r{i}" for i in range(min(frameworks, 10))), "--json",
         "--progress-interval=0ms", f"--timeout={int(timeout)}s", "--cpus=0.01", "--mem=1MiB"],
        capture_output=True, text=True, timeout=timeout + 60)
    if out.returncode != 0:
        raise RuntimeError(f"agora load exited {out.returncode}: {out.stderr[-2000:]}")
    return json.loads(out.stdout)


def bench(args, agents, work):
    http, actor = free_port(), free_port()
    row = {"agents": agents}
    master = Proc([f"{args.bin}/agora-master", f"--port={http}", f"--actor-port={actor}",
                   "--ip=127.0.0.1"], f"{work}/master-{agents}.log")
    fleet = None
    try:
        wait_for("the master", lambda: get(http, "/health", 2)[0] is not None, 30)
        rss0 = rss_kib(master.p.pid)
        racks = max(1, agents // 40)
        start = time.monotonic()
        fleet = Proc([f"{args.bin}/agora", "fleet", f"--master=127.0.0.1:{actor}",
                      f"--agents={agents}", f"--racks={racks}",
                      "--agent-resources=cpus:16;mem:64GiB;disk:100GiB", "--quiet"],
                     f"{work}/fleet-{agents}.log")
        wait_for(f"{agents} agents to register",
                 lambda: metric(http, "agora_master_agents", 'state="active"') >= agents,
                 args.register_timeout)
        row["register_s"] = time.monotonic() - start
        time.sleep(args.settle)  # memory freed during the storm goes back first (see --settle)
        rss1 = rss_kib(master.p.pid)
        row["rss_per_agent_kib"] = (rss1 - rss0) / agents

        # Long tasks on every agent: memory per task and /state at size.
        hold_tasks = agents * args.tasks_per_agent
        holder = Proc([f"{args.bin}/agora", "load", f"--master=127.0.0.1:{actor}",
                       f"--tasks={hold_tasks}", "--frameworks=10", "--task-duration=1h",
                       "--cpus=0.01", "--mem=1MiB", "--roles=hold", "--progress-interval=0ms"],
                      f"{work}/hold-{agents}.log")
        try:
            start = time.monotonic()
            wait_for(f"{hold_tasks} tasks running",
                     lambda: metric(http, "agora_master_tasks", 'state="TASK_RUNNING"') >= hold_tasks,
                     args.register_timeout)
            row["hold_place_s"] = time.monotonic() - start
            time.sleep(args.settle)
            rss2 = rss_kib(master.p.pid)
            row["tasks"] = hold_tasks
            row["rss_per_task_kib"] = (rss2 - rss1) / hold_tasks
            for name, path in (("state", "/state"), ("state_agents", "/state?only=agents")):
                times, size = [], 0
                for _ in range(5):
                    t, size = fetch_timed(http, path)
                    times.append(t)
                row[f"{name}_ms"] = statistics.median(times) * 1000
                row[f"{name}_mb"] = size / 1e6
        finally:
            holder.stop(signal.SIGINT, timeout=120)
        wait_for("the held tasks to end",
                 lambda: metric(http, "agora_master_tasks", 'state="TASK_RUNNING"') == 0, 120)

        # Placements through the offer cycle, alone and while /state is
        # polled; `--repeat` runs of each, alternating, and the median run
        # (by RUNNING/s) in the table: one run on this noisy machine can be
        # off by a third.
        for frameworks in args.frameworks:
            alone, polled, polls_of = [], [], []
            for _ in range(args.repeat):
                alone.append(run_load(args, actor, args.load_tasks, frameworks, "0s",
                                      args.load_timeout))
                stop = threading.Event()
                polls = []

                def poll():
                    while not stop.is_set():
                        polls.append(fetch_timed(http, "/state")[0])

                poller = threading.Thread(target=poll)
                poller.start()
                try:
                    r = run_load(args, actor, args.load_tasks, frameworks, "0s", args.load_timeout)
                finally:
                    stop.set()
                    poller.join()
                polled.append(r)
                polls_of.append(len(polls))
            by_rate = lambda runs: sorted(range(len(runs)),
                                          key=lambda i: runs[i]["running_per_second"])
            row[f"f{frameworks}"] = alone[by_rate(alone)[len(alone) // 2]]
            mid = by_rate(polled)[len(polled) // 2]
            row[f"f{frameworks}_polled"] = polled[mid]
            row[f"f{frameworks}_polls"] = polls_of[mid]
            row[f"f{frameworks}_all"] = {
                "alone": [r["running_per_second"] for r in alone],
                "polled": [r["running_per_second"] for r in polled]}
        row["master_rss_end_kib"] = rss_kib(master.p.pid)
        return row
    finally:
        if fleet:
            fleet.stop()
        master.stop()


def failover(args, agents, work):
    # Master i listens on PORT+i and ACTOR-PORT+i: five distinct free ports.
    while True:
        http, actor, zk = free_port(), free_port(), free_port()
        ports = {http, http + 1, actor, actor + 1, zk}
        if len(ports) == 5 and all(port_free(p) for p in ports):
            break
    local = Proc([f"{args.bin}/agora", "local", "--masters=2", "--agents=1", f"--port={http}",
                  f"--actor-port={actor}", f"--zk-port={zk}", "--zk-session-timeout=2s",
                  f"--work-dir={work}/local-{agents}"], f"{work}/local-{agents}.log")
    fleet = None
    try:
        role = lambda port: json.loads(get(port, "/health", 2)[1])["role"]
        wait_for("master 0 to lead", lambda: role(http) == "leader", 60)
        fleet = Proc([f"{args.bin}/agora", "fleet", f"--master=zk://127.0.0.1:{zk}/agora/local",
                      f"--agents={agents}", f"--racks={max(1, agents // 40)}", "--quiet"],
                     f"{work}/fleet-failover-{agents}.log")
        wait_for(f"{agents} agents on the leader",
                 lambda: metric(http, "agora_master_agents", 'state="active"') >= agents + 1,
                 args.register_timeout)
        pid = 0
        with open(f"{work}/local-{agents}.log") as f:
            for line in f:
                at = line.find("master 0: pid ")
                if at >= 0:
                    pid = int(line[at + len("master 0: pid "):].split(",")[0])
        if pid <= 0:
            raise RuntimeError("no pid of master 0 in agora local's output")
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        wait_for("master 1 to lead", lambda: role(http + 1) == "leader", 60, step=0.05)
        elected = time.monotonic()
        wait_for(f"{agents} agents on the new leader",
                 lambda: metric(http + 1, "agora_master_agents", 'state="active"') >= agents + 1,
                 args.register_timeout, step=0.05)
        done = time.monotonic()
        return {"agents": agents, "election_s": elected - killed, "reregistered_s": done - elected}
    finally:
        if fleet:
            fleet.stop()
        local.stop(signal.SIGINT, timeout=60)


def table(rows, frameworks):
    out = ["| agents | register | master RSS/agent | tasks held | RSS/task | /state (size) | "
           "/state?only=agents (size) | " +
           " | ".join(f"{f} fw: placements/s, p50/p99 ms (while /state polled)" for f in frameworks) +
           " |",
           "|" + " ---: |" * (7 + len(frameworks))]
    for r in rows:
        cells = [f"{r['agents']:,}", f"{r['register_s']:.1f} s",
                 f"{r['rss_per_agent_kib']:.1f} KiB", f"{r['tasks']:,}",
                 f"{r['rss_per_task_kib']:.2f} KiB",
                 f"{r['state_ms']:.0f} ms ({r['state_mb']:.1f} MB)",
                 f"{r['state_agents_ms']:.0f} ms ({r['state_agents_mb']:.1f} MB)"]
        for f in frameworks:
            a, b = r[f"f{f}"], r[f"f{f}_polled"]
            runs = r.get(f"f{f}_all", {}).get("alone", [])
            spread = f" [{min(runs):.0f}-{max(runs):.0f}]" if len(runs) > 1 else ""
            cells.append(
                f"{a['running_per_second']:.0f}{spread}, {a['accept_to_running_ms']['p50']:.0f}/"
                f"{a['accept_to_running_ms']['p99']:.0f} "
                f"({b['running_per_second']:.0f}, {b['accept_to_running_ms']['p50']:.0f}/"
                f"{b['accept_to_running_ms']['p99']:.0f}; {r[f'f{f}_polls']} polls)")
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agents", default="1000,10000")
    ap.add_argument("--frameworks", default="10,100")
    ap.add_argument("--tasks-per-agent", type=int, default=10)
    ap.add_argument("--load-tasks", type=int, default=20000)
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--json")
    ap.add_argument("--register-timeout", type=float, default=600)
    ap.add_argument("--load-timeout", type=float, default=600)
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--repeat", type=int, default=3,
                    help="placement runs per framework count, alone and polled (median shown)")
    ap.add_argument("--settle", type=float, default=11,
                    help="seconds to wait before reading the master's RSS after registering and "
                         "after placing the held tasks: jemalloc returns freed pages to the "
                         "system over 10 s (its dirty_decay_ms), so RSS read at once also "
                         "counts the burst's garbage")
    ap.add_argument("--failover", help="agent counts for the failover measurement instead")
    args = ap.parse_args()
    if args.failover:
        rows = []
        with tempfile.TemporaryDirectory(prefix="agora-failover-") as work:
            for n in (int(a) for a in args.failover.split(",")):
                print(f"scale-bench: failover with {n} agents ...", file=sys.stderr, flush=True)
                try:
                    rows.append(failover(args, n, work))
                except Exception as e:
                    os.system(f"tail -n 8 {work}/*.log {work}/local-*/*.log >&2")
                    print(f"scale-bench: FAILED at {n} agents: {e}", file=sys.stderr)
                    return 1
        print("| agents | kill -9 of the leader -> the other leads | -> all agents active on it |")
        print("| ---: | ---: | ---: |")
        for r in rows:
            print(f"| {r['agents']:,} | {r['election_s']:.2f} s | {r['reregistered_s']:.2f} s |")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=1)
        return 0
    if args.small:
        args.agents, args.frameworks = "300", "2,10"
        args.tasks_per_agent, args.load_tasks = 3, 600
        args.register_timeout, args.load_timeout = 120, 120
        args.settle, args.repeat = 1, 1
    args.frameworks = [int(f) for f in args.frameworks.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="agora-scale-") as work:
        for n in (int(a) for a in args.agents.split(",")):
            print(f"scale-bench: {n} agents ...", file=sys.stderr, flush=True)
            try:
                rows.append(bench(args, n, work))
            except Exception as e:  # print the logs of the failed run
                for log in sorted(os.listdir(work)):
                    with open(os.path.join(work, log)) as f:
                        print(f"--- {log} (last lines)\n" + "".join(f.readlines()[-15:]),
                              file=sys.stderr)
                print(f"scale-bench: FAILED at {n} agents: {e}", file=sys.stderr)
                return 1
    print(f"machine: {os.cpu_count()} cores; load average before the last run "
          f"{os.getloadavg()[0]:.1f}")
    print(table(rows, args.frameworks))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    if args.small:
        r = rows[0]
        ok = (r["rss_per_agent_kib"] > 0 and r["tasks"] == 900 and r["state_ms"] > 0 and
              all(r[f"f{f}"]["tasks"] == 600 and r[f"f{f}_polled"]["tasks"] == 600
                  for f in args.frameworks))
        print("scale-bench: small run " + ("passed" if ok else "FAILED"))
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

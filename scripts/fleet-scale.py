#!/usr/bin/env python3
"""Measures a standalone agora-master against `agora fleet` (docs/scale.md).

Usage: scripts/fleet-scale.py BIN_DIR AGENTS [TASKS [COMMAND]] [-- FLEET FLAGS...]

Starts BIN_DIR/agora-master (HTTP 15050, actor port 15055), then
`agora fleet --agents AGENTS --racks 20` and waits for its "all agents
registered" line; prints the registration time and the resident memory of
both. With TASKS > 0 it then runs `agora demo --tasks TASKS --command
COMMAND` (0.1 cpu, 32 MiB each; default COMMAND: sleep 30) and prints,
every second, the CPU seconds and memory of master, fleet and demo with
the fleet's status line, then the demo's summary. Stops everything it
started.
"""
import os
import subprocess
import sys
import threading
import time
import urllib.request

HZ = os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def cpu_s(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / HZ
    except OSError:
        return 0.0


def family(pid):
    """The pid and its children (`agora fleet --processes`)."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [pid] + [int(x) for x in out.split()]


def main():
    args = sys.argv[1:]
    fleet_flags = []
    if "--" in args:
        fleet_flags = args[args.index("--") + 1:]
        args = args[: args.index("--")]
    bin_dir, agents = args[0], int(args[1])
    tasks = int(args[2]) if len(args) > 2 else 0
    command = args[3] if len(args) > 3 else "sleep 30"
    t0 = time.time()

    def stamp():
        return f"{time.time() - t0:7.2f}s"

    master = subprocess.Popen([f"{bin_dir}/agora-master", "--port=15050", "--actor-port=15055"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    fleet = demo = None
    try:
        while True:
            try:
                urllib.request.urlopen("http://127.0.0.1:15050/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        print(stamp(), f"master up, rss {rss_mib(master.pid)} MiB", flush=True)
        fleet = subprocess.Popen(
            [f"{bin_dir}/agora", "fleet", "--master=127.0.0.1:15055", f"--agents={agents}",
             "--racks=20", "--status-interval=1s"] + fleet_flags,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        lines = []
        threading.Thread(target=lambda: lines.extend(l.rstrip() for l in fleet.stderr),
                         daemon=True).start()
        while not any("all agents registered" in l for l in lines):
            if fleet.poll() is not None:
                sys.exit("the fleet exited: " + "\n".join(lines[-5:]))
            time.sleep(0.05)
        print(stamp(), next(l for l in lines if "all agents registered" in l), flush=True)
        time.sleep(2)
        fleet_pids = family(fleet.pid)
        print(stamp(), f"registered: master rss {rss_mib(master.pid)} MiB, "
              f"cpu {cpu_s(master.pid):.1f} s; fleet rss {sum(map(rss_mib, fleet_pids))} MiB, "
              f"cpu {sum(map(cpu_s, fleet_pids)):.1f} s", flush=True)
        if tasks > 0:
            demo = subprocess.Popen(
                [f"{bin_dir}/agora", "demo", "--master=127.0.0.1:15055", f"--tasks={tasks}",
                 f"--command={command}", "--cpus=0.1", "--mem=32MiB"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            started = time.time()
            peak = [0, 0]
            while demo.poll() is None:
                time.sleep(1)
                m, f = rss_mib(master.pid), sum(map(rss_mib, fleet_pids))
                peak = [max(peak[0], m), max(peak[1], f)]
                status = [l for l in lines if " running, " in l]
                status = status[-1].split("registered, ")[-1] if status else ""
                print(stamp(), f"cpu master {cpu_s(master.pid):6.1f} fleet "
                      f"{sum(map(cpu_s, fleet_pids)):6.1f} demo {cpu_s(demo.pid):5.1f} s | rss "
                      f"master {m} fleet {f} MiB | {status}", flush=True)
            summary = (demo.stdout.read().strip().splitlines() or [""])[-1]
            print(stamp(), f"demo done in {time.time() - started:.1f} s: {summary}")
            print(stamp(), f"peak rss: master {peak[0]} MiB, fleet {peak[1]} MiB", flush=True)
    finally:
        for p in (demo, fleet, master):
            if p and p.poll() is None:
                p.terminate()
                p.wait()


if __name__ == "__main__":
    main()

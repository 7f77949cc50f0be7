#!/usr/bin/env python3
"""Measure an ipykernel the way cmd/stratd-bench measures stratd, for BENCHMARKS.md.

Three figures, each as median / p99 / max:

  execute   `1+1` from an open client: execute_request until both the
            execute_reply (shell) and the execute_result (iopub) are in hand,
            which is what `stratd exec` returns
  connect   a new client: load the connection file, open the channels and wait
            for kernel_info (jupyter_client's wait_for_ready)
  fanout    one print from one client reaching the iopub of N clients (20 by
            default): from just before execute_request until the last client has
            the stream message

It starts its own kernel (python3 kernelspec) with a temporary connection file and
shuts it down at the end. Everything is on loopback. It is a measurement script,
not a test: CI never runs it. Run it with the Python that has the Debian packages
python3-jupyter-client and python3-ipykernel:

    /usr/bin/python3 bench/jupyter_bench.py [--execs 300] [--connects 30]
                                            [--clients 20] [--rounds 30]
"""

import argparse
import os
import platform
import queue
import statistics
import sys
import threading
import time

import ipykernel
import jupyter_client
from jupyter_client import BlockingKernelClient, KernelManager

TIMEOUT = 30.0  # seconds to wait for any one message


def summary(samples):
    """Median, nearest-rank p99 and max of a list of seconds, in milliseconds."""
    s = sorted(samples)
    rank = max(1, -(-99 * len(s) // 100))  # ceil(0.99 n)
    return "%.2fms / %.2fms / %.2fms (%d)" % (
        statistics.median(s) * 1e3, s[rank - 1] * 1e3, s[-1] * 1e3, len(s))


def new_client(km):
    """A blocking client on km's connection file with its channels open."""
    c = BlockingKernelClient()
    c.load_connection_file(km.connection_file)
    c.start_channels()
    c.wait_for_ready(timeout=TIMEOUT)
    return c


def drain_iopub(c):
    """Drop whatever iopub messages are waiting."""
    while True:
        try:
            c.get_iopub_msg(timeout=0.05)
        except queue.Empty:
            return


def execute_round_trip(c, code):
    """Seconds from execute_request to having both the reply and the result."""
    t0 = time.perf_counter()
    msg_id = c.execute(code)
    got_reply = got_result = False
    while not (got_reply and got_result):
        if not got_reply:
            reply = c.get_shell_msg(timeout=TIMEOUT)
            if reply["parent_header"].get("msg_id") == msg_id:
                got_reply = True
        if not got_result:
            msg = c.get_iopub_msg(timeout=TIMEOUT)
            if (msg["parent_header"].get("msg_id") == msg_id
                    and msg["msg_type"] == "execute_result"):
                got_result = True
    elapsed = time.perf_counter() - t0
    if reply["content"]["status"] != "ok":
        raise RuntimeError("execute %r: %s" % (code, reply["content"]))
    return elapsed


def measure_execute(km, n, warmup):
    c = new_client(km)
    try:
        out = []
        for i in range(-warmup, n):
            d = execute_round_trip(c, "1+1")
            if i >= 0:
                out.append(d)
        return out
    finally:
        c.stop_channels()


def measure_connect(km, n, warmup):
    out = []
    for i in range(-warmup, n):
        t0 = time.perf_counter()
        c = new_client(km)
        d = time.perf_counter() - t0
        c.stop_channels()
        if i >= 0:
            out.append(d)
    return out


def watch(c, marker, t0_box, seen, done):
    """Wait on one client's iopub for the stream message that carries marker."""
    while True:
        try:
            msg = c.get_iopub_msg(timeout=TIMEOUT)
        except queue.Empty:
            return
        if (msg["msg_type"] == "stream"
                and marker in msg["content"].get("text", "")):
            seen.append(time.perf_counter() - t0_box[0])
            done.release()
            return


def fanout_round(clients, sender, marker):
    """Seconds until every client has the printed marker."""
    seen = []
    done = threading.Semaphore(0)
    t0_box = [0.0]
    threads = [threading.Thread(target=watch, args=(c, marker, t0_box, seen, done),
                                daemon=True) for c in clients]
    for t in threads:
        t.start()
    t0_box[0] = time.perf_counter()
    half = len(marker) // 2
    sender.execute("print(%r + %r)" % (marker[:half], marker[half:]))
    for _ in clients:
        if not done.acquire(timeout=TIMEOUT):
            raise RuntimeError("not every client saw the print within %ss" % TIMEOUT)
    for t in threads:
        t.join()
    sender.get_shell_msg(timeout=TIMEOUT)  # the execute_reply
    return max(seen), seen


def measure_fanout(km, n_clients, rounds, warmup):
    clients = [new_client(km) for _ in range(n_clients)]
    sender = clients[0]
    try:
        lasts, each = [], []
        for i in range(-warmup, rounds):
            for c in clients:
                drain_iopub(c)
            last, seen = fanout_round(clients, sender, "MARK%06dX" % (i + 1000))
            if i >= 0:
                lasts.append(last)
                each.extend(seen)
            time.sleep(0.03)
        return lasts, each
    finally:
        for c in clients:
            c.stop_channels()


def quiet_closed_sockets():
    """Hide a known, harmless complaint of jupyter_client 7 with pyzmq's asyncio
    layer: closing a client's channels leaves a read callback on the event loop,
    which then fails with "Socket operation on non-socket"."""
    import asyncio
    import zmq

    def handler(loop, context):
        exc = context.get("exception")
        if isinstance(exc, zmq.ZMQError) and exc.errno == zmq.ENOTSOCK:
            return
        loop.default_exception_handler(context)

    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
    loop.set_exception_handler(handler)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_avg():
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "unknown"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--execs", type=int, default=300)
    p.add_argument("--connects", type=int, default=30)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    args = p.parse_args()

    print("## jupyter_bench")
    print()
    print("- CPUs: %d, %s" % (os.cpu_count(), cpu_model()))
    print("- Python %s, jupyter_client %s, ipykernel %s" % (
        platform.python_version(), jupyter_client.__version__, ipykernel.__version__))
    print("- load average at start: %s" % load_avg())
    print("- command: %s" % " ".join([os.path.basename(sys.executable)] + sys.argv))
    print()

    quiet_closed_sockets()
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # quiet debugger warning
    km = KernelManager(kernel_name="python3")
    km.start_kernel()
    try:
        # The manager's own client knows the process, so it can wait for a kernel
        # that is still starting; a bare client takes silence for a dead kernel.
        first = km.client()
        first.start_channels()
        first.wait_for_ready(timeout=TIMEOUT)
        first.stop_channels()
        execs = measure_execute(km, args.execs, args.warmup)
        connects = measure_connect(km, args.connects, args.warmup)
        lasts, each = measure_fanout(km, args.clients, args.rounds, args.warmup)
    finally:
        km.shutdown_kernel(now=True)

    print("| figure | median / p99 / max (n) |")
    print("|---|---|")
    print("| execute `1+1` round trip (reply and result) | %s |" % summary(execs))
    print("| new client: connect and ready (kernel_info) | %s |" % summary(connects))
    print("| one print reaching all %d clients | %s |" % (args.clients, summary(lasts)))
    print("| … per client | %s |" % summary(each))
    print()
    print("- load average at the end: %s" % load_avg())


if __name__ == "__main__":
    main()

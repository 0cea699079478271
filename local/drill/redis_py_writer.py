#!/usr/bin/python3
"""Peer writer for the drills: redis-py's Sentinel client, configured as its docs suggest.

Writes SET drill:redispy:<seq> <seq> in a loop and prints one JSON line per write:
{"at": <unix ms>, "seq": n, "ok": true|false, "error": "..."}. Stops on SIGTERM.
"""
import json
import os
import signal
import sys
import time

from redis.sentinel import Sentinel

running = True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)

sentinels = [(host, 26379) for host in os.environ["SENTINELS"].split(",")]
sentinel = Sentinel(
    sentinels,
    socket_timeout=0.5,
    sentinel_kwargs={"password": os.environ["SENTINEL_PASSWORD"], "socket_timeout": 0.3},
)
master = sentinel.master_for(
    os.environ["MASTER_NAME"],
    username="admin",  # Redis's default user is off (k8s/redis/acl.ts)
    password=os.environ["REDIS_PASSWORD"],
    socket_timeout=3.0,
    socket_connect_timeout=0.5,
    retry_on_timeout=True,
)
interval = float(os.environ.get("INTERVAL_SECONDS", "0.02"))

seq = 0
while running:
    seq += 1
    record = {"seq": seq}
    try:
        master.set(f"drill:redispy:{seq}", seq)
        record["ok"] = True
    except Exception as error:  # every failure is data for the drill report
        record["ok"] = False
        record["error"] = f"{type(error).__name__}: {error}"[:200]
    record["at"] = int(time.time() * 1000)
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()
    time.sleep(interval)

#!/usr/bin/env python3
"""Splits lone calls' wall time by the trace points of an instrumented
server and load generator (CLOCK_MONOTONIC ns; 'ns tid point' lines).

A throw-away build, never committed into service/ (issue #22 item 2):

  git worktree add /tmp/instr 02129b1 && cd /tmp/instr   # the code it marks
  git apply bench/lone_call/trace-points.patch     # marks hand-offs, statements
  cmake -S . -B build-instr -DCMAKE_BUILD_TYPE=Release -DIDEM_BUILD_TESTS=OFF
  cmake --build build-instr -j2 --target idem-server idem_loadgen
  git checkout service bench/loadgen && rm service/trace_points.h
  IDEM_TRACE_FILE=/tmp/server.txt build-instr/service/idem-server &   # IDEM_* as usual
  IDEM_TRACE_FILE=/tmp/client.txt build-instr/bench/loadgen/idem_loadgen \
      --mix=insert --concurrency=1 --duration=6s ...
  kill %1; bench/lone_call/split.py /tmp/server.txt /tmp/client.txt

Each process writes its marks when it exits. Only for one caller: the
calls must not overlap."""
import sys, statistics, collections
server, client = sys.argv[1], sys.argv[2]
ev = []
for path, who in ((server, 's'), (client, 'c')):
    for line in open(path):
        ns, tid, point = line.split()
        ev.append((int(ns), int(tid), int(point), who))
ev.sort()
# calls: from a client 100 to the next client 101
calls, cur = [], None
for e in ev:
    if e[3] == 'c' and e[2] == 100:
        cur = [e]
    elif cur is not None:
        cur.append(e)
        if e[3] == 'c' and e[2] == 101:
            calls.append(cur); cur = None
import bisect
times = [e[0] for e in ev]
def first(call, point, after=None):
    # the first server event `point` at or after `after` (default: the
    # call's start), looking past the call's end (an answer may reach the
    # client before the server thread that sent it returns)
    start = call[0][0] if after is None else after
    i = bisect.bisect_left(times, start)
    for e in ev[i:i + 400]:
        if e[2] == point and e[3] == 's':
            return e
    return None
phases = collections.defaultdict(list)
totals = []
nstmt = collections.Counter()
for call in calls[len(calls)//10:]:  # skip the first tenth (warm-up)
    t0, t_end = call[0][0], call[-1][0]
    h = first(call, 1)
    fin = first(call, 13)
    fin_end = first(call, 14, fin[0]) if fin else None
    if h is None or fin is None or fin_end is None:
        continue
    totals.append((t_end - t0) / 1e3)
    def ph(name, a, b):
        if a is not None and b is not None:
            phases[name].append((b[0] - a[0]) / 1e3)
    phases['client send -> server handler'].append((h[0] - t0) / 1e3)
    w = first(call, 2, h[0]); ws = first(call, 3, h[0])
    ph('handler (auth, limiter, record)', h, w)
    ph('hand-off gRPC thread -> worker', w, ws)
    tc = first(call, 4, h[0]); cs = first(call, 5, h[0])
    if tc and cs:
        ph('worker: prepare until queued', ws, tc)
        ph('hand-off worker -> committer', tc, cs)
        ls = first(call, 6, cs[0]); ph('committer: until connection leased', cs, ls)
    else:
        ls = first(call, 6, h[0]); ph('worker: prepare until connection leased', ws, ls)
    b = first(call, 7, h[0]); ph('BEGIN round trip', ls, b)
    # statements between begun and commit start
    cst = first(call, 10, h[0]); ce = first(call, 11, h[0])
    if b and cst:
        rt, n, last = 0.0, 0, b[0]
        cpu_between = 0.0
        for e in call:
            if e[3] != 's' or e[0] < b[0] or e[0] > cst[0]:
                continue
            if e[2] == 8:
                start = e[0]; cpu_between += (e[0] - last) / 1e3
            if e[2] == 9:
                rt += (e[0] - start) / 1e3; n += 1; last = e[0]
        cpu_between += (cst[0] - last) / 1e3
        phases['statements: round trips'].append(rt)
        phases['statements: work between them'].append(cpu_between)
        nstmt[n] += 1
    ph('COMMIT round trip', cst, ce)
    ph('after COMMIT until reactor->Finish', ce, fin)
    ph('reactor->Finish (sends the answer inline)', fin, fin_end)
    phases['Finish called -> client callback'].append((t_end - fin[0]) / 1e3)
    phases['  (server: handler -> Finish returned)'].append((fin_end[0] - h[0]) / 1e3)
print(f"calls: {len(totals)}, statements between BEGIN and COMMIT: {dict(nstmt)}")
print(f"{'phase':48s} {'p50 us':>8s} {'mean us':>8s}")
for name, vals in phases.items():
    print(f"{name:48s} {statistics.median(vals):8.1f} {statistics.mean(vals):8.1f}")
print(f"{'end to end (client)':48s} {statistics.median(totals):8.1f} {statistics.mean(totals):8.1f}")

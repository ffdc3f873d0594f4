#!/usr/bin/env python3
"""Instructions per yield (wb) or per task (wa) of the wasm benchmarks, counted by callgrind on
the machine code V8 runs, with a per-function breakdown (for `scripts/bench-wasm.sh
instructions`). Wall time on a shared machine drifts; these counts repeat within ~2%.

Each scenario runs twice in Node under callgrind (TurboFan only, one thread, a 60 s time slice
so that valgrind's slowness does not add yields): after 2 warm-up rounds, R1 and then R2 rounds
of 100,000 yields or tasks; the difference divided by (R2 - R1) x 100,000 is the count per unit.
V8's code log (`--prof`, sampling almost never) names the wasm functions; each instruction
address callgrind counted is attributed to the function whose code holds it.

Usage: wasm-instructions.py PKG_DIR NODE [SCENARIO...]   (default: wb-ours wb-floor-only
       wb-nowrap-only wb-peer wa-ours wa-peer)
"""
import bisect
import collections
import os
import re
import subprocess
import sys
import tempfile

R1, R2, UNITS = 2, 7, 100_000
HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, '..', '..', 'wasm-tests', 'bench', 'instructions.js')


def run(pkg, node, scenario, rounds, tmp):
    out, log = os.path.join(tmp, f'cg.{rounds}'), os.path.join(tmp, f'v8.{rounds}.log')
    subprocess.run(['valgrind', '--tool=callgrind', f'--callgrind-out-file={out}',
                    '--dump-instr=yes', '--dump-line=no', '--compress-pos=no',
                    '--compress-strings=no', '--smc-check=all-non-file',
                    node, '--single-threaded', '--no-liftoff', '--prof',
                    '--prof-sampling-interval=100000000', f'--logfile={log}',
                    '--no-logfile-per-isolate', SCRIPT, pkg, scenario, str(rounds)],
                   check=True, capture_output=True)
    ranges = []
    for line in open(log, errors='replace'):
        if line.startswith('code-creation,'):
            parts = line.rstrip('\n').split(',')
            try:
                ranges.append((int(parts[4], 16), int(parts[5]), parts[6]))
            except (IndexError, ValueError):
                pass
    ranges.sort()
    starts = [r[0] for r in ranges]
    cost, skip = collections.Counter(), False
    for line in open(out, errors='replace'):
        if line.startswith('calls='):
            skip = True
        elif line.startswith('0x'):
            if not skip:
                address, count = line.split()[:2]
                address = int(address, 16)
                i = bisect.bisect_right(starts, address) - 1
                inside = i >= 0 and address < ranges[i][0] + ranges[i][1]
                name = ranges[i][2] if inside else '(node and V8 runtime)'
                cost[re.sub(r'::h[0-9a-f]{16}', '', name).replace('\\x2C', ',')] += int(count)
            skip = False
        else:
            skip = False
    return cost


def main():
    pkg, node = sys.argv[1], sys.argv[2]
    scenarios = sys.argv[3:] or ['wb-ours', 'wb-floor-only', 'wb-nowrap-only', 'wb-peer',
                                 'wa-ours', 'wa-peer']
    for scenario in scenarios:
        with tempfile.TemporaryDirectory() as tmp:
            low, high = run(pkg, node, scenario, R1, tmp), run(pkg, node, scenario, R2, tmp)
        per = {k: (high[k] - low[k]) / ((R2 - R1) * UNITS) for k in set(low) | set(high)}
        unit = 'task' if scenario.startswith('wa') else 'yield'
        print(f'{scenario}: {sum(per.values()):.0f} instructions per {unit}')
        for name, count in sorted(per.items(), key=lambda kv: -kv[1]):
            if count >= 2:
                print(f'  {count:7.1f}  {name[:110]}')


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""check.py EXPECTED OUTPUT.json [--data] [--from M] — compares what `migrun test
--format json` reported (every step that is not `ok`: failed with the class
of its failure, untested, skipped) with the EXPECTED list gen.py wrote.
Prints each difference; exits 1 when there is any. A class `X|Y` is X
without --data and Y with it; `-` means the step must pass. --from M:
only the migrations from M on were tested."""
import json
import sys

data = "--data" in sys.argv[3:]
start = sys.argv[sys.argv.index("--from") + 1] if "--from" in sys.argv else ""
want = set()
for line in open(sys.argv[1]):
    parts = line.split()
    if not parts or parts[1].split(".")[0] < start:
        continue
    if parts[0] == "failed":
        cls = parts[2].split("|")
        cls = cls[1] if data and len(cls) > 1 else cls[0]
        if cls != "-":
            want.add(f"failed {parts[1]} {cls}")
    else:
        want.add(f"{parts[0]} {parts[1]}")

steps, kinds = {}, {}
done = None
for line in open(sys.argv[2]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    ev = json.loads(line)
    if ev.get("event") == "step":
        name = f"{ev['migration']}.{ev['phase']}.{ev['step']}"
        steps[name] = ev
    elif ev.get("event") == "difference":
        name = f"{ev['migration']}.{ev['phase']}.{ev['step']}"
        kinds.setdefault(name, set()).add({"left behind": "left", "lost": "lost", "changed": "changed"}[ev["kind"]])
    elif ev.get("event") == "done":
        done = ev

got = set()
for name, ev in steps.items():
    out = ev["outcome"]
    if out == "ok":
        continue
    if out == "failed":
        prefix = {"the down": "down-failed", "the up, run again after the down,": "up-again",
                  "the up": "up-failed"}.get(ev.get("failed") or "", "")
        k = "+".join(sorted(kinds.get(name, ())))
        got.add(f"failed {name} {prefix}{'+' if prefix and k else ''}{k}")
    elif out in ("untested", "irreversible"):
        got.add(f"untested {name}")
    else:
        got.add(f"{out} {name}")

bad = 0
for x in sorted(want - got):
    print(f"    not reported as expected: {x}")
    bad += 1
for x in sorted(got - want):
    print(f"    reported, not expected:   {x}")
    bad += 1
if done is None:
    print("    no `done` event")
    bad += 1
elif done.get("stopped"):
    print(f"    the test stopped early: {done['stopped']}")
    bad += 1
ok = sum(1 for ev in steps.values() if ev["outcome"] == "ok")
print(f"    {len(steps)} steps reported: {ok} ok, {len(got)} others; {len(want)} expected others")
sys.exit(1 if bad else 0)

# Python pickle (C-accelerated) round trips of the codec benchmark's values, per
# second of CPU time (as benchmarks/workers.lua measures the codec).
import pickle, sys, time
scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
records = [{"id": i, "name": "name%d" % i, "tags": ["a", "b", "c"]} for i in range(1, 1001)]
nested = {"leaf": "x"}
for _ in range(9):
    nested = {"child": nested, "n": 1}
cases = {"records": records, "mib": "x" * (1 << 20), "nested10": nested}
for name in ("records", "mib", "nested10"):
    v = cases[name]
    reps, t = 0, time.process_time()
    budget = 0.5 * scale + 0.02
    while time.process_time() - t < budget:
        for _ in range(10):
            pickle.loads(pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL))
        reps += 10
    print("pickle_%s %.0f" % (name, reps / (time.process_time() - t)))

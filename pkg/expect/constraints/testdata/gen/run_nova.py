import json, sys, warnings
warnings.simplefilter("ignore")
from nova import objects
objects.register_all()
from nova.virt import hardware

def enc(v):
    if v is None: return None
    if isinstance(v, (set, frozenset)): return sorted(v)
    return v

def topo(t):
    if t is None: return None
    cells = []
    for c in t.cells:
        cells.append({"id": c.id, "memory": c.memory,
            "pagesize": c.pagesize if 'pagesize' in c else None,
            "cpu_policy": c.cpu_policy if 'cpu_policy' in c else None,
            "cpu_thread_policy": c.cpu_thread_policy if 'cpu_thread_policy' in c else None,
            "cpuset": sorted(c.cpuset), "pcpuset": sorted(c.pcpuset)})
    return {"cells": cells, "emulator_threads_policy": t.emulator_threads_policy if 'emulator_threads_policy' in t else None}

def vt(t): return {"sockets": t.sockets, "cores": t.cores, "threads": t.threads}

FUNCS = [
    ("nova/virt/hardware.py:numa_get_constraints", "constraints", lambda f, i, a: topo(hardware.numa_get_constraints(f, i))),
    ("nova/virt/hardware.py:get_cpu_policy_constraint", "policy", lambda f, i, a: hardware.get_cpu_policy_constraint(f, i)),
    ("nova/virt/hardware.py:get_realtime_cpu_constraint", "policy", lambda f, i, a: enc(hardware.get_realtime_cpu_constraint(f, i))),
    ("nova/virt/hardware.py:_get_numa_pagesize_constraint", "policy", lambda f, i, a: hardware._get_numa_pagesize_constraint(f, i)),
    ("nova/virt/hardware.py:_get_desirable_cpu_topologies", "cpu_topology", lambda f, i, a: [vt(t) for t in hardware._get_desirable_cpu_topologies(f, i, a)]),
    ("nova/virt/hardware.py:get_best_cpu_topology", "cpu_topology", lambda f, i, a: vt(hardware.get_best_cpu_topology(f, i, a))),
]

cases = json.load(sys.stdin)
out = []
for n, case in enumerate(cases):
    fl = case["flavor"]
    for fname, cat, fn in FUNCS:
        if case.get("only") and fname.split(":")[1] not in case["only"]:
            continue
        inp = {"flavor": fl, "image_props": case["image_props"]}
        if cat == "cpu_topology":
            inp["allow_threads"] = case.get("allow_threads", True)
        try:
            flavor = objects.Flavor(**fl)
            image = objects.ImageMeta.from_dict({"properties": dict(case["image_props"])})
            res = fn(flavor, image, inp.get("allow_threads", True))
            exp = {"result": res}
        except Exception as e:
            exp = {"error": type(e).__name__}
        out.append({"id": "%s-%04d-%s" % (case.get("tag", "gen"), n, fname.split(":")[1].strip("_")), "category": cat, "function": fname,
                    "origin": {"file": case.get("origin", "generated"), "test": case.get("tag", "gen"), "call_index": n},
                    "nova_version": "26.2.2", "input": inp, "expect": exp})
json.dump({"schema": "nova-numa-vectors/1", "nova_version": "26.2.2",
           "source": "generated: inputs run through Nova 26.2.2 (Debian 12 python3-nova) by a differential script",
           "count": len(out), "vectors": out}, sys.stdout, indent=None, separators=(",", ":"))

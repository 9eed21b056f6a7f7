import json, random, sys
rnd = random.Random(13)
vals = ["1", "2", "3", "4", "8", "0", "-1", "16", "x", " 2", "+4", "6"]
cases = []
for _ in range(2500):
    vcpus = rnd.choice([1, 2, 3, 4, 6, 8, 12, 16, 24, 0, 7, 32])
    es, ip = {}, {}
    for part in ("sockets", "cores", "threads"):
        for pre in ("cpu_", "cpu_max_"):
            if rnd.random() < 0.25:
                es["hw:" + pre + part] = rnd.choice(vals)
            if rnd.random() < 0.2:
                ip["hw_" + pre + part] = rnd.choice(vals[:8] + ["12"])
    cases.append({"flavor": {"vcpus": vcpus, "memory_mb": 1024, "extra_specs": es}, "image_props": ip,
                  "allow_threads": rnd.random() < 0.7, "only": ["_get_desirable_cpu_topologies", "get_best_cpu_topology"], "tag": "topo"})
json.dump(cases, sys.stdout)

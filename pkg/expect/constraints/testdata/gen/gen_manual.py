import json, random, sys
rnd = random.Random(int(sys.argv[1]))
cases = []
def spec(vcpus):
    parts = []
    for _ in range(rnd.randint(1, 3)):
        r = rnd.random()
        hi = rnd.choice([vcpus - 1, vcpus + 2, vcpus * 3, 20, 40])
        a = rnd.randint(0, max(hi, 0))
        if r < 0.5: parts.append(str(a))
        elif r < 0.85: parts.append("%d-%d" % (a, a + rnd.randint(0, 5)))
        else: parts.append("^%d" % a)
    return ",".join(parts)
for _ in range(int(sys.argv[2])):
    vcpus = rnd.choice([2, 3, 4, 6, 8, 16])
    nodes = rnd.choice([1, 2, 2, 3, 4])
    mem = rnd.choice([1024, 2048, 4096])
    es = {}
    r = rnd.random()
    if r < 0.5: es["hw:numa_nodes"] = str(nodes)
    elif r < 0.7: es["hw:cpu_policy"] = "dedicated"
    elif r < 0.8: es["hw:mem_page_size"] = "large"
    else:
        es["hw:cpu_policy"] = "mixed"; es["hw:cpu_dedicated_mask"] = rnd.choice(["0", "^0", "1,3", "^1-2"])
        if rnd.random() < 0.7: es["hw:numa_nodes"] = str(nodes)
    n = nodes if "hw:numa_nodes" in es else 1
    if rnd.random() < 0.1: n += rnd.choice([-1, 1])
    cpus = [spec(vcpus) for _ in range(n)]
    # mostly a sensible split, then perturb
    if rnd.random() < 0.5 and n > 0:
        per = max(vcpus // n, 1)
        cpus = ["%d-%d" % (i * per, min(i * per + per - 1, vcpus - 1)) for i in range(n)]
        if rnd.random() < 0.7:
            cpus[rnd.randrange(n)] = spec(vcpus)
    mems = [str(mem // max(n, 1))] * n
    if rnd.random() < 0.2 and n: mems[0] = str(int(mems[0]) + 1)
    target = "flavor" if rnd.random() < 0.6 else "image"
    ip = {}
    for i in range(n):
        if target == "flavor":
            es["hw:numa_cpus.%d" % i] = cpus[i]; es["hw:numa_mem.%d" % i] = mems[i]
        else:
            ip["hw_numa_cpus.%d" % i] = cpus[i]; ip["hw_numa_mem.%d" % i] = mems[i]
    cases.append({"flavor": {"vcpus": vcpus, "memory_mb": mem, "extra_specs": es}, "image_props": ip, "only": ["numa_get_constraints"], "tag": "manual"})
json.dump(cases, sys.stdout)

import json, random, sys
rnd = random.Random(11)
alpha = ["0","1","2","4","8",".","-","+","K","M","G","T","i","b","B","it"," ","\n","k","\u0663","\u00b2","_","e"]
cases = []
seen = set()
while len(cases) < 2500:
    s = "".join(rnd.choice(alpha) for _ in range(rnd.randint(1, 7)))
    if rnd.random() < 0.5:
        s = str(rnd.choice([1, 2, 4, 1.5, 0.5, 2048, 1024, 0, -2, -1])) + rnd.choice(["", "B", "KB", "KiB", "Kib", "Kbit", "MB", "MiB", "GB", "Gb", "TB", "Tibit", "b", "bit", "kB", "M"])
    if s in seen: continue
    seen.add(s)
    es = {"hw:mem_page_size": s}
    ip = {}
    r = rnd.random()
    if r < 0.3:
        es["hw:mem_page_size"] = rnd.choice(["any", "large", "small", "2048"])
        ip["hw_mem_page_size"] = s
    elif r < 0.4:
        ip["hw_mem_page_size"] = rnd.choice(["any", "large", "small", "2048", "1GB", "foo"])
    if rnd.random() < 0.2:
        es["hw:locked_memory"] = rnd.choice(["true", "false", ""])
    if rnd.random() < 0.2:
        ip["hw_locked_memory"] = rnd.choice(["true", "false"])
    cases.append({"flavor": {"vcpus": 2, "memory_mb": 1024, "extra_specs": es}, "image_props": ip, "only": ["_get_numa_pagesize_constraint", "numa_get_constraints"], "tag": "page"})
json.dump(cases, sys.stdout)

import json, random, sys
rnd = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
N = int(sys.argv[2]) if len(sys.argv) > 2 else 1500
MASKS = ["^0", "^0-1", "0-1", "1", "0-3", "^3", "", "x", "^0-100", "5-6", "1,3", "0-2", "^1,^2", " ^0", "0-70000", "2-1", "0--0", "1_0", "\u0663", "^", "3,7", "^3-5", "0-99,^4-99"]
CPUS = ["0-1", "2-3", "0,2", "1,3", "0-3", "4-7", "0-16", "^0", "0-3,^1", "", "x", "3-1", "0--0", " 1 ", "1_0", "0", "1", "2", "3", "4-5", "6-7", "1,9", "9,1", "2,100", "3,9", "0-7", "5,13", "0-15", "^1,0-2", "4,12,20"]
MEMS = ["512", "1024", "2048", "0", "-512", "x", "", " 1024", "1_024", "256", "768", "\u0661\u0660\u0662\u0664"]
PAGES = ["small", "large", "any", "2048", "1GB", "2MB", "2M", "foo", "", "-42", "2048KB", "1.5KB", "0", "4Kib", "1b", "\u00b2", "\u0663", "2MB\n", "-2048B", "+2MB", "1Tbit", "LARGE", " 2048", "0B", ".5MB", "5.MB"]
BOOLS = ["true", "false", "yes", "no", "", "foo", "True", " 1 ", "on", "OFF"]
INTS = ["1", "2", "4", "8", "0", "-1", "x", "", " 2", "+2", "01", "2.0", "3", "16"]
RES = ["4", "2", "5", "x", "0", "-4", "8", "6", "3"]
FLAVOR = {
    "hw:numa_nodes": INTS,
    "hw:cpu_policy": ["dedicated", "shared", "mixed", "foo", "", "Dedicated"],
    "hw:cpu_thread_policy": ["prefer", "isolate", "require", "foo", ""],
    "hw:emulator_threads_policy": ["share", "isolate", "foo", ""],
    "hw:cpu_realtime": BOOLS,
    "hw:cpu_realtime_mask": MASKS,
    "hw:cpu_dedicated_mask": MASKS,
    "hw:mem_page_size": PAGES,
    "hw:locked_memory": BOOLS,
    "hw:pmem": ["2GB", "", ",", "a,b", " , "],
    "resources:VCPU": RES, "resources:PCPU": RES, "resources1:PCPU": RES, "resources2:VCPU": RES,
    "trait:HW_CPU_HYPERTHREADING": ["forbidden", "required", "", "foo"],
    "trait1:HW_CPU_HYPERTHREADING": ["forbidden", "required"],
    "hw:cpu_sockets": INTS, "hw:cpu_cores": INTS, "hw:cpu_threads": INTS,
    "hw:cpu_max_sockets": INTS, "hw:cpu_max_cores": INTS, "hw:cpu_max_threads": INTS,
    "hw:max_cpu_sockets": INTS,
}
IMAGE = {
    "hw_numa_nodes": INTS,
    "hw_cpu_policy": ["dedicated", "shared", "mixed", "foo", ""],
    "hw_cpu_thread_policy": ["prefer", "isolate", "require", "foo"],
    "hw_cpu_realtime_mask": MASKS,
    "hw_mem_page_size": PAGES,
    "hw_locked_memory": BOOLS,
    "trait:HW_CPU_HYPERTHREADING": ["required", "forbidden"],
    "hw_cpu_sockets": INTS, "hw_cpu_cores": INTS, "hw_cpu_threads": INTS,
    "hw_cpu_max_sockets": INTS, "hw_cpu_max_cores": INTS, "hw_cpu_max_threads": INTS,
    "hw_architecture": ["x86_64", "AMD64", "foo", "i386", "\u0130686"],
    "hw_disk_bus": ["virtio", "foo", "VIRTIO"],
    "hw_vif_model": ["VirtualE1000", "foo", "virtio"],
    "img_hv_requested_version": [">=2.6", "foo", "<1.0, >=0.5", ">= 1.2.3a4", "==1", ">1.0)\nx", "", ">=1.0 "],
    "hw_video_ram": ["64", "x"],
    "vmware_adaptertype": ["lsiLogicSAS", "foo", "ide", "paravirtual"],
    "os_type": ["Linux", "beos"],
    "img_mappings": ["x"],
    "hypervisor_type": ["xapi", "KVM", "foo"],
    "vm_mode": ["pv", "HV", "foo"],
    "hw_scsi_model": ["virtio-scsi", "LSILOGIC", "foo"],
    "architecture": ["amd64", "foo"],
    "hw_pmu": ["maybe"],
}
CLEAN_F = ["hw:numa_nodes", "hw:cpu_policy", "hw:cpu_thread_policy", "hw:emulator_threads_policy", "hw:cpu_realtime", "hw:cpu_realtime_mask", "hw:cpu_dedicated_mask", "hw:mem_page_size", "hw:locked_memory", "hw:pmem", "resources:PCPU", "resources:VCPU", "trait:HW_CPU_HYPERTHREADING"]

def lists(prefix, maxn, pool, sep):
    d = {}
    n = rnd.choice([1, 2, 2, 3, 4])
    for i in range(n):
        if rnd.random() < 0.08: continue  # gap
        d["%s%s%d" % (prefix, sep, i)] = rnd.choice(pool)
    return d

cases = []
for _ in range(N):
    vcpus = rnd.choice([1, 2, 3, 4, 4, 6, 8, 8, 16])
    mem = rnd.choice([1024, 2048, 2048, 3072, 4096, 1536])
    es, ip = {}, {}
    mode = rnd.random()
    clean = mode < 0.6
    for _ in range(rnd.randint(1, 5)):
        k = rnd.choice(CLEAN_F if clean else list(FLAVOR))
        pool = FLAVOR[k]
        if clean:
            pool = [v for v in pool if v not in ("x", "foo", "")] or pool
        es[k] = rnd.choice(pool)
    for _ in range(rnd.choice([0, 0, 1, 2, 3])):
        k = rnd.choice(list(IMAGE)[:7] if clean else list(IMAGE))
        pool = IMAGE[k]
        if clean:
            pool = [v for v in pool if v not in ("x", "foo", "")] or pool
        ip[k] = rnd.choice(pool)
    r = rnd.random()
    if r < 0.25:
        es.update(lists("hw:numa_cpus", 4, CPUS, "."))
        es.update(lists("hw:numa_mem", 4, MEMS, "."))
    elif r < 0.4:
        ip.update(lists("hw_numa_cpus", 4, CPUS, "."))
        ip.update(lists("hw_numa_mem", 4, MEMS, "."))
    elif r < 0.45:
        es.update(lists("hw:numa_cpus", 4, CPUS, "."))
        ip.update(lists("hw_numa_mem", 4, MEMS, "."))
    cases.append({"flavor": {"vcpus": vcpus, "memory_mb": mem, "extra_specs": es}, "image_props": ip,
                  "allow_threads": rnd.random() < 0.8})
json.dump(cases, sys.stdout)

import json, random, sys, warnings
warnings.simplefilter("ignore")
from nova import objects
objects.register_all()
from nova.virt import hardware
rnd = random.Random(7)
out = []
for _ in range(250):
    parts = []
    for _ in range(rnd.randint(1, 6)):
        r = rnd.random()
        big = rnd.choice([8, 16, 40, 100, 300])
        a = rnd.randint(0, big)
        if r < 0.4:
            parts.append(str(a))
        elif r < 0.75:
            parts.append("%d-%d" % (a, a + rnd.randint(0, rnd.choice([3, 10, 50, 120]))))
        elif r < 0.9:
            parts.append("^%d" % a)
        else:
            parts.append("^%d-%d" % (a, a + rnd.randint(0, 30)))
    spec = ",".join(parts)
    s = hardware.parse_cpu_spec(spec)
    img = objects.ImageMeta.from_dict({"properties": {"hw_numa_cpus.0": spec, "hw_numa_mem.0": "1"}})
    out.append({"spec": spec, "flavor": list(s), "image": list(img.properties.hw_numa_cpus[0])})
json.dump(out, sys.stdout)

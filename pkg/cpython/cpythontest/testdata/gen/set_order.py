#!/usr/bin/python3
# Writes ../set_order.json: iteration orders of Python sets, recorded from
# Nova 26.2.2 running on Debian 12's CPython 3.11, for package cpython's set
# replay and for the packages that model the Nova code the orders come from.
#
# Every case carries the Nova-level input, a program of set operations
# ("ops") that builds the same sets the way Nova's code does, and the orders
# ("want"). Each order is taken from Nova's own objects, and the script
# checks that replaying the program in this interpreter gives the same
# orders, so the program is known to describe what Nova does. The "cpython"
# cases have no Nova behind them: a few programs written for behaviours
# Nova's cases do not reach, and seeded random ones for the operations and
# members (dummies, shrinking tables, negative and huge ints, tuples) they
# cover.
#
# Run from this directory with the system Python (python3-nova installed):
#     /usr/bin/python3 set_order.py > ../set_order.json
import json
import random
import sys
import warnings

warnings.simplefilter("ignore")
from nova import objects  # noqa: E402

objects.register_all()
from nova import version  # noqa: E402
from nova.virt import hardware  # noqa: E402

from setops import order, run  # noqa: E402


def case(origin, inp, ops, want, **extra):
    env = run(ops)
    for name, got in want.items():
        replayed = order(env[name])
        if replayed != got:
            sys.exit("%s %r: %s: Nova iterates %r, the program %r" % (origin, inp, name, got, replayed))
    c = {"origin": origin, "input": inp, "ops": ops, "want": want}
    c.update(extra)
    return c


def spec_ops(spec, ids, rejects, tmp):
    """parse_cpu_spec's set operations, element by element."""
    ops = [["set", ids, []], ["set", rejects, []]]
    for rule in spec.split(","):
        rule = rule.strip()
        if not rule:
            continue
        parts = rule.split("-", 1)
        if len(parts) > 1:
            target = ids
            if parts[0] and parts[0][0] == "^":
                target, parts[0] = rejects, parts[0][1:]
            start, end = int(parts[0].strip()), int(parts[1].strip())
            ops += [["range", tmp, start, end + 1], ["update", target, tmp]]
        elif rule[0] == "^":
            ops.append(["add", rejects, int(rule[1:].strip())])
        else:
            ops.append(["add", ids, int(rule)])
    ops.append(["difference_update", ids, rejects])
    return ops


def coerced_ops(dst, members, tmp):
    """An oslo.versionedobjects set field assigned set(members):
    CoercedSet.update re-adds the value's members into a fresh set, which
    it then merges into the (empty) field set."""
    return [["set", tmp, members], ["rebuild", tmp, tmp], ["copy", dst, tmp]]


def numa_cell(**kw):
    args = dict(id=0, cpuset=set(), pcpuset=set(), memory=0, cpu_usage=0,
                memory_usage=0, pinned_cpus=set(), siblings=[], mempages=[])
    args.update(kw)
    return objects.NUMACell(**args)


def parse_cpu_spec_cases():
    # The specs of the former pkg/expect/constraints/testdata/gen/set_order.py.
    rnd = random.Random(7)
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
        img = objects.ImageMeta.from_dict({"properties": {"hw_numa_cpus.0": spec, "hw_numa_mem.0": "1"}})
        ops = spec_ops(spec, "flavor", "rejects", "range")
        ops += [["rebuild", "tmp", "flavor"], ["copy", "image", "tmp"]]
        want = {"flavor": list(hardware.parse_cpu_spec(spec)),
                "image": list(img.properties.hw_numa_cpus[0])}
        yield case("parse_cpu_spec", {"spec": spec}, ops, want)


def numa_cell_set_cases(lists):
    for members in lists:
        cell = numa_cell(pcpuset=set(members))
        ops = [["set", "plain", members]] + coerced_ops("coerced", members, "tmp")
        want = {"plain": list(set(members)), "coerced": list(cell.pcpuset)}
        yield case("numa_cell_set", {"members": members}, ops, want)


def free_siblings_cases(cells):
    for c in cells:
        cell = numa_cell(pcpuset=set(c["pcpus"]), pinned_cpus=set(c["pinned"]),
                         siblings=[set(s) for s in c["siblings"]])
        ops = coerced_ops("pcpuset", c["pcpus"], "tmp") + coerced_ops("pinned", c["pinned"], "tmp")
        ops.append(["difference", "free", "pcpuset", "pinned"])
        want = {"free": list(cell.free_pcpus)}
        for i, (s, fs) in enumerate(zip(c["siblings"], cell.free_siblings)):
            ops += coerced_ops("sib%d" % i, s, "tmp")
            ops.append(["intersection", "free_sib%d" % i, "sib%d" % i, "free"])
            want["free_sib%d" % i] = list(fs)
        yield case("free_siblings", c, ops, want)


def host_siblings_cases(cells):
    for siblings in cells:
        # _get_host_numa_topology, on the siblings strings libvirt reports
        # for each CPU of a cell (LibvirtConfigCapsNUMACPU parses them).
        per_cpu = [hardware.parse_cpu_spec(s) for s in siblings]
        groups = set(tuple(cpu) or () for cpu in per_cpu)
        result = sorted(set(x) for x in groups)
        ops = [["tset", "groups", []]]
        for i, s in enumerate(siblings):
            ops += spec_ops(s, "cpu", "rejects", "range")
            ops.append(["add_tuple", "groups", "cpu"])
        yield case("host_siblings", {"siblings": siblings}, ops,
                   {"groups": order(groups)}, result=[sorted(g) for g in result])


def pinned_cases():
    """Programs for behaviours the other cases happen to miss."""
    P = 2**61 - 1
    programs = [
        ("an add reuses the last dummy on its probe chain, not the first",
         [["range", "a", 32, 37], ["discard", "a", 32], ["discard", "a", 34], ["add", "a", 64]]),
        ("members sharing hash 0 (0, 2**61-1, -(2**61-1), 2**63-4)",
         [["set", "a", [-P, 2**63 - 4, P, 2**62 + 4, P - 1]], ["set", "c", [P, -P]],
          ["difference_update", "a", "c"], ["add", "a", P]]),
        ("s | s copies s and merges nothing, even with dummies",
         [["range", "a", 0, 9], ["discard", "a", 3], ["discard", "a", 4], ["union", "b", "a", "a"]]),
        ("s -= o shrinks to the minimum table, rebuilt in place",
         [["range", "a", 0, 12], ["range", "b", 2, 12], ["difference_update", "a", "b"], ["add", "a", 8],
          ["set", "c", [0, 8, 16]], ["discard", "c", 0], ["discard", "c", 8], ["set", "d", [1]],
          ["difference_update", "c", "d"]]),
        ("s &= o takes over the intersection's table",
         [["range", "a", 0, 40], ["set", "b", [33, 1, 9, 17]], ["intersection_update", "a", "b"], ["add", "a", 25]]),
        ("tuples", [["tset", "t", [[0, 8], [8, 0], [], [-1], [-2], [2**63 - 1, -2**63]]],
                    ["discard", "t", [8, 0]], ["add", "t", [1, 9]]]),
    ]
    for about, ops in programs:
        env = run(ops)
        yield case("cpython", {"about": about}, ops, {k: order(v) for k, v in env.items()})


def random_cases(n):
    rnd = random.Random(11)
    pools = [
        lambda: rnd.randint(0, 16),
        lambda: rnd.randint(0, 300),
        lambda: rnd.randint(0, 5000),
        lambda: rnd.randint(-40, 40),
        lambda: rnd.choice([2**61 - 1, 2**61, 2**62 + 3, 2**63 - 1, -2**63, -2**61, -1, -2])
        + rnd.randint(-2, 2) * (rnd.random() < 0.5),
    ]
    ops_all = ["add", "add", "add", "discard", "discard", "copy", "rebuild", "update",
               "intersection_update", "difference_update", "union", "intersection",
               "difference", "clear", "set", "range"]
    for _ in range(n):
        pool = rnd.choice(pools)

        def val():
            v = pool()
            return max(-2**63, min(2**63 - 1, v))

        tuples = rnd.random() < 0.2

        def member():
            if not tuples:
                return val()
            return [val() for _ in range(rnd.choice([0, 1, 2, 2, 3, 5]))]

        names = ["a", "b", "c", "d"]
        ops = []
        for nm in names:
            k = rnd.choice([0, 1, 2, 3, 4, 5, 6, 9, 12, 20, 40, 70])
            ops.append(["tset" if tuples else "set", nm, [member() for _ in range(k)]])
        for _ in range(rnd.randint(1, 15)):
            op = rnd.choice(ops_all)
            dst, x, y = rnd.choice(names), rnd.choice(names), rnd.choice(names)
            if op in ("add", "discard"):
                for _ in range(rnd.choice([1, 1, 3, 10])):
                    # Discard members more often than not, leaving dummies.
                    env = run(ops)
                    m = member()
                    if op == "discard" and env[dst] and rnd.random() < 0.8:
                        m = order([rnd.choice(sorted(env[dst], key=repr))])[0]
                    ops.append([op, dst, m])
            elif op in ("copy", "rebuild", "update", "intersection_update", "difference_update"):
                ops.append([op, dst, x])
            elif op in ("union", "intersection", "difference"):
                ops.append([op, dst, x, y])
            elif op == "clear":
                ops.append([op, dst])
            elif op == "set":
                ops.append(["tset" if tuples else "set", dst,
                            [member() for _ in range(rnd.choice([0, 3, 30, 60]))]])
            elif not tuples:
                lo = rnd.randint(-20, 400)
                ops.append(["range", dst, lo, lo + rnd.choice([0, 1, 4, 5, 30, 100])])
        env = run(ops)
        yield case("cpython", {}, ops, {nm: order(env[nm]) for nm in names})


def main():
    with open("inputs.json") as f:
        inputs = json.load(f)
    cases = []
    cases += parse_cpu_spec_cases()
    cases += numa_cell_set_cases(inputs["numa_cell_set"])
    cases += free_siblings_cases(inputs["free_siblings"])
    cases += host_siblings_cases(inputs["host_siblings"])
    cases += pinned_cases()
    cases += random_cases(80)
    out = sys.stdout
    out.write('{"python": %s,\n "nova": %s,\n "cases": [\n' % (
        json.dumps(sys.version.split()[0]), json.dumps(version.version_string())))
    for i, c in enumerate(cases):
        out.write("  " + json.dumps(c, separators=(",", ":")) + (",\n" if i < len(cases) - 1 else "\n"))
    out.write("]}\n")


main()

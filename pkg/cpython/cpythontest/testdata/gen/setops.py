# The interpreter of set_order.json's programs, shared by set_order.py and
# by package cpython's test against a live CPython (run as a script, it
# reads a JSON list of programs on stdin and writes, for each, the final
# iteration order of every set it names). Package cpython's Go interpreter
# mirrors this one: keep them in step.
import json
import sys


def item(x):
    return tuple(x) if isinstance(x, list) else x


def run(ops):
    env = {}
    for op in ops:
        name, dst, args = op[0], op[1], op[2:]
        if name in ("set", "tset"):
            env[dst] = set([item(x) for x in args[0]])
        elif name == "range":
            env[dst] = set(range(args[0], args[1]))
        elif name == "add":
            env[dst].add(item(args[0]))
        elif name == "discard":
            env[dst].discard(item(args[0]))
        elif name == "add_tuple":
            env[dst].add(tuple(env[args[0]]))
        elif name == "copy":
            env[dst] = set(env[args[0]])
        elif name == "rebuild":
            env[dst] = set(list(env[args[0]]))
        elif name == "clear":
            env[dst].clear()
        elif name == "update":
            env[dst] |= env[args[0]]
        elif name == "intersection_update":
            env[dst] &= env[args[0]]
        elif name == "difference_update":
            env[dst] -= env[args[0]]
        elif name == "union":
            env[dst] = env[args[0]] | env[args[1]]
        elif name == "intersection":
            env[dst] = env[args[0]] & env[args[1]]
        elif name == "difference":
            env[dst] = env[args[0]] - env[args[1]]
        else:
            raise ValueError(name)
    return env


def order(s):
    return [list(x) if isinstance(x, tuple) else x for x in s]


if __name__ == "__main__":
    out = []
    for ops in json.load(sys.stdin):
        out.append({k: order(v) for k, v in run(ops).items()})
    json.dump({"python": sys.version.split()[0], "orders": out}, sys.stdout)

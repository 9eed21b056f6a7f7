#!/usr/bin/python3
"""Nova NUMA oracle: runs the real OpenStack Nova code on JSON cases.

Run it with the interpreter that can ``import nova`` (Debian: /usr/bin/python3
with python3-nova installed; see oracle/install.sh).

Protocol (JSON lines, one object per line, UTF-8):

* On start the oracle writes a hello line::

    {"oracle": "nova", "protocol": 1, "nova_version": "26.2.2",
     "package_version": "2:26.2.2-1~deb12u5" | null, "python": "3.11.2",
     "timing": "call", "functions": [...]}

* Then, for every input line (a case)::

    {"id": "...", "category": "fit_host",
     "function": "nova/virt/hardware.py:numa_fit_instance_to_host",
     "input": {...}}                       # input as in testdata/vectors/SCHEMA.md

  it writes exactly one answer line, in input order::

    {"id": "...", "expect": {"result": ...}, "elapsed_ns": N}
    {"id": "...", "expect": {"error": "ClassName"}, "message": "...",
     "elapsed_ns": N}
    {"id": "...", "expect": {"error": "ClassName"}, "error_stage": "build",
     "message": "...", "elapsed_ns": 0}
    {"id": "...", "oracle_error": "message"}

  ``expect`` uses exactly the vector schema's encoding, so it can be compared
  with a vector's ``expect`` verbatim.  ``elapsed_ns`` is the in-process time
  of the Nova function call alone (building the Nova objects from JSON and
  encoding the result are not included).  An exception raised while building
  the Nova objects from well-formed JSON (for example
  ``ImageMeta.from_dict`` rejecting ``hw_cpu_policy=foo`` with ValueError) is
  reported as an ``error`` with ``"error_stage": "build"``.  A case that does
  not follow the schema (missing keys, wrong JSON types, unknown function)
  gets ``oracle_error`` and the oracle keeps running.  ``message`` is the
  exception's text, for diagnosis only (vectors record the class alone).

  Note that "null = not set" is taken literally: a host cell whose
  ``mempages``, ``cpu_usage``, ``memory_usage`` or ``socket`` is null is a
  Nova object without that field, and Nova raises NotImplementedError
  ("Cannot load 'mempages' in the base class") when it reads it.  Real hosts
  always have them set; a generator should emit them.

* EOF on stdin ends the process (exit status 0).

Self-check: ``nova_oracle.py --replay FILE`` replays every vector of a vector
file (libvirt_xml vectors are skipped) and prints mismatches and, last,
``N passed, M failed`` (exit status 1 if any failed).

The script is release-neutral on purpose: it uses only public Nova object
constructors and the hardware.py functions named in the schema, and detects
differences between releases by feature (function signatures, object
fields), never by version number.
"""

import inspect
import json
import logging
import os
import platform
import subprocess
import sys
import time

PROTOCOL = 1

# ---------------------------------------------------------------------------
# stdout protection: the protocol owns the original stdout file descriptor.
# Anything else that writes to fd 1 / sys.stdout (a stray print in a library,
# a C extension) goes to stderr instead of corrupting the protocol stream.
# ---------------------------------------------------------------------------


def _claim_stdout():
    proto_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    # Buffered: flush() loops until the whole answer is written, even if
    # the pipe accepts it in pieces.
    return os.fdopen(proto_fd, "wb")


# Populated by _init_nova().
objects = None
hardware = None
CONF = None


def _init_nova():
    global objects, hardware, CONF
    # Logging: nothing on stdout, only errors on stderr.  Debug logging in
    # hardware.py is skipped cheaply when the level is above DEBUG.
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.ERROR)

    import nova.conf
    from nova import objects as nova_objects
    from nova.virt import hardware as nova_hardware

    nova_objects.register_all()
    conf = nova.conf.CONF
    # Parse an empty command line without any config file, so that no
    # /etc/nova/*.conf on the machine can influence the results.
    try:
        conf([], project="nova", default_config_files=[],
             default_config_dirs=[])
    except TypeError:  # very old oslo.config without default_config_dirs
        conf([], project="nova", default_config_files=[])
    objects, hardware, CONF = nova_objects, nova_hardware, conf


def _nova_dir():
    import nova
    return os.path.dirname(os.path.realpath(nova.__file__))


def _nova_version():
    """Version of the nova package actually imported.

    The distribution metadata (what pbr and importlib.metadata read) is
    trusted only if it describes the imported files: with PYTHONPATH pointing
    at another nova tree, the installed package's metadata would lie.
    """
    mod_dir = _nova_dir()
    try:
        from importlib import metadata
        dist = metadata.distribution("nova")
        if os.path.realpath(str(dist.locate_file("nova"))) == mod_dir:
            return dist.version
    except Exception:
        pass
    return "unknown (nova imported from %s)" % mod_dir


def _package_version():
    """dpkg version of the package that owns the imported nova, if any."""
    try:
        init = os.path.join(_nova_dir(), "__init__.py")
        owner = subprocess.run(
            ["dpkg-query", "-S", init], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, timeout=10, check=False)
        pkg = owner.stdout.decode().split(":", 1)[0].strip()
        if owner.returncode != 0 or not pkg:
            return None
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", pkg],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=10,
            check=False)
        v = out.stdout.decode().strip()
        return v or None
    except Exception:
        return None


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class CaseError(Exception):
    """The case does not follow the schema (reported as oracle_error)."""


class BuildError(Exception):
    """Nova rejected the inputs while its objects were built."""

    def __init__(self, exc):
        super().__init__(str(exc))
        self.exc = exc


# ---------------------------------------------------------------------------
# Structural checks on the JSON input (malformed -> oracle_error)
# ---------------------------------------------------------------------------


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _int(v, path, nullable=False):
    if v is None and nullable:
        return None
    if not _is_int(v):
        raise CaseError("%s: expected int%s, got %s"
                        % (path, " or null" if nullable else "", _jtype(v)))
    return v


def _num(v, path):
    if not (_is_int(v) or isinstance(v, float)):
        raise CaseError("%s: expected number, got %s" % (path, _jtype(v)))
    return v


def _bool(v, path):
    if not isinstance(v, bool):
        raise CaseError("%s: expected bool, got %s" % (path, _jtype(v)))
    return v


def _str(v, path, nullable=False):
    if v is None and nullable:
        return None
    if not isinstance(v, str):
        raise CaseError("%s: expected string%s, got %s"
                        % (path, " or null" if nullable else "", _jtype(v)))
    return v


def _int_set(v, path, nullable=True):
    if v is None and nullable:
        return None
    if not isinstance(v, list):
        raise CaseError("%s: expected list of int%s, got %s"
                        % (path, " or null" if nullable else "", _jtype(v)))
    for i, x in enumerate(v):
        _int(x, "%s[%d]" % (path, i))
    return set(v)


def _obj(v, path, nullable=False):
    if v is None and nullable:
        return None
    if not isinstance(v, dict):
        raise CaseError("%s: expected object%s, got %s"
                        % (path, " or null" if nullable else "", _jtype(v)))
    return v


def _list(v, path):
    if not isinstance(v, list):
        raise CaseError("%s: expected list, got %s" % (path, _jtype(v)))
    return v


def _jtype(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


def _known_keys(d, allowed, path):
    unknown = set(d) - set(allowed)
    if unknown:
        raise CaseError("%s: unknown field(s) %s" % (path, sorted(unknown)))


def _req(d, key, path):
    if key not in d:
        raise CaseError("%s: missing field %r" % (path, key))
    return d[key]


# ---------------------------------------------------------------------------
# JSON -> Nova objects.  Every builder first checks the JSON structure
# (CaseError), then constructs the Nova objects; exceptions raised by Nova's
# own constructors/coercion are wrapped in BuildError.  A null field is left
# unset on the Nova object (the schema's "null = not set").
# ---------------------------------------------------------------------------


def _nova(fn, *a, **kw):
    try:
        return fn(*a, **kw)
    except (CaseError, BuildError):
        raise
    except Exception as e:  # noqa: BLE001 - reported by class name
        raise BuildError(e)


def _network_metadata(d, path):
    _obj(d, path)
    _known_keys(d, ("physnets", "tunneled"), path)
    kw = {}
    if d.get("physnets") is not None:
        phys = _list(d["physnets"], path + ".physnets")
        for i, p in enumerate(phys):
            _str(p, "%s.physnets[%d]" % (path, i))
        kw["physnets"] = set(phys)
    if d.get("tunneled") is not None:
        kw["tunneled"] = _bool(d["tunneled"], path + ".tunneled")
    return _nova(objects.NetworkMetadata, **kw)


def build_flavor(d, path="flavor"):
    _obj(d, path)
    kw = {}
    for k, v in d.items():
        if v is None:
            continue
        if k == "extra_specs":
            _obj(v, path + ".extra_specs")
            for sk, sv in v.items():
                _str(sv, "%s.extra_specs[%r]" % (path, sk))
            kw[k] = dict(v)
        elif k in ("vcpus", "memory_mb", "root_gb", "ephemeral_gb", "swap",
                   "id", "flavorid", "rxtx_factor", "vcpu_weight",
                   "disabled", "is_public", "name", "description"):
            kw[k] = v
        else:
            raise CaseError("%s: unknown field %r" % (path, k))
    for k in ("vcpus", "memory_mb"):
        if k in kw:
            _int(kw[k], "%s.%s" % (path, k))
    return _nova(objects.Flavor, **kw)


def build_image(props, path="image_props"):
    _obj(props, path)
    for k, v in props.items():
        _str(v, "%s[%r]" % (path, k))
    return _nova(objects.ImageMeta.from_dict, {"properties": dict(props)})


_HOST_CELL_KEYS = ("id", "cpuset", "pcpuset", "pinned_cpus", "memory",
                   "cpu_usage", "memory_usage", "socket", "siblings",
                   "mempages", "network_metadata")


def build_host_cell(d, path):
    _obj(d, path)
    _known_keys(d, _HOST_CELL_KEYS, path)
    kw = {}
    for k in ("id", "memory", "cpu_usage", "memory_usage", "socket"):
        if d.get(k) is not None:
            kw[k] = _int(d[k], "%s.%s" % (path, k))
    for k in ("cpuset", "pcpuset", "pinned_cpus"):
        if d.get(k) is not None:
            kw[k] = _int_set(d[k], "%s.%s" % (path, k))
    if d.get("siblings") is not None:
        sibs = _list(d["siblings"], path + ".siblings")
        kw["siblings"] = [_int_set(s, "%s.siblings[%d]" % (path, i), False)
                          for i, s in enumerate(sibs)]
    if d.get("mempages") is not None:
        pages = []
        for i, p in enumerate(_list(d["mempages"], path + ".mempages")):
            pp = "%s.mempages[%d]" % (path, i)
            _obj(p, pp)
            _known_keys(p, ("size_kb", "total", "used", "reserved"), pp)
            pkw = {k: _int(p[k], "%s.%s" % (pp, k))
                   for k in ("size_kb", "total", "used", "reserved")
                   if p.get(k) is not None}
            pages.append(_nova(objects.NUMAPagesTopology, **pkw))
        kw["mempages"] = pages
    if d.get("network_metadata") is not None:
        kw["network_metadata"] = _network_metadata(
            d["network_metadata"], path + ".network_metadata")
    return _nova(objects.NUMACell, **kw)


def build_host_topology(d, path="host_topology"):
    if d is None:
        return None
    _obj(d, path)
    _known_keys(d, ("cells",), path)
    cells = _list(_req(d, "cells", path), path + ".cells")
    built = [build_host_cell(c, "%s.cells[%d]" % (path, i))
             for i, c in enumerate(cells)]
    return _nova(objects.NUMATopology, cells=built)


_INST_CELL_KEYS = ("id", "cpuset", "pcpuset", "memory", "pagesize",
                   "cpu_policy", "cpu_thread_policy", "cpu_pinning",
                   "cpuset_reserved", "cpu_topology")


def build_instance_cell(d, path):
    _obj(d, path)
    _known_keys(d, _INST_CELL_KEYS, path)
    kw = {}
    for k in ("id", "memory", "pagesize"):
        if d.get(k) is not None:
            kw[k] = _int(d[k], "%s.%s" % (path, k))
    for k in ("cpuset", "pcpuset", "cpuset_reserved"):
        if d.get(k) is not None:
            kw[k] = _int_set(d[k], "%s.%s" % (path, k))
    for k in ("cpu_policy", "cpu_thread_policy"):
        if d.get(k) is not None:
            kw[k] = _str(d[k], "%s.%s" % (path, k))
    pinning = None
    if d.get("cpu_pinning") is not None:
        _obj(d["cpu_pinning"], path + ".cpu_pinning")
        pinning = {}
        for vk, hv in d["cpu_pinning"].items():
            try:
                vcpu = int(vk)
            except ValueError:
                raise CaseError("%s.cpu_pinning: key %r is not an int"
                                % (path, vk)) from None
            pinning[vcpu] = _int(hv, "%s.cpu_pinning[%r]" % (path, vk))
    if d.get("cpu_topology") is not None:
        t = _obj(d["cpu_topology"], path + ".cpu_topology")
        _known_keys(t, ("sockets", "cores", "threads"), path + ".cpu_topology")
        tkw = {k: _int(t[k], "%s.cpu_topology.%s" % (path, k))
               for k in ("sockets", "cores", "threads")
               if t.get(k) is not None}
        kw["cpu_topology"] = _nova(objects.VirtCPUTopology, **tkw)
    cell = _nova(objects.InstanceNUMACell, **kw)
    if pinning is not None:
        _nova(setattr, cell, "cpu_pinning", pinning)
    return cell


def build_instance_topology(d, path="instance_topology"):
    if d is None:
        return None
    _obj(d, path)
    _known_keys(d, ("cells", "emulator_threads_policy"), path)
    cells = _list(_req(d, "cells", path), path + ".cells")
    kw = {"cells": [build_instance_cell(c, "%s.cells[%d]" % (path, i))
                    for i, c in enumerate(cells)]}
    if d.get("emulator_threads_policy") is not None:
        kw["emulator_threads_policy"] = _str(
            d["emulator_threads_policy"], path + ".emulator_threads_policy")
    return _nova(objects.InstanceNUMATopology, **kw)


def build_limits(d, path="limits"):
    if d is None:
        return None
    _obj(d, path)
    _known_keys(d, ("cpu_allocation_ratio", "ram_allocation_ratio",
                    "network_metadata"), path)
    kw = {}
    for k in ("cpu_allocation_ratio", "ram_allocation_ratio"):
        if d.get(k) is not None:
            kw[k] = _num(d[k], "%s.%s" % (path, k))
    if d.get("network_metadata") is not None:
        kw["network_metadata"] = _network_metadata(
            d["network_metadata"], path + ".network_metadata")
    return _nova(objects.NUMATopologyLimits, **kw)


# ---------------------------------------------------------------------------
# Nova objects -> JSON, in the vector schema's encoding
# ---------------------------------------------------------------------------


def _field(o, name):
    """Value of a Nova object field, or None when it is not set."""
    if name in o.fields and o.obj_attr_is_set(name):
        return getattr(o, name)
    return None


def _sorted_set(v):
    return None if v is None else sorted(v)


def _enc_network_metadata(o):
    return {"physnets": _sorted_set(_field(o, "physnets")),
            "tunneled": _field(o, "tunneled")}


def _enc_pages(o):
    return {"size_kb": _field(o, "size_kb"), "total": _field(o, "total"),
            "used": _field(o, "used"), "reserved": _field(o, "reserved")}


def _enc_host_cell(o):
    sibs = _field(o, "siblings")
    pages = _field(o, "mempages")
    d = {
        "id": _field(o, "id"),
        "cpuset": _sorted_set(_field(o, "cpuset")),
        "pcpuset": _sorted_set(_field(o, "pcpuset")),
        "pinned_cpus": _sorted_set(_field(o, "pinned_cpus")),
        "memory": _field(o, "memory"),
        "cpu_usage": _field(o, "cpu_usage"),
        "memory_usage": _field(o, "memory_usage"),
        "socket": _field(o, "socket"),
        "siblings": None if sibs is None else [sorted(s) for s in sibs],
        "mempages": None if pages is None else [_enc_pages(p) for p in pages],
    }
    nm = _field(o, "network_metadata")
    if nm is not None:
        d["network_metadata"] = _enc_network_metadata(nm)
    return d


def _enc_cpu_topology(o):
    return {"sockets": _field(o, "sockets"), "cores": _field(o, "cores"),
            "threads": _field(o, "threads")}


def _pinning(o):
    if "cpu_pinning_raw" in o.fields:
        raw = _field(o, "cpu_pinning_raw")
    elif "cpu_pinning" in o.fields:
        raw = _field(o, "cpu_pinning")
    else:
        raw = getattr(o, "cpu_pinning", None)
    if raw is None:
        return None
    return {str(k): v for k, v in sorted(raw.items(), key=lambda kv: int(kv[0]))}


def _enc_instance_cell(o):
    d = {
        "id": _field(o, "id"),
        "memory": _field(o, "memory"),
        "pagesize": _field(o, "pagesize"),
        "cpu_policy": _field(o, "cpu_policy"),
        "cpu_thread_policy": _field(o, "cpu_thread_policy"),
        "cpuset": _sorted_set(_field(o, "cpuset")),
        "pcpuset": _sorted_set(_field(o, "pcpuset")),
        "cpuset_reserved": _sorted_set(_field(o, "cpuset_reserved")),
        "cpu_pinning": _pinning(o),
    }
    topo = _field(o, "cpu_topology")
    if topo is not None:
        d["cpu_topology"] = _enc_cpu_topology(topo)
    return d


def encode(v):
    """Encode a Nova return value the way the vectors encode results."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (set, frozenset)):
        return sorted(v)
    if isinstance(v, (list, tuple)):
        return [encode(x) for x in v]
    if isinstance(v, dict):
        return {str(k): encode(x) for k, x in v.items()}
    name = v.obj_name() if hasattr(v, "obj_name") else type(v).__name__
    if name == "InstanceNUMATopology":
        return {"cells": [_enc_instance_cell(c) for c in v.cells],
                "emulator_threads_policy": _field(v, "emulator_threads_policy")}
    if name == "InstanceNUMACell":
        return _enc_instance_cell(v)
    if name == "NUMATopology":
        return {"cells": [_enc_host_cell(c) for c in v.cells]}
    if name == "NUMACell":
        return _enc_host_cell(v)
    if name == "NUMAPagesTopology":
        return _enc_pages(v)
    if name == "VirtCPUTopology":
        return _enc_cpu_topology(v)
    if name == "NetworkMetadata":
        return _enc_network_metadata(v)
    raise CaseError("cannot encode result of type %s" % name)


# ---------------------------------------------------------------------------
# Configuration overrides (only what the schema's "conf" objects carry)
# ---------------------------------------------------------------------------

_CONF_KEYS = {
    # schema key -> (oslo.config group, option name)
    "packing_host_numa_cells_allocation_strategy":
        ("compute", "packing_host_numa_cells_allocation_strategy"),
}
_active_overrides = {}


def _apply_conf(conf, path="conf"):
    """Make exactly the given overrides active (others back to default)."""
    conf = {} if conf is None else _obj(conf, path)
    wanted = {}
    for k, v in conf.items():
        if k not in _CONF_KEYS:
            raise CaseError("%s: unsupported option %r" % (path, k))
        if v is not None:
            wanted[k] = v
    for k in list(_active_overrides):
        if k not in wanted:
            group, name = _CONF_KEYS[k]
            CONF.clear_override(name, group=group)
            del _active_overrides[k]
    for k, v in wanted.items():
        if k in _active_overrides and _active_overrides[k] == v \
                and type(_active_overrides[k]) is type(v):
            continue
        group, name = _CONF_KEYS[k]
        try:
            CONF.set_override(name, v, group=group)
        except Exception as e:  # noqa: BLE001
            raise CaseError("%s.%s: cannot set: %s: %s"
                            % (path, k, type(e).__name__, e)) from None
        _active_overrides[k] = v


# ---------------------------------------------------------------------------
# Categories.  Each preparer checks/builds the inputs and returns a
# zero-argument callable that performs exactly the Nova call.
# ---------------------------------------------------------------------------

HW = "nova/virt/hardware.py:"


def _hw(name):
    fn = getattr(hardware, name, None)
    if fn is None:
        raise CaseError("this Nova has no nova.virt.hardware.%s" % name)
    return fn


def _flavor_image(inp, extra=()):
    _known_keys(inp, ("flavor", "image_props") + tuple(extra), "input")
    flavor = build_flavor(_req(inp, "flavor", "input"))
    image = build_image(inp.get("image_props") or {})
    return flavor, image


def prep_flavor_image(name):
    def prep(inp):
        fn = _hw(name)
        flavor, image = _flavor_image(inp)
        return lambda: fn(flavor, image)
    return prep


def prep_cpu_topology(name):
    def prep(inp):
        fn = _hw(name)
        flavor, image = _flavor_image(inp, ("allow_threads",))
        allow = inp.get("allow_threads")
        if allow is None:
            return lambda: fn(flavor, image)
        _bool(allow, "input.allow_threads")
        return lambda: fn(flavor, image, allow)
    return prep


def prep_fit_host(inp):
    fn = _hw("numa_fit_instance_to_host")
    _known_keys(inp, ("host_topology", "instance_topology", "limits", "conf"),
                "input")
    host = build_host_topology(inp.get("host_topology"))
    inst = build_instance_topology(inp.get("instance_topology"))
    limits = build_limits(inp.get("limits"))
    _apply_conf(inp.get("conf"))
    kw = {"limits": limits}
    # Nova >= 27 added a positional 'provider_mapping' parameter (placement
    # allocation -> PCI/NUMA mapping); the vectors carry no PCI requests.
    params = _params(fn)
    if "provider_mapping" in params:
        kw["provider_mapping"] = None
    return lambda: fn(host, inst, **kw)


def prep_fit_cell(inp):
    fn = _hw("_numa_fit_instance_cell")
    _known_keys(inp, ("host_cell", "instance_cell", "limits",
                      "cpuset_reserved"), "input")
    hc = build_host_cell(_req(inp, "host_cell", "input"), "input.host_cell")
    ic = build_instance_cell(_req(inp, "instance_cell", "input"),
                             "input.instance_cell")
    limits = build_limits(inp.get("limits"))
    reserved = inp.get("cpuset_reserved")
    if reserved is None:
        return lambda: fn(hc, ic, limits)
    _int(reserved, "input.cpuset_reserved")
    return lambda: fn(hc, ic, limits, reserved)


def prep_usage(inp):
    fn = _hw("numa_usage_from_instance_numa")
    _known_keys(inp, ("host_topology", "instance_topology", "free"), "input")
    host = build_host_topology(inp.get("host_topology"))
    inst = build_instance_topology(inp.get("instance_topology"))
    free = inp.get("free")
    if free is None:
        return lambda: fn(host, inst)
    _bool(free, "input.free")
    return lambda: fn(host, inst, free=free)


_params_cache = {}


def _params(fn):
    p = _params_cache.get(fn)
    if p is None:
        p = _params_cache[fn] = frozenset(inspect.signature(fn).parameters)
    return p


# function string -> (category, preparer)
DISPATCH = {
    HW + "numa_get_constraints":
        ("constraints", prep_flavor_image("numa_get_constraints")),
    HW + "get_cpu_policy_constraint":
        ("policy", prep_flavor_image("get_cpu_policy_constraint")),
    HW + "get_realtime_cpu_constraint":
        ("policy", prep_flavor_image("get_realtime_cpu_constraint")),
    HW + "_get_numa_pagesize_constraint":
        ("policy", prep_flavor_image("_get_numa_pagesize_constraint")),
    HW + "numa_fit_instance_to_host": ("fit_host", prep_fit_host),
    HW + "_numa_fit_instance_cell": ("fit_cell", prep_fit_cell),
    HW + "numa_usage_from_instance_numa": ("usage", prep_usage),
    HW + "_get_desirable_cpu_topologies":
        ("cpu_topology", prep_cpu_topology("_get_desirable_cpu_topologies")),
    HW + "get_best_cpu_topology":
        ("cpu_topology", prep_cpu_topology("get_best_cpu_topology")),
}


def _msg(e, limit=500):
    try:
        m = str(e)
    except Exception:  # noqa: BLE001 - a broken __str__ must not matter
        m = "<unprintable %s>" % type(e).__name__
    return m if len(m) <= limit else m[:limit] + "..."


def run_case(case):
    """Run one decoded case; return the answer object (never raises)."""
    cid = case.get("id") if isinstance(case, dict) else None
    try:
        if not isinstance(case, dict):
            raise CaseError("case must be a JSON object")
        function = _str(case.get("function"), "function")
        category = _str(case.get("category"), "category", nullable=True)
        entry = DISPATCH.get(function)
        if entry is None:
            if category == "libvirt_xml" or "/libvirt/" in function:
                raise CaseError("unsupported: libvirt_xml cases need a "
                                "libvirt driver object")
            raise CaseError("unsupported function %r" % function)
        want_cat, prep = entry
        if category is not None and category != want_cat:
            raise CaseError("function %s belongs to category %r, not %r"
                            % (function, want_cat, category))
        inp = _obj(case.get("input"), "input")
        try:
            call = prep(inp)
        except BuildError as be:
            return {"id": cid, "expect": {"error": type(be.exc).__name__},
                    "error_stage": "build", "message": _msg(be.exc),
                    "elapsed_ns": 0}
        t0 = time.perf_counter_ns()
        try:
            ret = call()
        except Exception as e:  # noqa: BLE001 - reported by class name
            el = time.perf_counter_ns() - t0
            return {"id": cid, "expect": {"error": type(e).__name__},
                    "message": _msg(e), "elapsed_ns": el}
        el = time.perf_counter_ns() - t0
        return {"id": cid, "expect": {"result": encode(ret)},
                "elapsed_ns": el}
    except CaseError as e:
        return {"id": cid, "oracle_error": str(e)}
    except Exception as e:  # noqa: BLE001 - a bug here must not kill us
        return {"id": cid,
                "oracle_error": "internal: %s: %s" % (type(e).__name__, e)}


def hello():
    return {
        "oracle": "nova",
        "protocol": PROTOCOL,
        "nova_version": _nova_version(),
        "package_version": _package_version(),
        "python": platform.python_version(),
        "timing": "call",
        # Only what this Nova actually has (a private helper may be renamed
        # in another release).
        "functions": sorted(f for f in DISPATCH
                            if hasattr(hardware, f.split(":", 1)[1])),
    }


def _dumps(obj):
    return (json.dumps(obj, separators=(",", ":"), allow_nan=False)
            + "\n").encode("utf-8")


def serve(out):
    out.write(_dumps(hello()))
    out.flush()
    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline()
        if not line:
            return 0
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except ValueError as e:
            ans = {"id": None, "oracle_error": "invalid JSON: %s" % e}
        else:
            ans = run_case(case)
        try:
            data = _dumps(ans)
        except (TypeError, ValueError) as e:
            data = _dumps({"id": ans.get("id") if isinstance(
                ans.get("id"), (str, int, type(None))) else None,
                "oracle_error": "cannot encode answer: %s" % e})
        out.write(data)
        out.flush()


# ---------------------------------------------------------------------------
# --replay: self-check against a vector file
# ---------------------------------------------------------------------------


def same(a, b):
    """Exact JSON equality that keeps int, float and bool apart."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def replay(path, out):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    passed = failed = skipped = 0
    h = hello()
    out.write(("# nova %s (%s), python %s\n" % (
        h["nova_version"], h["package_version"], h["python"])).encode())
    for v in doc.get("vectors", []):
        if v.get("category") == "libvirt_xml":
            skipped += 1
            continue
        ans = run_case({"id": v.get("id"), "category": v.get("category"),
                        "function": v.get("function"),
                        "input": v.get("input")})
        got = ans.get("expect")
        if got is not None and same(got, v.get("expect")):
            passed += 1
            continue
        failed += 1
        detail = ("oracle_error: " + ans["oracle_error"]) \
            if "oracle_error" in ans else json.dumps(got, sort_keys=True)
        out.write(("MISMATCH %s (%s)\n  want %s\n  got  %s\n" % (
            v.get("id"), v.get("function"),
            json.dumps(v.get("expect"), sort_keys=True), detail)).encode())
    if skipped:
        out.write(("# skipped %d libvirt_xml vectors\n" % skipped).encode())
    out.write(("%d passed, %d failed\n" % (passed, failed)).encode())
    return 1 if failed else 0


def main(argv):
    out = _claim_stdout()
    try:
        _init_nova()
    except Exception as e:  # noqa: BLE001
        sys.stderr.write("nova_oracle: cannot import/initialise nova with "
                         "%s: %s: %s\n" % (sys.executable, type(e).__name__, e))
        return 3
    if len(argv) == 2 and argv[0] == "--replay":
        rc = replay(argv[1], out)
        out.flush()
        return rc
    if argv:
        sys.stderr.write("usage: nova_oracle.py [--replay VECTORS.json]\n")
        return 2
    try:
        return serve(out)
    except BrokenPipeError:
        return 0  # the client went away


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

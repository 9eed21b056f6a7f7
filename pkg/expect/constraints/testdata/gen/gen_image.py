import json, random, sys, warnings
warnings.simplefilter("ignore")
from nova import objects
objects.register_all()
P = objects.ImageMetaProps
rnd = random.Random(5)
keys = list(P.fields) + list(P._legacy_property_map) + ["vmware_adaptertype", "hw_numa_cpus.0", "hw_numa_mem.0", "traits_required", "trait:FOO", "unknown_prop"]
generic = ["", "x", "1", "-3", " 7 ", "true", "no", "Foo", "1_000", "\u0663", "\x1c5", "5\x85", "1.5", "\u00b2"]
cases = []
for k in keys:
    if k.startswith("trait"): continue
    f = P.fields.get(k) or P.fields.get(P._legacy_property_map.get(k, ""), None)
    vals = list(generic)
    if f is not None:
        vv = getattr(f._type, "_valid_values", None) or ()
        for v in vv:
            vals += [v, v.upper(), v.capitalize()]
    if k in ("architecture", "hw_architecture", "hw_emulation_architecture"):
        vals += ["amd64", "i386", "X86_32", "\u0130686", "AMD64"]
    if k in ("vm_mode", "hw_vm_mode"):
        vals += ["pv", "HV", "baremetal"]
    if k in ("hypervisor_type", "img_hv_type"):
        vals += ["xapi", "XAPI"]
    if k in ("vmware_adaptertype", "hw_scsi_model"):
        vals += ["lsiLogicSAS", "paravirtual", "ide", "IDE", "busLogic"]
    if k == "hw_vif_model":
        vals += ["VirtualE1000", "virtualvmxnet3", "VirtualPCNet32"]
    if k in ("hypervisor_version_requires", "img_hv_requested_version"):
        vals += [">=2.6", "<1.0, >=0.5", ">= 1.2.3a4", "==1", ">1.0)\nx", ">=1.0 ", "!=1.0b1", "<=1.0.0.0", ">=1.0,", ">=1.0\n", "\u00a0>=1.0", "=>1.0", "<==1.0", ">=1.0a", ">=01.02", "(>=1.0)", ">=1.0) (", " ( >=1.0", ">=1.0\u3000"]
    for v in vals:
        cases.append({"flavor": {"vcpus": 2, "memory_mb": 1024, "extra_specs": {}}, "image_props": {k: v}, "only": ["get_cpu_policy_constraint"], "tag": "image"})
json.dump(cases, sys.stdout)

# Pull the data-driven cases out of Nova's own unit tests (test_hardware.py)
# and emit them as cases for run_nova.py.
import ast, json, sys, warnings
warnings.simplefilter("ignore")
from nova import objects, exception
from nova.objects import fields
objects.register_all()
src = open('/usr/lib/python3/dist-packages/nova/tests/unit/virt/test_hardware.py').read()
tree = ast.parse(src)
cases = []
for cls in tree.body:
    if not isinstance(cls, ast.ClassDef): continue
    for fn in cls.body:
        if not isinstance(fn, ast.FunctionDef): continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign) and getattr(node.targets[0], 'id', None) == 'testdata':
                try:
                    data = eval(compile(ast.Expression(node.value), 'x', 'eval'),
                                {'objects': objects, 'exception': exception, 'fields': fields, 'set': set})
                except Exception as e:
                    print('skip', cls.name, fn.name, e, file=sys.stderr); continue
                for item in data:
                    if not isinstance(item, dict) or 'flavor' not in item: continue
                    fl = item['flavor']
                    if not isinstance(fl, objects.Flavor): continue
                    f = {}
                    for k in ('vcpus', 'memory_mb'):
                        if k in fl: f[k] = getattr(fl, k)
                    f['extra_specs'] = {k: str(v) for k, v in (fl.extra_specs if 'extra_specs' in fl else {}).items()}
                    img = item.get('image', {})
                    props = img.get('properties', {}) if isinstance(img, dict) else {}
                    props = {k: str(v) for k, v in props.items()}
                    c = {"flavor": f, "image_props": props, "tag": "novatest", "origin": "%s.%s" % (cls.name, fn.name)}
                    if 'vcpus' not in f:
                        c['only'] = ['get_cpu_policy_constraint', '_get_numa_pagesize_constraint']
                    cases.append(c)
                    for at in (False,):
                        c2 = dict(c); c2['allow_threads'] = at; c2['only'] = ['_get_desirable_cpu_topologies']
                        if 'vcpus' in f: cases.append(c2)
print(len(cases), file=sys.stderr)
json.dump(cases, sys.stdout)

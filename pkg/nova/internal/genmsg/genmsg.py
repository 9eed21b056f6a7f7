"""Writes pkg/nova/messages.json: the msg_fmt of every exception class named
in exceptions.txt, read from the installed Nova (Debian's python3-nova,
run with /usr/bin/python3). The API puts the formatted msg_fmt in a 400
body; the harness matches bodies against these templates."""
import json
import os
import sys

from nova import exception

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.normpath(os.path.join(here, '..', '..'))
out = {}
with open(os.path.join(root, 'exceptions.txt')) as f:
    for line in f:
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        cls = getattr(exception, line.split()[0], None)
        if cls is not None and hasattr(cls, 'msg_fmt'):
            out[cls.__name__] = cls.msg_fmt
with open(os.path.join(root, 'messages.json'), 'w') as f:
    json.dump(out, f, indent=1, sort_keys=True)
    f.write('\n')
print('messages.json: %d classes' % len(out), file=sys.stderr)

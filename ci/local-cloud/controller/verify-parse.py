#!/usr/bin/python3
"""Checks the answers of controller.sh's verification (stdin: the JSON
documents printed by one `openstack` process running, in this order,
`compute service list`, `network list`, `image list`, `resource provider
list`). Prints a one-line summary; exits 1 (with the reason) unless all four
answered and nova-conductor and nova-scheduler are up."""

import json
import sys

NAMES = ["compute service list", "network list", "image list",
         "resource provider list"]


def main():
    text = sys.stdin.read()
    decoder = json.JSONDecoder()
    docs, pos = [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        try:
            doc, pos = decoder.raw_decode(text, pos)
        except ValueError:
            break
        docs.append(doc)
    if len(docs) != len(NAMES) or not all(isinstance(d, list) for d in docs):
        print("only %d of %d commands answered (%s expected)"
              % (len(docs), len(NAMES), ", ".join(NAMES)))
        return 1
    services, networks, images, providers = docs
    states = {}
    for s in services:
        states.setdefault(s.get("Binary"), []).append(s.get("State"))
    missing = [b for b in ("nova-conductor", "nova-scheduler")
               if "up" not in states.get(b, [])]
    compute = ", ".join("%s %s" % (b, "/".join(v))
                        for b, v in sorted(states.items()))
    if missing:
        print("not up in compute service list: %s (have: %s)"
              % (", ".join(missing), compute or "none"))
        return 1
    print("compute services: %s | networks: %d, images: %d, resource "
          "providers: %d" % (compute, len(networks), len(images),
                             len(providers)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

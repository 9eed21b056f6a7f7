#!/bin/sh
# Regenerates ../nova_differential.json by running Nova 26.2.2 itself. Needs Debian 12's python3-nova; run from this
# directory. Takes about two minutes.
set -eu
PY=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
here=$(pwd)
$PY extract_tests.py > "$work/novatest_cases.json"
$PY run_nova.py < "$work/novatest_cases.json" > "$work/novatest_vectors.json"
$PY gen_cases.py 1 3000 | $PY run_nova.py > "$work/gen_vectors.json"
for s in 2 3 4; do
	$PY gen_cases.py $s 3000 | $PY run_nova.py > "$work/gen_vectors_$s.json"
done
$PY gen_manual.py 3 4000 | $PY run_nova.py > "$work/manual_vectors.json"
$PY gen_image.py | $PY run_nova.py > "$work/image_vectors.json"
$PY gen_page.py | $PY run_nova.py > "$work/page_vectors.json"
$PY gen_topo.py | $PY run_nova.py > "$work/topo_vectors.json"
(cd "$work" && $PY "$here/sample.py") > ../nova_differential.json

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the seed corpus of tests/fuzz/fuzz_etcd.c into tests/fuzz/corpus/etcd:
# gateway range answers in both layouts (blocks of 16, coarse), with block
# values as etcd_codec.c writes them (leases in every state, attributes,
# gone pools), and bare block values. Each file is named by its SHA-1.
import base64, hashlib, json, os, sys

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "etcd")
os.makedirs(out, exist_ok=True)

def b64(s):
    return base64.b64encode(s.encode()).decode()

def lease(addr, owner, state="bound", gen=None, **kw):
    l = {"addr": addr, "owner": owner, "ifname": "eth0", "attachment": "c-" + owner,
         "node": "node-1", "state": state, "created": 1800000000, "updated": 1800000005}
    if gen is not None:
        l["gen"] = gen
    l.update(kw)
    return l

def value(*leases):
    return json.dumps({"v": 1, "leases": list(leases)}, separators=(",", ":"))

def answer(kvs, rev=42):
    return json.dumps({"header": {"revision": str(rev)},
                       "kvs": [{"key": b64(k), "value": b64(v), "mod_revision": str(m)}
                               for k, v, m in kvs], "count": str(len(kvs))})

def write(flags, text):
    data = bytes([flags]) + text.encode()
    with open(os.path.join(out, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)

v4a = value(lease("10.9.0.2", "ns/a", gen=5), lease("10.9.0.3", "ns/b", "suspect",
            suspect_since=1800000100), lease("10.9.0.7", "ops", "reserved"))
v4q = value(lease("10.9.0.17", "ns/old", "quarantined", gen=9),
            lease("10.9.0.18", "ns/c", attrs=[["k8s.pod.uid", "u-1"], ["x", "y"]], expires=1800003600))
v6a = value(lease("fd00:9::2", "ns/a"), lease("fd00:9::3", "ns/b", "bound", gen=11))
gone = value(lease("10.10.0.5", "ns/x", "quarantined"))
held_gone = value(lease("10.10.0.6", "ns/y"))
blocks = "/f/net/blocks/"
z = "0" * 31
# blocks of 16
write(1, answer([(blocks + "v4/" + z + "0", v4a, 40), (blocks + "v4/" + z + "1", v4q, 41),
                 (blocks + "v6/" + z + "0", v6a, 42)]))
write(1, answer([(blocks + "gone/" + z + "0", gone, 7), (blocks + "gone/" + z + "1", held_gone, 8)]))
write(1, answer([(blocks + "v4/" + z + "0", "", 3)]))  # an emptied block
write(1, answer([], rev=9))
# coarse
pools = "/f/net/pools/"
write(0, answer([(pools + "v4", value(*(json.loads(v4a)["leases"] + json.loads(v4q)["leases"])), 50),
                 (pools + "v6", v6a, 51), (pools + "gone", gone, 52)]))
# bare values
for v in (v4a, v4q, v6a, gone, held_gone):
    write(0, v)
# refusals the decoder must report cleanly
write(0, value(lease("10.9.0.0", "ns/net-addr")))           # not allocatable
write(0, value(lease("10.9.0.2", "a"), lease("10.9.0.2", "b")))  # two for one address
write(1, value(lease("10.9.0.40", "ns/other-block")))        # block 2 read as block 0
write(0, '{"v":2,"leases":[]}')
write(1, answer([(blocks + "v4/" + z + "0", v4a, 0)]))       # no mod_revision
write(1, '{"header":{"revision":"1"},"kvs":[{"key":"!!"}]}')
print("wrote", len(os.listdir(out)), "files to", out)

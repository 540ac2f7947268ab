"""Extra client-side actions for e2e_migrate.sh (stdlib only; reads the fakehub manifest).

  migrate_client.py blobs MANIFEST SPEC...          print "name size" of every blob the SPECs need
  migrate_client.py saving MANIFEST "SPEC..." "SPEC..."
                                                  bytes of the blobs both sets need: what migrating the
                                                  second private cache after the first must not copy again
  migrate_client.py count DIR                      number of blob files under DIR/*/blobs

SPEC is REPO@REV (every file of that revision) or REPO@REV:PATH (one file).
"""

import json
import os
import sys


def blobs(manifest, specs):
    with open(manifest) as f:
        m = json.load(f)
    out = {}
    for spec in specs:
        repo, _, rest = spec.partition("@")
        rev, _, path = rest.partition(":")
        files = m[repo]["revisions"][rev]["files"]
        for p, info in files.items():
            if not path or p == path:
                out[(repo, info["blob"])] = info["size"]
    return out


def main(argv):
    cmd = argv[0]
    if cmd == "blobs":
        for (repo, name), size in sorted(blobs(argv[1], argv[2:]).items()):
            print(repo, name, size)
    elif cmd == "saving":
        a = blobs(argv[1], argv[2].split())
        b = blobs(argv[1], argv[3].split())
        print(sum(size for key, size in b.items() if key in a))
    elif cmd == "count":
        n = 0
        for repo in os.listdir(argv[1]):
            d = os.path.join(argv[1], repo, "blobs")
            if os.path.isdir(d):
                n += len([x for x in os.listdir(d) if not x.startswith(".")])
        print(n)
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv[1:])

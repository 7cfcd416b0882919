#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compile and link one static PIE program with musl (frontends/meson.build).

usage: musl-build.py OUT DEPFILE WORKDIR MUSL_GCC [CFLAGS...] --headers H... --sources S...
                     --link ARCHIVES...

Meson cannot use two C compilers for one machine, so ipam-cni's musl build
is a custom target that runs this: every source is compiled to an object in
WORKDIR (two at a time, each with a dependency file), then linked into OUT;
the dependency files are merged into DEPFILE so that Meson rebuilds OUT when
any header changes. musl-gcc searches only musl's headers: the few other
headers the sources need (jansson's, xxHash's) are linked into WORKDIR/include
and that directory comes after musl's. Debian's musl-gcc cannot link a static
PIE (its specs always name the dynamic loader and the dynamic start file),
so the link is gcc's own with musl's rcrt1.o, crti.o, crtn.o and libc.a,
found beside the specs file that musl-gcc names.
"""
import concurrent.futures
import os
import re
import subprocess
import sys


def split(argv):
    parts = {'cflags': [], '--headers': [], '--sources': [], '--link': []}
    key = 'cflags'
    for a in argv:
        if a in parts:
            key = a
        else:
            parts[key].append(a)
    return parts


def deps_of(dfile):
    with open(dfile) as f:
        text = f.read().replace('\\\n', ' ')
    return text.split(':', 1)[1].split() if ':' in text else []


def musl_libdir(musl_gcc):
    """The directory of musl's start files and libc.a."""
    with open(musl_gcc, errors='replace') as f:
        m = re.search(r'-specs\s+"?([^"\s]+)', f.read())
    if not m:
        raise SystemExit('musl-build: no -specs in %s' % musl_gcc)
    return os.path.dirname(m.group(1))


def gcc_file(name):
    return subprocess.run(['gcc', '-print-file-name=' + name], check=True,
                          stdout=subprocess.PIPE, text=True).stdout.strip()


def main():
    out, depfile, work, cc = sys.argv[1:5]
    p = split(sys.argv[5:])
    inc = os.path.join(work, 'include')
    os.makedirs(inc, exist_ok=True)
    for h in p['--headers']:
        link = os.path.join(inc, os.path.basename(h))
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(os.path.abspath(h), link)
    cflags = p['cflags'] + ['-idirafter', inc]

    def compile_one(i_src):
        i, src = i_src
        obj = os.path.join(work, '%03d-%s.o' % (i, os.path.basename(src)))
        cmd = [cc] + cflags + ['-MD', '-MF', obj + '.d', '-c', src, '-o', obj]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return obj, r.returncode, ' '.join(cmd), r.stdout

    objs, failed = [], False
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        for obj, rc, cmd, text in ex.map(compile_one, enumerate(p['--sources'])):
            if text or rc:
                sys.stderr.write(text)
            if rc:
                sys.stderr.write('musl-build: failed: %s\n' % cmd)
                failed = True
            objs.append(obj)
    if failed:
        return 1
    lib = musl_libdir(cc)
    link = (['gcc', '-static-pie', '-nostdlib', '-nostartfiles', '-Wl,-O1', '-Wl,-z,relro',
             '-Wl,-z,now', '-o', out, os.path.join(lib, 'rcrt1.o'), os.path.join(lib, 'crti.o'),
             gcc_file('crtbeginS.o')] + objs + p['--link'] +
            ['-L' + lib, '-lc', gcc_file('libgcc.a'), gcc_file('crtendS.o'),
             os.path.join(lib, 'crtn.o')])
    r = subprocess.run(link)
    if r.returncode:
        return r.returncode
    deps = []
    for obj in objs:
        for d in deps_of(obj + '.d'):
            if d not in deps:
                deps.append(d)
    with open(depfile, 'w') as f:
        f.write('%s: %s\n' % (out.replace(' ', '\\ '),
                              ' '.join(d.replace(' ', '\\ ') for d in deps)))
    return 0


if __name__ == '__main__':
    sys.exit(main())

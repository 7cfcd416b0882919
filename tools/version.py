#!/usr/bin/env python3
# Print the version written in include/ipam/version.h, so the header is the
# one place where it is set (meson reads it at configure time).
import os
import re

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, '..', 'include', 'ipam', 'version.h')) as f:
    text = f.read()
parts = [re.search(r'#define IPAM_VERSION_%s (\d+)' % k, text).group(1)
         for k in ('MAJOR', 'MINOR', 'PATCH')]
print('.'.join(parts))

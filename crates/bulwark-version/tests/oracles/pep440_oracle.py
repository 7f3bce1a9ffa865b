# Reads "a<TAB>b" lines, prints the sign of packaging.version.Version(a) vs
# Version(b), or E when either is not a valid PEP 440 version.
import sys
from packaging.version import Version, InvalidVersion

out = []
for line in sys.stdin:
    a, b = line.rstrip("\n").split("\t")
    try:
        va, vb = Version(a), Version(b)
        out.append("1" if va > vb else "-1" if va < vb else "0")
    except InvalidVersion:
        out.append("E")
print("\n".join(out))

# Reads "a<TAB>b" lines, prints the sign of apt_pkg.version_compare(a, b).
import sys
import apt_pkg

apt_pkg.init_system()
out = []
for line in sys.stdin:
    a, b = line.rstrip("\n").split("\t")
    r = apt_pkg.version_compare(a, b)
    out.append("1" if r > 0 else "-1" if r < 0 else "0")
print("\n".join(out))

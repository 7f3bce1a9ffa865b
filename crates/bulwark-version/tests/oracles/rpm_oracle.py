# Reads "a<TAB>b" lines of [epoch:]version[-release], prints the sign of
# rpm.ver(a) vs rpm.ver(b) (rpm's own EVR parser and rpmVersionCompare),
# or E when rpm rejects either string.
import sys
import rpm

out = []
for line in sys.stdin:
    a, b = line.rstrip("\n").split("\t")
    try:
        va, vb = rpm.ver(a), rpm.ver(b)
        out.append("1" if va > vb else "-1" if va < vb else "0")
    except Exception:
        out.append("E")
print("\n".join(out))

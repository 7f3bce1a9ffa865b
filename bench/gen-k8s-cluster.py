#!/usr/bin/env python3
"""Writes a synthetic cluster dump for timing `bulwark k8s rbac|netpol|scan` at scale:
50 namespaces, 2,000 Deployments (named ports), 500 NetworkPolicies (namespace and pod
selectors with matchExpressions, named ports and endPort, ipBlocks with except), 1,000
Roles with RoleBindings (users and cross-namespace service accounts) and one
cluster-admin service account. Deterministic (seeded).

    python3 bench/gen-k8s-cluster.py /tmp/cluster.yaml
    /usr/bin/time -f '%e s %M KB' bulwark k8s netpol /tmp/cluster.yaml
"""
import random
import sys

random.seed(7)
N_NS, N_WL, N_POL, N_ROLES = 50, 2000, 500, 1000
out = []
for n in range(N_NS):
    out.append(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: ns{n}, labels: {{team: t{n % 10}}}}}\n")
    out.append(f"apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: sa{n}, namespace: ns{n}}}\n")
for w in range(N_WL):
    ns = w % N_NS
    out.append(f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: w{w}, namespace: ns{ns}}}
spec:
  selector: {{matchLabels: {{app: w{w}}}}}
  template:
    metadata: {{labels: {{app: w{w}, tier: t{w % 5}}}}}
    spec:
      serviceAccountName: sa{ns}
      containers: [{{name: c, image: "reg.example/w{w % 300}:1", ports: [{{name: http, containerPort: 8080}}]}}]
""")
for p in range(N_POL):
    ns = p % N_NS
    out.append(f"""apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: p{p}, namespace: ns{ns}}}
spec:
  podSelector: {{matchLabels: {{tier: t{p % 5}}}}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{{namespaceSelector: {{matchLabels: {{team: t{p % 10}}}}}, podSelector: {{matchExpressions: [{{key: tier, operator: In, values: [t{(p + 1) % 5}, t{(p + 2) % 5}]}}]}}}}]
    ports: [{{port: http}}, {{port: 9000, endPort: 9100}}]
  egress:
  - to: [{{ipBlock: {{cidr: 10.{p % 256}.0.0/16, except: [10.{p % 256}.1.0/24]}}}}, {{podSelector: {{}}}}]
""")
verbs = [["get", "list"], ["create"], ["get", "list", "watch"], ["update", "patch"]]
res = ["pods", "secrets", "configmaps", "deployments", "pods/exec", "serviceaccounts/token", "services"]
for r in range(N_ROLES):
    ns = r % N_NS
    v = random.choice(verbs)
    rs = random.choice(res)
    grp = '"apps"' if rs == "deployments" else '""'
    vs = ",".join('"' + x + '"' for x in v)
    out.append(f"""apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: r{r}, namespace: ns{ns}}}
rules:
- apiGroups: [{grp}]
  resources: ["{rs}"]
  verbs: [{vs}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: rb{r}, namespace: ns{ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: r{r}}}
subjects:
- {{kind: User, name: u{r % 200}}}
- {{kind: ServiceAccount, name: sa{(ns + 1) % N_NS}, namespace: ns{(ns + 1) % N_NS}}}
""")
out.append("""apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: sa0, namespace: ns0}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cluster-admin}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
""")
with open(sys.argv[1] if len(sys.argv) > 1 else "cluster.yaml", "w") as f:
    f.write("---\n".join(out))

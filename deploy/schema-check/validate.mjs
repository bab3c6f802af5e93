// Validates each document of the given YAML files against the Kubernetes OpenAPI schema of its
// apiVersion/kind (kubernetes-models: types, required fields, enums and formats; the schemas allow
// unknown fields, so a misspelt optional field is not caught here: an API server's strict field
// validation would). Prints each valid document as one JSON line; exits 1 on the first problem.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const kinds = {
  "v1": "kubernetes-models/v1",
  "apps/v1": "kubernetes-models/apps/v1",
  "node.k8s.io/v1": "kubernetes-models/node.k8s.io/v1",
  "rbac.authorization.k8s.io/v1": "kubernetes-models/rbac.authorization.k8s.io/v1",
};

let failed = false;
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length > 0) {
      console.error(`${file}: not YAML: ${doc.errors[0].message}`);
      failed = true;
      continue;
    }
    const obj = doc.toJS();
    if (obj === null) continue;
    const module = kinds[obj.apiVersion];
    const model = module && (await import(module))[obj.kind];
    if (!model) {
      console.error(`${file}: ${obj.apiVersion} ${obj.kind}: no schema here to validate it against`);
      failed = true;
      continue;
    }
    try {
      new model(obj).validate();
      console.log(JSON.stringify({ file, ...obj }));
    } catch (e) {
      console.error(`${file}: ${obj.kind} ${obj.metadata?.name}: ${e.message}`);
      failed = true;
    }
  }
}
process.exit(failed ? 1 : 0);

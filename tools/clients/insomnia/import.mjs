// Imports the OpenAPI document with Insomnia's own importer (npm insomnia-importers, the
// code behind Insomnia's "Import" of an OpenAPI file) and checks that the result is a
// usable collection: the OpenAPI 3 importer took it, its validation passed, every
// operation became one request with its method and path, every JSON request body became
// an example body that parses, and every operation that takes the access token carries
// an Authorization header.
//
//   node import.mjs docs/openapi.yaml

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { parse } from "yaml";

const require = createRequire(import.meta.url);
const { convert } = require("insomnia-importers");

const file = process.argv[2];
if (!file) {
  console.error("usage: node import.mjs OPENAPI_FILE");
  process.exit(2);
}
const text = readFileSync(file, "utf8");
const document = parse(text);
const problems = [];

// The importer reports a document that fails its validation with console.log and imports
// it anyway: anything it prints is a problem.
const printed = [];
const { log, warn, error } = console;
console.log = console.warn = console.error = (...args) => printed.push(args.map(String).join(" "));
let result;
try {
  result = await convert(text);
} finally {
  Object.assign(console, { log, warn, error });
}
problems.push(...printed.map((line) => `the importer said: ${line.slice(0, 300)}`));
if (result.type.id !== "openapi3") problems.push(`taken by the ${result.type.id} importer, not openapi3`);

const resources = result.data.resources;
const requests = resources.filter((r) => r._type === "request");
const environments = resources.filter((r) => r._type === "environment");
const server = document.servers?.[0]?.url;
if (!environments.some((e) => e.data?.base_path === server)) {
  problems.push(`no environment has base_path ${server}`);
}

// Insomnia writes `{{ base_url }}/articles/{{ slug }}` for `/articles/{slug}`.
const imported = new Map();
for (const request of requests) {
  const path = request.url.replace(/^\{\{ base_url \}\}/, "").replace(/\{\{ (\w+) \}\}/g, "{$1}");
  const key = `${request.method} ${path}`;
  if (imported.has(key)) problems.push(`${key} imported twice`);
  imported.set(key, request);
}

const methods = ["get", "put", "post", "delete", "patch"];
let operations = 0;
for (const [path, item] of Object.entries(document.paths)) {
  for (const method of methods.filter((m) => item[m])) {
    operations += 1;
    const operation = item[method];
    const key = `${method.toUpperCase()} ${path}`;
    const request = imported.get(key);
    if (!request) {
      problems.push(`${key}: not imported`);
      continue;
    }
    imported.delete(key);
    const content = operation.requestBody?.content;
    if (content) {
      const jsonTypes = Object.keys(content).filter((t) => /^application\/json\b/.test(t));
      if (jsonTypes.length > 0) {
        try {
          const example = JSON.parse(request.body?.text ?? "");
          if (typeof example !== "object" || example === null || Object.keys(example).length === 0) {
            problems.push(`${key}: the example body is empty`);
          }
        } catch {
          problems.push(
            `${key}: no example body (Insomnia made ${JSON.stringify(request.body)} from ${jsonTypes.join(", ")})`,
          );
        }
      }
    }
    const tokenAuth = (operation.security ?? document.security ?? []).some((s) => "Token" in s);
    if (tokenAuth && !request.headers.some((h) => h.name.toLowerCase() === "authorization")) {
      problems.push(`${key}: no Authorization header`);
    }
  }
}
for (const key of imported.keys()) problems.push(`${key}: imported but not in the document`);

console.log(
  `Insomnia import (${result.type.name}): ${requests.length} requests for ${operations} operations, ` +
    `${resources.filter((r) => r._type === "request_group").length} folders`,
);
if (problems.length > 0 || operations === 0) {
  for (const problem of problems) console.error(`  ${problem}`);
  console.error(`Insomnia import: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log("Insomnia import: passed");

// plans/schema.json as JavaScript tools read it, for tests/integration/plans_schema.sh:
//   ajv (draft 2020-12, strict mode: every keyword and pattern must be one
//   that JavaScript understands) and vscode-json-languageservice (the JSON
//   validation VS Code runs for a file whose "$schema" or json.schemas setting
//   names the schema).
// Reads "<relative path> valid|invalid" lines from EXPECT_FILE (check_schema.py
// --expect) and checks that both validators give that verdict for each file.
// Files are opened by their real file:// URI, so a plan's "$schema":
// "./schema.json" is followed as VS Code follows it (read from disk here).
// Prints one line per file and validator; exits 1 on any disagreement.
//
// Usage: node check_schema_js.cjs NPM_TOOLS_DIR SOURCE_DIR EXPECT_FILE
"use strict";
const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");

const [toolsDir, srcDir, expectFile] = process.argv.slice(2);
if (!toolsDir || !srcDir || !expectFile) {
  console.error("usage: node check_schema_js.cjs NPM_TOOLS_DIR SOURCE_DIR EXPECT_FILE");
  process.exit(2);
}
const req = createRequire(path.join(path.resolve(toolsDir), "package.json"));
const Ajv2020 = req("ajv/dist/2020").default;
const jls = req("vscode-json-languageservice");

const schemaText = fs.readFileSync(path.join(srcDir, "plans/schema.json"), "utf8");
const schema = JSON.parse(schemaText);
let failures = 0;
const say = (ok, msg) => {
  if (!ok) failures++;
  console.log((ok ? "ok   " : "FAIL ") + msg);
};

// ajv: strict mode turns unknown keywords, ignored keywords and anything
// ajv cannot read exactly into compile errors; "unicode" regexps reject
// Python/PCRE-only syntax such as (?i).
const ajv = new Ajv2020({ strict: true, allErrors: true, unicodeRegExp: true });
let validate;
try {
  validate = ajv.compile(schema);
  say(true, `ajv ${req("ajv/package.json").version}: plans/schema.json compiles in strict mode ($id ${schema.$id})`);
} catch (e) {
  say(false, `ajv: plans/schema.json does not compile: ${e.message}`);
}
if (!schema.$id) say(false, "plans/schema.json has no $id");

async function main() {
  const expectations = fs.readFileSync(expectFile, "utf8").split("\n").filter((l) => l.trim())
    .map((l) => l.trim().split(/\s+/));
  if (expectations.length === 0) say(false, "no expectations on stdin");

  // Like VS Code: a file:// schema is read from disk; nothing is fetched.
  const fileUrl = (p) => "file://" + path.resolve(p);
  const service = jls.getLanguageService({
    schemaRequestService: (uri) => uri.startsWith("file://")
      ? fs.promises.readFile(decodeURIComponent(uri.slice(7)), "utf8")
      : Promise.reject(new Error("no fetching: " + uri)),
    workspaceContext: { resolveRelativePath: (rel, res) => new URL(rel, res).href },
  });
  const schemaUri = fileUrl(path.join(srcDir, "plans/schema.json"));
  service.configure({
    validate: true, allowComments: false,
    schemas: [{ uri: schemaUri, fileMatch: ["*.json"], schema }],
  });
  // The schema itself, as VS Code sees it while editing it: no problems.
  {
    const doc = jls.TextDocument.create("file:///schema-self-check.json", "json", 1, schemaText);
    const service2 = jls.getLanguageService({});
    service2.configure({ validate: true, schemas: [] });
    const diags = await service2.doValidation(doc, service2.parseJSONDocument(doc));
    say(diags.length === 0, "VS Code: plans/schema.json itself has no problems" +
      diags.map((d) => `\n       ${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.message}`).join(""));
  }
  let n = 0;
  for (const [rel, want] of expectations) {
    n++;
    const text = fs.readFileSync(path.join(srcDir, rel), "utf8");
    const data = JSON.parse(text);
    if (validate) {
      const ok = validate(data);
      const got = ok ? "valid" : "invalid";
      say(got === want, `ajv ${rel}: ${got}` + (got === want ? "" : `, want ${want}`) +
        (ok ? "" : " (" + validate.errors.map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ") + ")"));
    }
    const doc = jls.TextDocument.create(fileUrl(path.join(srcDir, rel)), "json", 1, text);
    const diags = (await service.doValidation(doc, service.parseJSONDocument(doc), { schemaValidation: "error" }))
      .filter((d) => d.severity === 1 || d.severity === 2);
    const got = diags.length ? "invalid" : "valid";
    say(got === want, `VS Code ${rel}: ${got}` + (got === want ? "" : `, want ${want}`) +
      diags.map((d) => `\n       ${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.message}`).join(""));
  }
  console.log(`check_schema_js: ${failures ? failures + " disagreement(s)" : "all agree"} (${n} files, ajv and VS Code)`);
  process.exit(failures ? 1 : 0);
}
main().catch((e) => { console.error(e); process.exit(2); });

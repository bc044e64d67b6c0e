// Loads the add-in's functions.js as served, with a stand-in CustomFunctions global that records
// each association, then calls the functions named on stdin against the running perprisk server.
//
//   node call_functions.mjs https://localhost:PORT < calls.json
//   calls.json: [{"id": "PERP_NOTIONAL", "args": [[[0.5]], [[60000]]]}, ...]
//
// Prints one JSON object: the served metadata, the arity of every associated function, and for
// each call {"result": rows} or {"error": {"code": ..., "message": ...}}. Node's own fetch
// checks the server's certificate (NODE_EXTRA_CA_CERTS names the local authority).
import dns from "node:dns";
import vm from "node:vm";

dns.setDefaultResultOrder("ipv4first"); // the server listens on 127.0.0.1

const base = process.argv[2];
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const calls = JSON.parse(Buffer.concat(chunks).toString("utf8"));

class CustomFunctionsError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}
const associated = {};
const CustomFunctions = {
  associate(id, fn) {
    if (id in associated) throw new Error(`${id} associated twice`);
    associated[id] = fn;
  },
  Error: CustomFunctionsError,
  ErrorCode: { invalidValue: "#VALUE!", notAvailable: "#N/A" },
};

const script = await (await fetch(`${base}/functions.js`)).text();
const metadata = await (await fetch(`${base}/functions.json`)).json();
// The script runs in a context with only what the Office runtime gives it.
vm.runInNewContext(script, { CustomFunctions, fetch, JSON, Array }, { filename: "functions.js" });

const results = [];
for (const call of calls) {
  const fn = associated[call.id];
  if (!fn) {
    results.push({ missing: call.id });
    continue;
  }
  try {
    results.push({ result: await fn(...call.args) });
  } catch (error) {
    if (!(error instanceof CustomFunctionsError)) throw error;
    results.push({ error: { code: error.code, message: error.message } });
  }
}
const arity = Object.fromEntries(Object.entries(associated).map(([id, fn]) => [id, fn.length]));
process.stdout.write(JSON.stringify({ metadata, arity, results }));

// Runs the published nightscout-connect uploader's own code: its Dexcom Share translation
// (lib/sources/dexcomshare.js, transformGlucose) and its Nightscout output (lib/outputs/
// nightscout.js: entries to /api/v1/entries.json, treatments to /api/v1/treatments.json, the
// API-SECRET header, and gap_for's read of /api/v1/entries.json?count=1).
// Input: a JSON file {url, apiSecret, share: [Dexcom Share records], treatments: [...]}.
// Output: one last line "RESULT <json>" with every HTTP exchange and the bookmark.
'use strict';

const fs = require('fs');
const axios = require('axios');
const dexcomshare = require('nightscout-connect/lib/sources/dexcomshare');
const nightscoutOutput = require('nightscout-connect/lib/outputs/nightscout');

const exchanges = [];

// The uploader takes an axios to create its clients with: this one notes every answer.
const noting = Object.create(axios);
noting.create = function create (config) {
  const http = axios.create(config);
  http.interceptors.response.use(
    (resp) => {
      exchanges.push({
        method: resp.config.method,
        url: resp.config.url,
        status: resp.status,
        data: resp.data,
      });
      return resp;
    },
    (err) => {
      exchanges.push({
        method: err.config && err.config.method,
        url: err.config && err.config.url,
        status: err.response ? err.response.status : null,
        data: err.response ? err.response.data : String(err),
      });
      return Promise.reject(err);
    }
  );
  return http;
};

async function main () {
  const input = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const source = dexcomshare({ shareAccountName: 'unused', sharePassword: 'unused' }, noting);
  const { entries } = source.transformGlucose(input.share);
  const record = nightscoutOutput({ url: input.url, apiSecret: input.apiSecret }, noting);
  const before = await record.gap_for();
  const after = await record({ entries, treatments: input.treatments || [] });
  process.stdout.write('\nRESULT ' + JSON.stringify({ entries, exchanges, before, after }) + '\n');
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + '\n');
  process.exit(1);
});

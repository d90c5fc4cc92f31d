// Fails when src/api.gen.ts is not what docs/openapi.json gives now (openapi-typescript).
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const fresh = path.join(root, '.api.check.ts');
execFileSync(process.execPath, [path.join(root, 'node_modules/openapi-typescript/bin/cli.js'), '../docs/openapi.json', '-o', fresh], {
  cwd: root,
  stdio: ['ignore', 'ignore', 'inherit'],
});
const same = fs.readFileSync(path.join(root, 'src/api.gen.ts'), 'utf8') === fs.readFileSync(fresh, 'utf8');
fs.unlinkSync(fresh);
if (!same) {
  console.error('client/src/api.gen.ts is not what docs/openapi.json gives: run `npm run gen` in client/ and fix what no longer type-checks');
  process.exit(1);
}

// Reads "a<TAB>b" lines, prints semver.compare(a, b) with node-semver in
// loose or strict mode (argv[3]), or E when either version is invalid.
const SemVer = require(require.resolve('semver/classes/semver', { paths: [process.argv[2]] }));
const loose = process.argv[3] === 'loose';
const lines = require('fs').readFileSync(0, 'utf8').split('\n');
const out = [];
for (const line of lines) {
  if (line === '') continue;
  const [a, b] = line.split('\t');
  try {
    out.push(String(new SemVer(a, { loose }).compare(new SemVer(b, { loose }))));
  } catch (e) {
    out.push('E');
  }
}
process.stdout.write(out.join('\n') + '\n');

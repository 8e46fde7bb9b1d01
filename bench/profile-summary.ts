// Where a server spent its main-thread CPU:
//   npx tsx bench/profile-summary.ts <file.cpuprofile> [top] [last-seconds]
// (profiles come from `npm run bench -- --profile --scenario me`). Prints self time by package
// and by function; with last-seconds, only the samples of the profile's final seconds (the
// last scenario run before the server stopped, without start-up and seeding).
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  endTime: number;
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

function owner(url: string): string {
  if (!url) return '(native / idle / gc)';
  if (url.startsWith('node:')) return url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const own = /\/(src|dist)\/(.*)$/.exec(url);
  return own ? `keyhold ${own[2]}` : url;
}

const file = process.argv[2];
if (!file) throw new Error('usage: tsx bench/profile-summary.ts <file.cpuprofile> [top]');
const top = Number(process.argv[3] ?? 25);
const lastSeconds = process.argv[4] === undefined ? Infinity : Number(process.argv[4]);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const byPackage = new Map<string, number>();
const byFunction = new Map<string, number>();
let total = 0;
const from = profile.endTime - lastSeconds * 1e6;
let at = profile.startTime;
profile.samples.forEach((id, i) => {
  const node = byId.get(id)!;
  const micros = profile.timeDeltas[i] ?? 0;
  at += micros;
  if (at < from) return;
  const frame = node.callFrame;
  if (frame.functionName === '(idle)') return;
  total += micros;
  const pkg = owner(frame.url);
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + micros);
  const name = `${frame.functionName || '(anonymous)'}  ${pkg}:${frame.lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + micros);
});

const print = (title: string, map: Map<string, number>): void => {
  console.log(`\n${title} (busy ${(total / 1e6).toFixed(2)} s)`);
  for (const [name, micros] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((micros / total) * 100).toFixed(1).padStart(5)}%  ${name}`);
  }
};
print('self time by package', byPackage);
print('self time by function', byFunction);

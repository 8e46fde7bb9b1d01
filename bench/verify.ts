// @keyhold/verify's cost per request against a bare jose verification with a local key.
//
//   npx tsx bench/verify.ts [--seconds 3]
//
// The same ES256 token is checked both ways on one thread: `jose` jwtVerify with the public
// KeyObject in hand (the floor: what any verifier must do), and createVerifier's verify with
// its JWKS fetched once from a loopback server and cached (what a service pays per request).
// Prints verifications per second and the ratio; the target is at most 1.2x the floor's cost.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { createVerifier } from '../clients/verify-node/src/index.js';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1] || 3);
const { privateKey, publicKey } = await generateKeyPair('ES256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
const server = createServer((_request, response) => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;

const token = await new SignJWT({ aal: 'aal1', amr: ['pwd'], account_id: crypto.randomUUID(), account_role: 'member', role: 'engineer' })
  .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
  .setSubject(crypto.randomUUID())
  .setIssuer('keyhold')
  .setAudience('keyhold')
  .setIssuedAt()
  .setExpirationTime('15m')
  .sign(privateKey);

const rules = { issuer: 'keyhold', audience: 'keyhold', typ: 'at+jwt', algorithms: ['ES256'] };
const verifier = createVerifier({ issuer: 'keyhold', audience: 'keyhold', jwksUri });
await verifier.verify(token); // fetches the key set once

async function rate(label: string, verifyOnce: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 2000; i++) await verifyOnce(); // warm up
  let count = 0;
  const start = process.cpuUsage();
  const deadline = performance.now() + seconds * 1000;
  while (performance.now() < deadline) {
    for (let i = 0; i < 200; i++) await verifyOnce();
    count += 200;
  }
  const cpu = process.cpuUsage(start);
  const perSecond = count / ((cpu.user + cpu.system) / 1e6);
  process.stdout.write(`${label.padEnd(44)} ${Math.round(perSecond).toLocaleString('en').padStart(8)} per CPU-second\n`);
  return perSecond;
}

// Alternating rounds, so a noisy neighbour weighs on both sides alike.
const floor: number[] = [];
const verify: number[] = [];
for (let round = 0; round < 3; round++) {
  floor.push(await rate('jose jwtVerify, local KeyObject (floor)', () => jwtVerify(token, publicKey, rules)));
  verify.push(await rate('@keyhold/verify, cached remote JWKS', () => verifier.verify(token)));
}
const best = (values: number[]): number => Math.max(...values);
process.stdout.write(`cost ratio (verify / floor): ${(best(floor) / best(verify)).toFixed(2)}x (target <= 1.2x)\n`);
server.close();

// A yardstick for the machine, not for Keyhold: what one prepared `SELECT 1` round trip, and an
// empty BEGIN + COMMIT, cost PostgreSQL's backend and this client in CPU, over 20,000 of each on
// one connection. The same machine reads differently from one hour to the next (a virtual
// machine's neighbours); run this beside a bench to say which phase its figures come from.
//
//   npx tsx bench/round-trip.ts
import pg from 'pg';
import { ADMIN_URL } from './databases.js';
import { processCpuSeconds } from './proc-cpu.js';

const ROUNDS = 20_000;

const cpuSeconds = (pid: number): number => processCpuSeconds(pid) ?? Number.NaN;

async function main(): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    const backend = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const probes: Array<[string, () => Promise<unknown>]> = [
      ['prepared SELECT 1', () => client.query({ name: 'round_trip_probe', text: 'SELECT 1' })],
      ['BEGIN + COMMIT (two round trips)', async () => {
        await client.query('BEGIN');
        await client.query('COMMIT');
      }],
    ];
    process.stdout.write(`\nRound trips on ${new Date().toISOString()}, ${ROUNDS} each, one connection\n`);
    for (const [label, probe] of probes) {
      const backendBefore = cpuSeconds(backend);
      const clientBefore = process.cpuUsage();
      const started = performance.now();
      for (let i = 0; i < ROUNDS; i++) await probe();
      const clientCpu = process.cpuUsage(clientBefore);
      const us = (seconds: number) => ((seconds / ROUNDS) * 1e6).toFixed(1).padStart(6);
      process.stdout.write(
        `  ${label.padEnd(34)} backend ${us(cpuSeconds(backend) - backendBefore)} µs   client ${us((clientCpu.user + clientCpu.system) / 1e6)} µs   wall ${us((performance.now() - started) / 1000)} µs\n`,
      );
    }
  } finally {
    await client.end();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`round-trip failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});

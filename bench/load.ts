// One autocannon run with the CPU each party spent during it: the server (a child process),
// PostgreSQL (its backends for the bench database), this process (the load generator) and
// whatever else the machine was doing (other engineers' test runs).
import autocannon, { type AutocannonRequest } from 'autocannon';
import { cpuBetween, machineCpu, snapshot } from './proc-cpu.js';

export interface Meters {
  serverPid: number;
  /** The PostgreSQL processes to charge; absent for the embedded database (it is in-process). */
  postgresPids?: () => Promise<number[]>;
}

export interface LoadOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  /** Requests per second across all connections; unset = as fast as the server answers. */
  overallRate?: number;
  requests: AutocannonRequest[];
}

export interface LoadResult {
  ok: number;
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  failures: number;
  statusCodes: Record<string, number>;
  wallSeconds: number;
  serverCpuSeconds: number;
  postgresCpuSeconds: number | null;
  loadGeneratorCpuSeconds: number;
  /** CPU-seconds per second used by everything else on the machine during the run. */
  otherCores: number;
}

export async function runLoad(options: LoadOptions, meters: Meters): Promise<LoadResult> {
  const pgBefore = meters.postgresPids ? snapshot(await meters.postgresPids()) : undefined;
  const serverBefore = snapshot([meters.serverPid]);
  const machineBefore = machineCpu();
  const selfBefore = process.cpuUsage();
  const started = performance.now();

  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationSeconds,
    overallRate: options.overallRate,
    timeout: 10,
    requests: options.requests,
  });

  const wallSeconds = (performance.now() - started) / 1000;
  const self = process.cpuUsage(selfBefore);
  const machineAfter = machineCpu();
  const serverCpuSeconds = cpuBetween(serverBefore, snapshot([meters.serverPid]));
  let postgresCpuSeconds: number | null = null;
  if (meters.postgresPids && pgBefore) {
    // Pids from before too: a backend is charged only while it still exists.
    const pids = new Set([...pgBefore.keys(), ...(await meters.postgresPids())]);
    postgresCpuSeconds = cpuBetween(pgBefore, snapshot(pids));
  }
  const loadGeneratorCpuSeconds = (self.user + self.system) / 1e6;
  const busy = machineAfter.busySeconds - machineBefore.busySeconds;
  const other = Math.max(0, busy - serverCpuSeconds - (postgresCpuSeconds ?? 0) - loadGeneratorCpuSeconds);

  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count]));
  const ok = result['2xx'];
  return {
    ok,
    requestsPerSecond: ok / wallSeconds,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    failures: result.non2xx + result.errors + result.timeouts,
    statusCodes,
    wallSeconds,
    serverCpuSeconds,
    postgresCpuSeconds,
    loadGeneratorCpuSeconds,
    otherCores: other / wallSeconds,
  };
}

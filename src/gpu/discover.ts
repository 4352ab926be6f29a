// Finds the GPUs once at start-up, before any worker exists, with
// `nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader,nounits`.
// It is synchronous on purpose: start-up has nothing else to do meanwhile, and a
// spawnSync child is waited for inside the call, before the event loop (and with it
// corral's reaper) runs again, so the reaper can never take its exit status.
// Call it only when some pool may use GPUs (not every pool is `--gpus none`): the
// failure hint offers `--gpus none` as a way out.

import { spawnSync } from 'node:child_process';
import { CorralError } from '../errors.js';
import { dataLines, firstLine, indexAndUuid, malformed, numberField, splitRow } from './csv.js';

export interface Gpu {
  /** nvidia-smi's index (PCI bus order). */
  index: number;
  /** `GPU-...` as nvidia-smi prints it. */
  uuid: string;
  name: string;
  /** null when nvidia-smi reports `[N/A]`. */
  memoryTotalBytes: number | null;
}

export const DISCOVERY_QUERY = ['--query-gpu=index,uuid,name,memory.total', '--format=csv,noheader,nounits'] as const;
const DEFAULT_TIMEOUT_MS = 5000;
const MIB = 1024 * 1024;

/** `CORRAL_NVIDIA_SMI` when set and non-empty, else `nvidia-smi` (looked up on the env's PATH). */
export function nvidiaSmiPath(env: NodeJS.ProcessEnv): string {
  const p = env.CORRAL_NVIDIA_SMI;
  return p !== undefined && p.trim() !== '' ? p : 'nvidia-smi';
}

/** Parses the discovery query's output; throws a CorralError (NVIDIA_SMI) on a malformed line. */
export function parseQueryCsv(text: string): Gpu[] {
  const gpus: Gpu[] = [];
  for (const { n, line } of dataLines(text)) {
    const row = splitRow(line, 2, 1);
    if (!row) throw malformed(n, line, 'expected index, uuid, name, memory.total');
    const { index, uuid } = indexAndUuid(row, n, line);
    const memory = numberField(row.tail[0] ?? '');
    if (memory === undefined) throw malformed(n, line, 'memory.total is not a number of MiB');
    gpus.push({ index, uuid, name: row.name, memoryTotalBytes: memory === null ? null : Math.round(memory * MIB) });
  }
  return gpus;
}

/**
 * The GPUs nvidia-smi lists. No nvidia-smi (ENOENT: a CPU node, or a container without the
 * NVIDIA runtime's `utility` capability) and "No devices were found" both mean no GPU: [].
 * A nvidia-smi that fails, hangs past `timeoutMs` or prints something unexpected is a
 * CorralError (exit 2): a GPU node with a broken driver must not quietly run on CPU.
 */
export function discoverGpus(env: NodeJS.ProcessEnv, timeoutMs = DEFAULT_TIMEOUT_MS): Gpu[] {
  const file = nvidiaSmiPath(env);
  const r = spawnSync(file, DISCOVERY_QUERY, {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: MIB,
    windowsHide: true,
  });
  const stdout = typeof r.stdout === 'string' ? r.stdout : '';
  const stderr = typeof r.stderr === 'string' ? r.stderr : '';
  const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
  const fail = (what: string): CorralError => new CorralError('NVIDIA_SMI', `cannot list the GPUs: ${file} ${what}`);

  if (code === 'ENOENT') return [];
  if (code === 'ETIMEDOUT') throw fail(`did not answer within ${timeoutMs} ms and was killed`);
  if (code === 'ENOBUFS') throw fail('printed more than 1 MiB');
  if (r.error) throw fail(`could not be run: ${r.error.message}`);
  if (/^No devices were found/im.test(stdout)) return [];
  const said = firstLine(stderr, stdout);
  const saying = said === '' ? ' and printed nothing' : `: ${said}`;
  if (r.signal !== null) throw fail(`was killed by ${r.signal}${saying}`);
  if (r.status !== 0) throw fail(`exited with code ${r.status ?? '?'}${saying}`);
  try {
    return parseQueryCsv(stdout);
  } catch (err) {
    if (err instanceof CorralError) throw new CorralError('NVIDIA_SMI', `cannot list the GPUs: ${err.message}`, { cause: err });
    throw err;
  }
}

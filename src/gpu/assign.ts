// Decides each worker's CUDA_VISIBLE_DEVICES (SPEC §3). Pure: start-up calls it once per
// pool with what discovery found and corral's own CUDA_VISIBLE_DEVICES.
//
// Choices the spec leaves open, made here:
// - `gpus: 'auto'` (the default) uses every usable GPU, and silently none (a CPU pool) when
//   there is none; an explicit `--gpus all` with no usable GPU is a config error, since the
//   user asked for GPUs.
// - A numeric `workers` with GPUs hands them out round-robin: worker i gets
//   gpus[floor(i / workersPerGpu) % gpus.length], so 3 workers on 2 GPUs share GPU 0 and 1 as
//   0, 1, 0. Fewer workers than GPU slots leave the last GPUs idle (one worker gets GPU 0
//   alone; a single process that wants every GPU, tensor parallel say, runs with
//   `--gpus none` and inherits corral's own view).
// - Ids in `gpus` (indexes or UUIDs) name GPUs as nvidia-smi lists them, whatever a pre-set
//   CUDA_VISIBLE_DEVICES says; a GPU that exists but is hidden by it is an error saying so.
//   MIG ids, which nvidia-smi --query-gpu cannot list, are handed out as given.
// - Indexes are nvidia-smi's, in PCI bus order; CUDA counts fastest first unless
//   CUDA_DEVICE_ORDER=PCI_BUS_ID, which the two agree on only when all GPUs are alike. The
//   caller should set CUDA_DEVICE_ORDER=PCI_BUS_ID beside an index it hands out.

import { CorralError } from '../errors.js';
import type { Gpu } from './discover.js';

export interface GpuPlan {
  workers: number;
  /** devices[i]: CUDA_VISIBLE_DEVICES for worker i, or null to leave it as corral has it. */
  devices: (string | null)[];
}

export interface PoolGpus {
  name: string;
  workers: number | 'gpu';
  gpus: 'all' | 'none' | 'auto' | string[];
  workersPerGpu: number;
}

/** A device corral may hand out: `id` is the CUDA_VISIBLE_DEVICES value a worker gets. */
interface Slot {
  id: string;
  /** The physical GPU; null for a MIG device, which --query-gpu does not list. */
  gpu: Gpu | null;
}

export function planGpus(pool: PoolGpus, found: Gpu[], presetCudaVisibleDevices: string | undefined): GpuPlan {
  const { name, workers, workersPerGpu } = pool;
  if (!Number.isInteger(workersPerGpu) || workersPerGpu < 1) {
    throw new CorralError('BAD_VALUE', `pool ${name}: --workers-per-gpu must be a positive integer, got ${String(workersPerGpu)}`);
  }
  if (workers !== 'gpu' && (!Number.isInteger(workers) || workers < 1)) {
    throw new CorralError('BAD_VALUE', `pool ${name}: --workers must be a positive integer or "gpu", got ${String(workers)}`);
  }
  const usable = visibleSlots(found, presetCudaVisibleDevices);
  const why = noneReason(found, presetCudaVisibleDevices);
  let slots: Slot[];
  if (pool.gpus === 'none') {
    if (workers === 'gpu') {
      throw new CorralError('GPU', `pool ${name}: --workers gpu but --gpus none`, { hint: 'give a number of workers, or let the pool use GPUs' });
    }
    slots = [];
  } else if (pool.gpus === 'auto') {
    slots = usable;
  } else if (pool.gpus === 'all') {
    if (usable.length === 0 && workers !== 'gpu') {
      throw new CorralError('GPU', `pool ${name}: --gpus all but no GPU was found (${why})`, {
        hint: 'leave --gpus out to run on CPU where there is no GPU, or run on a node with a GPU and the NVIDIA container runtime',
      });
    }
    slots = usable;
  } else {
    slots = pick(name, pool.gpus, usable, found, presetCudaVisibleDevices);
  }

  if (workers === 'gpu') {
    if (slots.length === 0) {
      throw new CorralError('GPU', `pool ${name}: --workers gpu but no GPU was found (${why})`, {
        hint: 'give a number of workers, run on a node with a GPU and the NVIDIA container runtime, or set CORRAL_NVIDIA_SMI',
      });
    }
    const n = slots.length * workersPerGpu;
    return { workers: n, devices: Array.from({ length: n }, (_, i) => slotAt(slots, i, workersPerGpu)) };
  }
  return {
    workers,
    devices: Array.from({ length: workers }, (_, i) => (slots.length === 0 ? null : slotAt(slots, i, workersPerGpu))),
  };
}

function slotAt(slots: Slot[], worker: number, workersPerGpu: number): string {
  const slot = slots[Math.floor(worker / workersPerGpu) % slots.length];
  if (!slot) throw new Error('unreachable: empty GPU slot list');
  return slot.id;
}

/**
 * The devices corral may hand out. Without a pre-set CUDA_VISIBLE_DEVICES, every GPU found,
 * by nvidia-smi index. With one, its entries in order, read as CUDA reads them: an index, a
 * (possibly abbreviated) GPU UUID, or a MIG device; the first entry that names nothing ends
 * the list, so "" , "-1" and Slurm's "NoDevFiles" leave no GPU. Indexes are handed out as
 * indexes, UUIDs and MIG ids as given.
 */
function visibleSlots(found: Gpu[], preset: string | undefined): Slot[] {
  if (preset === undefined) return found.map((gpu) => ({ id: String(gpu.index), gpu }));
  const slots: Slot[] = [];
  for (const raw of preset.split(',')) {
    const entry = raw.trim();
    const slot = resolvePreset(entry, found);
    if (!slot) break;
    if (slots.some((s) => s.id === slot.id || (s.gpu !== null && s.gpu === slot.gpu))) continue;
    slots.push(slot);
  }
  return slots;
}

function resolvePreset(entry: string, found: Gpu[]): Slot | undefined {
  if (/^\d+$/.test(entry)) {
    const gpu = found.find((g) => g.index === Number(entry));
    return gpu && { id: String(gpu.index), gpu };
  }
  // MIG devices (MIG-<uuid>, or the older MIG-GPU-<uuid>/gi/ci) are not in --query-gpu's
  // list; whoever set them (a device plugin, the user) is trusted.
  if (/^MIG-./i.test(entry)) return { id: entry, gpu: null };
  const gpu = matchUuid(entry, found);
  return gpu && { id: entry, gpu };
}

/** The one GPU whose UUID starts with `id` (with or without `GPU-`, any case), as CUDA allows. */
function matchUuid(id: string, gpus: Gpu[]): Gpu | undefined {
  const want = id.toLowerCase();
  const prefixed = want.startsWith('gpu-') ? want : `gpu-${want}`;
  if (prefixed.length <= 'gpu-'.length) return undefined;
  const hits = gpus.filter((g) => g.uuid.toLowerCase().startsWith(prefixed));
  return hits.length === 1 ? hits[0] : undefined;
}

/** The slots an explicit `--gpus` list names, in its order. */
function pick(name: string, ids: string[], usable: Slot[], found: Gpu[], preset: string | undefined): Slot[] {
  if (ids.length === 0) {
    throw new CorralError('GPU', `pool ${name}: --gpus lists no GPU`, { hint: 'use --gpus none for a CPU pool' });
  }
  const chosen: Slot[] = [];
  for (const raw of ids) {
    const id = raw.trim();
    // A MIG device is not in --query-gpu's list, so one named here is trusted as given,
    // unless a pre-set CUDA_VISIBLE_DEVICES leaves it out.
    const slot = findSlot(id, usable) ?? (/^MIG-./i.test(id) && preset === undefined ? { id, gpu: null } : undefined);
    if (!slot) {
      const hidden = preset !== undefined && (/^MIG-/i.test(id) || resolvePreset(id, found) !== undefined);
      if (hidden) {
        throw new CorralError('GPU', `pool ${name}: GPU ${id} is hidden by CUDA_VISIBLE_DEVICES=${JSON.stringify(preset)} (usable: ${listSlots(usable)})`, {
          hint: 'pick a GPU that CUDA_VISIBLE_DEVICES lets through, or change CUDA_VISIBLE_DEVICES',
        });
      }
      throw new CorralError('GPU', `pool ${name}: there is no GPU ${JSON.stringify(id)} (${found.length === 0 ? 'nvidia-smi found none' : `found: ${listGpus(found)}`})`);
    }
    if (chosen.some((s) => s.id === slot.id || (s.gpu !== null && s.gpu === slot.gpu))) {
      throw new CorralError('GPU', `pool ${name}: --gpus names GPU ${id} twice`, { hint: 'list each GPU once; --workers-per-gpu runs several workers on one GPU' });
    }
    chosen.push(slot);
  }
  return chosen;
}

function findSlot(id: string, slots: Slot[]): Slot | undefined {
  if (/^\d+$/.test(id)) return slots.find((s) => s.gpu?.index === Number(id));
  const exact = slots.find((s) => s.id.toLowerCase() === id.toLowerCase());
  if (exact || /^MIG-/i.test(id)) return exact;
  const gpu = matchUuid(
    id,
    slots.flatMap((s) => (s.gpu ? [s.gpu] : [])),
  );
  return gpu && slots.find((s) => s.gpu === gpu);
}

function noneReason(found: Gpu[], preset: string | undefined): string {
  if (found.length === 0) return 'nvidia-smi found none, or is not installed';
  return `CUDA_VISIBLE_DEVICES=${JSON.stringify(preset ?? '')} hides all ${found.length} that nvidia-smi found`;
}

function listGpus(gpus: Gpu[]): string {
  return gpus.map((g) => `${g.index} ${g.uuid}`).join(', ');
}

function listSlots(slots: Slot[]): string {
  return slots.length === 0 ? 'none' : slots.map((s) => s.id).join(', ');
}

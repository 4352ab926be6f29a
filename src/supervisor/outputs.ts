// Every worker output still being read, and the log writer's backpressure over them: when
// corral's stderr is slow, every pipe is paused (the workers block in write(2)) and resumed
// once the writer has drained (SPEC §4). Outputs of earlier generations that still drain
// (a grandchild holding the pipe) are paused too.

import type { WorkerOutput } from '../logs/worker-output.js';

export class OutputRegistry {
  private readonly live = new Set<WorkerOutput>();
  private pausedNow = false;
  private stdoutGone = false;

  /** New outputs start paused while the writer is under pressure. */
  get paused(): boolean {
    return this.pausedNow;
  }

  add(output: WorkerOutput): void {
    if (this.stdoutGone) output.closeStdout();
    this.live.add(output);
    void output.done.then(() => this.live.delete(output));
  }

  /**
   * raw format: corral's stdout has no reader any more. Each worker's stdout pipe is closed,
   * so its next write fails with SIGPIPE (EPIPE), as it would without corral in between
   * (`corral -- yes | head -n 1` ends).
   */
  closeStdout(): void {
    this.stdoutGone = true;
    for (const o of this.live) o.closeStdout();
  }

  /** The writer's onPressure. */
  setPaused(paused: boolean): void {
    this.pausedNow = paused;
    for (const o of this.live) {
      if (paused) o.pause();
      else o.resume();
    }
  }
}

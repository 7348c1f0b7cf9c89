// The dynamic batcher's queue, as Triton's PriorityQueue: one FIFO per priority level (level 1 is the
// highest), each with its own ModelQueuePolicy. With `priority_levels: 0` there is one level and the
// request's `priority` is ignored, so the scheduler is the plain FIFO it always was.
import type { ModelDynamicBatching, ModelQueuePolicy } from './model-config.js';

export interface QueueLevel<T> {
  /** 1..priority_levels, or 0 for the single level of a model without priorities. */
  readonly level: number;
  /** `priority_queue_policy[level]`, else `default_queue_policy`; undefined when neither is set. */
  readonly policy: ModelQueuePolicy | undefined;
  /** Oldest first. */
  readonly items: T[];
}

/**
 * The policy Triton gives a level: its own entry in `priority_queue_policy`, else the default. Without
 * priority levels (level 0) Triton ignores the per-level map, and so does this.
 */
export function levelPolicy(db: ModelDynamicBatching | undefined, level: number): ModelQueuePolicy | undefined {
  return (level > 0 ? db?.priority_queue_policy[String(level)] : undefined) ?? db?.default_queue_policy;
}

export class PriorityQueue<T> {
  /** Highest priority first: formBatch walks them in this order. */
  readonly levels: readonly QueueLevel<T>[];
  private readonly defaultLevel: QueueLevel<T>;
  private count = 0;

  constructor(db: ModelDynamicBatching | undefined) {
    const n = db?.priority_levels ?? 0;
    const numbers = n > 0 ? Array.from({ length: n }, (_, i) => i + 1) : [0];
    this.levels = numbers.map((level) => ({ level, policy: levelPolicy(db, level), items: [] }));
    // Config validation keeps default_priority_level in [1, n] whenever n > 0.
    this.defaultLevel = this.levels[n > 0 ? (db?.default_priority_level ?? 1) - 1 : 0] ?? this.levels[0]!;
  }

  get size(): number {
    return this.count;
  }

  /**
   * The level a request's `priority` selects. As Triton's InferenceRequest::SetPriority: 0 (or no
   * priority) and values above priority_levels both mean default_priority_level; neither is an error.
   */
  levelFor(priority: number | undefined): QueueLevel<T> {
    if (priority === undefined || priority < 1 || priority > this.levels.length) return this.defaultLevel;
    return this.levels[priority - 1]!;
  }

  /** The request the batcher looks at first: the oldest of the highest non-empty level. */
  first(): T | undefined {
    for (const l of this.levels) if (l.items.length > 0) return l.items[0];
    return undefined;
  }

  push(level: QueueLevel<T>, item: T): void {
    level.items.push(item);
    this.count++;
  }

  /** Removes one item wherever it waits (cancelled or timed out); false when it was not queued. */
  remove(level: QueueLevel<T>, item: T): boolean {
    const i = level.items.indexOf(item);
    if (i < 0) return false;
    level.items.splice(i, 1);
    this.count--;
    return true;
  }

  /** Removes the first `n` items in priority order (a batch formBatch took from the front). */
  shift(n: number): void {
    let left = Math.min(n, this.count);
    this.count -= left;
    for (const l of this.levels) {
      if (left === 0) break;
      const k = Math.min(left, l.items.length);
      l.items.splice(0, k);
      left -= k;
    }
  }
}

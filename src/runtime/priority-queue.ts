// The dynamic batcher's queue, as Triton's PriorityQueue: one FIFO per priority level (level 1 is the
// highest), each with its own ModelQueuePolicy. With `priority_levels: 0` there is one level and the
// request's `priority` is ignored, so the scheduler is the plain FIFO it always was.
// A level whose policy has `timeout_action: DELAY` moves a request whose queue timeout expired to the
// level's delayed queue instead of rejecting it: as in Triton's PolicyQueue, a level is scheduled as
// its unexpired requests, then its delayed ones, and only then the next level.
import type { ModelDynamicBatching, ModelQueuePolicy } from './model-config.js';

export interface QueueLevel<T> {
  /** 1..priority_levels, or 0 for the single level of a model without priorities. */
  readonly level: number;
  /** `priority_queue_policy[level]`, else `default_queue_policy`; undefined when neither is set. */
  readonly policy: ModelQueuePolicy | undefined;
  /** Requests whose queue timeout has not expired (or that have none), oldest first. */
  readonly items: T[];
  /** Requests that timed out under DELAY, in the order they expired; never timed out again. */
  readonly delayed: T[];
}

/** Requests waiting in a level; Triton's max_queue_size counts the delayed ones too (PolicyQueue::Size). */
export const levelSize = <T>(level: QueueLevel<T>): number => level.items.length + level.delayed.length;

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
    this.levels = numbers.map((level) => ({ level, policy: levelPolicy(db, level), items: [], delayed: [] }));
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

  /** The request the batcher looks at first: the head of inOrder(). */
  first(): T | undefined {
    // A plain loop rather than inOrder(): this runs on every pump.
    for (const l of this.levels) {
      if (l.items.length > 0) return l.items[0];
      if (l.delayed.length > 0) return l.delayed[0];
    }
    return undefined;
  }

  /** Every waiting request in scheduling order: per level from the highest, unexpired then delayed. */
  *inOrder(): Generator<T, void, undefined> {
    for (const l of this.levels) {
      yield* l.items;
      yield* l.delayed;
    }
  }

  push(level: QueueLevel<T>, item: T): void {
    level.items.push(item);
    this.count++;
  }

  /** Removes one item wherever it waits in its level (cancelled or timed out); false when it was not queued. */
  remove(level: QueueLevel<T>, item: T): boolean {
    if (!take(level.items, item) && !take(level.delayed, item)) return false;
    this.count--;
    return true;
  }

  /**
   * DELAY: moves an unexpired item to the back of its level's delayed queue; false when it is not
   * waiting there (already scheduled, cancelled or delayed).
   */
  delay(level: QueueLevel<T>, item: T): boolean {
    if (!take(level.items, item)) return false;
    level.delayed.push(item);
    return true;
  }

  /** Removes the first `n` items in priority order (a batch formBatch took from the front). */
  shift(n: number): void {
    let left = Math.min(n, this.count);
    this.count -= left;
    for (const l of this.levels) {
      for (const q of [l.items, l.delayed]) {
        if (left === 0) return;
        const k = Math.min(left, q.length);
        q.splice(0, k);
        left -= k;
      }
    }
  }
}

function take<T>(queue: T[], item: T): boolean {
  const i = queue.indexOf(item);
  if (i < 0) return false;
  queue.splice(i, 1);
  return true;
}

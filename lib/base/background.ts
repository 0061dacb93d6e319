// Work nobody awaits: a sweep, a timer, a watch handler, a drain, a follower, a notification queue.
// A throw or a rejection there has no caller to go to: left alone, Deno ends the process, and one
// bad value on one Node ended every replica in turn. So every background task starts through a
// Background, and ends in its handler: the failure is logged (the task's name, the error clipped)
// and counted (`nodeheal_background_errors_total{task}`), and the process goes on. What escapes
// even that is caught by the process-wide handler, logged as a bug and counted too.
import { clip } from "./clip.ts";
import { log } from "./log.ts";

/** The background tasks: the `task` label of `nodeheal_background_errors_total`. */
export const BACKGROUND_TASKS = [
  "sweep",
  "reconcile",
  "resume-replacements",
  "node-watch",
  "leading",
  "drain",
  "drain-end",
  "replacement",
  "notify",
  "events",
  "policy-reload",
  "pause-poll",
  "election",
  "connections",
  "breakers",
] as const;

/** A background task's name. */
export type BackgroundTask = (typeof BACKGROUND_TASKS)[number];

/** The longest error text a background failure logs. */
const ERROR_TEXT_LIMIT = 500;

/** The longest stack a background failure logs. */
const STACK_LIMIT = 2000;

/**
 * Runs background tasks, each ending in a handler that logs and counts: what one throws or
 * rejects with is told, never the end of the process. One per service (`Metrics.background`): its
 * `counted` is the service's metric, so that a base room counts without importing report. One
 * made without `counted` only logs: the default of parts made outside a service (tests, tools).
 */
export class Background {
  #counted: (task: BackgroundTask) => void;

  /** `counted` is told of each failure, after it is logged (a metric's increment). */
  constructor(counted: (task: BackgroundTask) => void = () => {}) {
    this.#counted = counted;
  }

  /** Runs `work` now, in the background: what it throws or rejects with is logged and counted. */
  run(task: BackgroundTask, work: () => unknown): void {
    // Settled: it never rejects.
    void this.settled(task, work);
  }

  /**
   * Runs `work` now, as {@link run} does; resolves once it has ended, and never rejects (for a
   * task that a stop awaits).
   */
  settled(task: BackgroundTask, work: () => unknown): Promise<void> {
    let result: unknown;
    try {
      result = work();
    } catch (err) {
      this.failed(task, err);
      return Promise.resolve();
    }
    if (!isThenable(result)) return Promise.resolve();
    return Promise.resolve(result).then(() => {}, (err) => this.failed(task, err));
  }

  /**
   * `fn` as a callback for a timer, a watch or an event: each call runs as a background task, and
   * what it throws or rejects with is logged and counted, never thrown to its caller.
   */
  guard<A extends unknown[]>(
    task: BackgroundTask,
    fn: (...args: A) => unknown,
  ): (...args: A) => void {
    return (...args: A) => this.run(task, () => fn(...args));
  }

  /** Logs and counts a failure of `task` caught elsewhere. Never throws. */
  failed(task: BackgroundTask, err: unknown): void {
    try {
      log("main").error("Background task {task} failed, node-heal goes on: {error}", {
        task,
        error: errorText(err),
        stack: stackOf(err),
      });
    } catch {
      // A logger that throws must not turn one failure into two.
    }
    try {
      this.#counted(task);
    } catch {
      // Nor a counter.
    }
  }
}

/**
 * What a thrown value says, clipped: an error's message, anything else as text. Never throws (a
 * thrown `null`, or an object whose `message` getter throws, is text too).
 */
export function errorText(err: unknown, max = ERROR_TEXT_LIMIT): string {
  let text: string;
  try {
    if (err instanceof Error) text = String(err.message);
    else if (typeof err === "string") text = err;
    else text = `${typeof err === "object" && err !== null ? "non-error " : ""}${String(err)}`;
  } catch {
    text = Object.prototype.toString.call(err);
  }
  return clip(text, max);
}

/** An error's stack (its name, message and frames), clipped. */
function stackOf(err: unknown): string | undefined {
  try {
    const stack = err instanceof Error ? err.stack : undefined;
    return stack ? clip(String(stack), STACK_LIMIT) : undefined;
  } catch {
    return undefined;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === "object" || typeof value === "function") && value !== null &&
    typeof (value as { then?: unknown }).then === "function";
}

/** How a process-wide error was not handled: a rejection nobody handled, or an uncaught throw. */
export const UNHANDLED_KINDS = ["rejection", "error"] as const;

/** What escaped every handler (the `kind` label of `nodeheal_unhandled_errors_total`). */
export type UnhandledKind = (typeof UNHANDLED_KINDS)[number];

/** The first word of the log line of an error that escaped every handler (tests look for it). */
export const UNHANDLED_LINE = "Unhandled";

/**
 * Catches, for the whole process, a rejection nobody handled and an error nobody caught: logged
 * loudly as the bug it is, counted, and the process goes on (Deno would end it). Returns what
 * removes the handlers.
 */
export function catchUnhandled(counted: (kind: UnhandledKind) => void): () => void {
  const told = (kind: UnhandledKind, err: unknown) => {
    try {
      log("main").error(
        `${UNHANDLED_LINE} {kind}: {error}; this is a bug in node-heal, which goes on`,
        {
          kind,
          error: errorText(err),
          stack: stackOf(err),
        },
      );
    } catch {
      // A logger that throws here would loop.
    }
    try {
      counted(kind);
    } catch {
      // Nor a counter.
    }
  };
  const onRejection = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    told("rejection", e.reason);
  };
  const onError = (e: ErrorEvent) => {
    e.preventDefault();
    told("error", e.error ?? e.message);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  return () => {
    globalThis.removeEventListener("unhandledrejection", onRejection);
    globalThis.removeEventListener("error", onError);
  };
}

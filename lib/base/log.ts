import {
  ansiColorFormatter,
  configure,
  defaultTextFormatter,
  getConsoleSink,
  getLogger,
  jsonLinesFormatter,
  type Logger,
  type LogLevel,
  parseLogLevel,
} from "@logtape/logtape";
import { UsageError } from "./usage_error.ts";

/** How log records are written: one JSON object a line, or text for people (coloured on a terminal). */
export type LogFormat = "json" | "pretty";

/** Options of {@link setupLogging}. */
export interface LoggingOptions {
  format: LogFormat;
  level: string;
  /**
   * Whether `pretty` logs are coloured; by default only on a terminal and without `NO_COLOR`
   * (no-color.org), so that logs piped to a file or a collector hold no escape codes.
   */
  color?: boolean;
}

/** Whether coloured output is wanted: stdout is a terminal and NO_COLOR is unset or empty. */
export function colorWanted(): boolean {
  let noColor: string | undefined;
  try {
    // Queried first: reading a variable without the permission would prompt on a terminal.
    if (Deno.permissions.querySync({ name: "env", variable: "NO_COLOR" }).state === "granted") {
      noColor = Deno.env.get("NO_COLOR");
    }
  } catch {
    noColor = undefined;
  }
  return !noColor && Deno.stdout.isTerminal();
}

/** Configures structured logging for the whole process; throws on an unknown format or level. */
export async function setupLogging(options: LoggingOptions): Promise<void> {
  if (options.format !== "json" && options.format !== "pretty") {
    throw new UsageError(
      `Cannot configure logging: format must be "json" or "pretty", got "${options.format}"`,
    );
  }
  let level: LogLevel;
  try {
    level = parseLogLevel(options.level);
  } catch {
    throw new UsageError(
      `Cannot configure logging: level must be one of trace, debug, info, warning, error, fatal, got "${options.level}"`,
    );
  }
  await configure({
    reset: true,
    sinks: {
      console: getConsoleSink({
        formatter: options.format === "json"
          ? jsonLinesFormatter
          : (options.color ?? colorWanted())
          ? ansiColorFormatter
          : defaultTextFormatter,
      }),
    },
    loggers: [
      { category: ["node-heal"], lowestLevel: level, sinks: ["console"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
}

/** The logger of one part of node-heal, e.g. `log("embedded")`. */
export function log(...category: string[]): Logger {
  const key = category.join("\u0000");
  let logger = loggers.get(key);
  if (!logger) {
    logger = getLogger(["node-heal", ...category]);
    loggers.set(key, logger);
  }
  return logger;
}

/** Each part's logger, made once: logging sits on every decision's path. */
const loggers = new Map<string, Logger>();

/** Escapes a text so a logger prints it as it is, braces included, rather than as a template. */
export function literal(text: string): string {
  return text.replaceAll("{", "{{").replaceAll("}", "}}");
}

import {
  ansiColorFormatter,
  configure,
  getConsoleSink,
  getLogger,
  jsonLinesFormatter,
  type Logger,
  type LogLevel,
  parseLogLevel,
} from "@logtape/logtape";

/** How log records are written: one JSON object a line, or coloured text for people. */
export type LogFormat = "json" | "pretty";

/** Options of {@link setupLogging}. */
export interface LoggingOptions {
  format: LogFormat;
  level: string;
}

/** Configures structured logging for the whole process; throws on an unknown format or level. */
export async function setupLogging(options: LoggingOptions): Promise<void> {
  if (options.format !== "json" && options.format !== "pretty") {
    throw new Error(
      `Cannot configure logging: format must be "json" or "pretty", got "${options.format}"`,
    );
  }
  let level: LogLevel;
  try {
    level = parseLogLevel(options.level);
  } catch {
    throw new Error(
      `Cannot configure logging: level must be one of trace, debug, info, warning, error, fatal, got "${options.level}"`,
    );
  }
  await configure({
    reset: true,
    sinks: {
      console: getConsoleSink({
        formatter: options.format === "json" ? jsonLinesFormatter : ansiColorFormatter,
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
  return getLogger(["node-heal", ...category]);
}

/** Escapes a text so a logger prints it as it is, braces included, rather than as a template. */
export function literal(text: string): string {
  return text.replaceAll("{", "{{").replaceAll("}", "}}");
}

/**
 * zod parse options for a schema a process parses once or a few times: the
 * config file, the state sections. zod's default fast path compiles a parser
 * (`new Function`) for each object schema on its first parse, which costs
 * more than it saves when there is no second parse: the config's first parse
 * took 22 ms of CPU with it and 7 ms without, measured in the test bed
 * (issue 19, B1 in docs/benchmarks.md). The result and the issues are the
 * same either way (zod's `jitless` option only skips the compiled path).
 * Schemas parsed many times in one process (fleet status, 1,000 status
 * records) keep the default.
 */
export const PARSE_ONCE = { jitless: true } as const;

/**
 * zod for every schema of gitopsd: zod/mini, zod's tree-shakable form, with
 * zod's English messages installed. Every schema module imports `z` from here
 * (`import * as z from '../core/zod.js'`), never from 'zod' or 'zod/mini'.
 *
 * Why mini (issue 19, B1 in docs/benchmarks.md): classic zod installs some 40
 * methods on every schema instance and its bundle chunk (393 KB) is evaluated
 * whole, which made loading and building the schemas the largest part of a
 * `gitopsd status` start. zod/mini builds the same core schemas and checks,
 * so a schema written as `z._default(z.nullable(z.string()), null)` parses,
 * fills defaults and reports issues exactly as classic
 * `z.string().nullable().default(null)` does.
 *
 * Why the locale call: classic zod installs its English messages ("Too small:
 * expected number to be >=1") when the first schema is built; zod/mini
 * installs none ("Invalid input"), as its documentation says. The CLI prints
 * those messages (`config check`, test/unit/core/config.test.ts), so they are
 * installed here, once, before any schema module that imports this one is
 * evaluated. `en` is the only locale the bundle carries (scripts/bundle.mjs).
 */
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

export * from 'zod/mini';

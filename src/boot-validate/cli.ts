/**
 * CLI handlers of boot validation. Until the golden/boot issue (#4) lands, they exit 70
 * ("not implemented yet"), never with a fake success.
 */
import type { Handler } from '../cli/main.js';
import { NotImplementedError } from '../core/errors.js';

export const bootValidateCommand: Handler = () =>
  Promise.reject(new NotImplementedError('boot validate', 'the golden/boot issue (#4)'));

export const bootStatusCommand: Handler = () =>
  Promise.reject(new NotImplementedError('boot status', 'the golden/boot issue (#4)'));

export const bootResetCommand: Handler = () =>
  Promise.reject(new NotImplementedError('boot reset', 'the golden/boot issue (#4)'));

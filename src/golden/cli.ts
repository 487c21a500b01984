/**
 * CLI handlers of the golden generation. Until the golden/boot issue (#4) lands, they exit 70
 * ("not implemented yet"), never with a fake success.
 */
import type { Handler } from '../cli/main.js';
import { NotImplementedError } from '../core/errors.js';

export const goldenPinCommand: Handler = () =>
  Promise.reject(new NotImplementedError('golden pin', 'the golden/boot issue (#4)'));

export const goldenShowCommand: Handler = () =>
  Promise.reject(new NotImplementedError('golden show', 'the golden/boot issue (#4)'));

export const goldenRollbackCommand: Handler = () =>
  Promise.reject(new NotImplementedError('golden rollback', 'the golden/boot issue (#4)'));
